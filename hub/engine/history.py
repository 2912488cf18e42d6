"""Finding executions: filters over the rows, newest first, a page at a time; and who may see which.

Visibility is one rule, :class:`Visibility`, applied by every reader (the execution tools, the execution
resource, its subscriptions, and so the facade). A principal that sees everything (the admin role) sees
every execution. Any other principal sees

* the runs it started itself (over MCP or the facade) and the runs fired by the schedules and webhooks
  it created (whatever their visibility), and
* what the object policy (:mod:`hub.teams.policy`, with ``executions.read``) lets it see: a ``private``
  run only its ``created_by``, a ``team`` run whoever reads executions in the run's team (its template's,
  or a reaction binding's), a ``public`` run whoever reads executions anywhere.

The team is stored on the row when the run is submitted, so reading costs no lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select

from hub.clock import to_utc
from hub.db import Database
from hub.db.models import Action, Execution
from hub.engine.records import CALLER_KINDS, ExecutionInfo
from hub.errors import NotFound, PermissionDenied
from hub.principal import Principal
from hub.teams import policy

READ = "executions.read"
CANCEL = "executions.cancel"

__all__ = ["CALLER_KINDS", "ExecutionQuery", "Visibility", "find", "require_visible", "visibility"]


@dataclass(frozen=True)
class ExecutionQuery:
    """Which executions: every field left None matches all; ``principal`` keeps only what it may see."""

    template: str | None = None
    status: str | None = None
    trigger: str | None = None
    team_id: str | None = None
    since: datetime | None = None  # queued at or after
    until: datetime | None = None  # queued before
    limit: int = 50
    offset: int = 0
    principal: Principal | None = None


class _Run(Protocol):
    team_id: Any
    visibility: Any
    created_by: Any


@dataclass(frozen=True)
class Visibility:
    """What a principal that does not see everything may see: its own runs, the runs of the actions it owns
    (trigger actors), and what the object policy grants it."""

    principal: Principal
    schedules: frozenset[str]
    webhooks: frozenset[str]  # as trigger actors: ``webhook:<name>``

    @property
    def name(self) -> str:
        return self.principal.name

    def owns(self, kind: str, actor: str) -> bool:
        """The run is the principal's own, or fired by an action it created."""
        if kind in CALLER_KINDS:
            return actor == self.name
        if kind == "schedule":
            return actor in self.schedules
        if kind == "webhook":
            return actor in self.webhooks
        return False

    def allows(self, info: ExecutionInfo) -> bool:
        """The one answer for one run: may the principal see it?"""
        if self.owns(info.trigger.kind, info.trigger.actor):
            return True
        return policy.can_see(self.principal, READ, _Shape(info.team_id, info.visibility, info.created_by))

    def may_change(self, info: ExecutionInfo, permission: str) -> bool:
        """May it act on the run (``executions.cancel``): its own run, or the permission in the run's team."""
        if self.owns(info.trigger.kind, info.trigger.actor):
            return True
        return policy.can_change(self.principal, permission, _Shape(info.team_id, info.visibility, info.created_by))

    def condition(self) -> ColumnElement[bool]:
        """The same rule as :meth:`allows`, as a WHERE clause (over indexed columns)."""
        clauses = [and_(Execution.trigger_kind.in_(CALLER_KINDS), Execution.trigger_actor == self.name)]
        if self.schedules:
            clauses.append(and_(Execution.trigger_kind == "schedule", Execution.trigger_actor.in_(self.schedules)))
        if self.webhooks:
            clauses.append(and_(Execution.trigger_kind == "webhook", Execution.trigger_actor.in_(self.webhooks)))
        clauses.append(policy.visible(self.principal, READ, Execution))
        return or_(*clauses)


@dataclass(frozen=True)
class _Shape:
    team_id: str | None
    visibility: str
    created_by: str | None


async def visibility(db: Database, principal: Principal) -> Visibility | None:
    """``None`` for a principal that sees everything (the admin role); otherwise what it may see."""
    if principal.sees_everything:
        return None
    async with db.session() as session:
        owned: Sequence[Any] = (
            await session.execute(select(Action.kind, Action.name).where(Action.created_by == principal.name))
        ).all()
    return Visibility(
        principal=principal,
        schedules=frozenset(name for kind, name in owned if kind == "schedule"),
        webhooks=frozenset(f"webhook:{name}" for kind, name in owned if kind == "webhook"),
    )


async def require_visible(db: Database, principal: Principal, info: ExecutionInfo, change: str | None = None) -> None:
    """Refuse an execution ``principal`` may not see exactly as if it did not exist.

    ``change`` (``executions.cancel``) also asks whether it may act on the run: its own run (started, or
    fired by its action), or that permission in the run's team.

    Raises:
        NotFound: the same answer as for an unknown id, so ids of others' runs cannot be probed.
        PermissionDenied: it may see the run but not do ``change`` to it.
    """
    rule = await visibility(db, principal)
    if rule is None:
        return
    if not rule.allows(info):
        raise NotFound(f"No execution with id {info.id!r}. List executions with execution_list.")
    if change is not None and not rule.may_change(info, change):
        raise PermissionDenied(
            f"You may read execution {info.id} but not act on it: that needs {change} in its team "
            f"({info.team_id}), or to have started it. Ask a member of that team."
        )


async def find(db: Database, query: ExecutionQuery) -> tuple[list[Execution], int]:
    """The page of rows that ``query`` asks for, and how many rows match in all."""
    rows = select(Execution)
    count = select(func.count()).select_from(Execution)
    conditions = []
    if query.principal is not None:
        rule = await visibility(db, query.principal)
        if rule is not None:
            conditions.append(rule.condition())
    if query.template:
        conditions.append(Execution.template_name == query.template)
    if query.status:
        conditions.append(Execution.status == query.status)
    if query.trigger:
        conditions.append(Execution.trigger_kind == query.trigger)
    if query.team_id:
        conditions.append(Execution.team_id == query.team_id)
    if query.since:
        conditions.append(Execution.queued_at >= to_utc(query.since))
    if query.until:
        conditions.append(Execution.queued_at < to_utc(query.until))
    for condition in conditions:
        rows, count = rows.where(condition), count.where(condition)
    rows = rows.order_by(Execution.queued_at.desc(), Execution.id.desc()).limit(query.limit).offset(query.offset)
    async with db.session() as session:
        found = list(await session.scalars(rows))
        total = int(await session.scalar(count) or 0)
    return found, total
