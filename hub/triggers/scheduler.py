"""The scheduler: cron slots claimed in the database, so each slot fires exactly once across hubs.

Each pass reads the enabled schedules whose ``next_fire_at`` has come, computes their slots since
the action's cursor (``hub.triggers.cron``), and fires each through ``Actions.fire`` with the slot's UTC
instant as the firing's unique key. Hubs that race for a slot collide on that key; the loser moves
on. The clock is injectable, so tests simulate weeks in milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import or_, select, update

from hub.clock import aware
from hub.db.models import Action
from hub.engine.records import Trigger
from hub.triggers.actions import Actions
from hub.triggers.cron import CronSchedule, parse

if TYPE_CHECKING:
    from hub.context import AppContext

logger = logging.getLogger("goosuke.scheduler")

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


def schedule_of(action: Action) -> CronSchedule:
    return parse(action.config["cron"], action.config.get("timezone", "UTC"))


def next_fire(action: Action, after: datetime) -> datetime | None:
    fires = schedule_of(action).next_fires(after, 1)
    return fires[0] if fires else None


STOP_GRACE = 5.0  # seconds a pass under way at shutdown may take to finish before it is cancelled


class Scheduler:
    """One per hub (``app.services.get(Scheduler)``); several hubs may share one PostgreSQL."""

    def __init__(self, app: AppContext, actions: Actions, clock: Clock = real_clock) -> None:
        self.app = app
        self.actions = actions
        self.clock = clock
        self.grace = timedelta(seconds=app.settings.scheduler_misfire_grace)

    async def tick(self) -> int:
        """One pass: fire every due slot. Returns how many executions were queued."""
        now = self.clock()
        async with self.app.db.session() as session:
            due = list(
                await session.scalars(
                    select(Action).where(
                        Action.kind == "schedule",
                        Action.enabled.is_(True),
                        or_(Action.next_fire_at.is_(None), Action.next_fire_at <= now),
                    )
                )
            )
        queued = 0
        for action in due:
            try:
                queued += await self._run(action, now)
            except Exception:  # one broken schedule must not stop the others
                logger.exception("Schedule %r failed in this pass", action.name)
        return queued

    async def _run(self, action: Action, now: datetime) -> int:
        schedule = schedule_of(action)
        cursor = aware(action.cursor_at) or aware(action.created_at) or now
        slots = schedule.slots_between(cursor, now)
        missed = [slot for slot in slots if now - slot > self.grace]
        fresh = [slot for slot in slots if now - slot <= self.grace]
        if missed:
            if action.config.get("missed", "skip") == "run_once":
                fresh.insert(0, missed.pop())
            if missed:
                logger.info("schedule %r: %d slot(s) missed while no hub ran (skipped)", action.name, len(missed))
                await self.actions.record(
                    action,
                    "missed",
                    slot=f"missed:{missed[0].isoformat()}",
                    detail=f"{len(missed)} slot(s) from {missed[0].isoformat()} to {missed[-1].isoformat()} "
                    "passed while no hub was running (missed-run policy).",
                )
        queued = 0
        for slot in fresh:
            key = slot.isoformat()
            if action.config.get("concurrency", "skip") == "skip" and await self.actions.previous_active(action):
                logger.info("schedule %r fired for %s: skipped (the previous run is still active)", action.name, key)
                await self.actions.record(
                    action,
                    "skipped",
                    slot=key,
                    detail="The previous run is still queued or running (concurrency: skip).",
                )
                continue
            trigger = Trigger(kind="schedule", actor=action.name, ref=f"{action.name}@{key}")
            result = await self.actions.fire(action, params={}, trigger=trigger, slot=key)
            execution = result.execution.id if result.execution else None
            logger.info(
                "schedule %r fired for %s: %s%s",
                action.name,
                key,
                result.outcome,
                f", execution {execution}" if execution else "",
            )
            queued += result.outcome == "queued"
        upcoming = schedule.next_fires(now, 1)
        async with self.app.db.session() as session:
            await session.execute(
                update(Action)
                .where(Action.id == action.id, or_(Action.cursor_at.is_(None), Action.cursor_at < now))
                .values(cursor_at=now, next_fire_at=upcoming[0] if upcoming else None)
            )
        return queued

    async def run_forever(self, stop: anyio.Event) -> None:
        """Pass after pass until ``stop`` is set; a pass under way finishes first."""
        await self.actions.recover_claims()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database may be briefly away: try again next pass
                logger.exception("Scheduler pass failed")
            with anyio.move_on_after(self.app.settings.scheduler_tick):
                await stop.wait()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Scheduler]:
        """Fire due schedules until the hub stops (not at all with GOOSUKE_SCHEDULER_ENABLED=false)."""
        if not self.app.settings.scheduler_enabled:
            yield self
            return
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.run_forever, stop)
            try:
                yield self
            finally:
                # Let a pass under way finish: a query cancelled half-way leaves its SQLite connection
                # closing in a task nobody awaits. A pass that outlasts the grace is cancelled.
                stop.set()
                tg.cancel_scope.deadline = anyio.current_time() + STOP_GRACE
