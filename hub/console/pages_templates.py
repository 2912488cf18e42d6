"""The console's template pages: the list, the editor (parameters, live check and preview, recommended extensions).

Reads and saves go through ``template_list``, ``template_get``, ``template_create`` and ``template_update``
with the signed-in user's principal. The editor's live part (``/ui/templates/-draft``, posted by
``static/templates.js`` as the user types) checks the unsaved draft with the tool a save would call, in
its ``dry_run`` (``template_create``, or ``template_update`` for a saved template: every check, nothing
written), then renders the checked prompt in the template sandbox with the sample values; it also asks
``extension_recommend`` (offline ranking, no model run per keystroke) for the extensions the prompt needs.
A recommendation's "Add" saves the template and opens the prefilled extension form (``pages_extensions.add``),
which comes back to the editor with the extension attached. The editor also lists the template's versions
(``pages_history``: ``template_history``, and a diff of two of them).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.responses import JSONResponse, Response

from hub import jsonlimits
from hub.console import pages_history
from hub.console.render import HEADERS, View, digits, field_errors
from hub.errors import BadRequest, Conflict, GoosukeError, InvalidArguments, PermissionDenied
from hub.templates.definition import TemplateDefinition, bind_values
from hub.templates.rendering import render_async

PAGE = 50
TYPES = ("string", "number", "boolean", "date", "select", "object", "array")
REQUIREMENTS = ("required", "optional")
AGENTS = ("", "goose", "openai", "command", "sampling")
RECOMMEND = 5
PARAM_FIELDS = ("key", "type", "requirement", "default", "description", "sample")


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("\n", ",").split(",") if w.strip()]


def _rows(form: FormData) -> list[dict[str, str]]:
    """The parameter rows of the editor's form (repeated ``param_*`` fields), blank rows left out."""
    columns = {name: [str(v) for v in form.getlist(f"param_{name}")] for name in PARAM_FIELDS}
    count = max(len(values) for values in columns.values())
    rows = []
    for i in range(count):
        row = {name: (values[i] if i < len(values) else "") for name, values in columns.items()}
        if any(row[name].strip() for name in ("key", "default", "description", "sample")):
            rows.append(row)
    return rows


