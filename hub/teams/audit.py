"""Audit rows for what the policy decides: every permission-relevant change and every denied call."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub.db.models import AuditEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.plugin import Call

logger = logging.getLogger("goosuke.audit")


def surface_of(call: Call) -> str:
    """Where a call came from: ``mcp``, ``api``, ``stdio`` (the local owner) or what the caller set."""
    return "stdio" if call.principal.via == "local" else call.via


def add(
    session: AsyncSession, call: Call | None, action: str, target: str, *, actor: str | None = None, **detail: object
) -> None:
    """Add a change's audit row to ``session`` (it lands with the change or not at all)."""
    session.add(
        AuditEvent(
            actor=actor or (call.principal.name if call else "system"),
            action=action,
            target=target[:255],
            detail=detail,
            surface=surface_of(call) if call else None,
            outcome="ok",
        )
    )


def add_share(
    session: AsyncSession, call: Call | None, kind: str, name: str, row: Any, changes: dict[str, Any]
) -> None:
    """Audit a change of who may see ``row`` (``visibility``, ``team_id`` or the ``run_visibility`` in its
    ``config``), in the change's own transaction; nothing when ``changes`` leave all three as they were."""
    before = _sharing(row.team_id, row.visibility, getattr(row, "config", None))
    after = _sharing(
        changes.get("team_id", row.team_id),
        changes.get("visibility", row.visibility),
        changes.get("config", getattr(row, "config", None)),
    )
    if before != after:
        add(session, call, f"{kind}.share", name, before=before, after=after)


def _sharing(team_id: object, visibility: object, config: object) -> dict[str, object]:
    shared: dict[str, object] = {"team_id": team_id, "visibility": visibility}
    if isinstance(config, dict):
        shared["run_visibility"] = config.get("run_visibility", "private")
    return shared


async def record_denial(call: Call, target: str, reason: str) -> None:
    """Write a denied call's row in its own transaction; a failure to write is logged, never raised."""
    try:
        async with call.app.db.session() as session:
            session.add(
                AuditEvent(
                    actor=call.principal.name,
                    action="denied",
                    target=target[:255],
                    detail={"reason": reason, "subject": call.principal.subject, "token_id": call.principal.token_id},
                    surface=surface_of(call),
                    outcome="denied",
                )
            )
    except Exception as exc:  # the denial itself must still reach the caller
        logger.warning("Could not write the audit row of a denied call (%s).", type(exc).__name__)
