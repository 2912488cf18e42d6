"""Engine overhead: N executions of a trivial `command` agent at concurrency C, against spawning the same
process directly N times at concurrency C, in one run.

    .venv/bin/python -m bench.engine_bench [--runs 500] [--concurrency 8] [--argv true]
                                           [--database-url postgresql://postgres@127.0.0.1:5432/test]

Three passes over the same program:
- bare: C workers each spawn the process (own session, piped output, waited for) one after another;
- engine, closed loop: C clients each submit an execution and wait for it to finish, one after another
  (a slot is always free, so queue-to-start is the dispatcher's own latency);
- engine, burst: all N submitted at once (throughput with a full queue).
Writes bench/results/engine.md and prints it. Compare numbers within one run only.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import asyncpg
from sqlalchemy import select

from hub.app import build_context, running
from hub.db.models import Execution
from hub.engine import Engine, Trigger
from hub.engine import templates as store
from hub.engine.records import aware
from hub.settings import Settings
from hub.templating import AgentSettings, TemplateDefinition

RESULTS = Path(__file__).parent / "results" / "engine.md"
TRIGGER = Trigger(kind="api", actor="bench")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f}"


async def bare(argv: list[str], runs: int, concurrency: int) -> tuple[float, list[float]]:
    durations: list[float] = []
    todo = iter(range(runs))

    async def worker() -> None:
        for _ in todo:
            start = time.perf_counter()
            process = await anyio.open_process(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
            )
            async with process:
                assert process.stdin is not None
                with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await process.stdin.send(b"bench")  # a program that ignores stdin may be gone already
                    await process.stdin.aclose()
                await process.wait()
            durations.append(time.perf_counter() - start)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return time.perf_counter() - start, durations


async def closed_loop(engine: Engine, runs: int, concurrency: int) -> tuple[float, list[str]]:
    ids: list[str] = []
    todo = iter(range(runs))

    async def client() -> None:
        for _ in todo:
            info = await engine.submit("trivial", trigger=TRIGGER)
            ids.append(info.id)
            done = await engine.wait(info.id, 60)
            assert done.status == "succeeded", done.error

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(client)
    return time.perf_counter() - start, ids


async def burst(engine: Engine, runs: int) -> tuple[float, list[str]]:
    start = time.perf_counter()
    ids = [(await engine.submit("trivial", trigger=TRIGGER)).id for _ in range(runs)]
    for execution_id in ids:
        assert (await engine.wait(execution_id, 120)).status == "succeeded"
    return time.perf_counter() - start, ids


async def timings(engine: Engine, ids: list[str]) -> tuple[list[float], list[float]]:
    async with engine.db.session() as session:
        rows = list(await session.scalars(select(Execution).where(Execution.id.in_(ids))))
    to_start = [(aware(r.started_at) - aware(r.queued_at)).total_seconds() for r in rows]  # type: ignore[operator]
    running = [(aware(r.finished_at) - aware(r.started_at)).total_seconds() for r in rows]  # type: ignore[operator]
    return to_start, running


@asynccontextmanager
async def database(url: str | None, tmp: str) -> AsyncIterator[str]:
    """SQLite in ``tmp``, or a throw-away database on the PostgreSQL server of ``url`` (dropped after)."""
    if not url:
        yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgresql+asyncpg://{dsn.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace) -> str:
    argv = args.argv.split()
    with tempfile.TemporaryDirectory() as tmp:
        async with database(args.database_url, tmp) as url:
            return await measure(args, argv, tmp, url)


async def measure(args: argparse.Namespace, argv: list[str], tmp: str, url: str) -> str:
    settings = Settings(
        data_dir=Path(tmp),
        database_url=url,
        max_concurrent_executions=args.concurrency,
        engine_poll_interval=1.0,
    )
    app = build_context(settings, transport="stdio")
    async with running(app):
        engine: Engine = app.services["engine"]
        definition = TemplateDefinition(
            name="trivial",
            title="trivial",
            prompt="bench",
            agent="command",
            agent_settings=AgentSettings(argv=argv),
        )
        async with app.db.session() as session:
            await store.create(session, definition, "bench")
        await closed_loop(engine, args.concurrency * 4, args.concurrency)  # warm up
        bare_total, bare_each = await bare(argv, args.runs, args.concurrency)
        loop_total, loop_ids = await closed_loop(engine, args.runs, args.concurrency)
        burst_total, burst_ids = await burst(engine, args.runs)
        loop_start, loop_run = await timings(engine, loop_ids)
        burst_start, _ = await timings(engine, burst_ids)
    db_kind = app.db.kind
    overhead = (loop_total - bare_total) / bare_total * 100
    rows: list[tuple[str, Any, Any, Any, Any]] = [
        (
            "bare spawn (baseline)",
            f"{bare_total:.2f}",
            f"{args.runs / bare_total:.0f}",
            ms(pct(bare_each, 0.5)),
            ms(pct(bare_each, 0.95)),
        ),
        (
            "engine, closed loop",
            f"{loop_total:.2f}",
            f"{args.runs / loop_total:.0f}",
            ms(pct(loop_run, 0.5)),
            ms(pct(loop_run, 0.95)),
        ),
        ("engine, burst", f"{burst_total:.2f}", f"{args.runs / burst_total:.0f}", "", ""),
    ]
    lines = [
        "# Engine benchmark",
        "",
        f"{args.runs} runs of `{args.argv}` at concurrency {args.concurrency}, {db_kind}, one process. "
        "Numbers compare passes of the same run only.",
        "",
        "| pass | total s | runs/s | p50 ms per run | p95 ms per run |",
        "|---|---:|---:|---:|---:|",
        *(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows),
        "",
        f"- Engine overhead against a bare spawn (closed loop, total time): **{overhead:+.1f} %**",
        f"- Queue-to-start, closed loop (a slot always free): p50 **{ms(pct(loop_start, 0.5))} ms**, "
        f"p95 {ms(pct(loop_start, 0.95))} ms, p99 {ms(pct(loop_start, 0.99))} ms, "
        f"mean {ms(statistics.fmean(loop_start))} ms",
        f"- Queue-to-start, burst (includes waiting for a slot): p50 {ms(pct(burst_start, 0.5))} ms, "
        f"p95 {ms(pct(burst_start, 0.95))} ms",
        "- Per run (engine) is started→finished as recorded in the row: the agent's process plus the final "
        "write; per run (bare) is spawn to exit.",
        "",
    ]
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--argv", default="true", help="the trivial agent program, split on spaces")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server to use (a throw-away database is created on it)"
    )
    args = parser.parse_args()
    report = anyio.run(main, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    cli()
