"""Webhook-to-execution-queued latency and sustained webhook throughput, against /healthz in the same run.

    .venv/bin/python -m bench.webhook_bench [--requests 400] [--concurrency 8]

A real `goosuke serve` on loopback; a `command` template running `true`; a GitHub-style signed hook
with a fresh delivery id per request (so every request creates an execution). The baseline is the
plain /healthz route of the same process. Writes bench/results/webhooks.md and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from harness.processes import free_port, hub_env, serving
from hub.triggers.webhooks import sign_github

RESULTS = Path(__file__).parent / "results"
PAYLOAD = {"issue": {"title": "Bench", "body": "x" * 200}, "repository": {"full_name": "acme/app"}}


async def drive(http: httpx2.AsyncClient, requests: int, concurrency: int, make: object) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        for i in counter:
            method, path, kwargs = make(i)  # type: ignore[operator]
            started = time.perf_counter()
            response = await http.request(method, path, **kwargs)
            latencies.append(time.perf_counter() - started)
            assert response.status_code in (200, 202), response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def row(name: str, elapsed: float, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"| {name} | {len(latencies) / elapsed:.0f} | {statistics.median(ordered) * 1000:.2f} | {p95 * 1000:.2f} |"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = hub_env(
            Path(tmp),
            GOOSUKE_LOG_LEVEL="WARNING",
            GOOSUKE_WEBHOOK_RATE_LIMIT="100000/minute",
            GOOSUKE_MAX_CONCURRENT_EXECUTIONS="8",
        )
        with serving(env, port):
            token = (Path(tmp) / "admin.token").read_text().strip()
            async with httpx2.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=60, headers={"Authorization": f"Bearer {token}"}
            ) as http:
                made = await http.post(
                    "/api/tools/template_create",
                    json={
                        "name": "bench",
                        "title": "bench",
                        "prompt": "{{ title }}",
                        "agent": "command",
                        "agent_settings": {"argv": ["true"]},
                        "parameters": [{"key": "title", "input_type": "string", "requirement": "required"}],
                    },
                )
                assert made.status_code == 200, made.text
                hook = await http.post(
                    "/api/tools/webhook_create",
                    json={"name": "bench", "template": "bench", "mapping": {"title": "/issue/title"}},
                )
                secret = hook.json()["secret"]
                body = json.dumps(PAYLOAD).encode()
                signature = sign_github(secret, body)

                def webhook(i: int) -> tuple[str, str, dict[str, object]]:
                    return (
                        "POST",
                        "/hooks/bench",
                        {
                            "content": body,
                            "headers": {
                                "X-Hub-Signature-256": signature,
                                "X-GitHub-Delivery": f"bench-{i}",
                                "Content-Type": "application/json",
                            },
                        },
                    )

                def health(i: int) -> tuple[str, str, dict[str, object]]:
                    return "GET", "/healthz", {}

                await drive(http, 20, 2, health)  # warm up both paths
                await drive(http, 20, 2, lambda i: webhook(100_000 + i))
                base = await drive(http, args.requests, args.concurrency, health)
                hooks = await drive(http, args.requests, args.concurrency, webhook)
    lines = [
        "# Webhooks: signed delivery to queued execution, against /healthz",
        "",
        f"{args.requests} requests, {args.concurrency} concurrent clients, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores; one `goosuke serve` on SQLite. A 202 means the execution row exists (queued).",
        "",
        "| route | requests/s | p50 ms | p95 ms |",
        "|---|---|---|---|",
        row("GET /healthz (baseline)", *base),
        row("POST /hooks/{slug} -> queued execution", *hooks),
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webhooks.md").write_text(text)
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
