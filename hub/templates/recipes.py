"""Goose recipe interop: a recipe read as a template definition, a definition written as a recipe.

An exported recipe is valid for ``goose recipe validate`` and runs with ``goose run --recipe``; when the
template lists the ``goosuke`` extension, the hub is added as a ``streamable_http`` extension whose
bearer token comes from ``GOOSUKE_TOKEN`` in Goose's environment.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent
from ruamel.yaml.scalarstring import LiteralScalarString

from hub.errors import InvalidArguments, describe_validation_errors
from hub.extensions.access import run_may_have
from hub.extensions.schema import DEFAULT_EXTENSION_TIMEOUT, GOOSE_BUILTINS, HUB_EXTENSION, hub_extension
from hub.extensions.store import ExtensionRecord, ExtensionStore
from hub.principal import Principal
from hub.templates.definition import TemplateDefinition

MAX_RECIPE_CHARS = 500_000  # a recipe's text
MAX_RECIPE_DEPTH = 32  # nested mappings and lists (Goose recipes need about 6)
MAX_RECIPE_EXPANDED = MAX_RECIPE_CHARS  # what the document weighs with every alias expanded (characters)


def _recipe_error(message: str, kind: str) -> InvalidArguments:
    return InvalidArguments(message, errors=[{"field": "recipe", "message": message, "type": kind}])


def _check_shape(text: str) -> None:
    """Walk the YAML events (an iterative parser: no recursion) before anything is built: refuse a document
    nested deeper than :data:`MAX_RECIPE_DEPTH`, or whose aliases would expand it beyond
    :data:`MAX_RECIPE_EXPANDED` characters (a "billion laughs" alias bomb). Aliases within that budget
    are fine."""
    weights: dict[str, int] = {}
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, weight so far) of each open collection
    total = 0
    for event in YAML(typ="safe", pure=True).parse(text):
        if isinstance(event, CollectionStartEvent):
            if len(open_nodes) >= MAX_RECIPE_DEPTH:
                raise _recipe_error(
                    f"The recipe is nested more than {MAX_RECIPE_DEPTH} levels deep; flatten it.", "recipe_depth"
                )
            open_nodes.append((event.anchor, 1))
            continue
        if isinstance(event, CollectionEndEvent):
            anchor, weight = open_nodes.pop()
        elif isinstance(event, ScalarEvent):
            anchor, weight = event.anchor, len(event.value) + 1
        elif isinstance(event, AliasEvent):
            anchor, weight = None, weights.get(str(event.anchor), 1)
        else:
            continue
        if anchor is not None:
            weights[str(anchor)] = weight
        if open_nodes:
            parent_anchor, parent_weight = open_nodes[-1]
            open_nodes[-1] = (parent_anchor, parent_weight + weight)
        else:
            total += weight
        if weight > MAX_RECIPE_EXPANDED or total > MAX_RECIPE_EXPANDED:
            raise _recipe_error(
                f"The recipe's aliases (*name) expand it beyond {MAX_RECIPE_EXPANDED} characters; write the "
                "repeated parts out or drop the aliases.",
                "recipe_aliases",
            )


def parse_recipe(text: str) -> Any:
    """The recipe's YAML (or JSON) as data.

    Raises:
        InvalidArguments: it is not valid YAML, or too long, too deep or an alias bomb (field ``recipe``).
    """
    if len(text) > MAX_RECIPE_CHARS:
        raise _recipe_error(f"The recipe is longer than {MAX_RECIPE_CHARS} characters.", "too_long")
    try:
        _check_shape(text)
        return YAML(typ="safe").load(text)
    except YAMLError as exc:
        message = f"The recipe is not valid YAML: {exc}".splitlines()[0]
        raise _recipe_error(message, "yaml_syntax") from None
    except RecursionError:  # a shape the event walk let through and the composer could not build
        raise _recipe_error(
            f"The recipe is nested too deeply (at most {MAX_RECIPE_DEPTH} levels).", "recipe_depth"
        ) from None


def dump_recipe(recipe: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The recipe as YAML text (multi-line strings as blocks), and as the plain data that text reads back as."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(recipe, out)
    return out.getvalue(), YAML(typ="safe").load(out.getvalue())


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64]
    return value or "imported-recipe"


def _extension_name(entry: dict[str, Any], hub_url: str) -> str:
    name = str(entry.get("name") or "")
    uri = str(entry.get("uri") or "")
    if entry.get("type") == "streamable_http" and (name == HUB_EXTENSION or uri.rstrip("/") == hub_url):
        return HUB_EXTENSION
    return name


def definition_from_recipe(
    data: Any, *, name: str | None, agent: str, hub_url: str
) -> tuple[TemplateDefinition, list[str]]:
    """Map a parsed recipe onto a template definition named ``name`` (default: from its title) for
    ``agent``; return it with warnings about what was left behind. ``hub_url`` is the hub's ``/mcp``."""
    if not isinstance(data, dict):
        raise InvalidArguments("The recipe must be a YAML mapping with title, description and prompt.")
    warnings: list[str] = []
    prompt, instructions = data.get("prompt"), data.get("instructions")
    if not prompt:
        if not instructions:
            raise InvalidArguments("The recipe has neither prompt nor instructions; a template needs a prompt.")
        prompt, instructions = instructions, None
        warnings.append("The recipe has no prompt: its instructions became the template's prompt.")
    parameters = []
    for p in data.get("parameters") or []:
        if isinstance(p, dict) and p.get("input_type") == "file":
            raise InvalidArguments(
                f"Parameter {p.get('key')!r} is a file parameter, which the hub cannot read from your disk. "
                "Change it to a string parameter that takes the content."
            )
        parameters.append(
            {
                k: v
                for k, v in (p or {}).items()
                if k in ("key", "input_type", "requirement", "default", "options", "description")
            }
        )
    extensions = []
    for entry in data.get("extensions") or []:
        extension = _extension_name(entry if isinstance(entry, dict) else {}, hub_url)
        if extension:
            extensions.append(extension)
            if extension != HUB_EXTENSION and extension not in GOOSE_BUILTINS:
                warnings.append(
                    f"Extension {extension!r} must be known to the hub (extension tools) for runs to get it."
                )
    settings = data.get("settings") or {}
    agent_settings: dict[str, Any] = {}
    if settings.get("goose_provider"):
        agent_settings["provider"] = settings["goose_provider"]
    if settings.get("goose_model"):
        agent_settings["model"] = settings["goose_model"]
    if settings.get("max_turns"):
        agent_settings["max_turns"] = settings["max_turns"]
    if settings.get("temperature") is not None:
        agent_settings["temperature"] = settings["temperature"]
    retry = data.get("retry") or {}
    if retry.get("max_retries"):
        agent_settings["retries"] = min(int(retry["max_retries"]), 10)
        if retry.get("checks"):
            warnings.append(
                "The recipe's retry checks (shell commands) are not run by the hub; only the count is kept."
            )
    if (data.get("response") or {}).get("json_schema"):
        agent_settings["response_schema"] = data["response"]["json_schema"]
    for key in ("activities", "sub_recipes"):
        if data.get(key):
            warnings.append(f"The recipe's {key} are not supported by the hub and were left out.")
    title = str(data.get("title") or name or "Imported recipe")
    try:
        definition = TemplateDefinition.model_validate(
            {
                "name": name or slug(title),
                "title": title,
                "description": str(data.get("description") or ""),
                "prompt": prompt,
                "instructions": instructions,
                "parameters": parameters,
                "extensions": list(dict.fromkeys(extensions)),
                "agent": agent,
                "agent_settings": agent_settings,
            }
        )
    except ValidationError as exc:
        details = describe_validation_errors(exc.errors())
        fields = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise InvalidArguments(f"The recipe does not make a valid template: {fields}.", errors=details) from None
    return definition, warnings


