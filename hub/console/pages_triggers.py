"""The console's trigger pages: schedules, webhooks and reaction bindings, read and changed through their tools.

``/ui/triggers`` lists the three kinds (``schedule_list``, ``webhook_list``, ``discord_reaction_list``)
and has the form that makes a webhook (``webhook_create``). A schedule's page adds its firing history
(``schedule_history``). A webhook's page shows its URL and its recent deliveries, each with the state
of the execution it started, live (the event stream re-renders :func:`webhook_data`). A webhook's
secret is in the answer to the POST that made or rotated it (``webhook_create``,
``webhook_rotate_secret``) and nowhere else: the hub keeps it only in the vault, the page never
stores it, and a reload shows the webhook without it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hub.console.render import View, field_errors
from hub.errors import Conflict, InvalidArguments, NotFound, PermissionDenied

AUTH_MODES = ("github", "hmac", "token")
DELIVERIES = 20  # deliveries a webhook's page shows
FIRINGS = 30  # firings a schedule's page shows
FIELDS = ("name", "template", "auth", "mapping")


async def _maybe(view: View, name: str, **arguments: Any) -> dict[str, Any] | None:
    """A section's data, or None when the caller may not call its tool (or the tool is not loaded)."""
    if name not in view.app.registry.tools:
        return None
    try:
        return await view.tool(name, **arguments)
    except PermissionDenied:
        return None


async def _templates(view: View) -> list[str]:
    listed = await _maybe(view, "template_list", limit=200)
    return sorted(t["name"] for t in listed["templates"]) if listed else []


def parse_mapping(text: str) -> dict[str, str]:
    """``param = /json/pointer`` lines (blank lines skipped) as a webhook's mapping."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, pointer = line.partition("=")
        if not sep or not key.strip() or not pointer.strip():
            raise InvalidArguments(
                f"Line {number} of the mapping is not `parameter = /json/pointer`: {line.strip()!r}.",
                errors=[{"field": "mapping", "message": f"Line {number}: write it as `parameter = /json/pointer`."}],
            )
        mapping[key.strip()] = pointer.strip()
    return mapping


async def triggers(view: View) -> Response:
    """Every trigger the caller may see; with the webhook form, whose POST comes back here on an error."""
    values = {"name": "", "template": "", "auth": "github", "mapping": ""}
    errors: dict[str, str] = {}
    if view.request.method == "POST":
        values = {k: view.form.get(k, "").strip() if k != "mapping" else view.form.get(k, "") for k in FIELDS}
        try:
            made = await view.tool(
                "webhook_create",
                name=values["name"],
                template=values["template"],
                auth=values["auth"] or "github",
                mapping=parse_mapping(values["mapping"]),
            )
        except (InvalidArguments, Conflict, NotFound) as exc:
            default = "template" if isinstance(exc, NotFound) else "name"  # NotFound: the template is unknown
            errors = {
                k if k in FIELDS else default: v for k, v in (field_errors(exc) or {default: exc.message}).items()
            }
        else:
            return await _webhook_page(view, made["webhook"]["name"], secret=made["secret"], created=True)
    hooks = await view.tool("webhook_list")  # the gate: the page needs triggers.read
    return view.render(
        "triggers.html",
        status=422 if errors else 200,
        nav="triggers",
        webhooks=hooks["webhooks"],
        schedules=(await _maybe(view, "schedule_list") or {}).get("schedules"),
        bindings=(await _maybe(view, "discord_reaction_list") or {}).get("bindings"),
        templates=await _templates(view),
        auth_modes=AUTH_MODES,
        values=values,
        errors=errors,
    )


async def schedule(view: View) -> Response:
    name = view.request.path_params["name"]
    info = await view.tool("schedule_get", name=name)
    history = await view.tool("schedule_history", name=name, limit=FIRINGS)
    return view.render("triggers_schedule.html", nav="triggers", info=info, firings=history["firings"])


async def _webhook(view: View, name: str) -> dict[str, Any]:
    for hook in (await view.tool("webhook_list"))["webhooks"]:
        if hook["name"] == name:
            return dict(hook)
    raise NotFound(f"No webhook {name!r} that you may see. The webhooks you may see are at {view.url('/triggers')}.")


async def webhook_data(view: View, name: str) -> dict[str, Any]:
    """A webhook's live part: its recent deliveries, each with the execution it started (when you may see it)."""
    listed = await view.tool("webhook_deliveries", name=name, limit=DELIVERIES)
    deliveries = []
    for delivery in listed["deliveries"]:
        execution = None
        if delivery["execution_id"]:
            try:
                execution = await view.tool("execution_get", id=delivery["execution_id"])
            except (NotFound, PermissionDenied):
                execution = None  # its runs are private to the webhook's creator: the id is still shown
        deliveries.append({**delivery, "execution": execution})
    return {"name": name, "deliveries": deliveries}


async def _webhook_page(view: View, name: str, secret: str | None = None, created: bool = False) -> Response:
    hook = await _webhook(view, name)
    return view.render(
        "triggers_webhook.html",
        nav="triggers",
        hook=hook,
        secret=secret,
        created=created,
        **await webhook_data(view, name),
    )


async def webhook(view: View) -> Response:
    return await _webhook_page(view, view.request.path_params["name"])


async def webhook_rotate(view: View) -> Response:
    """Rotate the secret; the new one is in this answer only."""
    rotated = await view.tool("webhook_rotate_secret", name=view.request.path_params["name"])
    return await _webhook_page(view, rotated["webhook"]["name"], secret=rotated["secret"])


def back(view: View) -> str:
    """Where a refused POST on a webhook's page returns: that page."""
    return view.url(f"/triggers/webhooks/{view.request.path_params['name']}")
