"""Every trigger in one list: schedules, webhooks and Discord reactions are actions of one model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.clock import UtcDatetime
from hub.context import AppContext
from hub.db.models import Action, ActionFiring
from hub.engine.records import RunVisibility
from hub.paging import Offset
from hub.plugin import Arguments
from hub.teams.policy import Visibility, check_visibility
from hub.triggers.actions import Actions
from hub.triggers.binding import action_team
from hub.triggers.ownership import team_names
from hub.triggers.scheduler import next_fire

plugin = Plugin("actions")

Kind = Literal["schedule", "webhook", "reaction"]
TEAM_FIELD = Field(default=None, min_length=1, max_length=64, description="The owning team (name); default: yours.")


class Owning(Arguments):
    """Where a new trigger goes and who sees it and its runs (mixed into the create tools)."""

    team: str | None = TEAM_FIELD
    visibility: Visibility = Field(
        default="team",
        description="Who sees the trigger: private (you), team (its team) or public (all; only its team changes it).",
    )
    run_visibility: RunVisibility = Field(
        default="private",
        description="Who sees the runs it starts: private (you), team (who reads executions in its team) or public.",
    )


class Reowning(Arguments):
    """Visibility changes (mixed into the update tools); the team moves with team_transfer."""

    visibility: Visibility | None = Field(default=None, description="private, team or public.")
    run_visibility: RunVisibility | None = Field(default=None, description="Of the runs it starts from now on.")


async def placed(call: Call, args: Owning, template: str) -> dict[str, Any]:
    """``create`` keywords for a new action on ``template``: its team (see :func:`action_team`), visibilities,
    creator."""
    visibility = check_visibility(args.visibility) or "team"
    team_id = await action_team(call.app.db, call.principal, template, args.team, visibility)
    return {
        "team_id": team_id,
        "visibility": visibility,
        "run_visibility": args.run_visibility,
        "principal": call.principal,
    }


def revisibility(args: Reowning, config: dict[str, Any]) -> dict[str, Any]:
    """``save`` changes for new visibilities; a new run visibility goes into ``config`` (the new config the
    caller saves). The caller was checked for changing the action already."""
    if args.run_visibility is not None:
        config["run_visibility"] = args.run_visibility
    return {"visibility": args.visibility} if args.visibility is not None else {}


async def names_of(app: AppContext, rows: Iterable[Any]) -> dict[str, str]:
    return await team_names(app.db, (row.team_id for row in rows))


def ownership(row: Any, teams: Mapping[str, str]) -> dict[str, Any]:
    """The view fields every owned trigger shows: its team (name), visibility and its runs' visibility."""
    return {
        "team": teams.get(row.team_id, row.team_id) if row.team_id else None,
        "visibility": row.visibility or "team",
        "run_visibility": (row.config or {}).get("run_visibility", "private"),
    }


class Owned(BaseModel):
    team: str | None = Field(default=None, description="The owning team.")
    visibility: Visibility = "team"
    run_visibility: RunVisibility = Field(default="private", description="Who sees the runs it starts.")


def actions_of(app: AppContext) -> Actions:
    return app.services.get(Actions)


class FiringView(BaseModel):
    action: str
    fired_at: UtcDatetime
    outcome: str = Field(description="queued, duplicate, skipped, missed, rejected, invalid or failed.")
    slot: str | None = Field(description="Schedule slot (UTC instant) or webhook idempotency key.")
    execution_id: str | None
    status_code: int | None = None
    actor: str | None = None
    detail: str | None = None

    @classmethod
    def of(cls, firing: ActionFiring, name: str) -> FiringView:
        return cls(
            action=name,
            fired_at=firing.fired_at,
            outcome=firing.outcome,
            slot=firing.slot,
            execution_id=firing.execution_id,
            status_code=firing.status_code,
            actor=firing.actor,
            detail=firing.detail,
        )


