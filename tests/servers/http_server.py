"""A Python MCP server over Streamable HTTP (the SDK's MCPServer), run as its own process.

    python -m tests.servers.http_server --port PORT [--json] [--resumable]

Tools echo, add, env, slow, and three that use a call's own SSE stream: grow (adds a tool and announces it),
ping_client (pings the client and waits for its answer), interrupted (closes the stream, then answers; with
--resumable the client gets the answer by resuming with Last-Event-ID). A resource test://hello and a template
test://items/{item_id}; a prompt greet(name). It prints "ready" on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.message import ServerMessageMetadata
from mcp_types import EmptyResult, PingRequest, ToolListChangedNotification

from hub.event_store import MemoryEventStore

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


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called `name` and announce it on this call's own stream."""

    def grown() -> str:
        return "grown"

    server.add_tool(grown, name=name, description="A tool added while the server runs.")
    await ctx.session.send_notification(ToolListChangedNotification(), related_request_id=ctx.request_id)
    return "grown"


@server.tool()
async def ping_client(ctx: Context) -> str:
    """Ping the client on this call's own stream and wait for its answer."""
    metadata = ServerMessageMetadata(related_request_id=ctx.request_id)
    await ctx.session.send_request(PingRequest(), EmptyResult, request_read_timeout_seconds=10, metadata=metadata)
    return "pong"


@server.tool()
async def interrupted(ctx: Context) -> str:
    """Close this call's stream, then answer (on the event store, for a client that resumes)."""
    await ctx.close_sse_stream()
    await asyncio.sleep(0.2)
    return "resumed"


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
    parser.add_argument("--resumable", action="store_true", help="an event store, and a retry interval of 50 ms")
    args = parser.parse_args()
    resumable = {"event_store": MemoryEventStore(), "retry_interval": 50} if args.resumable else {}
    app = server.streamable_http_app(json_response=args.json, **resumable)
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
