"""Connecting to an extension's MCP server: spawn it (stdio) or reach it (Streamable HTTP, SSE), run the
SDK client's initialize handshake, and discover what it offers. What is opened goes on the caller's exit
stack; closing the stack stops the server (``processes.py`` makes sure of it for stdio).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, Implementation, PaginatedRequestParams

from hub._version import __version__
from hub.extensions.schema import substitute_env_vars
from hub.extensions.store import ExtensionRecord
from hub.federation.processes import INSTANCE_VAR, find_server_process, kill_session
from hub.files import open_private

logger = logging.getLogger("goosuke.federation")

MAX_PAGES = 100  # a paginating server that never ends cannot hang discovery
STDERR_TAIL = 2000  # characters of a server's stderr quoted in an error
STDERR_LINE = 64 * 1024  # longest piece of a server's stderr masked at once (a longer line is cut in pieces)
STDERR_DRAIN = 2.0  # seconds to wait, once the server is stopped, for the rest of its stderr to reach the file
# Idle pooled connections to an HTTP extension are dropped after this long, before servers drop them (uvicorn
# after 5 s, gunicorn after 2 s): reusing one the server is closing at that moment fails the call.
KEEPALIVE = 1.0
CLIENT_INFO = Implementation(name="goosuke-hub", version=__version__)


def describe(exc: BaseException) -> str:
    if isinstance(exc, MCPError):
        return f"MCP error {exc.error.code}: {exc.error.message}"
    if isinstance(exc, TimeoutError):
        return "it did not answer in time"
    if isinstance(exc, FileNotFoundError):
        return f"not found: {exc.filename or exc} (check the command and the working directory)"
    if isinstance(exc, PermissionError):
        return f"the command is not executable ({exc.filename or exc})"
    if isinstance(exc, httpx2.ConnectError):
        return "the connection was refused (is the server running at that URL?)"
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions[:3])
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class _WatchedStream:
    """A read stream that sets ``closed`` when it ends: how the hub notices a server that died."""

    def __init__(self, stream: Any, closed: anyio.Event) -> None:
        self._stream = stream
        self._closed = closed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def __aenter__(self) -> _WatchedStream:
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        self._closed.set()
        return await self._stream.__aexit__(*exc)

    def __aiter__(self) -> _WatchedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._stream.__anext__()
        except (StopAsyncIteration, anyio.ClosedResourceError, anyio.EndOfStream):
            self._closed.set()
            raise

    async def receive(self) -> Any:
        try:
            return await self._stream.receive()
        except (anyio.ClosedResourceError, anyio.EndOfStream):
            self._closed.set()
            raise

    async def aclose(self) -> None:
        self._closed.set()
        await self._stream.aclose()


@asynccontextmanager
async def _watched(transport: Any, closed: anyio.Event) -> AsyncIterator[tuple[Any, Any]]:
    async with transport as (read_stream, write_stream):
        yield _WatchedStream(read_stream, closed), write_stream


@dataclass(frozen=True)
class Connection:
    """An open connection to an extension: the SDK's client on it."""

    client: Client

    async def call_tool(self, name: str, arguments: dict[str, Any], timeout: float) -> CallToolResult:
        """``tools/call`` bounded by ``timeout`` (the SDK's client checks the result against the tool's output
        schema)."""
        return await self.client.session.call_tool(name, arguments, read_timeout_seconds=timeout)


