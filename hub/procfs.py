"""Reading Linux's ``/proc``: the one place the hub parses a process's ``stat`` and environment.

Everything returns None (or nothing) where ``/proc`` is missing (macOS) or the process is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the hub uses (see proc(5))."""

    pid: int
    state: str  # "Z" for a zombie
    ppid: int
    pgid: int
    sid: int
    start_time: str  # clock ticks since boot: with the pid, names one process for good

    @property
    def zombie(self) -> bool:
        return self.state == "Z"


def available() -> bool:
    return PROC.is_dir()


def stat(pid: int) -> ProcStat | None:
    """``pid``'s stat fields, or None when it is gone (or there is no ``/proc``)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
        fields = text.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
        return ProcStat(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]), fields[19])
    except (OSError, IndexError, ValueError):
        return None


def pids() -> list[int]:
    """Every process id in ``/proc`` (empty without it)."""
    if not available():
        return []
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def environ(pid: int) -> bytes | None:
    """``pid``'s environment as ``/proc`` shows it (NUL-separated), or None when it cannot be read."""
    try:
        return (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
