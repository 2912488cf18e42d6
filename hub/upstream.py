"""One client connection to an extension's MCP server, supervised: lazy start, crash restart with
backoff, re-initialise on a lost session, bounded shutdown that leaves no process behind.

The connection lives in one task (``Upstream._run``) that enters and leaves the SDK's transport and
client; callers in other tasks borrow the client while it is ready. The stdio transport puts the
server in its own process group and, on close, ends stdin, then terminates and kills the whole group,
every wait bounded: a server that hangs or forks cannot outlive its connection.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation, PaginatedRequestParams

from hub import __version__
from hub.errors import GoosukeError, ToolError
from hub.extension_store import ExtensionRecord
from hub.extensions import substitute_env_vars

if TYPE_CHECKING:
    from hub.federation import Federation

logger = logging.getLogger("goosuke.federation")

MAX_PAGES = 100  # a paginating server that never ends cannot hang discovery
STABLE_AFTER = 30.0  # a connection up this long resets the crash counter
STDERR_TAIL = 2000  # characters of a server's stderr quoted in an error
CLIENT_INFO = Implementation(name="goosuke-hub", version=__version__)


class Crashed(Exception):
    """The server's connection ended without the hub asking it to."""


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


async def wait_any(*events: anyio.Event) -> None:
    """Return as soon as one of ``events`` is set."""
    async with anyio.create_task_group() as tg:

        async def until(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(until, event)


# Every stdio server gets a marker in its environment; its process is found by it, and when its connection
# closes every process left in its session (grandchildren the server forked and did not reap) is killed.
INSTANCE_VAR = "GOOSUKE_EXTENSION_INSTANCE"
PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, session id) of a live process, from /proc; None when gone or a zombie."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[3])


def find_server_process(marker: str) -> int | None:
    """The pid of this process's child started with ``marker`` (a session leader: the SDK starts servers
    in a new session)."""
    if not PROC.exists():
        return None
    me = os.getpid()
    needle = f"{INSTANCE_VAR}={marker}".encode()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is None or stat[0] != me or stat[1] != pid:
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                return pid
        except OSError:
            continue
    return None


def kill_session(sid: int | None) -> int:
    """SIGKILL every process still in session ``sid``; returns how many there were."""
    if sid is None or not PROC.exists():
        return 0
    killed = 0
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == sid:
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
    return killed


def _private_log(path: Path) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w")


async def open_client(
    stack: AsyncExitStack,
    record: ExtensionRecord,
    env: dict[str, str],
    base_env: dict[str, str],
    log_path: Path,
    closed: anyio.Event,
    message_handler: Any = None,
) -> Client:
    """Connect to the extension (spawning it for stdio) and run the initialize handshake.

    Everything opened is pushed on ``stack``; closing the stack stops the server.
    """
    config = record.config
    transport: Any
    on_open: Any = None
    if config.type == "stdio":
        errlog = _private_log(log_path)
        stack.callback(errlog.close)
        cwd = substitute_env_vars(config.cwd, env) if config.cwd else None
        marker = uuid.uuid4().hex
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
    return client


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


def stderr_tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-STDERR_TAIL:].strip()


