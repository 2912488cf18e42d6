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
from hub.engine.records import FINAL_STATES, Status
from hub.errors import Conflict, InvalidArguments, PermissionDenied

STATUSES: tuple[str, ...] = get_args(Status)
PAGE = 25  # executions per page of the list
LOG_TAIL = 200  # log lines the detail page shows
CHART = ("running", "queued", "succeeded", "failed", "cancelled", "timed_out")
SCHEDULE_FIRES = 8


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
        rows.append({"name": ext["name"], "type": ext["type"], "state": state, "reason": ext["last_error"]})
    return rows


async def _fires(view: View) -> list[dict[str, Any]]:
    listed = await view.tool("schedule_list", enabled=True)
    fires = [
        {"at": at, "schedule": s["name"], "template": s["template"]}
        for s in listed["schedules"]
        for at in s["next_fires"][:3]
    ]
    return sorted(fires, key=lambda f: str(f["at"]))[:SCHEDULE_FIRES]


async def dashboard_data(view: View) -> dict[str, Any]:
    """Everything the dashboard shows; what the live stream re-renders."""
    return {
        "executions": await _allowed(_counts(view)),
        "extensions": await _allowed(_extensions(view)),
        "fires": await _allowed(_fires(view)),
    }


async def dashboard(view: View) -> Response:
    return view.render("dashboard.html", data=await dashboard_data(view), nav="dashboard")


def _filters(view: View) -> dict[str, Any]:
    query = view.request.query_params
    template = query.get("template", "").strip()[:64] or None
    status = query.get("status") if query.get("status") in STATUSES else None
    try:
        offset = max(0, int(query.get("offset", "0")))
    except ValueError:
        offset = 0
    return {"template": template, "status": status, "offset": offset}


async def executions(view: View) -> Response:
    filters = _filters(view)
    found = await view.tool("execution_list", limit=PAGE, **filters)
    return view.render(
        "executions.html",
        nav="executions",
        found=found,
        filters=filters,
        statuses=STATUSES,
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
