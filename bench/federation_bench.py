"""A federated tool call through the hub against calling the same extension directly, in one run; and the
memory of 20 idle federated extensions.

    .venv/bin/python -m bench.federation_bench [--calls 300] [--sessions 1,16] [--idle 20]

The extension is bench/bare_server.py (an MCPServer with an echo tool, Streamable HTTP, its own process).
"direct" calls it; "via hub" calls `bare__echo` on a real `goosuke serve` (token auth) that federates it.
The idle part adds N stdio extensions (@modelcontextprotocol/server-memory from .ci/tools.sh), starts each
with one call, and reads the resident memory of the hub and its children from /proc. Writes
bench/results/federation.md and prints it. Numbers compare within this run only; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.core_bench import wait_for_port
from harness.processes import descendants, free_port, hub_env, npm_server, serving, stop

RESULTS = Path(__file__).parent / "results"


async def session_calls(
    url: str, token: str | None, tool: str, calls: int, latencies: list[float], warm: asyncio.Barrier
) -> float:
    """Connect, warm up, wait for every session, make ``calls`` calls; returns when the last one ended."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy", cache=None) as client,
    ):
        await client.call_tool(tool, {"text": "warm-up"})  # the SDK client also lists the tools here
        await warm.wait()
        loop = asyncio.get_running_loop()
        for i in range(calls):
            started = loop.time()
            result = await client.call_tool(tool, {"text": f"hello {i}"})
            latencies.append(loop.time() - started)
            assert not result.is_error, result
        return loop.time()


async def measure(url: str, token: str | None, tool: str, sessions: int, calls: int) -> dict[str, float]:
    """calls/s counts from the start, connecting the sessions included (each lists the server's tools once);
    steady calls/s from the moment every session is connected and warm to the last answer."""
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    warm = asyncio.Barrier(sessions + 1)
    started = loop.time()
    running = [asyncio.create_task(session_calls(url, token, tool, calls, latencies, warm)) for _ in range(sessions)]
    await warm.wait()
    steady = loop.time()
    ended = max(await asyncio.gather(*running))
    elapsed = loop.time() - started
    latencies.sort()
    return {
        "calls_per_s": len(latencies) / elapsed,
        "steady_per_s": len(latencies) / (ended - steady),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
    }


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def admin_call(url: str, token: str, tool: str, args: dict[str, Any]) -> Any:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy", cache=None) as client,
    ):
        result = await client.call_tool(tool, args)
        assert not result.is_error, result.content
        return result.structured_content


async def idle_memory(url: str, token: str, hub_pid: int, count: int, tmp: Path) -> dict[str, float]:
    before = rss_kib(hub_pid)
    memory = npm_server("memory")
    for i in range(count):
        extension = {"type": "stdio", "name": f"memory{i}", "cmd": memory, "args": [], "timeout": 60,
                     "envs": {"MEMORY_FILE_PATH": str(tmp / f"memory{i}.jsonl")}}  # fmt: skip
        await admin_call(url, token, "extension_add", {"extension": extension, "start": False})
        await admin_call(url, token, f"memory{i}__read_graph", {})
    children = descendants(hub_pid)
    child_rss = sum(rss_kib(pid) for pid in children)
    return {
        "hub_before_mib": before / 1024,
        "hub_after_mib": rss_kib(hub_pid) / 1024,
        "children": len(children),
        "children_mib": child_rss / 1024,
        "per_extension_mib": child_rss / 1024 / max(count, 1),
    }


def report(rows: list[tuple[int, dict[str, float], dict[str, float]]], idle: dict[str, float], count: int) -> str:
    lines = [
        "# Federation: a tool call via the hub vs the same extension called directly",
        "",
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, client, hub and extension on one machine.",
        "The extension is bench/bare_server.py (echo over Streamable HTTP); the hub runs `goosuke serve` with",
        "token auth and federates it as `bare__echo`. Legacy (2025-11-25) sessions.",
        "",
        "calls/s counts from the first connection (each session's connect, warm-up call and tools/list included);",
        "steady calls/s from the moment every session is connected and warm.",
        "",
        "| sessions | path | calls/s | steady calls/s | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for sessions, direct, hub in rows:
        for name, r in (("direct", direct), ("via hub", hub)):
            lines.append(
                f"| {sessions} | {name} | {r['calls_per_s']:.0f} | {r['steady_per_s']:.0f} | {r['p50_ms']:.2f} "
                f"| {r['p95_ms']:.2f} |"
            )
        ratio = hub["calls_per_s"] / direct["calls_per_s"] * 100
        steady = hub["steady_per_s"] / direct["steady_per_s"] * 100
        lines.append(
            f"| {sessions} | **hub vs direct** | {ratio:.0f} % | {steady:.0f} % | "
            f"{hub['p50_ms'] - direct['p50_ms']:+.2f} | |"
        )
    lines += [
        "",
        f"## {count} idle federated extensions (@modelcontextprotocol/server-memory, started once each)",
        "",
        "| hub RSS before | hub RSS after | child processes | their RSS | per extension |",
        "|---|---|---|---|---|",
        f"| {idle['hub_before_mib']:.0f} MiB | {idle['hub_after_mib']:.0f} MiB | {idle['children']:.0f} | "
        f"{idle['children_mib']:.0f} MiB | {idle['per_extension_mib']:.1f} MiB |",
    ]
    return "\n".join(lines) + "\n"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="calls per session (divided among sessions)")
    parser.add_argument("--sessions", default="1,16")
    parser.add_argument("--idle", type=int, default=20, help="idle federated extensions to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare_port, hub_port = free_port(), free_port()
        root = Path(__file__).parent.parent
        bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(bare_port)], cwd=root)
        try:
            wait_for_port(bare_port, bare)
            env = hub_env(Path(tmp), GOOSUKE_LOG_LEVEL="WARNING", GOOSUKE_EXTENSION_IDLE_TIMEOUT="3600")
            with serving(env, hub_port) as hub:
                url = f"http://127.0.0.1:{hub_port}/mcp"
                token = (Path(tmp) / "admin.token").read_text().strip()
                extension = {"type": "streamable_http", "name": "bare", "uri": f"http://127.0.0.1:{bare_port}/mcp"}
                await admin_call(url, token, "extension_add", {"extension": extension})
                rows = []
                for sessions in [int(s) for s in args.sessions.split(",")]:
                    calls = max(args.calls // sessions, 20) if sessions > 1 else args.calls
                    direct = await measure(f"http://127.0.0.1:{bare_port}/mcp", None, "echo", sessions, calls)
                    via = await measure(url, token, "bare__echo", sessions, calls)
                    rows.append((sessions, direct, via))
                idle = await idle_memory(url, token, hub.pid, args.idle, Path(tmp))
        finally:
            stop(bare)
    text = report(rows, idle, args.idle)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "federation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
