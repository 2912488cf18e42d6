"""The console's extension pages: the list with real states, a search over every tool with bulk enable and
disable, the check, the prefilled add-from-catalog form and the edit form with env keys from the vault.

Everything goes through the extension tools with the signed-in user's principal. A tool is switched off
by leaving it out of its extension's Goose ``available_tools`` (``extension_update``); the list shows such
tools from ``extension_list``'s ``left_out``, so they can be switched on again. The selection is kept across
searches in the page's address (``sel``), so it survives a search, a reload and a failed action.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hub.console import pages_templates
from hub.console.render import View, digits
from hub.errors import Conflict, InvalidArguments, NotFound, PermissionDenied

SEP = "__"
SHOWN = 200  # tools a search shows at most
NEW = "-new-"  # the secret picker's "enter a new value" choice


def _state(ext: dict[str, Any]) -> str:
    return ext["state"] if ext["enabled"] else "disabled"  # a disabled one is disabled, not "offline"


def _tools(extensions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tool of every extension, served or left out, as ``{id, extension, tool, on}``."""
    rows = []
    for ext in extensions:
        prefix = f"{ext['key']}{SEP}"
        for served in ext["tools"]:
            rows.append({"id": served, "extension": ext["key"], "tool": served.removeprefix(prefix), "on": True})
        for name in ext.get("left_out", []):
            rows.append({"id": prefix + name, "extension": ext["key"], "tool": name, "on": False})
    return sorted(rows, key=lambda r: str(r["id"]))


async def _list(view: View, *, checked: dict[str, Any] | None = None, note: str | None = None, error: str | None = None,
                status: int = 200, selected: list[str] | None = None, q: str | None = None) -> Response:  # fmt: skip
    query = view.request.query_params
    q = (query.get("q", "") if q is None else q).strip()[:200]
    selected = selected if selected is not None else [s for s in query.getlist("sel") if s][:5000]
    listed = await view.tool("extension_list")
    extensions = listed["extensions"]
    tools = _tools(extensions)
    matching = [r for r in tools if q.lower() in str(r["id"]).lower()] if q else []
    return view.render(
        "extensions_list.html",
        status=status,
        nav="extensions",
        extensions=[{**ext, "shown_state": _state(ext)} for ext in extensions],
        q=q,
        matching=matching[:SHOWN],
        more=max(0, len(matching) - SHOWN),
        selected=selected,
        kept=[s for s in selected if s not in {r["id"] for r in matching[:SHOWN]}],
        checked=checked,
        note=note or query.get("note"),
        error=error,
        may_manage=view.may("extension_update"),
        total_tools=len(tools),
    )


async def extensions(view: View) -> Response:
    return await _list(view)


async def extension_check(view: View) -> Response:
    checked = await view.tool("extension_check", name=view.request.path_params["name"])
    return await _list(view, checked=checked, q=view.form.get("q", ""), selected=[])


async def tools_toggle(view: View) -> Response:
    """Bulk enable or disable the selected tools (each extension's ``available_tools``), then list again."""
    form = await view.request.form()
    selected = [str(s) for s in form.getlist("sel") if str(s)]
    q = view.form.get("q", "")
    on = view.form.get("action") == "enable"
    if not selected:
        return await _list(view, error=view.t("ext.none_selected"), status=422, selected=selected, q=q)
    listed = await view.tool("extension_list")
    by_key = {ext["key"]: ext for ext in listed["extensions"]}
    chosen: dict[str, set[str]] = {}
    for tool_id in selected:
        key, _, name = tool_id.partition(SEP)
        if key not in by_key or not name:
            raise NotFound(f"No extension tool {tool_id!r}: search again and pick from the list.")
        chosen.setdefault(key, set()).add(name)
    for key, names in chosen.items():
        ext = by_key[key]
        served = [t.removeprefix(f"{key}{SEP}") for t in ext["tools"]]
        offered = served + list(ext.get("left_out", []))
        keep = [t for t in offered if (t in served or (on and t in names)) and (on or t not in names)]
        if not keep:
            message = view.t("ext.all_off", name=ext["name"])
            return await _list(view, error=message, status=422, selected=selected, q=q)
        available = None if set(keep) == set(offered) else keep
        if available != (ext["config"].get("available_tools") or None):
            await view.tool("extension_update", name=key, changes={"available_tools": available})
    done = view.t("ext.enabled_n" if on else "ext.disabled_n", count=len(selected))
    return view.redirect("/extensions", q=q or None, note=done)


async def _entry(view: View, catalog: str) -> dict[str, Any]:
    """The catalog entry named ``catalog`` with every variable the form asks for (values and secrets)."""
    found = await view.tool("catalog_search", query=catalog.rsplit("/", 1)[-1], limit=50)
    entry = next((e for e in found["entries"] if catalog in (e["name"], e["short_name"])), None)
    if entry is None:
        raise NotFound(f"No catalog entry {catalog!r}. Search the catalog on the extensions page.")
    variables = [
        {"name": v["name"], "secret": v["secret"], "required": v["required"], "description": v["description"] or ""}
        for v in entry["env"]
    ]
    about = f"{entry['title']} {entry['description']}"
    ranked = await view.tool("extension_recommend", prompt=about, limit=20, refine=False)
    mine = next((r for r in ranked["recommendations"] if r["catalog_name"] == entry["name"]), None)
    known = {v["name"] for v in variables}
    for missing in mine["missing"] if mine else []:
        if missing["name"] not in known:
            variables.append(
                {"name": missing["name"], "secret": missing["kind"] == "secret", "required": True,
                 "description": missing["description"]}
            )  # fmt: skip
    return {**entry, "variables": variables}


