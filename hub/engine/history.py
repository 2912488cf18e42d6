"""Finding executions: filters over the rows, newest first, a page at a time; and who may see which.

Visibility is one rule, applied by every reader (the execution tools, the execution resource, its
subscriptions, and so the facade): an admin sees every execution; any other principal sees the runs it
started itself (over MCP or the facade) and the runs fired by the schedules and webhooks it created.
Runs started by Discord reactions are the admins' to see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from hub.clock import to_utc
from hub.db import Database
from hub.db.models import Action, Execution
from hub.errors import NotFound
from hub.principal import Principal, Role

CALLER_KINDS = ("mcp", "api")  # trigger kinds whose actor is the calling principal's name


@dataclass(frozen=True)
class ExecutionQuery:
    """Which executions: every field left None matches all; ``principal`` keeps only what it may see."""

    template: str | None = None
    status: str | None = None
    trigger: str | None = None
    since: datetime | None = None  # queued at or after
    until: datetime | None = None  # queued before
    limit: int = 50
    offset: int = 0
    principal: Principal | None = None


@dataclass(frozen=True)
class Visibility:
    """What a non-admin principal may see: its own name, and the trigger actors of the actions it owns."""

    name: str
    schedules: frozenset[str]
    webhooks: frozenset[str]  # as trigger actors: ``webhook:<name>``

    def allows(self, kind: str, actor: str) -> bool:
        if kind in CALLER_KINDS:
            return actor == self.name
        if kind == "schedule":
            return actor in self.schedules
        if kind == "webhook":
            return actor in self.webhooks
        return False

    def condition(self) -> ColumnElement[bool]:
        clauses = [and_(Execution.trigger_kind.in_(CALLER_KINDS), Execution.trigger_actor == self.name)]
        if self.schedules:
            clauses.append(and_(Execution.trigger_kind == "schedule", Execution.trigger_actor.in_(self.schedules)))
        if self.webhooks:
            clauses.append(and_(Execution.trigger_kind == "webhook", Execution.trigger_actor.in_(self.webhooks)))
        return or_(*clauses) if clauses else false()


async def visibility(db: Database, principal: Principal) -> Visibility | None:
    """``None`` for an admin (sees everything); otherwise what ``principal`` may see."""
    if principal.role is Role.admin:
        return None
    async with db.session() as session:
        owned: Sequence[Any] = (
            await session.execute(select(Action.kind, Action.name).where(Action.created_by == principal.name))
        ).all()
    return Visibility(
        name=principal.name,
        schedules=frozenset(name for kind, name in owned if kind == "schedule"),
        webhooks=frozenset(f"webhook:{name}" for kind, name in owned if kind == "webhook"),
    )


async def require_visible(db: Database, principal: Principal, execution_id: str, kind: str, actor: str) -> None:
    """Refuse an execution ``principal`` may not see exactly as if it did not exist.

    Raises:
        NotFound: the same answer as for an unknown id, so ids of others' runs cannot be probed.
    """
    rule = await visibility(db, principal)
    if rule is not None and not rule.allows(kind, actor):
        raise NotFound(f"No execution with id {execution_id!r}. List executions with execution_list.")


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
