"""Renders that truly stop: template rendering in worker processes that the hub kills when they take too long.

The sandbox (``sandbox.py``) bounds a rendering's steps, characters and output, and checks its own
deadline now and then; but one filter call (``wordwrap`` of a long text, a sort of a big list) can run
for seconds between two checks, and a thread cannot be stopped from outside. So the hub renders in
:class:`RenderWorkers`: up to ``GOOSUKE_RENDER_WORKERS`` long-lived child processes (started when first
needed), each with a pipe. A rendering waits for a free worker (several render in parallel, the rest
queue), sends it the template source and values, and awaits the answer without blocking the event loop.
Past ``GOOSUKE_RENDER_TIMEOUT`` (plus :data:`KILL_GRACE`, so that the sandbox's own, clearer deadline
usually comes first) the worker is killed with SIGKILL and reaped, the caller gets the same
:class:`~hub.errors.InvalidArguments` naming the field as before, and the next rendering starts a fresh
worker. A worker that dies on its own is replaced the same way.

Workers get an empty environment, inherit no descriptor but their pipes and stderr, and import only
``hub.errors``, ``hub.templates.sandbox`` and ``hub.templates.rendering`` (``render_worker.py``): no
settings, no secrets, no database. Their answers are JSON, bounded in size; the hub never unpickles
anything a template could have shaped.

The templates plugin runs one pool per hub (``plugin.py``) and stops it, killing every worker, when the
hub stops. Outside a running hub (a test, a script) :func:`render_killable` starts a one-off worker for
the call.
"""

from __future__ import annotations

import json
import pickle
import sys
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import jinja2
import markupsafe
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from hub.errors import InvalidArguments, ServiceUnavailable
from hub.templates.render_worker import HEADER, READY
from hub.templates.sandbox import MAX_RENDERED_CHARS, RENDER_TIMEOUT

__all__ = ["KILL_GRACE", "MARKER", "RenderWorkers", "current", "render_killable"]

MARKER = "goosuke-render-worker"  # in every worker's command line (ps, /proc/<pid>/cmdline)
KILL_GRACE = 0.5  # seconds past the timeout before the kill: the sandbox's own deadline comes first
QUEUE_ROUNDS = 4  # renders' worth of waiting for a free worker before a render is refused (503)
WORKER_START_BOUND = 10.0  # seconds added to that wait for workers (re)starting meanwhile
START_TIMEOUT = 30.0  # seconds a new worker may take to import Jinja and say it is ready
MAX_REPLY_BYTES = 6 * MAX_RENDERED_CHARS + 65_536  # the longest text as JSON (\uXXXX escapes), plus room
_TEMPLATES = Path(__file__).resolve().parent
# Run by ``python -I -c``: stub packages, so that importing hub.templates.render_worker runs neither
# hub/__init__.py nor hub/templates/__init__.py (which would import the whole hub).
_BOOT = """\
import sys, types
for name, path in (("hub", sys.argv[2]), ("hub.templates", sys.argv[3])):
    package = types.ModuleType(name)
    package.__path__ = [path]
    sys.modules[name] = package
sys.path[:0] = [path for path in sys.argv[4:] if path not in sys.path]
from hub.templates.render_worker import main
main()
"""
_RUNNING: list[RenderWorkers] = []  # the pools of the hubs running in this process, newest last


def _command() -> list[str]:
    libraries = {str(Path(module.__file__ or ".").resolve().parent.parent) for module in (jinja2, markupsafe)}
    return [sys.executable, "-I", "-c", _BOOT, MARKER, str(_TEMPLATES.parent), str(_TEMPLATES), *sorted(libraries)]


def _too_slow(label: str, timeout: float) -> InvalidArguments:
    return InvalidArguments(
        f"Rendering the {label} took longer than {timeout:g} s; simplify its loops.",
        errors=[{"field": label, "message": "too slow", "type": "template_limit"}],
    )


def _stopped(label: str, why: str) -> InvalidArguments:
    return InvalidArguments(
        f"Rendering the {label} stopped its render worker ({why}); simplify the template.",
        errors=[{"field": label, "message": "render worker stopped", "type": "template_limit"}],
    )


def _stopping() -> ServiceUnavailable:
    return ServiceUnavailable("The render workers are stopped: the hub is stopping. Try again in a moment.")


class _Broken(Exception):
    """The worker answered nothing usable (it died, or sent something that is not an answer)."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._requests = process.stdin
        self._answers = BufferedByteReceiveStream(process.stdout)
        self.dead = False
        self._reaped = anyio.Event()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def receive(self) -> dict[str, Any]:
        try:
            (size,) = HEADER.unpack(await self._answers.receive_exactly(HEADER.size))
            if size > MAX_REPLY_BYTES:
                raise _Broken(f"an answer of {size} bytes")
            message = json.loads((await self._answers.receive_exactly(size)).decode("utf-8", "surrogatepass"))
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise _Broken("it exited") from None
        except ValueError:  # bad UTF-8 or JSON
            raise _Broken("an answer that is not JSON") from None
        if not isinstance(message, dict):
            raise _Broken("an answer that is not an object")
        return message

    async def ask(self, request: bytes) -> dict[str, Any]:
        try:
            await self._requests.send(HEADER.pack(len(request)) + request)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise _Broken("it exited") from None
        return await self.receive()

    async def kill(self) -> None:
        """SIGKILL and reap (shielded: a cancelled caller still leaves no process behind); a second caller
        waits for the first one's reap."""
        with anyio.CancelScope(shield=True):
            if self.dead:
                await self._reaped.wait()
                return
            self.dead = True
            try:
                with suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.aclose()
            finally:
                self._reaped.set()


