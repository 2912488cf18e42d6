"""The :class:`Deliveries` service: finished executions become recorded deliveries, sent with retries."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from sqlalchemy import exists, or_, select, tuple_

from hub.clock import aware
from hub.db.models import Delivery, DeliveryRoute, Execution, TaskTemplate, utcnow
from hub.deliveries import store
from hub.deliveries.model import (
    DiscordTarget,
    HttpTarget,
    Payload,
    Purpose,
    retry_follows,
    target_of,
    wanted,
)
from hub.deliveries.routes import Routing
from hub.deliveries.senders import AttemptFailed, send_discord, send_http
from hub.discord.service import DiscordService
from hub.engine import FINAL_STATES, Engine, ExecutionInfo
from hub.errors import Conflict, GoosukeError, InvalidArguments, NotFound
from hub.principal import Principal
from hub.triggers.actions import Actions
from hub.vault.service import Vault

if TYPE_CHECKING:
    from hub.context import AppContext

logger = logging.getLogger("goosuke.deliveries")

MAX_RETRY_HOPS = 20  # retry_of links followed back to the run that named the routes
ACTION_REF_SEPARATOR = {"schedule": "@", "webhook": "/"}  # trigger refs: name@slot, name/delivery
CATCH_UP_PAGE = 200  # executions read per query while catching up


def round_of(attempts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attempts since the last manual retry (``retried_by``)."""
    for index in range(len(attempts) - 1, -1, -1):
        if "retried_by" in attempts[index]:
            return list(attempts[index + 1 :])
    return list(attempts)


