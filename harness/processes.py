"""Real processes for boundary tests and benchmarks: `goosuke` started, waited for until healthy and stopped
(bounded at every step); free ports; the reference MCP servers from .ci/tools.sh; child processes from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from harness import REPO
from harness.tools import tool_path

GOOSUKE = [sys.executable, "-m", "hub.cli"]
START_TIMEOUT = 30.0  # a cold start imports SQLAlchemy, the SDK and runs migrations
STOP_GRACE = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOOSUKE_")}
    env["GOOSUKE_DATA_DIR"] = str(data_dir)
    if database_url:
        env["GOOSUKE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"goosuke exited with {proc.returncode} before it was healthy")
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url}/healthz did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_GRACE)


@contextmanager
def serving(env: dict[str, str], port: int, *args: str, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `goosuke serve --port PORT` until the block ends; stderr goes to ``log``."""
    stderr = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*GOOSUKE, "serve", "--port", str(port), *args],
        env=env,
        stdout=stderr,
        stderr=stderr,
        cwd=REPO,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield proc
    finally:
        stop(proc)
        if log:
            stderr.close()  # type: ignore[union-attr]


def npm_server(name: str) -> str:
    """The executable of a reference server installed by .ci/tools.sh (everything, memory, filesystem)."""
    path = tool_path("GOOSUKE_SERVERS_DIR") / "node_modules" / ".bin" / f"mcp-server-{name}"
    assert path.exists(), f"{path} is missing: run `bash .ci/tools.sh` to install the test tools"
    return str(path)


def descendants(pid: int | None = None) -> set[int]:
    """Every live process below ``pid`` (default: this one), read from /proc."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if state == "Z":
            continue  # a zombie is dead; reaping it is the parent's business
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