class RenderWorkers:
    """A pool of at most ``size`` render worker processes; a rendering past ``timeout`` kills its worker."""

    def __init__(self, size: int, timeout: float) -> None:
        self.size = size
        self.timeout = timeout
        self._slots = anyio.Semaphore(size)  # FIFO: renders past the cap queue in order
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._open = False
        self._thread: int | None = None

    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        return sorted(worker.pid for worker in self._workers)

    @property
    def busy(self) -> int:
        """Workers rendering right now."""
        return len(self._workers) - len(self._idle)

    @asynccontextmanager
    async def running(self, *, publish: bool = True) -> AsyncIterator[RenderWorkers]:
        """Open the pool (workers start when first needed); at exit kill and reap every worker. With
        ``publish``, :func:`render_killable` in this thread uses this pool while it runs."""
        self._open, self._thread = True, threading.get_ident()
        if publish:
            _RUNNING.append(self)
        try:
            yield self
        finally:
            self._open = False
            if publish:
                _RUNNING.remove(self)
            with anyio.CancelScope(shield=True):
                for worker in list(self._workers):
                    await self._discard(worker)

    async def render(self, source: str, values: Mapping[str, Any], label: str = "prompt") -> str:
        """Render ``source`` with ``values`` in a worker.

        Raises:
            InvalidArguments: what the sandbox refused, or the rendering took longer than the timeout
                (its worker was killed); naming the field (``label``).
            ServiceUnavailable: the pool is stopped, or no worker could be started.
        """
        request = pickle.dumps((source, dict(values), label, self.timeout), protocol=pickle.HIGHEST_PROTOCOL)
        # a worker frees within one render's bound (and a restart): a render waits a few rounds, never forever
        wait = QUEUE_ROUNDS * (self.timeout + KILL_GRACE) + WORKER_START_BOUND
        try:
            with anyio.fail_after(wait):
                await self._slots.acquire()
        except TimeoutError:
            raise ServiceUnavailable(
                f"All {self.size} render workers stayed busy for {wait:g} s; try again in a moment "
                "(GOOSUKE_RENDER_WORKERS sets how many render at once)."
            ) from None
        try:
            while True:
                reused = bool(self._idle)
                worker = self._idle.pop() if reused else await self._start()
                try:
                    answer = await self._ask(worker, request)
                except _Broken as exc:
                    if not self._open:  # killed by the hub's stop, not by the template
                        raise _stopping() from None
                    if reused:  # it died while idle (killed from outside): the render gets a fresh worker
                        continue
                    raise _stopped(label, str(exc)) from None
                break
        finally:
            self._slots.release()
        if answer is None:
            raise _too_slow(label, self.timeout)
        text = answer.get("text")
        if isinstance(text, str):
            return text
        errors = answer.get("errors")
        raise InvalidArguments(
            str(answer.get("message") or f"Rendering the {label} failed."),
            errors=errors if isinstance(errors, list) else [{"field": label, "message": "render error"}],
        )

    async def _ask(self, worker: _Worker, request: bytes) -> dict[str, Any] | None:
        """The worker's answer, or None when it took too long; a worker that did not answer is killed."""
        answer: dict[str, Any] | None = None
        try:
            with anyio.move_on_after(self.timeout + KILL_GRACE):
                answer = await worker.ask(request)
        finally:
            if answer is None or not self._open:
                await self._discard(worker)
            else:
                self._idle.append(worker)
        return answer

    async def _start(self) -> _Worker:
        if not self._open:
            raise _stopping()
        try:
            process = await anyio.open_process(_command(), env={}, cwd="/", stderr=None)
        except OSError as exc:
            raise ServiceUnavailable(f"Could not start a render worker ({exc}); try again in a moment.") from None
        worker = _Worker(process)
        self._workers.add(worker)
        ready: dict[str, Any] | None = None
        problem = f"did not say it was ready within {START_TIMEOUT:g} s"
        try:
            with anyio.move_on_after(START_TIMEOUT):
                ready = await worker.receive()
        except _Broken as exc:
            problem = f"sent {exc} before it was ready" if "answer" in str(exc) else "exited before it was ready"
        finally:
            if ready != READY or not self._open:
                await self._discard(worker)
        if not self._open:
            raise _stopping()
        if ready != READY:
            raise ServiceUnavailable(f"A render worker {problem} (its error is in the hub's log); try again.")
        return worker

    async def _discard(self, worker: _Worker) -> None:
        """Kill and reap ``worker``; it stays listed until it is reaped, so a stop waits for it too."""
        with suppress(ValueError):
            self._idle.remove(worker)
        try:
            await worker.kill()
        finally:
            self._workers.discard(worker)


def current() -> RenderWorkers | None:
    """The running pool of the hub in this thread (the newest, when tests run several), or None."""
    thread = threading.get_ident()
    return next((pool for pool in reversed(_RUNNING) if pool._thread == thread), None)


async def render_killable(source: str, values: Mapping[str, Any], label: str = "prompt") -> str:
    """Render in the running hub's worker pool; outside a hub, in a one-off worker with the default timeout."""
    pool = current()
    if pool is not None:
        return await pool.render(source, values, label)
    async with RenderWorkers(1, RENDER_TIMEOUT).running(publish=False) as once:
        return await once.render(source, values, label)
