"""Group commit: many small writes share one transaction, and on SQLite one trip to a worker thread.

The engine writes a row or two per execution step. Run one by one, each write is a transaction, and
through aiosqlite every statement, ``BEGIN`` and ``COMMIT`` is a hop to the driver's thread and back
to a busy event loop; writes queue behind each other and a run's latency grows with the load. Here a
write is a synchronous *job* (``job(conn)`` on a SQLAlchemy ``Connection``, prebuilt statements,
values computed beforehand); whoever holds the batch turn runs every job waiting, in one transaction:

- SQLite: on a synchronous connection in one worker thread (one hop per batch, not per statement);
- PostgreSQL: through ``AsyncConnection.run_sync`` on a pooled asyncpg connection.

A job's caller returns only after the commit, so "the row exists before work starts" still holds. A
batch that fails is retried job by job, so one bad job (a duplicate idempotency key) fails alone.
Jobs must not change Python state beyond their return value: a retried job runs twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
from sqlalchemy import Connection, create_engine, event

if TYPE_CHECKING:
    from hub.db.database import Database

T = TypeVar("T")
READERS = 4  # SQLite: reads that may run at once beside the batch writer (WAL: readers never block it)
Job = Callable[[Connection], T]


@dataclass
class _Slot(Generic[T]):
    job: Job[T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Run write jobs in shared transactions. ``turn`` orders the batches; on SQLite pass the lock the
    process's other writers of that file take too, so they never wait on each other inside SQLite."""

    def __init__(self, db: Database, turn: asyncio.Lock) -> None:
        self.db = db
        self._turn = turn  # also taken by the database's other in-process writers on SQLite
        self._pending: list[_Slot[Any]] = []
        self._limiter = anyio.CapacityLimiter(1)
        self._readers = anyio.CapacityLimiter(READERS)
        self._sync = None
        if db.kind == "sqlite":
            from hub.db.database import SQLITE_BUSY_TIMEOUT_MS, sqlite_pragmas

            self._sync = create_engine(
                db.url.replace("+aiosqlite", ""),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                pool_size=READERS + 1,
                max_overflow=0,
            )
            event.listen(self._sync, "connect", sqlite_pragmas)

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in a transaction (shared with whatever else is waiting); returns its result after
        the commit, or raises what it raised. Not cancellable half way: the caller is shielded."""
        slot: _Slot[T] = _Slot(job)
        self._pending.append(slot)
        with anyio.CancelScope(shield=True):
            async with self._turn:
                if not slot.done:
                    batch, self._pending = self._pending, []
                    await self._execute(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[no-any-return]

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read ``fn(conn)`` the same short way (one thread hop on SQLite), outside the batches."""
        if self._sync is not None:
            return await anyio.to_thread.run_sync(self._sync_read, fn, limiter=self._readers)
        async with self.db.engine.connect() as conn:
            return await conn.run_sync(fn)

    def _sync_read(self, fn: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.connect() as conn:
            return fn(conn)

    async def _execute(self, batch: list[_Slot[Any]]) -> None:
        def run_all(conn: Connection) -> list[Any]:
            return [slot.job(conn) for slot in batch]

        try:
            results = await self._transaction(run_all)
        except Exception as exc:
            if len(batch) == 1:
                self._settle(batch[0], error=exc)
                return
            for slot in batch:  # find the job that failed; the others still commit
                try:
                    self._settle(slot, result=await self._transaction(slot.job))
                except Exception as one:
                    self._settle(slot, error=one)
            return
        for slot, result in zip(batch, results, strict=True):
            self._settle(slot, result=result)

    @staticmethod
    def _settle(slot: _Slot[Any], *, result: Any = None, error: BaseException | None = None) -> None:
        slot.result, slot.error, slot.done = result, error, True

    async def _transaction(self, fn: Callable[[Connection], T]) -> T:
        if self._sync is not None:
            return await anyio.to_thread.run_sync(self._sync_transaction, fn, limiter=self._limiter)
        async with self.db.engine.begin() as conn:
            return await conn.run_sync(fn)

    def _sync_transaction(self, fn: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.begin() as conn:
            return fn(conn)

    def dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()
