"""Schedules: run a template on a cron line in a time zone, each slot exactly once across hubs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub import Call, Plugin, Role
from hub.clock import UtcDatetime
from hub.db.models import new_id
from hub.deliveries.model import Route, Routing
from hub.engine.records import ExecutionInfo, Trigger
from hub.errors import ToolError
from hub.paging import Offset
from hub.plugin import Arguments
from hub.triggers.cron import parse, require_fires
from tools.actions import FiringView, Owned, Owning, Reowning, actions_of, names_of, ownership, placed, revisibility
from tools.deliveries import checked_routes

plugin = Plugin("schedules")

MissedPolicy = Literal["skip", "run_once"]
ConcurrencyPolicy = Literal["skip", "queue"]


class ScheduleView(Owned):
    name: str
    template: str
    cron: str
    timezone: str
    params: dict[str, Any]
    enabled: bool
    missed: MissedPolicy
    concurrency: ConcurrencyPolicy
    next_fires: list[UtcDatetime] = Field(description="The next five slots (UTC); empty while disabled.")
    last_fired_at: UtcDatetime | None
    created_by: str
    routes: list[Route] = Field(default_factory=list, description="Where each run's result goes (deliver_to).")


def view(row: Any, teams: Mapping[str, str] | None = None) -> ScheduleView:
    schedule = parse(row.config["cron"], row.config.get("timezone", "UTC"))
    return ScheduleView(
        name=row.name,
        template=row.template,
        cron=schedule.expression,
        timezone=schedule.timezone,
        params=row.params,
        enabled=row.enabled,
        missed=row.config.get("missed", "skip"),
        concurrency=row.config.get("concurrency", "skip"),
        next_fires=schedule.next_fires(datetime.now(UTC), 5) if row.enabled else [],
        last_fired_at=row.last_fired_at,
        created_by=row.created_by,
        routes=row.config.get("routes", []),
        **ownership(row, teams or {}),
    )


class ScheduleCreate(Routing, Owning):
    name: str = Field(min_length=1, max_length=64, description="Unique action name: lowercase, digits, - and _.")
    template: str = Field(min_length=1, max_length=64)
    cron: str = Field(min_length=1, max_length=200, description="5 fields, 6 with seconds first, or @daily...")
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone, e.g. Europe/Berlin.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameter values for every run.")
    enabled: bool = True
    missed: MissedPolicy = Field(default="skip", description="Slots missed while no hub ran: skip, or run_once.")
    concurrency: ConcurrencyPolicy = Field(
        default="skip", description="When the previous run is still going: skip this slot, or queue it."
    )


class ScheduleUpdate(Routing, Reowning):
    name: str = Field(min_length=1, max_length=64)
    template: str | None = Field(default=None, max_length=64)
    cron: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    params: dict[str, Any] | None = None
    enabled: bool | None = None
    missed: MissedPolicy | None = None
    concurrency: ConcurrencyPolicy | None = None


class ScheduleName(Arguments):
    name: str = Field(min_length=1, max_length=64)


class ScheduleList(BaseModel):
    schedules: list[ScheduleView]


class HistoryQuery(Arguments):
    name: str = Field(min_length=1, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)
    offset: Offset = 0


class History(BaseModel):
    firings: list[FiringView]


class RunNow(BaseModel):
    execution: ExecutionInfo


@plugin.tool(permission="triggers.manage")
async def schedule_create(call: Call, args: ScheduleCreate) -> ScheduleView:
    """Run a template on a schedule. The cron line, time zone and parameters are checked now: a template
    whose required parameters are not given is refused at creation, not at 3 a.m."""
    schedule = require_fires(parse(args.cron, args.timezone))
    now = datetime.now(UTC)
    upcoming = schedule.next_fires(now, 1)
    routes = await checked_routes(call, args)
    owner = await placed(call, args, args.template)
    row = await actions_of(call.app).create(
        name=args.name,
        kind="schedule",
        template=args.template,
        params=args.params,
        mapping={},
        config={
            "cron": schedule.expression,
            "timezone": schedule.timezone,
            "missed": args.missed,
            "concurrency": args.concurrency,
            **({"routes": routes} if routes else {}),
        },
        enabled=args.enabled,
        actor=call.principal.name,
        next_fire_at=upcoming[0] if upcoming else None,
        **owner,
    )
    return view(row, await names_of(call.app, [row]))


class ScheduleFilter(Arguments):
    enabled: bool | None = Field(default=None, description="Only enabled (true) or disabled (false) schedules.")


@plugin.tool(read_only=True, permission="triggers.read")
async def schedule_list(call: Call, args: ScheduleFilter) -> ScheduleList:
    """List schedules with their cron line, time zone and next fire times."""
    rows = await actions_of(call.app).matching("schedule", args.enabled, call.principal)
    teams = await names_of(call.app, rows)
    return ScheduleList(schedules=[view(row, teams) for row in rows])


@plugin.tool(read_only=True, permission="triggers.read")
async def schedule_get(call: Call, args: ScheduleName) -> ScheduleView:
    """One schedule with its next five fire times."""
    row = await actions_of(call.app).get(args.name, "schedule", call.principal)
    return view(row, await names_of(call.app, [row]))


@plugin.tool(permission="triggers.manage")
async def schedule_update(call: Call, args: ScheduleUpdate) -> ScheduleView:
    """Change a schedule; only the fields given change. The new combination is checked like at creation."""
    service = actions_of(call.app)
    row = await service.get(args.name, "schedule", call.principal, change=True)
    config = dict(row.config)
    for key in ("cron", "timezone", "missed", "concurrency"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    schedule = require_fires(parse(config["cron"], config.get("timezone", "UTC")))
    config["cron"] = schedule.expression
    routes = await checked_routes(call, args)
    if routes is not None:
        config["routes"] = routes
    template = args.template or row.template
    params = row.params if args.params is None else args.params
    await service.check_template(template, params, set(), team_id=row.team_id, principal=call.principal)
    upcoming = schedule.next_fires(datetime.now(UTC), 1)
    changes: dict[str, Any] = {
        **revisibility(args, config),
        "config": config,
        "template": template,
        "params": params,
        "next_fire_at": upcoming[0] if upcoming else None,
    }
    if args.enabled is not None and args.enabled != row.enabled:
        await service.set_enabled(row.name, args.enabled, next_fire_at=changes["next_fire_at"])
    saved = await service.save(row, call, **changes)
    return view(saved, await names_of(call.app, [saved]))


@plugin.tool(permission="triggers.manage", destructive=True)
async def schedule_delete(call: Call, args: ScheduleName) -> ScheduleView:
    """Delete a schedule and its firing history (executions it started stay)."""
    row = await actions_of(call.app).delete(args.name, "schedule", call.principal)
    return view(row, await names_of(call.app, [row]))


@plugin.tool(permission="triggers.manage")
async def schedule_run_now(call: Call, args: ScheduleName) -> RunNow:
    """Run a schedule's template now, outside its cron line; recorded in its history like any firing."""
    service = actions_of(call.app)
    row = await service.get(args.name, "schedule", call.principal, change=True)
    trigger = Trigger(
        kind="schedule",
        actor=call.principal.name,
        ref=f"{row.name}@manual",
        role=min(call.principal.role, Role.operator, key=lambda r: r.rank),
    )
    result = await service.fire(row, params={}, trigger=trigger, slot=f"manual:{new_id()}")
    if result.execution is None:
        raise ToolError(f"The schedule could not start its template: {result.detail}")
    return RunNow(execution=result.execution)


@plugin.tool(read_only=True, permission="triggers.read")
async def schedule_history(call: Call, args: HistoryQuery) -> History:
    """Firings of a schedule, newest first: queued (with the execution id), skipped or missed."""
    service = actions_of(call.app)
    row = await service.get(args.name, "schedule", call.principal)
    rows = await service.firings(row, limit=args.limit, offset=args.offset)
    return History(firings=[FiringView.of(firing, name) for firing, name in rows])
