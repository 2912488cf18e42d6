"""The action model: trigger + template + parameter mapping, for schedules, webhooks and reactions alike.

Every firing is a row (``action_firings``) written before its execution is submitted, unique per
action and slot, so a slot or a redelivered event fires once even across several hubs. The service
is ``app.services.get(Actions)``; the scheduler, the webhook route and the Discord bot fire
through :meth:`Actions.fire`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hub.db.models import Action, ActionFiring, Execution, utcnow
from hub.engine.core import Engine
from hub.engine.records import ExecutionInfo, Ownership, Trigger
from hub.errors import Conflict, GoosukeError, InvalidArguments, NotFound
from hub.principal import Principal
from hub.teams import audit, policy
from hub.templates.preview import RunPreview
from hub.triggers.binding import check_template

if TYPE_CHECKING:
    from hub.context import AppContext
    from hub.plugin import Call

logger = logging.getLogger("goosuke.actions")

ActionKind = Literal["schedule", "webhook", "reaction"]
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CLAIM_STALE_AFTER = timedelta(seconds=60)  # a firing claimed this long ago without an execution is resubmitted
ACTIVE_STATES = ("queued", "running")
READ, MANAGE = "triggers.read", "triggers.manage"
WHAT = {"schedule": "schedule", "webhook": "webhook", "reaction": "reaction binding"}


def run_owner(action: Action) -> Ownership:
    """Whose the runs an action fires are: the action's team, its creator, its ``run_visibility``."""
    return Ownership(
        team_id=action.team_id,
        created_by=action.created_by,
        visibility=(action.config or {}).get("run_visibility", "private"),
    )


@dataclass(frozen=True)
class FireResult:
    outcome: str
    execution: ExecutionInfo | None
    duplicate: bool = False
    detail: str | None = None


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise InvalidArguments(
            f"Invalid action name {name!r}: use 1-64 lowercase letters, digits, - and _, starting with a letter "
            "or digit.",
            errors=[{"field": "name", "message": "invalid name", "type": "pattern"}],
        )


