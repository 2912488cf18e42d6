"""Helpers for the extension, vault, sync and federation tests: the servers of tests/servers/ as real
processes, and the in-process hub as the local owner. (Child-process accounting and the npm reference
servers are in harness/processes.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from mcp import Client

from harness import REPO
from hub.app import build_context, running
from hub.context import AppContext
from hub.settings import Settings

PYTHON = sys.executable
READY_TIMEOUT = 30.0  # a cold Python start imports the SDK and uvicorn


def stdio_test_server(name: str = "Test Server", *flags: str, **fields: Any) -> dict[str, Any]:
    """A Goose stdio entry for tests/servers/stdio_server.py."""
    entry: dict[str, Any] = {
        "type": "stdio",
        "name": name,
        "cmd": PYTHON,
        "args": ["-m", "tests.servers.stdio_server", *flags],
        "cwd": str(REPO),
        "timeout": 10,
    }
    entry.update(fields)
    return entry


@contextmanager
def http_test_server(
    port: int, *, json_response: bool = False, resumable: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """tests/servers/http_server.py on 127.0.0.1:port, until the block ends."""
    args = [PYTHON, "-m", "tests.servers.http_server", "--port", str(port)]
    if json_response:
        args.append("--json")
    if resumable:
        args.append("--resumable")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOOSUKE_")}
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the server prints "ready" or exits
        assert line.strip() == "ready", f"the Python test server did not start (exit {proc.poll()})"
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def wait_for(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> None:
    """Poll ``predicate()`` (sync or async) until it is true, at most ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while True:
            value = predicate()
            if hasattr(value, "__await__"):
                value = await value
            if value:
                return
            await anyio.sleep(interval)


@asynccontextmanager
async def local_hub(settings: Settings, **client: Any) -> AsyncIterator[tuple[AppContext, Client]]:
    """The hub in process with an SDK client as the local owner (admin), legacy session."""
    app = build_context(settings, transport="stdio")
    async with running(app), Client(app.server, mode="legacy", cache=None, **client) as mcp:
        yield app, mcp


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> Any:
    """Call a tool; return its structured content (or text), fail the test on an error result."""
    result = await client.call_tool(tool, args or {})
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert not result.is_error, f"{tool} failed: {text}"
    if result.structured_content is not None:
        return result.structured_content
    return text


async def call_error(client: Client, tool: str, args: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail; return its error text."""
    result = await client.call_tool(tool, args or {})
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert result.is_error, f"{tool} should have failed but returned {text[:300]}"
    return text


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
