"""The console's admin pages: teams, roles, API tokens, runners, secrets and the audit log.

Each page reads through its tool as the signed-in user (``team_list``, ``role_list``, ``token_list``,
``runner_list``, ``secret_list``, ``audit_list``); that first read is also the gate, so someone who may
not call it gets the 403 page, never half a page. Forms post to ``token_create``, ``token_revoke``,
``secret_set`` and ``secret_rotate_key``. A new token's value and a secret's value are never stored
or shown again: the token is in the answer to its POST only, a secret's value is never echoed back,
not even next to a field error. The users page is in ``pages.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from hub.console.render import View, digits, field_errors
from hub.errors import Conflict, GoosukeError, InvalidArguments, NotFound, PermissionDenied

AUDIT_PAGE = 50
AUDIT_FILTERS = ("actor", "action", "target_prefix", "outcome", "surface", "since", "until")
TOKEN_FIELDS = ("name", "username", "role", "expires_in_days", "note")
SECRET_FIELDS = ("name", "description")
# the admin pages, each with the tool that opens it: what the admin index and its navigation show
SECTIONS = (
    ("users", "/admin/users", "user_list"),
    ("teams", "/admin/teams", "team_list"),
    ("roles", "/admin/roles", "role_list"),
    ("tokens", "/admin/tokens", "token_list"),
    ("runners", "/admin/runners", "runner_list"),
    ("secrets", "/admin/secrets", "secret_list"),
    ("audit", "/admin/audit", "audit_list"),
)
ADMIN_TOOLS = ("user_list", "role_list", "token_list", "audit_list", "secret_set")  # admin-only: the nav link


def back(path: str) -> Callable[[View], str]:
    """Where a refused POST returns: the admin page at ``path``."""
    return lambda view: view.url(path)


def may_admin(view: View) -> bool:
    """Whether the header shows the Admin link: the caller may call one of the admin-only tools."""
    return any(view.may(name) for name in ADMIN_TOOLS)


def sections(view: View) -> list[dict[str, str]]:
    """The admin pages the caller may open, for the admin pages' own navigation."""
    return [{"key": key, "href": view.url(path)} for key, path, tool in SECTIONS if view.may(tool)]


def _render(view: View, template: str, section: str, status: int = 200, **context: Any) -> Response:
    return view.render(template, status=status, nav="admin", section=section, sections=sections(view), **context)


def _errors(exc: GoosukeError, fields: tuple[str, ...], default: str) -> dict[str, str]:
    """A refusal's messages by the form's fields; one without a known field goes next to ``default``."""
    found = field_errors(exc) or {default: exc.message}
    return {name if name in fields else default: message for name, message in found.items()}


async def admin(view: View) -> Response:
    """The admin index: the admin pages the caller may open (403 when none)."""
    if not may_admin(view):
        raise PermissionDenied(
            "The admin pages need an admin permission (users.manage, roles.manage, audit.read or "
            "secrets.manage); you do not have one. Ask an admin."
        )
    return _render(view, "admin.html", "")


async def teams(view: View) -> Response:
    listed = await view.tool("team_list", limit=200)
    return _render(view, "admin_teams.html", "teams", teams=listed["teams"], total=listed["total"])


async def team(view: View) -> Response:
    info = await view.tool("team_get", team=view.request.path_params["name"])
    return _render(view, "admin_team.html", "teams", info=info)


async def roles(view: View) -> Response:
    listed = await view.tool("role_list")
    return _render(view, "admin_roles.html", "roles", roles=listed["roles"], permissions=listed["permissions"])