class Actions:
    """Create, list, enable and fire actions; record every firing."""

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.db = app.db

    @property
    def engine(self) -> Engine:
        return self.app.services.get(Engine)

    # -- validation ---------------------------------------------------------------------

    async def check_template(
        self,
        template: str,
        params: dict[str, Any],
        mapped: set[str],
        *,
        team_id: str | None = None,
        principal: Principal | None = None,
    ) -> None:
        """See :func:`hub.triggers.binding.check_template`."""
        await check_template(self.db, template, params, mapped, team_id=team_id, principal=principal)

    # -- rows ---------------------------------------------------------------------------

    async def create(
        self,
        *,
        name: str,
        kind: ActionKind,
        template: str,
        params: dict[str, Any],
        mapping: dict[str, Any],
        config: dict[str, Any],
        enabled: bool,
        actor: str,
        next_fire_at: datetime | None = None,
        team_id: str | None = None,
        visibility: str = "team",
        run_visibility: str = "private",
        principal: Principal | None = None,
    ) -> Action:
        """A new action of ``team_id`` (default: the default team) seen by ``visibility``, whose runs are
        ``run_visibility``; ``principal`` (the creator) must see the template, and the team run it."""
        check_name(name)
        policy.check_visibility(visibility)
        policy.check_visibility(run_visibility)
        team_id = team_id or policy.DEFAULT_TEAM_ID
        await self.check_template(template, params, set(mapping), team_id=team_id, principal=principal)
        now = utcnow()
        if run_visibility != "private":
            config = {**config, "run_visibility": run_visibility}
        row = Action(
            name=name,
            team_id=team_id,
            visibility=visibility,
            kind=kind,
            template=template,
            params=params,
            mapping=mapping,
            config=config,
            enabled=enabled,
            created_by=actor,
            created_at=now,
            updated_at=now,
            cursor_at=now,
            next_fire_at=next_fire_at,
        )
        try:
            async with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            raise Conflict(f"An action named {name!r} exists already; pick another name.") from None
        return row

    async def get(
        self,
        name: str,
        kind: ActionKind | None = None,
        principal: Principal | None = None,
        *,
        change: bool = False,
    ) -> Action:
        """The action called ``name``; with ``principal``, only one it may see (``triggers.read``) or, with
        ``change``, change (``triggers.manage`` in its team).

        Raises:
            NotFound: no such action, or one ``principal`` may not see (the same answer).
            PermissionDenied: ``change`` asked of an action it may see but not change.
        """
        async with self.db.session() as session:
            row = await session.scalar(select(Action).where(Action.name == name))
        what = kind or "action"
        missing = NotFound(f"No {what} named {name!r}. List them with {what}_list.")
        if row is None or (kind is not None and row.kind != kind):
            raise missing
        if principal is not None:
            if not policy.can_see(principal, READ, row) and not policy.can_see(principal, MANAGE, row):
                raise missing
            if change:
                policy.require_change(principal, MANAGE, row, f"the {WHAT.get(row.kind, 'action')} {name!r}")
        return row

    async def matching(
        self, kind: ActionKind | None = None, enabled: bool | None = None, principal: Principal | None = None
    ) -> list[Action]:
        """Actions by name; with ``principal``, those it may see (``triggers.read``)."""
        query = select(Action).order_by(Action.name)
        if principal is not None:
            query = query.where(policy.visible(principal, READ, Action))
        if kind is not None:
            query = query.where(Action.kind == kind)
        if enabled is not None:
            query = query.where(Action.enabled == enabled)
        async with self.db.session() as session:
            return list(await session.scalars(query))

    async def save(self, row: Action, call: Call | None = None, **changes: Any) -> Action:
        """Apply ``changes``; a change of who may see the action (or its runs) is audited for ``call``."""
        async with self.db.session() as session:
            current = await session.get(Action, row.id)
            if current is None:
                raise NotFound(f"The action {row.name!r} was deleted meanwhile.")
            audit.add_share(session, call, current.kind, current.name, current, changes)
            for key, value in changes.items():
                setattr(current, key, value)
            current.updated_at = utcnow()
        return current

    async def set_enabled(
        self, name: str, enabled: bool, next_fire_at: datetime | None = None, principal: Principal | None = None
    ) -> Action:
        """Enable or disable everywhere: schedulers, the webhook route and the Discord bot all check it."""
        row = await self.get(name, principal=principal, change=True)
        changes: dict[str, Any] = {"enabled": enabled}
        if enabled and not row.enabled:
            changes["cursor_at"] = utcnow()  # slots that passed while disabled are not owed
            changes["next_fire_at"] = next_fire_at
        return await self.save(row, **changes)

    async def delete(self, name: str, kind: ActionKind, principal: Principal | None = None) -> Action:
        row = await self.get(name, kind, principal, change=True)
        async with self.db.session() as session:
            current = await session.get(Action, row.id)
            if current is not None:
                await session.delete(current)
        return row

    # -- firing -------------------------------------------------------------------------

    async def record(
        self,
        action: Action,
        outcome: str,
        *,
        slot: str | None = None,
        detail: str | None = None,
        status_code: int | None = None,
        actor: str | None = None,
    ) -> bool:
        """Record a firing that starts no execution (skipped, missed, rejected...). False if the slot was taken."""
        try:
            async with self.db.session() as session:
                session.add(
                    ActionFiring(
                        action_id=action.id,
                        slot=slot,
                        outcome=outcome,
                        detail=detail,
                        status_code=status_code,
                        actor=actor,
                    )
                )
        except IntegrityError:
            return False
        self._count(action.kind, outcome)
        return True

    async def fire(
        self,
        action: Action,
        *,
        params: dict[str, Any],
        trigger: Trigger,
        slot: str | None = None,
        status_code: int | None = None,
        preview: RunPreview | None = None,
    ) -> FireResult:
        """Claim the slot, submit the execution, record the outcome. A taken slot returns the first firing.

        ``preview`` is the run already prepared by the caller (``engine.prepare``), to skip a second render.
        """
        claim = ActionFiring(
            action_id=action.id, slot=slot, outcome="claimed", actor=trigger.actor, status_code=status_code
        )
        try:
            async with self.db.session() as session:
                session.add(claim)
        except IntegrityError:
            return await self._duplicate(action, slot)
        key = f"action:{action.id}:{slot}" if slot else None
        try:
            if preview is None:
                preview = await self.engine.prepare(action.template, {**action.params, **params})
            info = await self.engine.submit_preview(
                preview, trigger=trigger, idempotency_key=key, owner=run_owner(action)
            )
        except GoosukeError as exc:
            await self._finish(claim.id, "failed", detail=exc.message)
            self._count(action.kind, "failed")
            return FireResult("failed", None, detail=exc.message)
        await self._finish(claim.id, "queued", execution_id=info.id, action_id=action.id)
        self._count(action.kind, "queued")
        return FireResult("queued", info)

    async def _duplicate(self, action: Action, slot: str | None) -> FireResult:
        async with self.db.session() as session:
            first = await session.scalar(
                select(ActionFiring).where(ActionFiring.action_id == action.id, ActionFiring.slot == slot)
            )
        execution = None
        if first is not None and first.execution_id:
            execution = await self.engine.get(first.execution_id)
        self._count(action.kind, "duplicate")
        return FireResult("duplicate", execution, duplicate=True)

    async def _finish(
        self,
        firing_id: int,
        outcome: str,
        *,
        execution_id: str | None = None,
        detail: str | None = None,
        action_id: str | None = None,
    ) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(ActionFiring)
                .where(ActionFiring.id == firing_id)
                .values(outcome=outcome, execution_id=execution_id, detail=detail)
            )
            if action_id is not None:
                await session.execute(update(Action).where(Action.id == action_id).values(last_fired_at=utcnow()))

    def _count(self, kind: str, outcome: str) -> None:
        self.app.metrics.action_firings.labels(kind=kind, outcome=outcome).inc()

    async def recover_claims(self) -> int:
        """Finish firings a crashed hub claimed but never submitted.

        A schedule's parameters are all on the action, so its claim is resubmitted as it was (the
        idempotency key prevents doubles). A webhook's or reaction's parameters came from its event,
        which is gone: the claim is marked failed and its key released, so a redelivery fires again.
        """
        cutoff = utcnow() - CLAIM_STALE_AFTER
        async with self.db.session() as session:
            stale = list(
                await session.execute(
                    select(ActionFiring, Action)
                    .join(Action, Action.id == ActionFiring.action_id)
                    .where(ActionFiring.outcome == "claimed", ActionFiring.fired_at < cutoff)
                )
            )
        for firing, action in stale:
            if action.kind != "schedule":
                async with self.db.session() as session:
                    await session.execute(
                        update(ActionFiring)
                        .where(ActionFiring.id == firing.id)
                        .values(
                            outcome="failed",
                            slot=None,
                            detail="The hub stopped before the execution was "
                            "created; the event's data is gone, so its sender must deliver it again.",
                        )
                    )
                continue
            key = f"action:{action.id}:{firing.slot}" if firing.slot else None
            trigger = Trigger(
                kind="schedule",
                actor=firing.actor or action.name,
                ref=f"{action.name}@{firing.slot}" if firing.slot else action.name,
            )
            try:
                info = await self.engine.submit(
                    action.template, dict(action.params), trigger=trigger, idempotency_key=key, owner=run_owner(action)
                )
            except GoosukeError as exc:
                await self._finish(firing.id, "failed", detail=exc.message)
                continue
            await self._finish(firing.id, "queued", execution_id=info.id)
        return len(stale)

    async def previous_active(self, action: Action) -> bool:
        """Is an execution this action started still queued or running?"""
        async with self.db.session() as session:
            found = await session.scalar(
                select(Execution.id)
                .join(ActionFiring, ActionFiring.execution_id == Execution.id)
                .where(ActionFiring.action_id == action.id, Execution.status.in_(ACTIVE_STATES))
                .limit(1)
            )
        return found is not None

    async def firings(
        self,
        action: Action | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        outcome: str | None = None,
        principal: Principal | None = None,
    ) -> list[tuple[ActionFiring, str]]:
        """Firings newest first; with ``principal``, only those of actions it may see."""
        query = select(ActionFiring, Action.name).join(Action, Action.id == ActionFiring.action_id)
        if principal is not None:
            query = query.where(policy.visible(principal, READ, Action))
        if action is not None:
            query = query.where(ActionFiring.action_id == action.id)
        if outcome is not None:
            query = query.where(ActionFiring.outcome == outcome)
        query = query.order_by(ActionFiring.fired_at.desc(), ActionFiring.id.desc()).limit(limit).offset(offset)
        async with self.db.session() as session:
            return [(firing, name) for firing, name in await session.execute(query)]