async def shown_extension(
    store: ExtensionStore, name: str, principal: Principal | None, team: str | None, creator: str | None
) -> ExtensionRecord | None:
    """The extension ``name`` as a recipe may carry it: one ``principal`` may see (``extensions.read``, the
    object policy) that a run of the template's ``team`` made by ``creator`` may have
    (:func:`hub.extensions.access.run_may_have`). None otherwise, so another team's extension is neither
    copied into a recipe nor disclosed by one (``None`` principal and team: the hub itself)."""
    record = await store.find(name, principal)
    if record is None or (team is not None and not run_may_have(record, team, creator)):
        return None
    return record


async def recipe_of(
    definition: TemplateDefinition,
    *,
    hub_url: str,
    store: ExtensionStore | None,
    principal: Principal | None,
    team: str | None,
    creator: str | None = None,
) -> dict[str, Any]:
    """A Goose recipe for ``definition``: the hub (at ``hub_url``, its ``/mcp``) as an extension when the
    template uses it, the extensions of ``store`` that ``principal`` may see and the template's ``team``
    (made by ``creator``) may use as their Goose entries; any other name as a Goose built-in."""

    def text(value: str) -> Any:
        return LiteralScalarString(value) if "\n" in value else value

    recipe: dict[str, Any] = {
        "version": "1.0.0",
        "title": definition.title,
        "description": definition.description or definition.title,
    }
    if definition.instructions:
        recipe["instructions"] = text(definition.instructions)
    recipe["prompt"] = text(definition.prompt)
    if definition.parameters:
        recipe["parameters"] = []
        for p in definition.parameters:
            entry: dict[str, Any] = {
                "key": p.key,
                "input_type": p.input_type,
                "requirement": p.requirement,
                "description": p.description or p.key,
            }
            if p.default is not None:
                entry["default"] = p.default if isinstance(p.default, str | int | float | bool) else str(p.default)
            if p.options:
                entry["options"] = list(p.options)
            recipe["parameters"].append(entry)
    extensions = []
    for name in definition.extensions:
        if name == HUB_EXTENSION:
            extensions.append(hub_extension(hub_url))
        elif store is not None and (record := await shown_extension(store, name, principal, team, creator)):
            entry = dict(record.goose_entry())
            entry.pop("enabled", None)
            extensions.append(entry)
        else:
            extensions.append({"type": "builtin", "name": name, "timeout": DEFAULT_EXTENSION_TIMEOUT})
    if extensions:
        recipe["extensions"] = extensions
    options = definition.agent_settings
    settings = {
        k: v
        for k, v in (
            ("goose_model", options.model),
            ("temperature", options.temperature),
            ("max_turns", options.max_turns),
        )
        if v is not None
    }
    if settings:
        recipe["settings"] = settings
    if options.response_schema is not None:
        recipe["response"] = {"json_schema": options.response_schema}
    return recipe