async def tokens(view: View) -> Response:
    """The API tokens, a form to make one (its value shown in this answer only) and a revoke button each."""
    values = {k: "" for k in TOKEN_FIELDS} | {"role": "viewer"}
    errors: dict[str, str] = {}
    made = None
    if view.request.method == "POST":
        values = {k: view.form.get(k, "").strip() for k in TOKEN_FIELDS}
        days = values["expires_in_days"]
        try:
            made = await view.tool(
                "token_create",
                name=values["name"],
                username=values["username"],
                role=values["role"] or None,
                expires_in_days=(int(days) if digits(days) else days) if days else None,
                note=values["note"] or None,
            )
        except (InvalidArguments, Conflict, NotFound) as exc:
            errors = _errors(exc, TOKEN_FIELDS, "username" if isinstance(exc, NotFound) else "name")
        else:
            values = {k: "" for k in TOKEN_FIELDS} | {"role": "viewer"}
    listed = await view.tool("token_list")  # the gate: users.manage
    users = await view.tool("user_list")
    names = {u["id"]: u["username"] for u in users["users"]}
    return _render(
        view,
        "admin_tokens.html",
        "tokens",
        status=422 if errors else 200,
        tokens=listed["tokens"],
        names=names,
        values=values,
        errors=errors,
        made=made,
    )


async def token_revoke(view: View) -> Response:
    await view.tool("token_revoke", id=view.request.path_params["id"])
    return view.redirect("/admin/tokens")


async def runners(view: View) -> Response:
    listed = await view.tool("runner_list")
    return _render(view, "admin_runners.html", "runners", runners=listed["runners"])


async def secrets(view: View) -> Response:
    """The vault's secret names (never values), a form to set one and, if allowed, the key rotation."""
    values = {k: "" for k in SECRET_FIELDS}
    errors: dict[str, str] = {}
    saved = None
    if view.request.method == "POST":
        values = {k: view.form.get(k, "").strip() for k in SECRET_FIELDS}
        try:
            result = await view.tool(
                "secret_set",
                name=values["name"],
                value=view.form.get("value", ""),
                description=values["description"] or None,
            )
        except (InvalidArguments, Conflict) as exc:
            errors = _errors(exc, (*SECRET_FIELDS, "value"), "name")
        else:
            saved, values = result["secret"]["name"], {k: "" for k in SECRET_FIELDS}
    return await _secrets_page(view, values=values, errors=errors, saved=saved)


async def _secrets_page(view: View, **context: Any) -> Response:
    listed = await view.tool("secret_list")  # the gate: secrets.use
    status = 422 if context.get("errors") else 200
    context.setdefault("values", {k: "" for k in SECRET_FIELDS})
    context.setdefault("errors", {})
    context.setdefault("saved", None)
    context.setdefault("rotated", None)
    return _render(
        view,
        "admin_secrets.html",
        "secrets",
        status=status,
        secrets=listed["secrets"],
        vault=listed["vault"],
        **context,
    )


async def secret_rotate_key(view: View) -> Response:
    rotated = await view.tool("secret_rotate_key")
    return await _secrets_page(view, rotated=rotated)


def _audit_filters(view: View) -> tuple[dict[str, Any], int]:
    query = view.request.query_params
    filters = {k: query.get(k, "").strip()[:200] for k in AUDIT_FILTERS}
    try:
        offset = max(0, int(query.get("offset", "0")))
    except ValueError:
        offset = 0
    return filters, offset


async def audit(view: View) -> Response:
    """The audit log, newest first, filtered like ``audit_list``; a wrong filter is shown by its field."""
    filters, offset = _audit_filters(view)
    given = {k: v for k, v in filters.items() if v}
    errors: dict[str, str] = {}
    try:
        found = await view.tool("audit_list", limit=AUDIT_PAGE, offset=offset, **given)
    except InvalidArguments as exc:
        errors = _errors(exc, AUDIT_FILTERS, "action")
        found = {"events": [], "total": 0, "next_offset": None}  # nothing matches a filter that is wrong
    return _render(
        view,
        "admin_audit.html",
        "audit",
        status=422 if errors else 200,
        found=found,
        filters=filters,
        kept=given,
        errors=errors,
        newer=max(0, offset - AUDIT_PAGE) if offset else None,
    )