class ActionView(Owned):
    name: str
    kind: Kind
    template: str
    enabled: bool
    params: dict[str, Any]
    mapping: dict[str, Any]
    summary: str = Field(description="The trigger in words: a cron line, a hook URL, an emoji.")
    last_fired_at: UtcDatetime | None
    next_fire_at: UtcDatetime | None = Field(description="Schedules only: the next slot.")
    created_by: str
    created_at: UtcDatetime


def summary_of(action: Action, app: AppContext) -> str:
    config = action.config
    if action.kind == "schedule":
        return f"cron {config.get('cron')} ({config.get('timezone', 'UTC')})"
    if action.kind == "webhook":
        return f"POST {app.settings.base_url}/hooks/{action.name} ({config.get('auth')})"
    where = config.get("channel_id") or config.get("guild_id") or "any channel"
    return f"reaction {config.get('emoji')} in {where}"


def view_of(action: Action, app: AppContext, teams: Mapping[str, str] | None = None) -> ActionView:
    upcoming = None
    if action.kind == "schedule" and action.enabled:
        upcoming = next_fire(action, datetime.now(UTC))
    return ActionView(
        name=action.name,
        kind=action.kind,  # type: ignore[arg-type]  # a str column; pydantic checks the Literal
        template=action.template,
        enabled=action.enabled,
        params=action.params,
        mapping=action.mapping,
        summary=summary_of(action, app),
        last_fired_at=action.last_fired_at,
        next_fire_at=upcoming,
        created_by=action.created_by,
        created_at=action.created_at,
        **ownership(action, teams or {}),
    )


class ActionFilter(Arguments):
    kind: Kind | None = Field(default=None, description="Only this kind of trigger.")
    enabled: bool | None = None


class ActionList(BaseModel):
    actions: list[ActionView]


class ActionName(Arguments):
    name: str = Field(min_length=1, max_length=64)


class FiringsQuery(Arguments):
    name: str | None = Field(default=None, max_length=64, description="One action; all actions when omitted.")
    outcome: str | None = Field(default=None, max_length=16)
    limit: int = Field(default=50, ge=1, le=500)
    offset: Offset = 0


class Firings(BaseModel):
    firings: list[FiringView]


@plugin.tool(read_only=True, permission="triggers.read")
async def action_list(call: Call, args: ActionFilter) -> ActionList:
    """List every trigger (schedules, webhooks, Discord reactions) with its template, last and next firing."""
    rows = await actions_of(call.app).matching(args.kind, args.enabled, call.principal)
    teams = await names_of(call.app, rows)
    return ActionList(actions=[view_of(row, call.app, teams) for row in rows])


@plugin.tool(permission="triggers.manage")
async def action_enable(call: Call, args: ActionName) -> ActionView:
    """Enable a trigger of any kind. A schedule does not fire the slots it missed while disabled."""
    service = actions_of(call.app)
    row = await service.get(args.name, principal=call.principal, change=True)
    upcoming = next_fire(row, datetime.now(UTC)) if row.kind == "schedule" else None
    row = await service.set_enabled(args.name, True, next_fire_at=upcoming, principal=call.principal)
    return view_of(row, call.app, await names_of(call.app, [row]))


@plugin.tool(permission="triggers.manage")
async def action_disable(call: Call, args: ActionName) -> ActionView:
    """Disable a trigger everywhere: schedulers skip it, its webhook answers 404, its reaction is ignored."""
    row = await actions_of(call.app).set_enabled(args.name, False, principal=call.principal)
    return view_of(row, call.app, await names_of(call.app, [row]))


@plugin.tool(read_only=True, permission="triggers.read")
async def action_firings(call: Call, args: FiringsQuery) -> Firings:
    """Recent firings of one trigger or of all, newest first, each with its outcome and execution id."""
    service = actions_of(call.app)
    action = await service.get(args.name, principal=call.principal) if args.name else None
    rows = await service.firings(
        action, limit=args.limit, offset=args.offset, outcome=args.outcome, principal=call.principal
    )
    return Firings(firings=[FiringView.of(firing, name) for firing, name in rows])
