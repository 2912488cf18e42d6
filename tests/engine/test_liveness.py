"""Telling live engines from dead ones (``engine_instances``): only a dead engine's runs are recovered.

Each test runs on SQLite and, with GOOSUKE_TEST_POSTGRES_URL set, on PostgreSQL."""

from __future__ import annotations

import logging
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hub import procfs
from hub.context import AppContext
from hub.db.models import EngineInstance, Execution, ExecutionLogLine, new_id, utcnow
from hub.engine.queue import HEARTBEAT_MISSES, HOST, Queue
from hub.settings import Settings
from tests.engine_support import (
    API,
    add_template,
    engine_of,
    finished,
    hub_running,
    orphan,
    python_argv,
    status_of,
    until,
)

pytestmark = pytest.mark.anyio


async def foreign_engine(
    app: AppContext, *, host: str = HOST, pid: int, pid_start: str | None, heartbeat_age: float = 0.0
) -> str:
    """The row another hub process's engine wrote (it is not running here), and a run it holds."""
    worker, now = new_id(), utcnow()
    async with app.db.session() as session:
        session.add(
            EngineInstance(
                worker_id=worker,
                host=host,
                pid=pid,
                pid_start=pid_start,
                started_at=now - timedelta(seconds=heartbeat_age),
                heartbeat_at=now - timedelta(seconds=heartbeat_age),
            )
        )
    return await orphan(app, "nightly", worker, host=host)


async def engine_rows(app: AppContext) -> set[str]:
    async with app.db.session() as session:
        return set(await session.scalars(select(EngineInstance.worker_id)))


def start_time(pid: int) -> str:
    stat = procfs.stat(pid)
    assert stat is not None
    return stat.start_time


async def test_the_run_of_an_engine_whose_pid_is_gone_is_recovered(settings: Settings) -> None:
    async with hub_running(settings) as app:
        gone = subprocess.Popen(["true"])
        identity = start_time(gone.pid)  # readable until it is reaped, even once it has exited
        gone.wait(10)
        dead = await foreign_engine(app, pid=gone.pid, pid_start=identity)
        reused = await foreign_engine(app, pid=os.getpid(), pid_start="not-its-start-time")
        recovered = await engine_of(app).recover()
        assert sorted(recovered) == sorted([dead, reused]), "a gone pid, and a pid now naming another process"
        info = await engine_of(app).get(dead)
        assert info.status == "interrupted" and "stopped (crash or kill)" in (info.error or "")
        lines, total = await engine_of(app).logs(dead)
        assert [line.seq for line in lines] == [1, 2] == list(range(1, total + 1))
        assert lines[-1].text.startswith("interrupted:")
        assert await engine_rows(app) == {engine_of(app).worker_id}, "the dead engines' rows are removed"


async def test_the_run_of_a_live_engine_in_another_process_is_left_alone(settings: Settings) -> None:
    async with hub_running(settings) as app:
        other = subprocess.Popen(["sleep", "60"])  # stands in for another hub process on this host
        try:
            held = await foreign_engine(app, pid=other.pid, pid_start=start_time(other.pid))
            stale = await foreign_engine(app, pid=other.pid, pid_start=start_time(other.pid), heartbeat_age=3600)
            assert await engine_of(app).recover() == [], "on this host the pid decides, not the heartbeat"
            assert await status_of(app, held) == "running" and await status_of(app, stale) == "running"
            assert len(await engine_rows(app)) == 3
        finally:
            other.kill()
            other.wait(10)
        assert sorted(await engine_of(app).recover()) == sorted([held, stale])


async def test_an_engine_on_another_host_is_dead_once_its_heartbeat_is_stale(settings: Settings) -> None:
    settings.engine_heartbeat_interval = 2.0
    bound = settings.engine_heartbeat_interval * HEARTBEAT_MISSES
    async with hub_running(settings) as app:
        engine = engine_of(app)
        stale = await foreign_engine(app, host="elsewhere.example", pid=4242, pid_start="7", heartbeat_age=bound + 5)
        fresh = await foreign_engine(app, host="elsewhere.example", pid=4242, pid_start="7")
        recovered = await engine.recover()
        if engine.queue.postgres:  # a free advisory lock tells at once that the other host's engine is gone
            assert sorted(recovered) == sorted([stale, fresh])
        else:
            assert recovered == [stale]
            assert await status_of(app, fresh) == "running"


