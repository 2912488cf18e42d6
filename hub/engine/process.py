"""Child processes of agents: their own session and process group, streamed output, a sure end.

Every agent process starts with ``start_new_session=True``, so it leads a process group that holds
everything it spawns. Cancel and timeout (an anyio cancellation of the run) end the group with
SIGTERM, a grace period, then SIGKILL; a normal exit also ends whatever the leader left behind.
Output is read in chunks and cut into lines of bounded length, so a flood never grows memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from hub import procfs
from hub.errors import AgentRunError
from hub.settings import Settings

READ_CHUNK = 65_536
MAX_LINE = 16_384  # longer lines are split: a newline-free flood is still read in bounded pieces
PIPE_CAPACITY = 65_536  # Linux's default pipe buffer: smaller input is written at once, without a task
GROUP_POLL = 0.05  # seconds between checks that a signalled process group is gone


@dataclass(frozen=True)
class ProcessOutcome:
    returncode: int
    pid: int


def child_environment(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed environment a child starts from (never the hub's whole environment), plus ``extra``."""
    base = getattr(settings, "extension_environment", None) or {}
    env = {key: value for key, value in base.items()}
    env.update(extra or {})
    return env


def process_identity(pid: int) -> str | None:
    """The start time of ``pid`` (Linux), to tell a recorded process from a later one with the same pid."""
    stat = procfs.stat(pid)
    return stat.start_time if stat is not None else None


def kill_recorded_group(pid: int, identity: str | None) -> bool:
    """SIGKILL the process group a crashed hub left behind, if ``pid`` is still that process."""
    if identity is None or process_identity(pid) != identity:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
        return True
    return False


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group. Orphans may stay zombies where no init reaps
    them (some containers), so the group is read from /proc where there is one."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass
    if not procfs.available():
        return [pgid]
    return [s.pid for s in map(procfs.stat, procfs.pids()) if s is not None and not s.zombie and s.pgid == pgid]


def _group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def end_group(process: anyio.abc.Process, grace: float) -> None:
    """SIGTERM the group, wait up to ``grace`` for it to go, then SIGKILL what is left."""
    pgid = process.pid
    if process.returncode is None or _group_alive(pgid):
        _signal_group(pgid, signal.SIGTERM)
        with anyio.move_on_after(grace):
            while process.returncode is None or _group_alive(pgid):
                if process.returncode is None:
                    with anyio.move_on_after(GROUP_POLL):
                        await process.wait()
                else:
                    await anyio.sleep(GROUP_POLL)
        _signal_group(pgid, signal.SIGKILL)
    await process.wait()


def _lines(sink: Callable[[str], None]) -> Callable[[bytes | None], None]:
    buffer = bytearray()

    def emit(raw: bytes) -> None:
        sink(raw.decode("utf-8", "replace").rstrip("\r"))

    def feed(chunk: bytes | None) -> None:
        if chunk is None:
            if buffer:
                emit(bytes(buffer))
                buffer.clear()
            return
        buffer.extend(chunk)
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            emit(bytes(buffer[start:end]))
            start = end + 1
        del buffer[:start]
        while len(buffer) > MAX_LINE:
            emit(bytes(buffer[:MAX_LINE]))
            del buffer[:MAX_LINE]

    return feed


async def _pump(stream: ByteReceiveStream | None, sink: Callable[[str], None]) -> None:
    if stream is None:
        return
    feed = _lines(sink)
    with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        while True:
            feed(await stream.receive(READ_CHUNK))
    feed(None)


async def _feed(stream: ByteSendStream | None, data: bytes) -> None:
    if stream is None:
        return
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, BrokenPipeError, OSError):
        for start in range(0, len(data), READ_CHUNK):
            await stream.send(data[start : start + READ_CHUNK])
    with contextlib.suppress(Exception):
        await stream.aclose()


async def run_process(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None,
    stdin: bytes | None,
    on_stdout: Callable[[str], None],
    on_stderr: Callable[[str], None],
    kill_grace: float,
    on_start: Callable[[int], None] | None = None,
) -> ProcessOutcome:
    """Run ``argv`` (no shell) in its own process group, streaming its output line by line.

    Cancelling the caller (timeout, cancel, shutdown) ends the whole group: SIGTERM, ``kill_grace``
    seconds, SIGKILL.

    Raises:
        AgentRunError: the program does not exist or cannot be executed.
    """
    try:
        process = await anyio.open_process(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise AgentRunError(
            f"Cannot start {argv[0]!r}: no such program. Give an absolute path or make sure it is on the PATH "
            "the hub passes to agents."
        ) from None
    except PermissionError:
        raise AgentRunError(f"Cannot start {argv[0]!r}: permission denied (is it executable?).") from None
    if on_start is not None:
        on_start(process.pid)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump, process.stdout, on_stdout)
            tg.start_soon(_pump, process.stderr, on_stderr)
            if stdin is not None and len(stdin) <= PIPE_CAPACITY:
                await _feed(process.stdin, stdin)  # fits the empty pipe: the write never waits for a reader
            elif stdin is not None:
                tg.start_soon(_feed, process.stdin, stdin)
            returncode = await process.wait()
            if _group_alive(process.pid):  # children left running keep the pipes open: end them too
                await end_group(process, kill_grace)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await end_group(process, kill_grace)
            with contextlib.suppress(Exception):
                await process.aclose()
        raise
    with contextlib.suppress(Exception):
        await process.aclose()
    return ProcessOutcome(returncode=returncode, pid=process.pid)


def which(program: str, env: Mapping[str, str]) -> str | None:
    """``program`` if it is a path to an executable file, else its location on ``env['PATH']``."""
    import shutil

    if os.sep in program:
        path = Path(program).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program, path=env.get("PATH", os.defpath))
