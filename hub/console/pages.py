"""The console's pages: what each reads through the registry's tools and which template shows it.

Every function takes a :class:`~hub.console.render.View` whose caller is signed in; a tool's refusal
propagates (the plugin's wrapper turns it into the 403 or 404 page), except on the dashboard, whose
sections each say "you may not see this" for a tool the caller may not call.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from starlette.responses import Response

from hub.console.render import View, field_errors
from hub.engine.records import FINAL_STATES, Status, TriggerKind
from hub.errors import Conflict, InvalidArguments, NotFound, PermissionDenied

STATUSES: tuple[str, ...] = get_args(Status)
TRIGGERS: tuple[str, ...] = get_args(TriggerKind)
PAGE = 25  # executions per page of the list
LOG_TAIL = 200  # log lines the detail page shows
CHART = ("running", "queued", "succeeded", "failed", "cancelled", "timed_out")
SCHEDULE_FIRES = 8
CHAT = ("discord",)  # the hub_info services that are chat connections
DELIVERY_HOOKS = 10  # webhooks whose latest deliveries the dashboard reads
DELIVERIES = 8  # deliveries the dashboard shows
TOOL_ROWS = 8  # tools the metrics section shows (the most called)
SPARK = (300, 60)  # the calls-per-minute sparkline's width and height


async def _allowed(part: Awaitable[Any]) -> Any:
    """A dashboard section's data, or None when the caller may not read it."""
    try:
        return await part
    except PermissionDenied:
        return None


async def _counts(view: View) -> dict[str, Any] | None:
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    counts: dict[str, int] = {}
    failures: list[dict[str, Any]] = []
    for status in CHART:
        since = hour_ago if status in FINAL_STATES else None
        limit = 5 if status == "failed" else 1
        found = await view.tool("execution_list", status=status, since=since, limit=limit)
        counts[status] = found["total"]
        if status == "failed":
            failures = found["executions"]
    return {"counts": counts, "failures": failures, "peak": max([1, *counts.values()])}


async def _extensions(view: View) -> list[dict[str, Any]]:
    listed = await view.tool("extension_list")
    rows = []
    for ext in listed["extensions"]:
        state = ext["state"] if ext["enabled"] else "disabled"  # a disabled one is disabled, not "offline"
        rows.append(
            {
                "name": ext["name"],
                "type": ext["type"],
                "state": state,
                "reason": ext["last_error"],
                "retry_at": ext.get("retry_at"),
                "stderr": ext.get("stderr_last_line"),
            }
        )
    return rows


async def _fires(view: View) -> list[dict[str, Any]]:
    listed = await view.tool("schedule_list", enabled=True)
    fires = [
        {"at": at, "schedule": s["name"], "template": s["template"]}
        for s in listed["schedules"]
        for at in s["next_fires"][:3]
    ]
    return sorted(fires, key=lambda f: str(f["at"]))[:SCHEDULE_FIRES]


def _spark(per_minute: list[dict[str, Any]]) -> dict[str, Any]:
    """The calls-per-minute sparkline: an SVG polyline's points (newest on the right) and its peak."""
    width, height = SPARK
    peak = max([1, *(m["calls"] for m in per_minute)])
    step = width / max(1, len(per_minute) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - m['calls'] / peak * (height - 4):.1f}" for i, m in enumerate(per_minute)
    )
    return {"points": points, "peak": peak, "last": per_minute[-1]["calls"] if per_minute else 0}


async def _metrics(view: View) -> dict[str, Any]:
    found = await view.tool("hub_metrics")
    minutes = found["per_minute"]
    return {
        "total": found["total"],
        "tools": found["tools"][:TOOL_ROWS],
        "spark": _spark(minutes),
        "hour": sum(m["calls"] for m in minutes),
    }


async def _chat(view: View) -> list[dict[str, Any]]:
    services = (await view.tool("hub_info"))["services"]
    return [{"name": name, **services[name]} for name in CHAT if isinstance(services.get(name), dict)]


async def _deliveries(view: View) -> list[dict[str, Any]]:
    hooks = (await view.tool("webhook_list"))["webhooks"][:DELIVERY_HOOKS]
    found = []
    for hook in hooks:
        try:
            found += (await view.tool("webhook_deliveries", name=hook["name"], limit=DELIVERIES))["deliveries"]
        except NotFound:  # deleted between the two calls
            continue
    return sorted(found, key=lambda d: str(d["fired_at"]), reverse=True)[:DELIVERIES]


