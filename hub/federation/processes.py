"""The processes of stdio extensions: found by a marker in their environment, killed by session.

Every stdio server gets a marker in its environment; its process is found by it, and when its connection
closes every process left in its session (grandchildren the server forked and did not reap) is killed.
The SDK's stdio transport starts each server as the leader of a new session, so the session id names
everything the server started.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TextIO

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


def private_log(path: Path) -> TextIO:
    """``path`` opened for writing, readable by this user only (a server's stderr may hold secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w")
