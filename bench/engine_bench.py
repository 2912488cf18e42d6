"""Engine overhead: N executions of a trivial `command` agent at concurrency C, against spawning the same
process directly N times at concurrency C, in one run.

    .venv/bin/python -m bench.engine_bench [--runs 500] [--concurrency 8]
                                           [--database-url postgresql://postgres@127.0.0.1:5432/test]

The program is `date +%s%N`: trivial, and it prints the moment it started, so "queue-to-start" is
measured from the client's side: from the call that submits (or spawns) to the process running,
database row, dispatch and fork included. Three passes over the same program:
- bare: C workers each spawn the process (own session, piped output, waited for) one after another;
- engine, closed loop: C clients each submit an execution and wait for it to finish, one after another;
- engine, burst: all N submitted at once, then waited for (throughput with a full queue).
Writes bench/results/engine.md and prints it. Compare numbers within one run only.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
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
from hub.clock import aware
from hub.db.models import Execution
from hub.engine import Engine, Trigger
from hub.runners import store as runners
from hub.runners.model import RunnerDefinition
from hub.settings import Settings
from hub.templates import store
from hub.templates.definition import TemplateDefinition

RESULTS = Path(__file__).parent / "results" / "engine.md"
TRIGGER = Trigger(kind="api", actor="bench")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def started_ns(output: str | bytes | None) -> int:
    """The start time the program printed (nanoseconds since the epoch)."""
    text = output.decode() if isinstance(output, bytes) else output or ""
    return int(text.strip().splitlines()[0])


async def bare(argv: list[str], runs: int, concurrency: int) -> tuple[float, list[float], list[float]]:
    durations: list[float] = []
    to_start: list[float] = []
    todo = iter(range(runs))

    async def worker() -> None:
        for _ in todo:
            called, start = time.time_ns(), time.perf_counter()
            process = await anyio.open_process(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
            )
            async with process:
                assert process.stdin is not None and process.stdout is not None
                with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await process.stdin.send(b"bench")  # a program that ignores stdin may be gone already
                    await process.stdin.aclose()
                output = b"".join([chunk async for chunk in process.stdout])
                await process.wait()
            durations.append(time.perf_counter() - start)
            to_start.append((started_ns(output) - called) / 1e9)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return time.perf_counter() - start, durations, to_start


async def closed_loop(engine: Engine, runs: int, concurrency: int) -> tuple[float, list[str], list[float], list[float]]:
    ids: list[str] = []
    to_start: list[float] = []
    end_to_end: list[float] = []
    todo = iter(range(runs))

    async def client() -> None:
        for _ in todo:
            called, start = time.time_ns(), time.perf_counter()
            info = await engine.submit("trivial", trigger=TRIGGER)
            ids.append(info.id)
            done = await engine.wait(info.id, 60)
            end_to_end.append(time.perf_counter() - start)
            assert done.status == "succeeded", done.error
            to_start.append((started_ns(done.output) - called) / 1e9)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(client)
    return time.perf_counter() - start, ids, to_start, end_to_end


async def burst(engine: Engine, runs: int) -> tuple[float, list[str], list[float]]:
    start = time.perf_counter()
    submitted: list[tuple[str, int]] = []
    for _ in range(runs):
        called = time.time_ns()
        submitted.append(((await engine.submit("trivial", trigger=TRIGGER)).id, called))
    to_start = []
    for execution_id, called in submitted:
        done = await engine.wait(execution_id, 120)
        assert done.status == "succeeded", done.error
        to_start.append((started_ns(done.output) - called) / 1e9)
    return time.perf_counter() - start, [i for i, _ in submitted], to_start


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
        engine: Engine = app.services.get(Engine)
        definition = TemplateDefinition(
            name="trivial",
            title="trivial",
            prompt="bench",
            agent="command",
            runner="trivial",
        )
        async with app.db.session() as session:  # an admin's runner holds the program; the template names it
            await runners.create(session, RunnerDefinition(name="trivial", agent="command", argv=argv), "bench")
            await store.create(session, definition, "bench")
        await closed_loop(engine, args.concurrency * 4, args.concurrency)  # warm up
        cpu = cpu_seconds()
        bare_total, bare_each, bare_start = await bare(argv, args.runs, args.concurrency)
        cpu, bare_cpu = cpu_seconds(), cpu_seconds() - cpu
        loop_total, loop_ids, loop_start, loop_each = await closed_loop(engine, args.runs, args.concurrency)
        cpu, loop_cpu = cpu_seconds(), cpu_seconds() - cpu
        burst_total, burst_ids, burst_start = await burst(engine, args.runs)
        burst_cpu = cpu_seconds() - cpu
        loop_rows, _ = await timings(engine, loop_ids)
        burst_rows, _ = await timings(engine, burst_ids)
    db_kind = app.db.kind
    overhead = (loop_total - bare_total) / bare_total * 100
    rows: list[tuple[str, Any, Any, Any, Any, Any]] = [
        (
            "bare spawn (baseline)",
            f"{bare_total:.2f}",
            f"{args.runs / bare_total:.0f}",
            ms(bare_cpu / args.runs),
            ms(pct(bare_each, 0.5)),
            ms(pct(bare_each, 0.95)),
        ),
        (
            "engine, closed loop",
            f"{loop_total:.2f}",
            f"{args.runs / loop_total:.0f}",
            ms(loop_cpu / args.runs),
            ms(pct(loop_each, 0.5)),
            ms(pct(loop_each, 0.95)),
        ),
        ("engine, burst", f"{burst_total:.2f}", f"{args.runs / burst_total:.0f}", ms(burst_cpu / args.runs), "", ""),
    ]

    def spread(values: list[float]) -> str:
        return (
            f"p50 **{ms(pct(values, 0.5))} ms**, p95 {ms(pct(values, 0.95))} ms, p99 {ms(pct(values, 0.99))} ms, "
            f"mean {ms(statistics.fmean(values))} ms"
        )

    lines = [
        "# Engine benchmark",
        "",
        f"{args.runs} runs of `{args.argv}` at concurrency {args.concurrency}, {db_kind}, one process. "
        "Numbers compare passes of the same run only.",
        "",
        "| pass | total s | runs/s | CPU ms per run | p50 ms per run | p95 ms per run |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {a} | {b} | {c} | {d} | {e} | {f} |" for a, b, c, d, e, f in rows),
        "",
        f"- Engine overhead against a bare spawn (closed loop, total time): **{overhead:+.1f} %**",
        "- Per run: bare is spawn to exit; engine is submit to the finished execution, as the client sees it.",
        "- CPU per run is this process's own (user + system, every thread; the programs' CPU not counted): "
        "the spawning loop for the bare pass, the whole hub for the engine passes.",
        "",
        "Queue-to-start, from the call to the program running (the time it printed):",
        "",
        f"- bare spawn (baseline): {spread(bare_start)}",
        f"- engine, closed loop (a slot free): {spread(loop_start)}",
        f"- engine, burst (includes waiting for a slot): {spread(burst_start)}",
        f"- as the rows record it (queued_at to started_at): closed loop p50 {ms(pct(loop_rows, 0.5))} ms, "
        f"burst p50 {ms(pct(burst_rows, 0.5))} ms",
        "",
    ]
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--argv", default="date +%s%N", help="the trivial agent program, split on spaces; it must print its start time"
    )
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