async def dashboard_data(view: View) -> dict[str, Any]:
    """Everything the dashboard shows; what the live stream re-renders."""
    return {
        "executions": await _allowed(_counts(view)),
        "metrics": await _allowed(_metrics(view)),
        "chat": await _allowed(_chat(view)),
        "deliveries": await _allowed(_deliveries(view)),
        "extensions": await _allowed(_extensions(view)),
        "fires": await _allowed(_fires(view)),
    }


async def dashboard(view: View) -> Response:
    return view.render("dashboard.html", data=await dashboard_data(view), nav="dashboard")


def _moment(text: str | None) -> str | None:
    """A ``datetime-local`` field's value (``2026-12-02T15:30``, read as UTC) as ISO 8601, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _filters(view: View) -> dict[str, Any]:
    query = view.request.query_params
    template = query.get("template", "").strip()[:64] or None
    status = query.get("status") if query.get("status") in STATUSES else None
    trigger = query.get("trigger") if query.get("trigger") in TRIGGERS else None
    team = query.get("team", "").strip()[:64] or None
    try:
        offset = max(0, int(query.get("offset", "0")))
    except ValueError:
        offset = 0
    return {
        "template": template,
        "status": status,
        "trigger": trigger,
        "team": team,
        "since": _moment(query.get("since")),
        "until": _moment(query.get("until")),
        "offset": offset,
    }


async def _teams(view: View) -> list[str]:
    """The teams the caller may see, for the team filter (none when it may not list teams)."""
    if not view.may("team_list"):
        return []
    return [t["name"] for t in (await view.tool("team_list", limit=200))["teams"]]


async def executions(view: View) -> Response:
    filters = _filters(view)
    found = await view.tool("execution_list", limit=PAGE, **filters)
    shown = {k: v for k, v in filters.items() if k != "offset"}
    shown |= {k: shown[k][:16] for k in ("since", "until") if shown[k]}  # as the datetime-local fields hold it
    return view.render(
        "executions.html",
        nav="executions",
        found=found,
        filters=filters,
        shown=shown,
        statuses=STATUSES,
        triggers=TRIGGERS,
        teams=await _teams(view),
        newer=max(0, filters["offset"] - PAGE) if filters["offset"] else None,
        page=PAGE,
    )


async def execution_data(view: View, execution_id: str) -> dict[str, Any]:
    """The detail page's live part: the execution and the tail of its log."""
    info = await view.tool("execution_get", id=execution_id)
    logs = await view.tool("execution_logs", id=execution_id, tail=LOG_TAIL)
    return {"info": info, "logs": logs, "final": info["status"] in FINAL_STATES}


async def execution(view: View) -> Response:
    execution_id = view.request.path_params["id"]
    data = await execution_data(view, execution_id)
    return view.render("execution.html", nav="executions", **data)


async def execution_cancel(view: View) -> Response:
    execution_id = view.request.path_params["id"]
    await view.tool("execution_cancel", id=execution_id)
    return view.redirect(f"/executions/{execution_id}")


async def execution_retry(view: View) -> Response:
    again = await view.tool("execution_retry", id=view.request.path_params["id"])
    return view.redirect(f"/executions/{again['id']}")


async def users(view: View) -> Response:
    """The users (an admin page: ``user_list`` needs users.manage) and a form to add one."""
    values = {"username": "", "role": "viewer"}
    errors: dict[str, str] = {}
    status = 200
    added = None
    if view.request.method == "POST":
        values = {k: view.form.get(k, "") for k in ("username", "role")}
        try:
            made = await view.tool(
                "user_create", username=values["username"], password=view.form.get("password", ""), role=values["role"]
            )
        except (InvalidArguments, Conflict) as exc:
            errors, status = field_errors(exc) or {"username": exc.message}, 422
        else:
            added, values = made["username"], {"username": "", "role": "viewer"}
    listed = await view.tool("user_list")  # also the gate: a viewer gets the 403 page, never a half page
    return view.render(
        "users.html", status=status, nav="users", users=listed["users"], values=values, errors=errors, added=added
    )
