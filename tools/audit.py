"""The audit log: every permission-relevant change (users, tokens, teams, memberships, roles, ownership
moves, ...) and every denied call, with who, what, when and from which surface.

Holders of audit.read hub-wide read every row; a caller holding it only within teams (a personal
team's owner, say) reads the rows of their own actions: audit rows belong to no team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, select

from hub import Call, Plugin
from hub.clock import UtcDatetime, to_utc
from hub.db.models import AuditEvent
from hub.paging import Offset
from hub.plugin import Arguments

plugin = Plugin("audit")


class AuditListArgs(Arguments):
    actor: str | None = Field(default=None, max_length=128, description="Only rows of this actor (a name).")
    action: str | None = Field(
        default=None,
        max_length=64,
        description="Only this action, e.g. team.member.add or denied; ending in '.' it is a prefix (team.).",
    )
    target_prefix: str | None = Field(
        default=None, max_length=255, description="Only targets starting with this, e.g. team:sales or tool:."
    )
    outcome: Literal["ok", "denied"] | None = Field(default=None, description="ok (a change) or denied (a refusal).")
    surface: str | None = Field(default=None, max_length=16, description="mcp, api, stdio, console, chat or cli.")
    since: datetime | None = Field(default=None, description="At or after this time (ISO 8601).")
    until: datetime | None = Field(default=None, description="Before this time (ISO 8601).")
    limit: int = Field(default=50, ge=1, le=500)
    offset: Offset = 0


class AuditRow(BaseModel):
    id: int
    at: UtcDatetime
    actor: str
    action: str
    target: str
    outcome: str
    surface: str | None
    detail: dict[str, Any]
    note: str | None


class AuditList(BaseModel):
    events: list[AuditRow] = Field(description="Newest first.")
    total: int = Field(description="Rows matching the filters, over all pages.")
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last page.")


def _conditions(call: Call, args: AuditListArgs) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if call.principal.grants.teams_with("audit.read") is not None:  # held only within teams
        conditions.append(AuditEvent.actor == call.principal.name)
    if args.actor is not None:
        conditions.append(AuditEvent.actor == args.actor)
    if args.action is not None:
        if args.action.endswith("."):
            conditions.append(AuditEvent.action.startswith(args.action, autoescape=True))
        else:
            conditions.append(AuditEvent.action == args.action)
    if args.target_prefix is not None:
        conditions.append(AuditEvent.target.startswith(args.target_prefix, autoescape=True))
    if args.outcome is not None:
        conditions.append(AuditEvent.outcome == args.outcome)
    if args.surface is not None:
        conditions.append(AuditEvent.surface == args.surface)
    if args.since is not None:
        conditions.append(AuditEvent.at >= to_utc(args.since))
    if args.until is not None:
        conditions.append(AuditEvent.at < to_utc(args.until))
    return conditions


@plugin.tool(permission="audit.read", read_only=True)
async def audit_list(call: Call, args: AuditListArgs) -> AuditList:
    """Read the audit log, newest first, filtered by actor, action, target prefix, outcome (ok or denied),
    surface and time; paged with limit and offset. Without audit.read hub-wide you see your own rows."""
    conditions = _conditions(call, args)
    async with call.app.db.session() as session:
        total = int(await session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0)
        rows = await session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(args.limit)
            .offset(args.offset)
        )
        events = [
            AuditRow(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                outcome=row.outcome,
                surface=row.surface,
                detail=row.detail or {},
                note=row.note,
            )
            for row in rows
        ]
    end = args.offset + len(events)
    return AuditList(events=events, total=total, next_offset=end if end < total else None)
