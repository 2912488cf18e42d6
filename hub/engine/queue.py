"""The queue in the database: claiming queued executions, and telling live engines from dead ones.

Every engine writes a row in ``engine_instances`` when it starts (worker id, host, pid and the pid's
start time from ``/proc``), moves its ``heartbeat_at`` from its housekeeping and deletes it on a clean
stop. An engine is dead, and its runs are recovered, only when its row is gone, or its pid on this
host is gone or now names another process (a different start time), or, on another host, its heartbeat
is older than ``HEARTBEAT_MISSES`` intervals. So any number of hub processes (``serve``, ``stdio``, CLI
commands) may share one SQLite file: none takes another's runs for a dead hub's.

PostgreSQL: several hubs may share one database. A claim takes candidate rows with
``SELECT … FOR UPDATE SKIP LOCKED`` (two engines never take the same row) and serialises the
per-template concurrency count with a transaction-scoped advisory lock per limited template.
Each engine also holds a session-level advisory lock derived from its id for as long as it runs: an
engine holding it is alive; one on another host whose lock became free is dead at once (no need to
wait for its heartbeat to age).

SQLite: the engine's writes (claims included) are serialised by an in-process lock and across
processes by SQLite's file lock; the ``UPDATE … WHERE status = 'queued'`` guard keeps claims correct.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
from sqlalchemy import Connection, Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub import procfs
from hub.clock import aware
from hub.db import Database
from hub.db.batch import GroupCommit, Job
from hub.db.models import Execution, utcnow
from hub.engine.statements import (
    CLAIM,
    CLAIM_CANDIDATES,
    CLAIM_CANDIDATES_PG,
    CLAIMED,
    COUNT_RUNNING,
    DELETE_ENGINES,
    HEARTBEAT,
    INSERT_ENGINE,
    SELECT_ENGINES,
)
from hub.settings import Settings

T = TypeVar("T")
HOST = socket.gethostname()[:255]
CANDIDATE_FACTOR = 4  # candidates read per free slot, so rows of templates at their limit do not block others
HEARTBEAT_MISSES = 6  # an engine on another host is dead once its heartbeat is this many intervals old
DEFAULT_HEARTBEAT = float(Settings.model_fields["engine_heartbeat_interval"].default)

logger = logging.getLogger("goosuke.engine")
# One engine write at a time per SQLite database in this process (per event loop too: tests open many).
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def lock_key(label: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``label``."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big", signed=True)


def same_process(pid: int, pid_start: str | None) -> bool:
    """Whether ``pid`` on this host is still the process that started at ``pid_start`` (``/proc``); without
    ``/proc``, whether some process has that pid."""
    if procfs.available():
        stat = procfs.stat(pid)
        return stat is not None and not stat.zombie and (pid_start is None or stat.start_time == pid_start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Queue:
    """Database side of the engine: claim, liveness. One per engine."""

    def __init__(self, db: Database, worker_id: str, *, heartbeat_interval: float = DEFAULT_HEARTBEAT) -> None:
        self.db = db
        self.worker_id = worker_id
        self.postgres = db.kind == "postgresql"
        self.heartbeat_interval = heartbeat_interval
        self._conn: AsyncConnection | None = None
        self._conn_lock = anyio.Lock()
        self._batch: GroupCommit | None = None
        self._announced = False

    def _instance(self) -> dict[str, object]:
        pid, now = os.getpid(), utcnow()
        stat = procfs.stat(pid)
        return {
            "worker_id": self.worker_id,
            "host": HOST,
            "pid": pid,
            "pid_start": stat.start_time if stat is not None else None,
            "started_at": now,
            "heartbeat_at": now,
        }

    async def start(self) -> None:
        """Announce this engine as alive: its advisory lock (PostgreSQL) and its row."""
        if self.postgres:
            conn = await self.db.engine.connect()
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await self._conn.execute(select(func.pg_advisory_lock(lock_key(f"engine:{self.worker_id}"))))
        values = self._instance()
        await self.commit(lambda conn: conn.execute(INSERT_ENGINE, values).rowcount)
        self._announced = True

    async def heartbeat(self) -> None:
        """Tell the other hubs this engine still lives; put its row back if one of them removed it."""
        now = utcnow()
        if await self.commit(lambda conn: conn.execute(HEARTBEAT, {"b_worker": self.worker_id, "b_now": now}).rowcount):
            return
        logger.warning(
            "Engine %s found its liveness row gone (judged dead elsewhere); writing it again", self.worker_id
        )
        values = self._instance()
        await self.commit(lambda conn: conn.execute(INSERT_ENGINE, values).rowcount)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            if self._announced:
                self._announced = False
                try:
                    await self.commit(
                        lambda conn: conn.execute(DELETE_ENGINES, {"b_workers": [self.worker_id]}).rowcount
                    )
                except Exception:
                    logger.warning("Could not remove the liveness row of engine %s", self.worker_id, exc_info=True)
            if self._batch is not None:
                batch, self._batch = self._batch, None
                await batch.aclose()
            if self._conn is not None:
                conn, self._conn = self._conn, None
                try:
                    await conn.execute(select(func.pg_advisory_unlock(lock_key(f"engine:{self.worker_id}"))))
                finally:
                    await conn.close()

    async def dead_owners(self, owners: set[str | None]) -> set[str | None]:
        """Which of these engine ids belong to engines that are gone (None: never claimed). The rows of
        every engine found dead, owner or not, are removed on the way."""
        dead: set[str | None] = owners & {None}
        rows = {row.worker_id: row for row in await self.read(lambda conn: conn.execute(SELECT_ENGINES).all())}
        candidates = {o for o in owners if o is not None and o != self.worker_id} | (rows.keys() - {self.worker_id})
        held = await self._locks_held(candidates) if self.postgres else set()
        now = utcnow()
        stale = timedelta(seconds=self.heartbeat_interval * HEARTBEAT_MISSES)
        gone = set()
        for owner in candidates - held:
            row = rows.get(owner)
            if row is None:
                gone.add(owner)
            elif row.host == HOST:
                if not same_process(row.pid, row.pid_start):
                    gone.add(owner)
            elif self.postgres or aware(row.heartbeat_at) < now - stale:  # PostgreSQL: its lock is free
                gone.add(owner)
        if found := sorted(gone & rows.keys()):
            await self.commit(lambda conn: conn.execute(DELETE_ENGINES, {"b_workers": found}).rowcount)
        return dead | (gone & owners)

    async def _locks_held(self, owners: set[str]) -> set[str]:
        """PostgreSQL: the engines among ``owners`` that hold their advisory lock (alive, wherever they run)."""
        held: set[str] = set()
        if self._conn is None:
            return set(owners)  # not started: judge nobody
        async with self._conn_lock:
            for owner in owners:
                key = lock_key(f"engine:{owner}")
                if await self._conn.scalar(select(func.pg_try_advisory_lock(key))):
                    await self._conn.execute(select(func.pg_advisory_unlock(key)))
                else:
                    held.add(owner)
        return held

    def _write_guard(self) -> asyncio.Lock | None:
        if self.postgres:
            return None
        locks = _SQLITE_WRITE_LOCKS.setdefault(asyncio.get_running_loop(), {})
        lock = locks.get(self.db.url)
        if lock is None:
            lock = locks[self.db.url] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. On SQLite the engine's writes take turns in process: SQLite has one
        writer at a time, and waiting in its busy handler (sleeps of up to 100 ms) is far slower."""
        guard = self._write_guard()
        if guard is None:
            async with self.db.session() as session:
                yield session
            return
        async with guard, self.db.session() as session:
            yield session

    async def commit(self, job: Job[T]) -> T:
        """Run a hot-path write ``job(conn)`` (prebuilt Core statements, values computed beforehand) in a
        transaction shared with the other writes waiting (group commit, see :mod:`hub.db.batch`);
        returns once it is committed."""
        return await self._group().run(job)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a synchronous read ``fn(conn)`` the engine's short way (see :meth:`GroupCommit.read`)."""
        return await self._group().read(fn)

    async def checkpoint(self) -> None:
        """SQLite: fold the write-ahead log into the database file (the engine's writer never does)."""
        if self._batch is not None:
            await self._batch.checkpoint()

    def _group(self) -> GroupCommit:
        if self._batch is None:
            self._batch = GroupCommit(self.db, self._write_guard() or asyncio.Lock())
        return self._batch

    async def claim(self, slots: int) -> list[Execution]:
        """Move up to ``slots`` queued executions to ``running`` for this engine, oldest first,
        respecting each template's concurrency limit across every engine sharing the database."""
        if slots <= 0:
            return []
        rows = await self.commit(lambda conn: self._claim(conn, slots, utcnow()))
        return [Execution(**row._mapping) for row in rows]

    def _claim(self, conn: Connection, slots: int, now: datetime) -> list[Row[Any]]:
        """The claim as a write job (see :meth:`commit`): it only reads and writes the database."""
        query = CLAIM_CANDIDATES_PG if self.postgres else CLAIM_CANDIDATES
        candidates = conn.execute(query, {"b_worker": self.worker_id, "b_limit": slots * CANDIDATE_FACTOR + 8}).all()
        if not candidates:
            return []
        counts: dict[str, int] = {}
        for name in sorted({c.template_name for c in candidates if c.concurrency_limit}):
            if self.postgres:
                conn.execute(select(func.pg_advisory_xact_lock(lock_key(f"template:{name}"))))
            counts[name] = int(conn.scalar(COUNT_RUNNING, {"b_name": name}) or 0)
        chosen: list[str] = []
        for c in candidates:
            if len(chosen) >= slots:
                break
            if c.concurrency_limit:
                if counts[c.template_name] >= c.concurrency_limit:
                    continue
                counts[c.template_name] += 1
            chosen.append(c.id)
        if not chosen:
            return []
        conn.execute(CLAIM, {"b_ids": chosen, "b_worker": self.worker_id, "b_started_at": now, "b_host": HOST})
        rows = conn.execute(CLAIMED, {"b_ids": chosen, "b_worker": self.worker_id}).all()
        return sorted(rows, key=lambda row: chosen.index(row.id))