async def _secret_names(view: View) -> list[str]:
    if not view.may("secret_list"):
        return []
    listed = await view.tool("secret_list")
    return sorted({s["name"] for s in listed["secrets"]})


async def extension_add(view: View) -> Response:
    """The prefilled form for a catalog entry; on submit ``extension_install``, then back to the template."""
    if not view.may("extension_install"):
        raise PermissionDenied("Adding extensions needs extensions.manage.")
    query = view.request.query_params
    catalog = (view.form.get("catalog") or query.get("catalog") or "").strip()
    template = (view.form.get("template") or query.get("template") or "").strip() or None
    if not catalog:
        found = await view.tool("catalog_search", query=query.get("q", "")[:200], limit=50)
        return view.render("extensions_catalog.html", nav="extensions", found=found, q=query.get("q", ""))
    entry = await _entry(view, catalog)
    secrets = await _secret_names(view)
    values = {v["name"]: view.form.get(f"var_{v['name']}", "") for v in entry["variables"]}
    picks = {v["name"]: view.form.get(f"pick_{v['name']}", v["name"] if v["name"] in secrets else NEW)
             for v in entry["variables"] if v["secret"]}  # fmt: skip
    errors: dict[str, str] = {}
    status = 200
    name = view.form.get("name", entry["short_name"])
    if view.request.method == "POST":
        given: dict[str, str] = {}
        for v in entry["variables"]:
            value, pick = values[v["name"]], picks.get(v["name"], NEW)
            if v["secret"] and not value and pick not in (NEW, v["name"]):
                value = (await view.tool("secret_reveal", name=pick))["value"]  # another secret, copied under this name
            if value:
                given[v["name"]] = value
            elif v["required"] and not (v["secret"] and pick == v["name"]):
                errors[f"var_{v['name']}"] = view.t("ext.required")
        if not errors:
            try:
                made = await view.tool(
                    "extension_install", catalog_name=entry["name"], values=given, name=name or None,
                    start=view.form.get("start") == "yes",
                )  # fmt: skip
            except (InvalidArguments, Conflict) as exc:
                errors = {("name" if k in ("name", "") else k): v for k, v in _field(exc).items()}
            else:
                key = made["extension"]["key"]
                if template:
                    await pages_templates.attach(view, template, key)
                    return view.redirect(f"/templates/{template}", attached=key)
                return view.redirect("/extensions", note=view.t("ext.added", name=key))
        status = 422
    return view.render(
        "extensions_add.html", status=status, nav="extensions", entry=entry, for_template=template, values=values,
        picks=picks, secrets=secrets, errors=errors, name=name, new=NEW, start=view.form.get("start") == "yes",
    )  # fmt: skip


def _field(exc: InvalidArguments | Conflict) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors:
        found.setdefault(str(item.get("field", "")).split(".", 1)[0], str(item.get("message", "")))
    return found or {"name": exc.message}


async def extension_edit(view: View) -> Response:
    """Change an extension's env keys (picked from the vault's names), timeout and whether it is enabled."""
    ext = await view.tool("extension_get", name=view.request.path_params["name"])
    secrets = await _secret_names(view)
    keys = list(ext["config"].get("env_keys") or [])
    values = {"timeout": str(ext["config"].get("timeout") or ""), "enabled": "yes" if ext["enabled"] else ""}
    errors: dict[str, str] = {}
    status = 200
    if view.request.method == "POST":
        if not view.may("extension_update"):
            raise PermissionDenied("Changing extensions needs extensions.manage.")
        form = await view.request.form()
        keys = [str(k) for k in form.getlist("env_keys") if str(k)]
        values = {"timeout": view.form.get("timeout", "").strip(), "enabled": view.form.get("enabled", "")}
        changes: dict[str, Any] = {"env_keys": keys}
        if values["timeout"]:
            if not digits(values["timeout"]):
                errors["timeout"] = view.t("ext.timeout_number")
            changes["timeout"] = int(values["timeout"]) if digits(values["timeout"]) else None
        if not errors:
            try:
                await view.tool(
                    "extension_update", name=ext["key"], changes=changes, enabled=values["enabled"] == "yes"
                )
            except InvalidArguments as exc:
                errors = _field(exc)
            else:
                return view.redirect("/extensions", note=view.t("ext.updated", name=ext["key"]))
        status = 422
    return view.render(
        "extensions_edit.html", status=status, nav="extensions", ext=ext, keys=keys, secrets=sorted({*secrets, *keys}),
        values=values, errors=errors,
    )  # fmt: skip
