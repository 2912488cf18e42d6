"""Tool-call latency and throughput through the hub against a bare MCPServer (same SDK), in one run.

    .venv/bin/python -m bench.core_bench [--calls 300] [--sessions 1,16]

Both servers run as real processes on loopback; the hub with token auth, its registry and metrics,
the baseline with nothing. Writes bench/results/core.md and prints it. Numbers are for comparison
within one run only: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from harness.processes import free_port, hub_env, serving, stop

RESULTS = Path(__file__).parent / "results"


async def session_calls(url: str, token: str | None, calls: int, mode: str, latencies: list[float]) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        await client.call_tool("echo", {"text": "warm-up"})
        for i in range(calls):
            started = time.perf_counter()
            result = await client.call_tool("echo", {"text": f"hello {i}"})
            latencies.append(time.perf_counter() - started)
            assert not result.is_error, result


async def measure(url: str, token: str | None, sessions: int, calls: int, mode: str) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(session_calls(url, token, calls, mode, latencies) for _ in range(sessions)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


def report(rows: list[tuple[str, int, str, dict[str, float], dict[str, float]]]) -> str:
    lines = [
        "# Hub vs bare MCPServer: echo tool over Streamable HTTP",
        "",
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, client and servers on one machine.",
        "",
        "| protocol | sessions | server | calls/s | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for mode, sessions, _, bare, hub in rows:
        for name, r in (("bare MCPServer", bare), ("goosuke (auth + registry)", hub)):
            lines.append(
                f"| {mode} | {sessions} | {name} | {r['calls_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |"
            )
        overhead = hub["p50_ms"] - bare["p50_ms"]
        ratio = hub["calls_per_s"] / bare["calls_per_s"] * 100
        lines.append(f"| {mode} | {sessions} | **hub vs bare** | {ratio:.0f} % | {overhead:+.2f} | |")
    return "\n".join(lines) + "\n"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="calls per session")
    parser.add_argument("--sessions", default="1,16")
    args = parser.parse_args()
    session_counts = [int(s) for s in args.sessions.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        bare_port, hub_port = free_port(), free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_server", str(bare_port)], cwd=Path(__file__).parent.parent
        )
        try:
            wait_for_port(bare_port, bare)
            env = hub_env(Path(tmp), GOOSUKE_PLUGINS="bench.echo_plugin", GOOSUKE_LOG_LEVEL="WARNING")
            with serving(env, hub_port):
                token = (Path(tmp) / "admin.token").read_text().strip()
                rows = []
                for mode in ("legacy", "auto"):
                    for sessions in session_counts:
                        calls = max(args.calls // sessions, 20) if sessions > 1 else args.calls
                        b = await measure(f"http://127.0.0.1:{bare_port}/mcp", None, sessions, calls, mode)
                        h = await measure(f"http://127.0.0.1:{hub_port}/mcp", token, sessions, calls, mode)
                        rows.append((mode, sessions, "", b, h))
        finally:
            stop(bare)
    text = report(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "core.md").write_text(text)
    print(text)


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("baseline server exited")
        try:
            httpx2.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            return
        except httpx2.HTTPError:
            time.sleep(0.05)
    raise TimeoutError("baseline server did not start")


if __name__ == "__main__":
    asyncio.run(main())
