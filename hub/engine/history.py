"""Finding executions: filters over the rows, newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from hub.clock import to_utc
from hub.db import Database
from hub.db.models import Execution


@dataclass(frozen=True)
class ExecutionQuery:
    """Which executions: every field left None matches all."""

    template: str | None = None
    status: str | None = None
    trigger: str | None = None
    since: datetime | None = None  # queued at or after
    until: datetime | None = None  # queued before
    limit: int = 50
    offset: int = 0


async def find(db: Database, query: ExecutionQuery) -> tuple[list[Execution], int]:
    """The page of rows that ``query`` asks for, and how many rows match in all."""
    rows = select(Execution)
    count = select(func.count()).select_from(Execution)
    conditions = []
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