@dataclass
class Upstream:
    """The supervised connection to one extension."""

    federation: Federation
    record: ExtensionRecord
    state: str = "stopped"  # stopped | starting | ready | backoff | failed
    client: Client | None = None
    failures: int = 0
    starts: int = 0
    crashes: int = 0
    last_error: str | None = None
    last_failed_start: int = 0
    retry_at: float = 0.0
    last_used: float = field(default_factory=time.monotonic)
    inflight: int = 0
    running: bool = False
    _stop: anyio.Event = field(default_factory=anyio.Event)
    _wake: anyio.Event = field(default_factory=anyio.Event)
    _outcome: anyio.Event = field(default_factory=anyio.Event)
    _done: anyio.Event = field(default_factory=anyio.Event)
    _reconnect: bool = False

    @property
    def key(self) -> str:
        return self.record.key

    @property
    def log_path(self) -> Path:
        return self.federation.log_dir / f"{self.key}.stderr.log"

    def _signal(self) -> None:
        self._outcome.set()
        self._outcome = anyio.Event()

    def start(self) -> None:
        if not self.running:
            self.running = True
            self._stop = anyio.Event()
            self._wake = anyio.Event()
            self._done = anyio.Event()
            self.federation.spawn(self._run)

    async def stop(self) -> None:
        """Ask the connection to close and wait until its process is gone (bounded by the SDK's shutdown)."""
        if not self.running:
            return
        self._stop.set()
        self._wake.set()
        await self._done.wait()

    def reconnect(self) -> None:
        """Drop the connection and open a new one at once (the upstream lost our session)."""
        if self._reconnect:
            return
        self._reconnect = True
        self.client, self.state = None, "starting"  # callers now wait for the new connection
        self._wake.set()

    async def session(self, timeout: float) -> Client:
        """The ready client, starting the server if needed and waiting at most ``timeout`` seconds.

        Raises:
            ToolError: it failed to start (the message says why) or did not start in time.
        """
        self.last_used = time.monotonic()
        if self.state == "ready" and self.client is not None:
            return self.client
        # Only a failure of an attempt that is under way or yet to come concerns this caller; the
        # crash that put the server in backoff does not.
        threshold = self.starts if self.state == "starting" else self.starts + 1
        self.start()
        try:
            with anyio.fail_after(timeout):
                while True:
                    if self.state == "ready" and self.client is not None:
                        return self.client
                    outcome = self._outcome
                    await outcome.wait()
                    if self.state == "ready" and self.client is not None:
                        return self.client
                    if self.last_error and self.last_failed_start >= threshold:
                        raise ToolError(self.failure_message())
        except TimeoutError:
            raise ToolError(
                f"Extension {self.key!r} did not start in time ({timeout:g} s). Check it with extension_check."
            ) from None

    def failure_message(self) -> str:
        scrub = self.federation.vault.scrub
        message = f"Extension {self.key!r} could not start: {scrub(self.last_error or 'unknown error')}."
        tail = scrub(stderr_tail(self.log_path)) if self.record.type == "stdio" else ""
        if tail:
            message += f" Its stderr ends with: {tail[-500:]}"
        if self.state == "backoff":
            message += f" The hub retries in {max(0.0, self.retry_at - time.monotonic()):.1f} s."
        return message + " Check it with extension_check."

    async def _run(self) -> None:
        settings = self.federation.settings
        try:
            while not self._stop.is_set():
                self.state = "starting"
                self.starts += 1
                closed = anyio.Event()
                began = time.monotonic()
                try:
                    env = await self.federation.launch_env(self.record)
                    # The start deadline's scope encloses the connection's whole life (the SDK's task groups
                    # must close inside the scope they opened in); it is lifted once the server is ready.
                    start_timeout = min(settings.extension_start_timeout, self.record.timeout)
                    with anyio.CancelScope(deadline=anyio.current_time() + start_timeout) as deadline:
                        async with AsyncExitStack() as stack:
                            client = await open_client(
                                stack,
                                self.record,
                                env,
                                settings.child_environment,
                                self.log_path,
                                closed,
                                self.federation.message_handler(self.key),
                            )
                            found = await discover(client)
                            deadline.deadline = math.inf
                            self._reconnect = False
                            await self.federation.discovered(self.key, found)
                            self.client, self.state, self.last_error = client, "ready", None
                            self._signal()
                            await wait_any(closed, self._wake)
                            self.client = None
                            if self._reconnect and not self._stop.is_set():
                                self._wake = anyio.Event()
                                self.state = "starting"
                                continue
                    if deadline.cancelled_caught:
                        raise TimeoutError
                    if self._stop.is_set():
                        break
                    self.crashes += 1
                    raise Crashed("its connection closed (the process exited or the server went away)")
                except GoosukeError as exc:  # a missing secret or a vault problem: retrying cannot help
                    self.client, self.state, self.last_error = None, "failed", exc.message
                    self.failures += 1
                    self.last_failed_start = self.starts
                    self._signal()
                    break
                except Exception as exc:
                    self.client = None
                    if self._stop.is_set():
                        break
                    if self._reconnect and self.state == "starting" and self.starts > 0 and closed.is_set():
                        # the old connection failed while being dropped on purpose: not a crash
                        logger.debug("Extension %r: %s while reconnecting", self.key, describe(exc))
                        continue
                    up_for = time.monotonic() - began
                    self.failures = 1 if up_for > STABLE_AFTER else self.failures + 1
                    self.last_error = describe(exc)
                    self.last_failed_start = self.starts
                    logger.warning("Extension %r: %s", self.key, self.federation.vault.scrub(self.last_error))
                    idle = time.monotonic() - self.last_used > settings.extension_idle_timeout
                    if self.failures > settings.extension_max_restarts or idle:
                        self.state = "failed"
                        self._signal()
                        break
                    delay = min(
                        settings.extension_restart_backoff * 2 ** (self.failures - 1), settings.extension_max_backoff
                    )
                    self.state, self.retry_at = "backoff", time.monotonic() + delay
                    self._signal()
                    with anyio.move_on_after(delay):
                        await self._stop.wait()
        finally:
            self.client = None
            if self.state != "failed":
                self.state = "stopped"
            self.running = False
            self._signal()
            self._done.set()