def _parameters(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    params = []
    for row in rows:
        param: dict[str, Any] = {
            "key": row["key"].strip(),
            "input_type": row["type"] or "string",
            "requirement": row["requirement"] or "required",
            "description": row["description"],
        }
        if row["default"] != "":
            param["default"] = _default(row)
        params.append(param)
    return params


def _draft(form: FormData) -> dict[str, Any]:
    """What the editor shows and saves: the form's fields, as typed."""
    return {
        "name": str(form.get("name", "")).strip(),
        "title": str(form.get("title", "")),
        "description": str(form.get("description", "")),
        "prompt": str(form.get("prompt", "")),
        "instructions": str(form.get("instructions", "")),
        "agent": str(form.get("agent", "")),
        "runner": str(form.get("runner", "")).strip(),
        "tags": str(form.get("tags", "")),
        "extensions": str(form.get("extensions", "")),
        "version": str(form.get("version", "")),
        "rows": _rows(form),
    }


def _arguments(draft: dict[str, Any]) -> dict[str, Any]:
    """The draft as ``template_create``'s arguments."""
    return {
        "name": draft["name"],
        "title": draft["title"],
        "description": draft["description"],
        "prompt": draft["prompt"],
        "instructions": draft["instructions"] or None,
        "parameters": _parameters(draft["rows"]),
        "extensions": _words(draft["extensions"]),
        "agent": draft["agent"] or None,
        "runner": draft["runner"] or None,
        "tags": _words(draft["tags"]),
    }


def _of_template(info: dict[str, Any]) -> dict[str, Any]:
    """A saved template as the editor's draft."""
    rows = [
        {
            "key": p["key"],
            "type": p["input_type"],
            "requirement": p["requirement"],
            "default": "" if p.get("default") is None else str(p["default"]),
            "description": p.get("description", ""),
            "sample": "",
        }
        for p in info["parameters"]
    ]
    return {
        "name": info["name"],
        "title": info["title"],
        "description": info["description"],
        "prompt": info["prompt"],
        "instructions": info["instructions"] or "",
        "agent": info["agent"] or "",
        "runner": info["runner"] or "",
        "tags": ", ".join(info["tags"]),
        "extensions": ", ".join(info["extensions"]),
        "version": str(info["version"]),
        "rows": rows,
        "builtin": bool(info.get("builtin")),
    }


def _blank() -> dict[str, Any]:
    fields = {k: "" for k in ("name", "title", "description", "prompt", "instructions", "agent", "runner")}
    return {**fields, "tags": "", "extensions": "", "version": "", "rows": []}


def _errors(exc: GoosukeError, rows: list[dict[str, str]]) -> dict[str, str]:
    """Field errors keyed as the editor names its fields: ``parameters.who`` is the row of ``who`` (or, when no
    row has that key, the parameters' own error); ``parameters.1.key`` is the second row."""
    keys = [row["key"].strip() for row in rows]
    found: dict[str, str] = {}
    for item in exc.errors:
        head, _, rest = str(item.get("field", "")).partition(".")
        key = head or "form"
        if head == "parameters" and rest:
            which = rest.split(".", 1)[0]
            if digits(which) and int(which) < len(keys):
                which = keys[int(which)]
            key = f"param:{which}" if which in keys else "parameters"
        message = str(item.get("message", ""))
        found[key] = f"{found[key]}; {message}" if key in found else message
    return found or {"form": exc.message}


def _default(row: dict[str, str]) -> Any:
    """A parameter row's default as its type (what a recipe's YAML would give): 2, true, [..], or the text."""
    text = row["default"]
    if row["type"] in ("number", "boolean", "object", "array"):
        try:
            return jsonlimits.loads(text)
        except BadRequest:  # not JSON, or nested past the hub's limit: kept as typed
            return text
    return text


async def templates(view: View) -> Response:
    """The list, filtered by text, tag and agent, a page at a time."""
    query = view.request.query_params
    filters = {
        "search": query.get("search", "").strip()[:200] or None,
        "tag": query.get("tag", "").strip()[:64] or None,
        "agent": query.get("agent") if query.get("agent") in AGENTS[1:] else None,
    }
    try:
        offset = max(0, int(query.get("offset", "0")))
    except ValueError:
        offset = 0
    found = await view.tool("template_list", limit=PAGE, offset=offset, **filters)
    return view.render(
        "templates_list.html", nav="templates", found=found, filters=filters, agents=AGENTS, offset=offset, page=PAGE
    )


def _editor(
    view: View,
    draft: dict[str, Any],
    *,
    new: bool,
    errors: dict[str, str],
    status: int = 200,
    history: dict[str, Any] | None = None,
) -> Response:
    return view.render(
        "templates_edit.html",
        status=status,
        nav="templates",
        draft=draft,
        new=new,
        errors=errors,
        types=TYPES,
        requirements=REQUIREMENTS,
        agents=AGENTS,
        attached=view.request.query_params.get("attached"),
        saved=view.request.query_params.get("saved"),
        may_save=view.may("template_create"),
        history=history,
    )


async def template_new(view: View) -> Response:
    if view.request.method == "POST":
        return await _save(view, new=True)
    if not view.may("template_create"):
        raise PermissionDenied("Creating templates needs templates.manage.")
    return _editor(view, _blank(), new=True, errors={})


async def template_edit(view: View) -> Response:
    if view.request.method == "POST":
        return await _save(view, new=False)
    info = await view.tool("template_get", name=view.request.path_params["name"])
    history = await pages_history.versions(view, info["name"])
    return _editor(view, _of_template(info), new=False, errors={}, history=history)


async def _save(view: View, *, new: bool) -> Response:
    """Create or update from the editor's form; then go where its button said (stay, add or attach)."""
    if not view.may("template_create" if new else "template_update"):
        raise PermissionDenied("Changing templates needs templates.manage.")
    form = await view.request.form()
    draft = _draft(form)
    then = view.form.get("then", "")
    if then == "add_param":  # the no-script way to get another parameter row
        draft["rows"].append(dict.fromkeys(PARAM_FIELDS, ""))
        return _editor(view, draft, new=new, errors={})
    if then.startswith("attach:"):
        names = _words(draft["extensions"])
        draft["extensions"] = ", ".join([*names, then[7:]] if then[7:] not in names else names)
    try:
        tool, arguments = _saving(draft, None if new else view.request.path_params["name"])
        saved = await view.tool(tool, **arguments)
    except (InvalidArguments, Conflict) as exc:
        return _editor(
            view, draft, new=new, errors=_errors(exc, draft["rows"]), status=422 if exc.status == 422 else exc.status
        )
    if then.startswith("add:"):
        return view.redirect("/extensions/add", catalog=then[4:], template=saved["name"])
    return view.redirect(f"/templates/{saved['name']}", saved=saved["version"])


def _saving(draft: dict[str, Any], name: str | None, *, dry_run: bool = False) -> tuple[str, dict[str, Any]]:
    """The tool call that saves ``draft``: ``template_create``, or ``template_update`` of template ``name``
    (at the version the editor was opened on)."""
    arguments = _arguments(draft)
    if dry_run:
        arguments["dry_run"] = True
    if name is None:
        return "template_create", arguments
    del arguments["name"]
    arguments["instructions"] = arguments["instructions"] or ""
    version = int(draft["version"]) if digits(draft["version"]) else None
    return "template_update", {"name": name, "expected_version": version, **arguments}


async def _checked(view: View, draft: dict[str, Any]) -> tuple[dict[str, str], TemplateDefinition | None]:
    """The draft checked by the tool a save would call, in its dry run (nothing written): field errors, or
    the definition it would store. A user who may not save it (a viewer, a built-in) gets neither."""
    placeholder = not draft["name"]
    if placeholder:
        draft = {**draft, "name": "draft"}
    name = draft["name"] if draft["version"] else None
    try:
        tool, arguments = _saving(draft, name, dry_run=True)
        if not view.may(tool):
            raise PermissionDenied(f"{tool} is not yours to call.")
        info = await view.tool(tool, **arguments)
    except (InvalidArguments, Conflict) as exc:
        errors = _errors(exc, draft["rows"])
        if placeholder:
            errors.pop("name", None)
        return errors, None
    except PermissionDenied:  # no preview either: over MCP, only a template one may see renders (template_render)
        return {}, None
    return {}, TemplateDefinition.model_validate({k: info[k] for k in TemplateDefinition.model_fields})


async def _preview(view: View, draft: dict[str, Any]) -> tuple[dict[str, str], str | None, str | None]:
    """Check the draft with the saving tool's dry run and render it with the sample values; nothing is stored."""
    errors, definition = await _checked(view, draft)
    if definition is None:
        return errors, None, None
    samples = {row["key"].strip(): row["sample"] for row in draft["rows"] if row["sample"] != ""}
    try:
        values = bind_values(definition.parameters, samples)
        prompt = await render_async(definition.prompt, values)
        instructions = (
            await render_async(definition.instructions, values, "instructions") if definition.instructions else None
        )
    except InvalidArguments as exc:
        return {f"sample:{k}": v for k, v in field_errors(exc).items()}, None, None
    return {}, prompt, instructions


async def template_draft(view: View) -> Response:
    """The editor's live part as JSON: field errors, the rendered preview and the recommended extensions."""
    if not view.may("template_render"):
        raise PermissionDenied("Previewing templates needs templates.read.")
    draft = _draft(await view.request.form())
    errors, prompt, instructions = await _preview(view, draft)
    recommended: list[dict[str, Any]] = []
    if draft["prompt"].strip() and view.may("extension_recommend"):
        found = await view.tool("extension_recommend", prompt=draft["prompt"][:4000], limit=RECOMMEND, refine=False)
        recommended = found["recommendations"]
    html = view.fragment("_templates_recommend.html", recommended=recommended, attached=_words(draft["extensions"]))
    body = {"errors": errors, "prompt": prompt, "instructions": instructions, "recommendations": html}
    return JSONResponse(body, headers=HEADERS)


async def attach(view: View, template: str, extension: str) -> None:
    """Add ``extension`` to ``template``'s extensions (after the extension form installed it)."""
    info = await view.tool("template_get", name=template)
    if extension not in info["extensions"]:
        await view.tool(
            "template_update",
            name=template,
            extensions=[*info["extensions"], extension],
            expected_version=info["version"],
        )
