"""The baseline: a bare MCPServer from the same SDK with the same echo tool, served the same way."""

from __future__ import annotations

import sys

import uvicorn
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel


class EchoOut(BaseModel):
    text: str


server = MCPServer("bare")


@server.tool()
async def echo(text: str) -> EchoOut:
    """Return the text unchanged."""
    return EchoOut(text=text)


if __name__ == "__main__":
    port = int(sys.argv[1])
    app = server.streamable_http_app(streamable_http_path="/mcp")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
