"""The queue in the database: claiming queued executions, and telling live engines from dead ones.

PostgreSQL: several hubs may share one database. A claim takes candidate rows with
``SELECT … FOR UPDATE SKIP LOCKED`` (two engines never take the same row) and serialises the
per-template concurrency count with a transaction-scoped advisory lock per limited template.
Each engine holds a session-level advisory lock derived from its id for as long as it runs, so
another hub can tell that it died (its lock became free) and recover its rows at once.

SQLite: one hub process per database file. The engine's writes (claims included) are serialised
by an in-process lock, and the ``UPDATE … WHERE status = 'queued'`` guard keeps claims correct even so.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import anyio
from sqlalchemy import Connection, Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.db import Database
from hub.db.batch import GroupCommit, Job
from hub.db.models import Execution, utcnow
from hub.engine.statements import CLAIM, CLAIM_CANDIDATES, CLAIM_CANDIDATES_PG, CLAIMED, COUNT_RUNNING

T = TypeVar("T")
HOST = socket.gethostname()[:255]
CANDIDATE_FACTOR = 4  # candidates read per free slot, so rows of templates at their limit do not block others

# Engines alive in this process, per SQLite database: the liveness test for SQLite rows.
_LIVE_SQLITE: dict[str, set[str]] = {}
# One engine write at a time per SQLite database in this process (per event loop too: tests open many).
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def lock_key(label: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``label``."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big", signed=True)


class Queue:
    """Database side of the engine: claim, liveness. One per engine."""

    def __init__(self, db: Database, worker_id: str) -> None:
        self.db = db
        self.worker_id = worker_id
        self.postgres = db.kind == "postgresql"
        self._conn: AsyncConnection | None = None
        self._conn_lock = anyio.Lock()
        self._batch: GroupCommit | None = None

    async def start(self) -> None:
        """Announce this engine as alive."""
        if self.postgres:
            conn = await self.db.engine.connect()
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await self._conn.execute(select(func.pg_advisory_lock(lock_key(f"engine:{self.worker_id}"))))
        else:
            _LIVE_SQLITE.setdefault(self.db.url, set()).add(self.worker_id)

    async def close(self) -> None:
        if self._batch is not None:
            batch, self._batch = self._batch, None
            await batch.aclose()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with anyio.CancelScope(shield=True):
                try:
                    await conn.execute(select(func.pg_advisory_unlock(lock_key(f"engine:{self.worker_id}"))))
                finally:
                    await conn.close()
        else:
            _LIVE_SQLITE.get(self.db.url, set()).discard(self.worker_id)

    async def dead_owners(self, owners: set[str | None]) -> set[str | None]:
        """Which of these engine ids belong to engines that are gone (None: never claimed)."""
        dead = owners & {None}
        candidates = {o for o in owners if o is not None and o != self.worker_id}
        if not self.postgres:
            return dead | (candidates - _LIVE_SQLITE.get(self.db.url, set()))
        if self._conn is None:
            return dead
        async with self._conn_lock:
            for owner in candidates:
                key = lock_key(f"engine:{owner}")
                if await self._conn.scalar(select(func.pg_try_advisory_lock(key))):
                    await self._conn.execute(select(func.pg_advisory_unlock(key)))
                    dead.add(owner)
        return dead

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
