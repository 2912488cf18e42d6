"""Short roads for the engine's small, frequent statements: group commit, and on SQLite no thread hop.

The engine writes a row or two per execution step. Through aiosqlite every statement, ``BEGIN`` and
``COMMIT`` is a hop to the driver's thread and back to a busy event loop, so writes queue behind
each other and a run's latency grows with the load. Here a statement is a synchronous *job*
(``job(conn)`` on a SQLAlchemy ``Connection``: prebuilt Core statements, values computed
beforehand), and jobs run

- SQLite: on a connection of the event loop's own thread that never waits for the file lock
  (``busy_timeout=0``): a small write to a WAL database takes tens of microseconds, less than one hop.
  When another connection holds the lock, the job is tried again after short sleeps of the loop
  (0.5 ms, doubling up to 10 ms; SQLite's own busy handler sleeps up to 100 ms), so the loop never
  blocks on a lock and the job goes as soon as the lock is free. That connection does not checkpoint
  the WAL (an fsync); :meth:`GroupCommit.checkpoint` does, in a worker thread, from the housekeeping.
- PostgreSQL: through ``AsyncConnection.run_sync`` on an asyncpg connection kept for the batches.

Writes waiting for their turn share one transaction (group commit). A job's caller returns only
after the commit, so "the row exists before work starts" still holds. A batch that fails is retried
job by job, so one bad job (a duplicate idempotency key) fails alone. Jobs must not change Python
state beyond their return value: a retried job runs twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.database import SQLITE_BUSY_TIMEOUT_MS, sqlite_pragmas

if TYPE_CHECKING:
    from hub.db.database import Database

T = TypeVar("T")
Job = Callable[[Connection], T]
SQLITE_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
BUSY_FIRST_WAIT = 0.0005  # seconds before the first retry when another connection holds SQLite's lock
BUSY_MAX_WAIT = 0.01  # longest sleep between retries (SQLite's own busy handler sleeps up to 100 ms)


@dataclass
class _Slot(Generic[T]):
    job: Job[T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


def _busy(exc: OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included: SQLITE_BUSY_SNAPSHOT is what a job that read
    first gets when another process wrote in between (tried again, the job reads afresh)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in SQLITE_BUSY_CODES


class GroupCommit:
    """Run write jobs in shared transactions, and reads, the short way. ``turn`` must be a lock (one batch
    at a time: a caller that finds its job done relies on the batch before having committed it); on
    SQLite pass the lock the process's other writers of that file take too."""

    def __init__(self, db: Database, turn: asyncio.Lock) -> None:
        self.db = db
        self._turn = turn
        self._pending: list[_Slot[Any]] = []
        self._worker = anyio.CapacityLimiter(1)
        self._on_loop: Engine | None = None
        self._busy_timeout = 0.0
        self._conn: Connection | None = None  # SQLite: the loop's own connection
        self._held: AsyncConnection | None = None  # PostgreSQL: the batches' connection
        self._checkpointer: Engine | None = None
        if db.kind == "sqlite":
            self._busy_timeout = SQLITE_BUSY_TIMEOUT_MS / 1000

            url = db.url.replace("+aiosqlite", "")
            self._on_loop = create_engine(url, connect_args={"timeout": 0}, pool_size=1, max_overflow=0)
            self._checkpointer = create_engine(
                url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                pool_size=1,
                max_overflow=0,
            )
            event.listen(self._checkpointer, "connect", sqlite_pragmas)
            event.listen(self._on_loop, "connect", _never_wait)

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
        return slot.result  # type: ignore[no-any-return]  # the job's T once done without error

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read ``fn(conn)`` the short way, outside the batches."""
        if self._on_loop is None:
            async with self.db.engine.connect() as conn:
                return await conn.run_sync(fn)

        def read_once(conn: Connection) -> T:
            try:
                return fn(conn)
            finally:
                conn.rollback()  # end the read transaction: a WAL reader holds its snapshot until then

        return await self._run_on_loop(read_once)

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
        if self._on_loop is None:
            return await self._server_transaction(fn)

        def transaction(conn: Connection) -> T:
            with conn.begin():
                return fn(conn)

        return await self._run_on_loop(transaction)

    async def _run_on_loop(self, fn: Callable[[Connection], T]) -> T:
        """SQLite: run ``fn`` on the loop's connection; while another connection holds the lock, try again
        after short sleeps of the loop (never a blocking wait), for up to the busy timeout."""
        delay, waited = BUSY_FIRST_WAIT, 0.0
        while True:
            try:
                return fn(self._loop_connection())
            except OperationalError as exc:
                if not _busy(exc) or waited >= self._busy_timeout:
                    raise
            await anyio.sleep(delay)
            waited += delay
            delay = min(delay * 2, BUSY_MAX_WAIT)

    async def _server_transaction(self, fn: Callable[[Connection], T]) -> T:
        """PostgreSQL: on a connection kept for the batches (no pool checkout and pre-ping per batch); a
        connection found broken is replaced once and the transaction run again."""
        for attempt in (1, 2):
            if self._held is None or self._held.closed or self._held.invalidated:
                self._held = await self.db.engine.connect()
            try:
                async with self._held.begin():
                    return await self._held.run_sync(fn)
            except DBAPIError as exc:
                if not exc.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _loop_connection(self) -> Connection:
        """The event loop's own connection, kept open (no pool checkout and reset per statement)."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            assert self._on_loop is not None
            self._conn = self._on_loop.connect()
        return self._conn

    async def checkpoint(self) -> None:
        """SQLite: move the WAL into the database file (in a worker thread: it fsyncs)."""
        if self._checkpointer is not None:
            await anyio.to_thread.run_sync(_checkpoint, self._checkpointer, limiter=self._worker)

    async def aclose(self) -> None:
        """Close the connections and engines this object holds."""
        if self._held is not None:
            held, self._held = self._held, None
            with anyio.CancelScope(shield=True):
                await held.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for engine in (self._on_loop, self._checkpointer):
            if engine is not None:
                engine.dispose()


def _never_wait(dbapi_conn: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_conn, record)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _checkpoint(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
