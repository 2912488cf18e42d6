"""The processes of stdio extensions: found by a marker in their environment, killed by session.

Every stdio server gets a marker in its environment; its process is found by it, and when its connection
closes every process left in its session (grandchildren the server forked and did not reap) is killed.
The SDK's stdio transport starts each server as the leader of a new session, so the session id names
everything the server started.
"""

from __future__ import annotations

import os
import signal

from hub import procfs

INSTANCE_VAR = "GOOSUKE_EXTENSION_INSTANCE"


def find_server_process(marker: str) -> int | None:
    """The pid of this process's child started with ``marker`` (a session leader: the SDK starts servers
    in a new session)."""
    me = os.getpid()
    needle = f"{INSTANCE_VAR}={marker}".encode()
    for pid in procfs.pids():
        stat = procfs.stat(pid)
        if stat is None or stat.zombie or stat.ppid != me or stat.sid != pid:
            continue
        env = procfs.environ(pid)
        if env is not None and needle in env.split(b"\0"):
            return pid
    return None


def kill_session(sid: int | None) -> int:
    """SIGKILL every process still in session ``sid``; returns how many there were."""
    if sid is None:
        return 0
    killed = 0
    for pid in procfs.pids():
        stat = procfs.stat(pid)
        if stat is not None and not stat.zombie and stat.sid == sid:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed
