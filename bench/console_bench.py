"""The console's server render time for each page, against the same data served as JSON by the facade.

    .venv/bin/python -m bench.console_bench [--rounds 40] [--executions 10000] [--templates 1000]

In process: one hub on SQLite in a temporary folder, served by uvicorn on loopback, with 1,000 templates
(made through ``template_create``, so the audit log has 1,000 entries too) and 10,000 finished executions
(inserted as rows in one bulk statement, spread one a minute over the last week; the newest has 200 log
lines). The client signs in to the console with the admin token.

The baseline is the same data as JSON: the first load of each page records the tool calls it made
(name and arguments, through the registry), and the baseline replays exactly those calls through the
facade (``POST /api/tools/{name}``, one request each, one after another) with the same principal. Page and
baseline are timed by the client, alternating within each round, so a noisy neighbour slows both alike.
Writes bench/results/console.md and prints it. Numbers are for comparison within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from sqlalchemy import insert

from harness.processes import free_port
from hub.app import create_app
from hub.context import AppContext
from hub.db.models import Execution, ExecutionLogLine, new_id
from hub.plugin import Call
from hub.principal import LOCAL_OWNER
from hub.registry import Registry
from hub.settings import Settings

RESULTS = Path(__file__).parent / "results"
Recorded = list[tuple[str, dict[str, Any]]]


@asynccontextmanager
async def served(app: Any, port: int) -> AsyncIterator[str]:
    """Serve the ASGI app with uvicorn on 127.0.0.1:port inside this event loop."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    setattr(server, "install_signal_handlers", lambda: None)  # noqa: B010  # the bench's loop keeps its signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Recorder:
    """Records the console's tool calls (``via=console``) while ``into`` is set."""

    def __init__(self, registry: Registry) -> None:
        self.into: Recorded | None = None
        real = registry.call_tool

        async def call_tool(name: str, arguments: dict[str, Any], call: Call) -> Any:
            if self.into is not None and call.via == "console":
                self.into.append((name, dict(arguments)))
            return await real(name, arguments, call)

        setattr(registry, "call_tool", call_tool)  # noqa: B010  # an instance attribute, for this run only


async def seed(app: AppContext, executions: int, templates: int) -> str:
    """The templates through the registry, the executions as rows; the newest execution's id."""
    owner = Call(principal=LOCAL_OWNER, app=app, via="api")
    parameters = [
        {"key": "who", "input_type": "string", "requirement": "required", "description": "Who it is for"},
        {"key": "days", "input_type": "number", "requirement": "optional", "default": 7},
    ]
    for i in range(templates):
        template = {
            "name": f"t{i:04d}",
            "title": f"Template {i}",
            "description": f"Bench template number {i}",
            "prompt": "Summarise the last {{ days }} days for {{ who }}.",
            "parameters": parameters,
            "tags": [f"tag{i % 20}", "bench"],
        }
        await app.registry.call_tool("template_create", template, owner)
    await app.registry.call_tool("webhook_create", {"name": "gh", "template": "t0000", "params": {"who": "ops"}}, owner)
    await app.registry.call_tool(
        "schedule_create",
        {"name": "nightly", "template": "t0001", "cron": "0 3 * * *", "params": {"who": "ops"}},
        owner,
    )
    now = datetime.now(UTC)
    rows = []
    for i in range(executions):
        queued = now - timedelta(minutes=i + 1)
        status = "failed" if i % 10 == 3 else "cancelled" if i % 37 == 5 else "succeeded"
        rows.append(
            {
                "id": new_id(),
                "template_name": f"t{i % templates:04d}",
                "template_version": 1,
                "agent": "command",
                "status": status,
                "trigger_kind": ("api", "schedule", "webhook")[i % 3],
                "trigger_actor": "admin",
                "created_by": "admin",
                "visibility": "public",
                "run_role": "admin",
                "params": {"who": "ops", "days": 7},
                "prompt": "Summarise the last 7 days for ops.",
                "timeout_seconds": 600.0,
                "queued_at": queued,
                "started_at": queued + timedelta(seconds=1),
                "finished_at": queued + timedelta(seconds=9),
                "exit_code": 3 if status == "failed" else 0,
                "output": "A short summary.\n" * 5,
                "error": "the agent exited with code 3" if status == "failed" else None,
                "usage": {"input_tokens": 1200, "output_tokens": 300},
                "log_lines": 200 if i == 0 else 0,
            }
        )
    async with app.db.session() as session:
        await session.execute(insert(Execution), rows)
        lines = [
            {"execution_id": rows[0]["id"], "seq": n, "stream": "stdout", "text": f"step {n}: working on it"}
            for n in range(200)
        ]
        await session.execute(insert(ExecutionLogLine), lines)
    return str(rows[0]["id"])


async def sign_in(http: httpx2.AsyncClient, token: str) -> None:
    page = await http.get("/ui/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    signed = await http.post("/ui/signin", data={"csrf": found.group(1), "token": token})
    assert signed.status_code == 303, signed.text


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered) * 1000, "p95": ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000}


async def timed(fn: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


async def measure(url: str, token: str, pages: dict[str, str], recorder: Recorder, rounds: int) -> list[dict[str, Any]]:
    console = httpx2.AsyncClient(base_url=url, timeout=120)
    api = httpx2.AsyncClient(
        base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    async with console, api:
        await sign_in(console, token)
        calls: dict[str, Recorded] = {}
        sizes: dict[str, tuple[int, int]] = {}
        floors: dict[str, bool] = {}
        for name, path in pages.items():  # the first load records the page's tool calls
            recorder.into = calls[name] = []
            page = await console.get(path)
            recorder.into = None
            assert page.status_code == 200, f"{path}: {page.status_code} {page.text[:500]}"
            floor = not calls[name]
            calls[name] = calls[name] or [("whoami", {})]  # a page without tools: against the facade's floor
            json_bytes = 0
            for tool, arguments in calls[name]:
                answer = await api.post(f"/api/tools/{tool}", content=json.dumps(arguments, default=str))
                assert answer.status_code == 200, f"{tool}: {answer.text[:500]}"
                json_bytes += len(answer.content)
            sizes[name] = (len(page.content), json_bytes)
            floors[name] = floor

        samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in pages}
        for _ in range(rounds):
            for name, path in pages.items():

                async def html(path: str = path) -> None:
                    response = await console.get(path)
                    assert response.status_code == 200, response.text[:500]

                async def facade(recorded: Recorded = calls[name]) -> None:
                    for tool, arguments in recorded:
                        response = await api.post(f"/api/tools/{tool}", content=json.dumps(arguments, default=str))
                        assert response.status_code == 200, response.text[:500]

                samples[name][0].append(await timed(html))
                samples[name][1].append(await timed(facade))
    rows = []
    for name, path in pages.items():
        tools: dict[str, int] = {}
        for tool, _ in calls[name]:
            tools[tool] = tools.get(tool, 0) + 1
        rows.append(
            {
                "page": name,
                "path": path,
                "html": percentiles(samples[name][0]),
                "json": percentiles(samples[name][1]),
                "tools": {"none (JSON: whoami)": 1} if floors[name] else tools,
                "bytes": sizes[name],
            }
        )
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "# Console: page render time against the same data as JSON",
        "",
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, in process on SQLite; {args.executions} "
        f"executions, {args.templates} templates; {args.rounds} rounds, page and JSON alternating. The JSON "
        "column replays the page's own tool calls through `POST /api/tools/{name}`, one request each (for a page "
        "that calls none, `whoami`: the facade's floor).",
        "",
        "| page | page p50 ms | page p95 ms | JSON p50 ms | JSON p95 ms | page / JSON (p50) | HTML KB | JSON KB "
        "| the page's tool calls |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        tools = ", ".join(f"{tool} ×{n}" if n > 1 else tool for tool, n in r["tools"].items())
        ratio = r["html"]["p50"] / r["json"]["p50"] if r["json"]["p50"] else float("nan")
        lines.append(
            f"| {r['page']} (`{r['path']}`) | {r['html']['p50']:.1f} | {r['html']['p95']:.1f} | "
            f"{r['json']['p50']:.1f} | {r['json']['p95']:.1f} | {ratio:.2f} | {r['bytes'][0] / 1024:.0f} | "
            f"{r['bytes'][1] / 1024:.0f} | {tools} |"
        )
    return "\n".join(lines) + "\n"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--templates", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = Settings(data_dir=Path(tmp), port=port, log_level="WARNING")
        asgi = create_app(settings)
        async with served(asgi, port) as url:
            app: AppContext = asgi.state.goosuke
            started = time.perf_counter()
            newest = await seed(app, args.executions, args.templates)
            print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            recorder = Recorder(app.registry)
            middle = f"t{args.templates // 2:04d}"
            pages = {
                "dashboard": "/ui",
                "executions": "/ui/executions",
                "executions, filtered": f"/ui/executions?status=failed&template={middle}",
                "execution": f"/ui/executions/{newest}",
                "templates": "/ui/templates",
                "templates, search": "/ui/templates?search=Template+99",
                "template editor": f"/ui/templates/{middle}",
                "extensions": "/ui/extensions",
                "triggers": "/ui/triggers",
                "audit log": "/ui/admin/audit",
                "admin index": "/ui/admin",
            }
            token = (Path(tmp) / "admin.token").read_text().strip()
            rows = await measure(url, token, pages, recorder, args.rounds)
    text = report(rows, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "console.md").write_text(text)
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
