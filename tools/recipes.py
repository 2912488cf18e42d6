"""Goose recipe interop tools: import a recipe as a template, export a template as a recipe
(the conversion is ``hub/templates/recipes.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.extensions.store import ExtensionStore
from hub.plugin import Arguments
from hub.runners.service import Runners
from hub.templates import store
from hub.templates.definition import NAME_PATTERN, InlineSettings
from hub.templates.recipes import definition_from_recipe, dump_recipe, parse_recipe, recipe_of
from hub.templates.store import TemplateInfo
from tools.templates import notify, resolve, save_new

plugin = Plugin("recipes")

MAX_RECIPE_CHARS = 500_000


class RecipeImport(Arguments):
    recipe: str = Field(min_length=1, max_length=MAX_RECIPE_CHARS, description="The recipe, as YAML (or JSON) text.")
    name: str | None = Field(default=None, pattern=NAME_PATTERN, description="Template name; default: from the title.")
    agent: str = Field(default="goose", max_length=32, description="Agent that runs the template.")
    replace: bool = Field(default=False, description="Overwrite a template of the same name (its version goes up).")


class RecipeImported(BaseModel):
    template: TemplateInfo
    warnings: list[str] = Field(description="Parts of the recipe the hub could not carry over.")


class RecipeExportArgs(Arguments):
    name: str = Field(pattern=NAME_PATTERN, description="The template to export.")


class RecipeExported(BaseModel):
    name: str
    version: int
    recipe_yaml: str = Field(description="The Goose recipe; save it as recipe.yaml and run `goose run --recipe`.")
    recipe: dict[str, Any]


@plugin.tool(permission="templates.manage")
async def template_import_recipe(call: Call, args: RecipeImport) -> RecipeImported:
    """Import a Goose recipe (YAML) as a template: title, description, instructions, prompt, parameters,
    extensions and settings carry over. Set replace to overwrite a template of the same name (not a
    built-in one; the change is audited with the triggers that run it)."""
    data = parse_recipe(args.recipe)
    settings = data.get("settings") if isinstance(data, dict) else None
    provider = settings.pop("goose_provider", None) if isinstance(settings, dict) else None
    definition, warnings = definition_from_recipe(
        data, name=args.name, agent=args.agent, hub_url=f"{call.app.settings.base_url}/mcp"
    )
    inline = InlineSettings(provider=str(provider)) if provider else None  # a runner's: admins only
    async with call.app.db.session() as session:
        existing = await store.find_row(session, definition.name)
        if existing is not None and args.replace:
            store.refuse_builtin(existing, "replaced")
        exists = existing is not None
    if not (exists and args.replace):
        return RecipeImported(template=await save_new(call, definition, inline), warnings=warnings)
    definition = await resolve(call, definition, inline)
    async with call.app.db.session() as session:
        row = await store.get_row(session, definition.name)
        info = TemplateInfo.of(await store.replace(session, row, definition, call.principal.name))
    await notify(call, definition.name)
    return RecipeImported(template=info, warnings=warnings)


@plugin.tool(read_only=True, permission="templates.read")
async def template_export_recipe(call: Call, args: RecipeExportArgs) -> RecipeExported:
    """Export a template as a Goose recipe (YAML) that `goose recipe validate` accepts and `goose run
    --recipe` runs. Templates that use the goosuke extension get the hub as a streamable_http extension
    (set GOOSUKE_TOKEN in Goose's environment to a hub token)."""
    async with call.app.db.session() as session:
        row = await store.get_row(session, args.name)
        definition, version = store.definition_of(row), row.version
    recipe = await recipe_of(
        definition, hub_url=f"{call.app.settings.base_url}/mcp", store=call.app.services.find(ExtensionStore)
    )
    if definition.runner is not None:  # the runner's provider, as Goose's own setting
        runner, _, _ = await call.app.services.get(Runners).get(definition.runner)
        if runner.provider:
            recipe.setdefault("settings", {})["goose_provider"] = runner.provider
    text, plain = dump_recipe(recipe)
    return RecipeExported(name=args.name, version=version, recipe_yaml=text, recipe=plain)