async def open_client(
    stack: AsyncExitStack,
    record: ExtensionRecord,
    env: dict[str, str],
    base_env: dict[str, str],
    log_path: Path,
    closed: anyio.Event,
    message_handler: Any = None,
    *,
    scrub: Callable[[str], str] | None = None,
) -> Connection:
    """Connect to the extension (spawning it for stdio) and run the initialize handshake.

    Everything opened is pushed on ``stack``; closing the stack stops the server. A stdio server's stderr
    goes to ``log_path``, through ``scrub`` (the vault's masking) when given.
    """
    config = record.config
    transport: Any
    on_open: Any = None
    if config.type == "stdio":
        errlog = _stderr_log(stack, log_path, scrub)
        cwd = substitute_env_vars(config.cwd, env) if config.cwd else None
        marker = f"{os.getpid()}-{uuid.uuid4().hex}"  # names the hub that started it, and this start
        leader: list[int | None] = [None]
        # Runs after the SDK has stopped the server (callbacks unwind last-in first-out): nothing of it stays.
        stack.callback(lambda: kill_session(leader[0]))
        child_env = {**base_env, **env, INSTANCE_VAR: marker}
        params = StdioServerParameters(command=config.cmd, args=list(config.args), env=child_env, cwd=cwd)
        transport = stdio_client(params, errlog=errlog)

        async def remember_leader() -> None:
            leader[0] = find_server_process(marker)

        on_open = remember_leader
    else:
        headers = {k: substitute_env_vars(v, env) for k, v in config.headers.items()}
        uri = substitute_env_vars(config.uri, env)
        if config.type == "sse":
            transport = sse_client(uri, headers=headers, timeout=record.timeout, sse_read_timeout=24 * 3600)
        else:
            kwargs: dict[str, Any] = {}
            socket = getattr(config, "socket", None)
            if socket:
                kwargs["transport"] = httpx2.AsyncHTTPTransport(uds=substitute_env_vars(socket, env))
            http = httpx2.AsyncClient(
                headers=headers,
                timeout=httpx2.Timeout(30.0, read=max(record.timeout, 300.0)),
                limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE),
                trust_env=False,
                **kwargs,
            )
            await stack.enter_async_context(http)
            transport = streamable_http_client(uri, http_client=http)
    client = Client(
        _watched(transport, closed),
        mode="legacy",
        cache=None,
        client_info=CLIENT_INFO,
        message_handler=message_handler,
    )
    await stack.enter_async_context(client)
    if on_open is not None:
        await on_open()
    return Connection(client)


async def _pages(fetch: Any, attr: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await fetch(params=PaginatedRequestParams(cursor=cursor))
        items.extend(x.model_dump(mode="json", by_alias=True, exclude_none=True) for x in getattr(page, attr))
        cursor = page.next_cursor
        if not cursor:
            break
    return items


async def discover(client: Client) -> dict[str, Any]:
    """Everything the server offers: tools, resources, resource templates and prompts (per its capabilities)."""
    caps = client.server_capabilities
    session = client.session
    found: dict[str, Any] = {"tools": [], "resources": [], "resource_templates": [], "prompts": []}
    if caps.tools is not None:
        found["tools"] = await _pages(session.list_tools, "tools")
    if caps.resources is not None:
        found["resources"] = await _pages(session.list_resources, "resources")
        found["resource_templates"] = await _pages(session.list_resource_templates, "resource_templates")
    if caps.prompts is not None:
        found["prompts"] = await _pages(session.list_prompts, "prompts")
    info = client.server_info
    found["server"] = {"name": info.name, "version": info.version} if info else None
    found["protocol_version"] = client.protocol_version
    return found


def _stderr_log(stack: AsyncExitStack, log_path: Path, scrub: Callable[[str], str] | None) -> TextIO:
    """The file the server's stderr goes to: the 0600 log itself, or, with ``scrub``, a pipe whose lines a
    thread writes there masked (a secret a server prints never reaches the disk). Closing ``stack`` (after
    the server is stopped) waits for the rest of its stderr, so the file is whole when read for an error."""
    log = open_private(log_path)  # a server's stderr may hold secrets
    if scrub is None:
        stack.callback(log.close)
        return log
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "w")

    def pump() -> None:
        writable = True
        with reader, log:
            while chunk := reader.readline(STDERR_LINE):  # read to the end, or the server blocks on a full pipe
                if writable:
                    try:
                        log.write(scrub(chunk.decode(errors="replace")))
                        log.flush()
                    except OSError:
                        writable = False
                        logger.warning("Cannot write %s any more; the rest of its stderr is dropped", log_path)

    thread = threading.Thread(target=pump, name=f"stderr:{log_path.name}", daemon=True)
    thread.start()

    async def drain() -> None:
        writer.close()  # the server's copy closes when it exits; then the thread reads the end of the pipe
        await anyio.to_thread.run_sync(thread.join, STDERR_DRAIN)

    stack.push_async_callback(drain)
    return writer


def stderr_tail(path: Path) -> str:
    """The last :data:`STDERR_TAIL` characters of an extension's stderr log (read from the end, not whole)."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, 2) - 4 * STDERR_TAIL))
            text = file.read().decode(errors="replace")
    except OSError:
        return ""
    return text[-STDERR_TAIL:].strip()
