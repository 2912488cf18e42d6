"""The engine's two loops: the dispatcher that claims queued executions into free slots, and the
housekeeping that flushes logs, beats the engine's heartbeat, honours cancels asked for on other hubs
and recovers the runs of dead engines (see :mod:`hub.engine.queue` for how a dead one is told)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup
from sqlalchemy import and_, case, or_, select

from hub.db.models import Execution
from hub.engine.active import Active

if TYPE_CHECKING:
    from hub.engine.core import Engine

logger = logging.getLogger("goosuke.engine")

FLUSH_INTERVAL = 0.2  # seconds between log flushes of running executions (and their notifications)
CHECKPOINT_EVERY = 25  # SQLite: fold the WAL into the database every this many flush intervals
RECOVERY_EVERY = 10  # look for executions of dead engines every this many polls
STOP_GRACE = 10.0  # extra seconds a stopping engine waits for its runs to wind down after the kill grace


class Dispatcher:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._wake = anyio.Event()
        self._maybe_queued = True  # claim only when something may be waiting (saves a query per finished run)
        self._stopped = anyio.Event()
        self._loops_done = anyio.Event()
        self._loops = 0
        self._reserved = 0  # slots promised to submissions that start at once (see reserve)

    def start(self, tg: TaskGroup) -> None:
        tg.start_soon(self._loop, self._dispatch)
        tg.start_soon(self._loop, self._housekeeping)

    def poke(self, *, queued: bool = False) -> None:
        """Wake the dispatcher: a slot came free, or (``queued``) a row was queued."""
        if queued:
            self._maybe_queued = True
        self._wake.set()

    def reserve(self, concurrency_limit: int | None) -> bool:
        """Promise a slot to a submission that can start at once: a slot is free, no queued row may be
        waiting for it (older work goes first) and the template has no concurrency limit (counting
        those needs the claim's transaction). Follow with :meth:`start_claimed` or :meth:`release`."""
        engine = self.engine
        if concurrency_limit is not None or self._maybe_queued or engine.stopping or not engine.accepting:
            return False
        if len(engine.active) + self._reserved >= engine.settings.max_concurrent_executions:
            return False
        self._reserved += 1
        return True

    def release(self) -> None:
        self._reserved -= 1

    def start_claimed(self, row: Execution) -> None:
        """Run ``row`` (written ``running`` and claimed by this engine) in its reserved slot."""
        self._reserved -= 1
        self._start(row)

    def _start(self, row: Execution) -> None:
        engine = self.engine
        active = Active(row.id, engine.runner.writer_for(row.id), row=row)
        engine.active[row.id] = active
        if engine.stopping:  # it was written while the hub began to stop: record it interrupted at once
            active.stop("interrupted")
        engine.spawn(engine.runner.execute, row, active)

    async def stop(self) -> None:
        """Interrupt the runs, wait for them (bounded), then let the loops end between two transactions:
        cancelling them in the middle of one could leave a connection holding the SQLite write lock."""
        engine = self.engine
        for active in list(engine.active.values()):
            active.stop("interrupted")
        with anyio.move_on_after(engine.settings.execution_kill_grace + STOP_GRACE):
            while engine.active:
                await anyio.sleep(0.02)
        self._stopped.set()
        self._wake.set()
        with anyio.move_on_after(STOP_GRACE):
            await self._loops_done.wait()
        await engine.runner.sweep()

    async def _loop(self, body: Callable[[], Awaitable[None]]) -> None:
        self._loops += 1
        try:
            await body()
        finally:
            self._loops -= 1
            if not self._loops:
                self._loops_done.set()

    async def _dispatch(self) -> None:
        engine = self.engine
        limit = engine.settings.max_concurrent_executions
        while not self._stopped.is_set():
            self._wake = wake = anyio.Event()
            free = limit - len(engine.active) - self._reserved
            claimed: list[Execution] = []
            if free > 0 and self._maybe_queued and not engine.stopping:
                self._maybe_queued = False
                try:
                    claimed = await engine.queue.claim(free)
                except Exception:
                    self._maybe_queued = True
                    logger.exception("Claiming queued executions failed; retrying after the poll interval")
                if len(claimed) == free:
                    self._maybe_queued = True  # the queue may hold more
            for row in claimed:
                self._start(row)
            if claimed and self._maybe_queued and len(engine.active) + self._reserved < limit:
                continue
            with anyio.move_on_after(engine.settings.engine_poll_interval):
                await wake.wait()
            if not wake.is_set():
                self._maybe_queued = True  # polled: another hub may have queued work

    async def _housekeeping(self) -> None:
        ticks = 0
        poll_every = max(1, round(self.engine.settings.engine_poll_interval / FLUSH_INTERVAL))
        heartbeat = self.engine.settings.engine_heartbeat_interval
        next_beat = anyio.current_time() + heartbeat
        while not self._stopped.is_set():
            with anyio.move_on_after(FLUSH_INTERVAL):
                await self._stopped.wait()
            ticks += 1
            try:
                if anyio.current_time() >= next_beat:
                    next_beat = anyio.current_time() + heartbeat
                    await self.engine.queue.heartbeat()
                dirty = [a for a in self.engine.active.values() if a.dirty]
                if dirty:
                    await self.engine.runner.flush(dirty)
                await self.engine.runner.sweep()
                if ticks % poll_every == 0 and self.engine.active:
                    await self._honour_cancel_requests()
                if ticks % (poll_every * RECOVERY_EVERY) == 0:
                    await self.recover()
                if not self.engine.queue.postgres and ticks % CHECKPOINT_EVERY == 0:
                    await self.engine.queue.checkpoint()
            except Exception:
                logger.exception("Engine housekeeping failed; it will try again")

    async def _honour_cancel_requests(self) -> None:
        """Cancels asked for on another hub (PostgreSQL) reach this one through the row."""
        async with self.engine.db.session() as session:
            ids = await session.scalars(
                select(Execution.id).where(Execution.id.in_(list(self.engine.active)), Execution.cancel_requested)
            )
            for execution_id in ids:
                active = self.engine.active.get(execution_id)
                if active is not None and active.reason is None:
                    active.stop("cancelled", by="another hub")

    async def recover(self) -> list[str]:
        """Executions left ``running`` by a dead engine become ``interrupted`` (requeued if retries allow);
        so do queued ones pinned to a dead engine (their caller is gone with it). A live engine's runs, in
        this process or another, are never touched."""
        owner = case((Execution.status == "running", Execution.claimed_by), else_=Execution.pinned_to)
        query = select(Execution.id, owner.label("owner")).where(
            or_(Execution.status == "running", and_(Execution.status == "queued", Execution.pinned_to.is_not(None)))
        )
        async with self.engine.db.session() as session:
            rows = (await session.execute(query)).all()
        owners = {r.owner for r in rows if r.owner != self.engine.worker_id}
        dead = await self.engine.queue.dead_owners(owners)  # also removes the rows of dead engines owning nothing
        if not dead:
            return []
        recovered = []
        for r in rows:
            if r.owner in dead and r.owner != self.engine.worker_id and await self.engine.runner.interrupt_orphan(r.id):
                recovered.append(r.id)
                self.engine.changed(r.id, final=True)
        if recovered:
            logger.warning("Recovered %d execution(s) left behind by a stopped hub: %s", len(recovered), recovered)
            self.poke(queued=True)
        return recovered
