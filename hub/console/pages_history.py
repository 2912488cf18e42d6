"""The console's template history: the editor's list of versions and the diff of two of them.

The list is ``template_history``; the diff page (``/ui/templates/{name}/diff?a=N&b=M``) reads both versions
with ``template_version_get`` (so it shows exactly what the caller may see over MCP: another team's private
template is the 404 page), dumps each definition as YAML (multi-line prompts as blocks) and shows
``difflib.unified_diff`` of the two, line by line, autoescaped, added and removed lines marked by class.
"""

from __future__ import annotations

import difflib
import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString
from starlette.responses import Response

from hub.console.render import View, digits
from hub.errors import InvalidArguments

HISTORY = 20
CONTEXT = 3


async def versions(view: View, name: str) -> dict[str, Any] | None:
    """The newest versions of template ``name`` for the editor, or None when the user may not list them."""
    if not view.may("template_history"):
        return None
    return await view.tool("template_history", name=name, limit=HISTORY)


def _blocks(value: Any) -> Any:
    """``value`` with its multi-line strings as YAML literal blocks (a prompt diffs line by line)."""
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    if isinstance(value, dict):
        return {k: _blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blocks(v) for v in value]
    return value


def as_yaml(definition: dict[str, Any]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(_blocks(definition), out)
    return out.getvalue()


def diff_lines(name: str, a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str]]:
    """The unified diff of two versions' YAML as (kind, line): kind is add, del, hunk, file or same."""
    found = []
    lines = difflib.unified_diff(
        as_yaml(a["definition"]).splitlines(),
        as_yaml(b["definition"]).splitlines(),
        fromfile=f"{name} v{a['version']}",
        tofile=f"{name} v{b['version']}",
        n=CONTEXT,
        lineterm="",
    )
    for line in lines:
        if line.startswith(("---", "+++")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        found.append((kind, line))
    return found


def _version(view: View, key: str) -> int | None:
    text = view.request.query_params.get(key, "").strip()
    if not text:
        return None
    if not digits(text) or int(text) < 1:
        raise InvalidArguments(f"{key} must be a version number (1, 2, ...), not {text[:20]!r}.")
    return int(text)


async def template_diff(view: View) -> Response:
    """Two versions of a template side by side as a unified diff; ``b`` defaults to the current version and
    ``a`` to the one before ``b``."""
    name = view.request.path_params["name"]
    a, b = _version(view, "a"), _version(view, "b")
    if b is None:
        b = int((await view.tool("template_get", name=name))["version"])
    if a is None:
        a = max(1, b - 1)
    older = await view.tool("template_version_get", name=name, version=a)
    newer = await view.tool("template_version_get", name=name, version=b)
    listed = await versions(view, name)
    return view.render(
        "templates_diff.html",
        nav="templates",
        name=name,
        a=older,
        b=newer,
        lines=diff_lines(name, older, newer),
        history=listed,
    )
