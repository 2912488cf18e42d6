"""The console's Run page: a template's parameters as a form, and ``template_run`` behind its button.

``GET /ui/templates/<name>/run`` reads the template with ``template_get`` (the gate: another team's
template is the 404 page); the POST turns each field into the parameter's type (a number, a
true/false box, JSON for an object or an array), calls ``template_run`` as the signed-in user and
opens the new execution's page, whose log then arrives live. A refused value is shown next to its
field, with everything typed kept.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from hub.console.render import View
from hub.errors import GoosukeError, InvalidArguments

VISIBILITIES = ("private", "team", "public")


def _value(parameter: dict[str, Any], text: str) -> Any:
    """A field's text as its parameter's type; ``ValueError`` saying what to type when it is not one."""
    key, kind = parameter["key"], parameter.get("input_type", "string")
    if kind == "boolean":
        return text == "on"
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{key}: give a number, such as 3 or 2.5.") from None
        return int(number) if number.is_integer() and "." not in text else number
    if kind in ("object", "array"):
        try:
            return json.loads(text)
        except ValueError:
            example = "{}" if kind == "object" else "[]"
            raise ValueError(f"{key}: give JSON, such as {example}.") from None
    return text


def _params(parameters: list[dict[str, Any]], typed: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The values to run with, and the fields whose text is not of their type."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for parameter in parameters:
        key = parameter["key"]
        text = typed.get(key, "")
        if text == "" and parameter.get("input_type") != "boolean":
            continue  # unset: the tool applies the default, or names the missing required one
        try:
            values[key] = _value(parameter, text)
        except ValueError as exc:
            errors[key] = str(exc)
    return values, errors


def _errors_by_key(exc: GoosukeError, keys: set[str]) -> dict[str, str]:
    """A refusal's messages by parameter key (``params.<key>``); anything else goes with the form."""
    found: dict[str, str] = {}
    for item in exc.errors:
        field = str(item.get("field", ""))
        key = field.removeprefix("params.").split(".", 1)[0] if field.startswith("params.") else ""
        found.setdefault(key if key in keys else "", str(item.get("message", "")))
    return found or {"": exc.message}


async def template_run(view: View) -> Response:
    name = view.request.path_params["name"]
    info = await view.tool("template_get", name=name)  # the gate: hidden templates are the 404 page
    parameters: list[dict[str, Any]] = info.get("parameters") or []
    typed = {p["key"]: "" if p.get("default") is None else _shown(p["default"]) for p in parameters}
    visibility = "private"
    errors: dict[str, str] = {}
    if view.request.method == "POST":
        typed = {p["key"]: view.form.get(f"p.{p['key']}", "") for p in parameters}
        visibility = view.form.get("visibility", "private")
        values, errors = _params(parameters, typed)
        if not errors:
            try:
                run = await view.tool("template_run", name=name, params=values, visibility=visibility)
            except InvalidArguments as exc:
                errors = _errors_by_key(exc, set(typed))
            else:
                return view.redirect(f"/executions/{run['id']}")
    return view.render(
        "run.html",
        status=422 if errors else 200,
        nav="templates",
        info=info,
        parameters=parameters,
        typed=typed,
        visibility=visibility,
        visibilities=VISIBILITIES,
        errors=errors,
    )


def _shown(value: Any) -> str:
    """A default value as its field holds it."""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