async def test_a_live_engine_on_another_host_keeps_its_runs(settings: Settings) -> None:
    """The other host's engine is real here (started, heartbeating in the database, on PostgreSQL holding
    its lock); only its row says another host."""
    async with hub_running(settings) as app:
        other = Queue(app.db, new_id(), heartbeat_interval=settings.engine_heartbeat_interval)
        await other.start()
        try:
            async with app.db.session() as session:
                await session.execute(
                    update(EngineInstance).where(EngineInstance.worker_id == other.worker_id).values(host="elsewhere")
                )
            run = await foreign_engine(app, pid=1, pid_start=None)
            async with app.db.session() as session:
                await session.execute(update(Execution).where(Execution.id == run).values(claimed_by=other.worker_id))
            await other.heartbeat()
            assert await engine_of(app).recover() == []
            assert await status_of(app, run) == "running"
        finally:
            await other.close()
        assert other.worker_id not in await engine_rows(app), "a clean stop removes the row"
        assert await engine_of(app).recover() == [run]


async def test_the_heartbeat_moves_and_a_removed_row_comes_back(settings: Settings) -> None:
    settings.engine_heartbeat_interval = 0.5
    async with hub_running(settings) as app:
        worker = engine_of(app).worker_id

        async def beaten() -> bool:
            async with app.db.session() as session:
                row = await session.get(EngineInstance, worker, populate_existing=True)
                return row is not None and row.heartbeat_at > row.started_at

        await until(beaten, what="a heartbeat")
        assert (row := await app.db.read(lambda c: c.execute(select(EngineInstance)).one())).host == HOST
        assert row.pid == os.getpid()
        async with app.db.session() as session:
            await session.execute(EngineInstance.__table__.delete())  # type: ignore[attr-defined]
        await until(lambda: _has_row(app, worker), what="the row written again")
    assert worker not in await engine_rows(app)


async def _has_row(app: AppContext, worker: str) -> bool:
    return worker in await engine_rows(app)


async def test_a_run_taken_over_elsewhere_stops_here_and_its_log_keeps_one_line_per_seq(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another hub judged this engine dead (a stale heartbeat, say) and recovered its run: this engine's
    later log lines never take the sequence numbers the recovering hub wrote; the run stops here."""
    chatter = python_argv("import time\nfor i in range(3000):\n    print(i, flush=True)\n    time.sleep(0.01)")
    other_settings = settings.model_copy(update={"data_dir": tmp_path / "other"})
    caplog.set_level(logging.INFO, logger="goosuke.engine")
    async with hub_running(settings) as app, hub_running(other_settings) as other:
        await add_template(app, "chatter", argv=chatter)
        engine = engine_of(app)
        info = await engine.submit("chatter", trigger=API)
        await until(lambda: _logged(app, info.id, 5), what="some lines written")
        assert await engine_of(other).runner.interrupt_orphan(info.id)
        await until(lambda: _gone_from(app, info.id), what="the run stopped here")
        final = await finished(app, info.id)
        assert final.status == "interrupted"
        async with app.db.session() as session:
            seqs = list(
                await session.scalars(
                    select(ExecutionLogLine.seq)
                    .where(ExecutionLogLine.execution_id == info.id)
                    .order_by(ExecutionLogLine.seq)
                )
            )
            last = await session.scalar(
                select(ExecutionLogLine.text)
                .where(ExecutionLogLine.execution_id == info.id)
                .order_by(ExecutionLogLine.seq.desc())
                .limit(1)
            )
        assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == final.log_lines
        assert last is not None and last.startswith("interrupted:")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


async def _logged(app: AppContext, execution_id: str, lines: int) -> bool:
    async with app.db.session() as session:
        row = await session.get(Execution, execution_id, populate_existing=True)
        return row is not None and row.log_lines >= lines


async def _gone_from(app: AppContext, execution_id: str) -> bool:
    return execution_id not in engine_of(app).active


async def test_each_run_logs_one_line_as_it_starts_and_one_as_it_ends(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="goosuke.engine")
    async with hub_running(settings) as app:
        await add_template(app, "echo", argv=["cat"])
        info = await engine_of(app).submit("echo", {"text": "a-secret-parameter"}, trigger=API)
        done = await finished(app, info.id)
        await until(lambda: _quiet(app), what="the run left the engine")
    assert done.status == "succeeded" and done.output and "a-secret-parameter" in done.output
    mine = [r.getMessage() for r in caplog.records if r.name == "goosuke.engine" and info.id in r.getMessage()]
    assert mine[0] == f"Execution {info.id} of echo started (trigger api, attempt 1, agent command)"
    assert mine[1].startswith(f"Execution {info.id} of echo ended succeeded after ") and mine[1].endswith(
        " s (trigger api)"
    )
    assert len(mine) == 2
    assert not any("a-secret-parameter" in r.getMessage() for r in caplog.records)


async def _quiet(app: AppContext) -> bool:
    return not engine_of(app).active
