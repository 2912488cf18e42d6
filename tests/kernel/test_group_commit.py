"""Group commit (hub/db/batch.py) on a real database: shared transactions, a failing job fails alone, and
on SQLite a write waits for another connection's lock off the event loop instead of failing or blocking."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import anyio
import asyncpg
import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import IntegrityError

from hub.db import Database
from hub.db.batch import GroupCommit
from hub.db.models import Execution, new_id, utcnow
from hub.engine.records import row_values
from hub.engine.statements import INSERT_EXECUTION, SELECT_EXECUTION
from tests.conftest import POSTGRES_URL, postgres_database

pytestmark = pytest.mark.anyio


def values(execution_id: str) -> dict[str, object]:
    """Every column of a new execution row, as the engine writes it."""
    return row_values(
        Execution(
            id=execution_id,
            template_name="t",
            template_version=1,
            agent="command",
            status="queued",
            trigger_kind="api",
            trigger_actor="test",
            run_role="operator",
            params={"n": 1},
            prompt="p",
            extensions=[],
            agent_settings={},
            timeout_seconds=5.0,
            queued_at=utcnow(),
        )
    )


def insert(execution_id: str):
    row = values(execution_id)
    return lambda conn: conn.execute(INSERT_EXECUTION, row).rowcount


async def count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Execution)) or 0)


async def test_concurrent_jobs_commit_and_a_failing_job_fails_alone(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    batch = GroupCommit(db, asyncio.Lock())
    try:
        first = new_id()
        await batch.run(insert(first))
        ids = [new_id() for _ in range(20)]
        results: dict[str, object] = {}

        async def submit(job_id: str) -> None:
            try:
                results[job_id] = await batch.run(insert(job_id))
            except IntegrityError as exc:
                results[job_id] = exc

        async with anyio.create_task_group() as tg:
            for job_id in ids[:10]:
                tg.start_soon(submit, job_id)
            tg.start_soon(submit, first)  # a duplicate primary key among them
            for job_id in ids[10:]:
                tg.start_soon(submit, job_id)
        assert isinstance(results.pop(first), IntegrityError)
        assert results == {job_id: 1 for job_id in ids}
        assert await count(db) == 21
        row = await batch.read(lambda conn: conn.execute(SELECT_EXECUTION, {"b_id": ids[3]}).first())
        assert row is not None and row.params == {"n": 1} and row.status == "queued"
    finally:
        await batch.aclose()
        await db.dispose()


async def test_sqlite_write_waits_for_another_writer_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    batch = GroupCommit(db, asyncio.Lock())
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:  # another process's writer, as far as SQLite can tell
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        await anyio.to_thread.run_sync(locked.wait, 10)
        ticks = 0
        done = anyio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await anyio.sleep(0.01)

        async def write() -> None:
            await batch.run(insert("waited"))
            done.set()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(ticker)
                tg.start_soon(write)
                while ticks < 20:  # the loop keeps running other tasks while the write waits for the lock
                    await anyio.sleep(0.01)
                assert not done.is_set()
                release.set()
        assert await count(db) == 1
    finally:
        release.set()
        holder.join()
        await batch.aclose()
        await db.dispose()


async def test_a_job_that_raises_leaves_nothing_behind(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    batch = GroupCommit(db, asyncio.Lock())

    def half_then_fail(conn: Connection) -> None:
        conn.execute(INSERT_EXECUTION, values("half"))
        raise ValueError("the job changed its mind")

    try:
        with pytest.raises(ValueError, match="changed its mind"):
            await batch.run(half_then_fail)
        assert await count(db) == 0
        await batch.checkpoint()  # SQLite folds its WAL; PostgreSQL has nothing to do
        assert await batch.run(insert("after")) == 1
        assert await count(db) == 1
    finally:
        await batch.aclose()
        await db.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs GOOSUKE_TEST_POSTGRES_URL (set by .ci/run)")
async def test_postgresql_batches_survive_a_dropped_connection() -> None:
    async with postgres_database() as url:
        db = Database(url)
        await db.migrate()
        batch = GroupCommit(db, asyncio.Lock())
        try:
            await batch.run(insert("before"))
            pid = await batch.run(lambda conn: conn.execute(text("SELECT pg_backend_pid()")).scalar())
            admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            try:  # the server drops the batches' connection (a restart, a failover, an idle timeout)
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            assert await batch.run(insert("after")) == 1
            assert await count(db) == 2
        finally:
            await batch.aclose()
            await db.dispose()
