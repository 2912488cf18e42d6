"""A Python MCP server over Streamable HTTP (the SDK's MCPServer), run as its own process.

    python -m tests.servers.http_server --port PORT [--json]

Tools echo, add, env, slow; a resource test://hello and a template test://items/{item_id}; a prompt
greet(name). It prints "ready" on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("python-http-test-server", version="1.0")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
def env(name: str) -> str:
    """Read an environment variable of the server process."""
    return os.environ.get(name, "<unset>")


@server.tool()
async def slow(seconds: float) -> str:
    """Answer after some seconds."""
    await asyncio.sleep(seconds)
    return "done"


@server.resource("test://hello", mime_type="text/plain")
def hello() -> str:
    """A static greeting."""
    return "hello from the python server"


@server.resource("test://items/{item_id}", mime_type="text/plain")
def item(item_id: str) -> str:
    """One item."""
    return f"item {item_id}"


@server.prompt()
def greet(name: str) -> str:
    """Greet someone."""
    return f"Please greet {name} warmly."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    app = server.streamable_http_app(json_response=args.json)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    uv = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(uv.serve())
        while not uv.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        print("ready", flush=True)
        await task

    asyncio.run(run())
    sys.exit(0)


if __name__ == "__main__":
    main()
