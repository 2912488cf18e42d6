"""One client connection to an extension's MCP server, supervised: lazy start, crash restart with
backoff, re-initialise on a lost session, bounded shutdown that leaves no process behind.

The connection lives in one task (``Upstream._run``) that enters and leaves the SDK's transport and
client; callers in other tasks borrow it while it is ready. The stdio transport puts the server in its
own process group and, on close, ends stdin, then terminates and kills the whole group, every wait
bounded: a server that hangs or forks cannot outlive its connection (``processes.py``).
Connecting and discovering are in ``client.py``. An upstream sees its owner only through the small
:class:`UpstreamHost` protocol.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from hub.errors import GoosukeError, ToolError
from hub.extensions.store import ExtensionRecord
from hub.federation.client import Connection, describe, discover, open_client, stderr_tail

if TYPE_CHECKING:
    from hub.settings import Settings

logger = logging.getLogger("goosuke.federation")

STABLE_AFTER = 30.0  # a connection up this long resets the crash counter


class Crashed(Exception):
    """The server's connection ended without the hub asking it to."""


async def wait_any(*events: anyio.Event) -> None:
    """Return as soon as one of ``events`` is set."""
    async with anyio.create_task_group() as tg:

        async def until(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(until, event)


class UpstreamHost(Protocol):
    """What an upstream needs of the service that owns it (the federation)."""

    settings: Settings
    log_dir: Path

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``fn`` in the owner's task group."""
        ...

    def scrub(self, text: str) -> str:
        """``text`` with every known secret masked."""
        ...

    async def launch_env(self, record: ExtensionRecord) -> dict[str, str]: ...

    def message_handler(self, key: str) -> Callable[[Any], Awaitable[None]]: ...

    async def discovered(self, key: str, found: dict[str, Any]) -> None: ...


@dataclass
class Upstream:
    """The supervised connection to one extension."""

    host: UpstreamHost
    record: ExtensionRecord
    state: str = "stopped"  # stopped | starting | ready | backoff | failed
    connection: Connection | None = None
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
        return self.host.log_dir / f"{self.key}.stderr.log"

    def _signal(self) -> None:
        self._outcome.set()
        self._outcome = anyio.Event()

    def start(self) -> None:
        if not self.running:
            self.running = True
            self._stop = anyio.Event()
            self._wake = anyio.Event()
            self._done = anyio.Event()
            self.host.spawn(self._run)

    async def stop(self) -> None:
        """Ask the connection to close and wait until its process is gone (bounded by the SDK's shutdown)."""
        if not self.running:
            return
        self._stop.set()
        self._wake.set()
        await self._done.wait()

    def reconnect(self, stale: Connection) -> None:
        """Drop ``stale`` and open a new connection at once (the upstream lost our session). A no-op when
        ``stale`` is no longer the current connection: a call that failed late must not drop its successor."""
        if self._reconnect or self.connection is not stale:
            return
        self._reconnect = True
        self.connection, self.state = None, "starting"  # callers now wait for the new connection
        self._wake.set()

    async def session(self, timeout: float) -> Connection:
        """The ready connection, starting the server if needed and waiting at most ``timeout`` seconds.

        Raises:
            ToolError: it failed to start (the message says why) or did not start in time.
        """
        self.last_used = time.monotonic()
        if self.state == "ready" and self.connection is not None:
            return self.connection
        # Only a failure of an attempt that is under way or yet to come concerns this caller; the
        # crash that put the server in backoff does not.
        threshold = self.starts if self.state == "starting" else self.starts + 1
        self.start()
        try:
            with anyio.fail_after(timeout):
                while True:
                    if self.state == "ready" and self.connection is not None:
                        return self.connection
                    outcome = self._outcome
                    await outcome.wait()
                    if self.state == "ready" and self.connection is not None:
                        return self.connection
                    if self.last_error and self.last_failed_start >= threshold:
                        raise ToolError(self.failure_message())
        except TimeoutError:
            raise ToolError(
                f"Extension {self.key!r} did not start in time ({timeout:g} s). Check it with extension_check."
            ) from None

    def failure_message(self) -> str:
        scrub = self.host.scrub
        message = f"Extension {self.key!r} could not start: {scrub(self.last_error or 'unknown error')}."
        tail = scrub(stderr_tail(self.log_path)) if self.record.type == "stdio" else ""
        if tail:
            message += f" Its stderr ends with: {tail[-500:]}"
        if self.state == "backoff":
            message += f" The hub retries in {max(0.0, self.retry_at - time.monotonic()):.1f} s."
        return message + " Check it with extension_check."

    async def _run(self) -> None:
        settings = self.host.settings
        try:
            while not self._stop.is_set():
                self.state = "starting"
                self.starts += 1
                closed = anyio.Event()
                began = time.monotonic()
                try:
                    env = await self.host.launch_env(self.record)
                    # The start deadline's scope encloses the connection's whole life (the SDK's task groups
                    # must close inside the scope they opened in); it is lifted once the server is ready.
                    start_timeout = min(settings.extension_start_timeout, self.record.timeout)
                    with anyio.CancelScope(deadline=anyio.current_time() + start_timeout) as deadline:
                        async with AsyncExitStack() as stack:
                            connection = await open_client(
                                stack,
                                self.record,
                                env,
                                settings.child_environment,
                                self.log_path,
                                closed,
                                self.host.message_handler(self.key),
                                scrub=self.host.scrub,
                            )
                            found = await discover(connection.client)
                            deadline.deadline = math.inf
                            self._reconnect = False
                            await self.host.discovered(self.key, found)
                            self.connection, self.state, self.last_error = connection, "ready", None
                            self._signal()
                            await wait_any(closed, self._wake)
                            self.connection = None
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
                    self.connection, self.state, self.last_error = None, "failed", exc.message
                    self.failures += 1
                    self.last_failed_start = self.starts
                    self._signal()
                    break
                except Exception as exc:
                    self.connection = None
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
                    logger.warning("Extension %r: %s", self.key, self.host.scrub(self.last_error))
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
            self.connection = None
            if self.state != "failed":
                self.state = "stopped"
            self.running = False
            self._signal()
            self._done.set()
