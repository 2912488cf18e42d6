"""Real `goosuke` processes for boundary tests: start, wait until healthy, stop (bounded at every step)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

GOOSUKE = [sys.executable, "-m", "hub.cli"]
START_TIMEOUT = 30.0  # a cold start imports SQLAlchemy, the SDK and runs migrations
STOP_GRACE = 10.0


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
        cwd=Path(__file__).parent.parent,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield proc
    finally:
        stop(proc)
        if log:
            stderr.close()  # type: ignore[union-attr]