class Deliveries:
    """Send each finished execution's result where its routes say; record and retry every delivery."""

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.db = app.db
        self.settings = app.settings
        self._tg: TaskGroup | None = None

    @property
    def engine(self) -> Engine:
        return self.app.services.get(Engine)

    @property
    def owner(self) -> str:
        """The engine id delivery rows are claimed under: alive exactly as long as this hub's engine."""
        return self.engine.worker_id

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Deliveries]:
        """Listen for finished executions and resume the deliveries a dead hub left pending."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self.engine.finished_listeners.append(self.finished)
            try:
                await self.resume()
                tg.start_soon(self._sweeps)
                yield self
            finally:
                self.engine.finished_listeners.remove(self.finished)
                self._tg = None
                tg.cancel_scope.cancel()  # a send cut short stays pending: the next start resumes it

    # -- routes -------------------------------------------------------------------------------

    async def check_routes(self, routes: list[dict[str, str]], principal: Principal | None = None) -> None:
        """Refuse routes naming destinations that do not exist (now, not when the run ends), or that
        ``principal`` may not see (the same answer: a hidden destination is not disclosed).

        Raises:
            InvalidArguments: an unknown destination name.
        """
        names = {r["destination"] for r in routes}
        unknown = await store.missing(self.db, names)
        if principal is not None:
            unknown = sorted({*unknown, *await store.hidden(self.db, principal, names)})
        if unknown:
            raise InvalidArguments(
                f"No destination named {', '.join(unknown)}. Create it with destination_create or pick one from "
                "destination_list.",
                errors=[
                    {"field": "deliver_to", "message": f"unknown destination {n}", "type": "unknown"} for n in unknown
                ],
            )

    async def route(self, execution_id: str, routes: list[dict[str, str]]) -> None:
        """Name where a submitted execution's result goes (``template_run``); delivers now if it already ended."""
        if not routes:
            return
        await store.set_routes(self.db, execution_id, routes)
        info = await self.engine.get(execution_id)
        if info.final:  # it ended before its routes were written: the listener found none
            await self.finished(execution_id)

    async def routes_for(self, info: ExecutionInfo, *, catching_up: bool = False) -> list[dict[str, str]]:
        """The run's or its trigger's routes; when they name none, its template's (``deliver_to``...)."""
        return await self._own_routes(info) or await self._template_routes(info, catching_up)

    async def _template_routes(self, info: ExecutionInfo, catching_up: bool) -> list[dict[str, str]]:
        async with self.db.session() as session:
            row = await session.scalar(select(TaskTemplate).where(TaskTemplate.name == info.template))
        if row is None or not row.delivery:
            return []
        if catching_up and info.finished_at is not None and aware(row.updated_at) > info.finished_at:
            return []  # changed since the run ended: it may have named no destination then
        return Routing.model_validate(row.delivery).routes() or []

    async def _own_routes(self, info: ExecutionInfo) -> list[dict[str, str]]:
        """A trigger's routes are on its action; a ``template_run``'s on its first attempt's row."""
        separator = ACTION_REF_SEPARATOR.get(info.trigger.kind)
        if separator is not None and info.trigger.ref:
            try:
                action = await self.app.services.get(Actions).get(info.trigger.ref.split(separator, 1)[0])
            except NotFound:
                return []
            return list(action.config.get("routes", []))
        current: ExecutionInfo | None = info
        for _ in range(MAX_RETRY_HOPS):
            if current is None:
                break
            found = await store.routes(self.db, current.id)
            if found is not None:
                return found
            current = await self.engine.get(current.retry_of) if current.retry_of else None
        return []

    # -- delivering ---------------------------------------------------------------------------

    async def finished(self, execution_id: str) -> None:
        """The engine's listener: one delivery row per picked destination, written before its send.

        The rows are written shielded (bounded): a hub stopping meanwhile waits for these few queries
        instead of cutting a database connection off in the middle of one."""
        with anyio.move_on_after(10, shield=True):
            await self.deliver(execution_id)

    async def deliver(self, execution_id: str, *, catching_up: bool = False) -> int:
        """Write and start the deliveries a finished execution's routes pick; returns how many rows this call
        wrote (a row another listener or hub wrote first is theirs to send)."""
        claimed = 0
        try:
            info = await self.engine.get(execution_id)
            if not info.final or retry_follows(info):
                return 0
            for route in await self.routes_for(info, catching_up=catching_up):
                purpose = wanted(route, info)
                if purpose is None:
                    continue
                row = await store.claim(self.db, execution_id, route["destination"], purpose, self.owner)
                if row is not None:
                    claimed += 1
                    self._start(row.id)
        except Exception:  # a background task: log it, never take the hub down
            logger.exception("Could not record the deliveries of execution %s", execution_id)
        return claimed

    def _start(self, delivery_id: str) -> None:
        if self._tg is not None:
            self._tg.start_soon(self._send, delivery_id)

    async def resume(self) -> int:
        """Take over the pending deliveries of engines that are gone; returns how many."""
        rows = await store.pending(self.db)
        owners = {row.claimed_by for row in rows if row.claimed_by != self.owner}
        dead = await self.engine.queue.dead_owners(owners) if owners else set()
        resumed = 0
        for row in rows:
            if row.claimed_by in dead and await store.take_over(self.db, row.id, self.owner, row.claimed_by):
                logger.info("Resuming delivery %s of execution %s to %s", row.id, row.execution_id, row.destination)
                self._start(row.id)
                resumed += 1
        return resumed

    async def catch_up(self, since: datetime) -> int:
        """Deliver the runs that ended since ``since`` on an engine that is gone (its hub crashed or stopped
        before its listener wrote their deliveries): routed, with no delivery row. Returns rows written.

        Two hubs catching up at once collide on the rows' unique key: each delivery is sent once."""
        has_rows = exists().where(Delivery.execution_id == Execution.id)
        routed = or_(
            exists().where(DeliveryRoute.execution_id == Execution.id),
            Execution.retry_of.is_not(None),
            Execution.trigger_kind.in_(list(ACTION_REF_SEPARATOR)),
            exists().where(TaskTemplate.name == Execution.template_name, TaskTemplate.delivery.is_not(None)),
        )
        query = (
            select(Execution.id, Execution.claimed_by, Execution.finished_at)
            .where(Execution.status.in_(list(FINAL_STATES)), Execution.finished_at >= since, ~has_rows, routed)
            .order_by(Execution.finished_at, Execution.id)
            .limit(CATCH_UP_PAGE)
        )
        written, after = 0, None
        while True:
            page = query if after is None else query.where(tuple_(Execution.finished_at, Execution.id) > after)
            async with self.db.session() as session:
                rows = (await session.execute(page)).all()
            if not rows:
                break
            owners = {r.claimed_by for r in rows if r.claimed_by != self.owner}
            dead = await self.engine.queue.dead_owners(owners) if owners else set()
            for r in rows:
                if r.claimed_by != self.owner and r.claimed_by in dead:
                    written += await self.deliver(r.id, catching_up=True)
            after = (rows[-1].finished_at, rows[-1].id)
        if written:
            logger.info("Caught up %d delivery(ies) of runs whose hub stopped before writing them", written)
        return written

    async def _sweeps(self) -> None:
        """Catch up at start, then every ``delivery_sweep_interval``: resume pending rows, catch up again."""
        window = timedelta(seconds=self.settings.delivery_catch_up_window)
        interval = timedelta(seconds=self.settings.delivery_sweep_interval)
        since = utcnow() - window
        while True:
            started = utcnow()
            try:
                if window:
                    await self.catch_up(since)
            except Exception:  # a background task: log it, try again next sweep
                logger.exception("Could not catch up the deliveries of stopped hubs")
            since = max(started - interval, utcnow() - window)  # each run ends inside some sweep's window
            await anyio.sleep(interval.total_seconds())
            try:
                await self.resume()
            except Exception:
                logger.exception("Could not resume the deliveries of stopped hubs")

    async def retry(self, delivery_id: str, actor: str) -> Delivery:
        """Send a failed delivery again (a new round of attempts, recorded after the old ones).

        Raises:
            NotFound: unknown id.
            Conflict: the delivery is still pending or was delivered.
        """
        row = await store.get(self.db, delivery_id)
        if row.status != "failed":
            raise Conflict(f"Delivery {delivery_id} is {row.status}; only a failed delivery can be retried.")
        attempts = [*row.attempts, {"at": utcnow().isoformat(), "retried_by": actor}]
        if not await store.take_over(self.db, row.id, self.owner, row.claimed_by, status=store.PENDING, error=None):
            raise Conflict(f"Delivery {delivery_id} changed meanwhile; read it again with delivery_get.")
        await store.record(self.db, row.id, attempts)
        self._start(row.id)
        return await store.get(self.db, delivery_id)

    async def _send(self, delivery_id: str) -> None:
        try:
            await self._attempts(delivery_id)
        except Exception:  # a background task: log it, leave the row for delivery_retry
            logger.exception("Delivery %s failed unexpectedly", delivery_id)
            row = await store.get(self.db, delivery_id)
            await store.record(self.db, delivery_id, list(row.attempts), status="failed", error="Internal error.")

    async def _attempts(self, delivery_id: str) -> None:
        row = await store.get(self.db, delivery_id)
        attempts = list(row.attempts)
        error = "no attempt was made"
        while len(round_of(attempts)) < self.settings.delivery_attempts:
            done = len(round_of(attempts))
            if done:
                await anyio.sleep(self.settings.delivery_backoff * 2 ** (done - 1))
            entry: dict[str, Any] = {"number": done + 1, "at": utcnow().isoformat(), "status_code": None, "error": None}
            try:
                entry["status_code"] = await self._attempt(row)
            except AttemptFailed as exc:
                error = self._mask(exc.message)
                entry.update(status_code=exc.status_code, error=error)
                attempts.append(entry)
                if exc.final:
                    break
                await store.record(self.db, delivery_id, attempts)
                continue
            attempts.append(entry)
            await store.record(self.db, delivery_id, attempts, status="delivered", delivered_at=utcnow(), error=None)
            logger.info("Delivered execution %s to %s (attempt %d)", row.execution_id, row.destination, done + 1)
            return
        await store.record(self.db, delivery_id, attempts, status="failed", error=error)
        logger.warning("Delivery of execution %s to %s failed: %s", row.execution_id, row.destination, error)

    async def _attempt(self, row: Delivery) -> int | None:
        try:
            destination = await store.get_destination(self.db, row.destination)
        except NotFound:
            raise AttemptFailed(f"The destination {row.destination!r} was deleted.", final=True) from None
        info = await self.engine.get(row.execution_id)
        purpose: Purpose = "failure" if row.purpose == "failure" else "result"
        target = target_of(destination.kind, destination.config)
        if isinstance(target, DiscordTarget):
            await send_discord(self.app.services.find(DiscordService), self.settings, target, purpose, info)
            return None
        assert isinstance(target, HttpTarget)
        vault = self.app.services.get(Vault)
        try:
            secret = await vault.get(target.secret)
        except GoosukeError as exc:
            raise AttemptFailed(f"The signing key: {exc.message}", final=isinstance(exc, NotFound)) from None
        payload = Payload.of(row.id, purpose, info)
        return await send_http(target, secret, payload, timeout=self.settings.delivery_timeout)

    def _mask(self, text: str) -> str:
        vault = self.app.services.find(Vault)
        return vault.scrub(text) if vault is not None else text
