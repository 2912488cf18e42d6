"""Goose recipe interop tools: import a recipe as a template, export a template as a recipe
(the conversion is ``hub/templates/recipes.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.errors import NotFound
from hub.extensions.store import ExtensionStore
from hub.plugin import Arguments
from hub.runners.service import Runners
from hub.teams.policy import DEFAULT_TEAM_ID, Visibility
from hub.templates import access, store
from hub.templates.definition import NAME_PATTERN, InlineSettings
from hub.templates.recipes import definition_from_recipe, dump_recipe, parse_recipe, recipe_of
from hub.templates.store import TemplateInfo
from tools.templates import TEAM_HELP, VISIBILITY_HELP, notify, resolve, save_new, share

plugin = Plugin("recipes")

MAX_RECIPE_CHARS = 500_000


class RecipeImport(Arguments):
    recipe: str = Field(min_length=1, max_length=MAX_RECIPE_CHARS, description="The recipe, as YAML (or JSON) text.")
    name: str | None = Field(default=None, pattern=NAME_PATTERN, description="Template name; default: from the title.")
    agent: str = Field(default="goose", max_length=32, description="Agent that runs the template.")
    replace: bool = Field(default=False, description="Overwrite a template of the same name (its version goes up).")
    team: str | None = Field(
        default=None, max_length=64, description=TEAM_HELP + " With replace: move the replaced template there."
    )
    visibility: Visibility | None = Field(
        default=None, description=VISIBILITY_HELP + " Default: team for a new one; with replace, kept unless given."
    )


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
    extensions and settings carry over. The template goes to `team` (default: your own) with `visibility`.
    Set replace to overwrite a template of the same name (one your team may change, not a built-in one;
    the change is audited with the triggers that run it)."""
    data = parse_recipe(args.recipe)
    settings = data.get("settings") if isinstance(data, dict) else None
    provider = settings.pop("goose_provider", None) if isinstance(settings, dict) else None
    definition, warnings = definition_from_recipe(
        data, name=args.name, agent=args.agent, hub_url=f"{call.app.settings.base_url}/mcp"
    )
    inline = InlineSettings(provider=str(provider)) if provider else None  # a runner's: admins only
    sharing: access.Sharing | None = None
    async with call.app.db.session() as session:  # every check before anything is written
        exists = await store.find_row(session, definition.name) is not None
        if exists and args.replace:
            row = await access.changeable_row(session, call.principal, definition.name, "replaced")
            sharing = await access.new_sharing(session, call.principal, row, args.team, args.visibility)
    if sharing is None:
        template = await save_new(call, definition, inline, team=args.team, visibility=args.visibility)
        return RecipeImported(template=template, warnings=warnings)
    definition = await resolve(call, definition, inline, team_id=sharing.team_id)
    async with call.app.db.session() as session:
        row = await access.changeable_row(session, call.principal, definition.name, "replaced")
        row = await store.replace(session, row, definition, call.principal.name)
        if sharing.changed:
            await share(call, session, row, sharing)
        info = await access.info_of(session, row)
    await notify(call, definition.name)
    return RecipeImported(template=info, warnings=warnings)


@plugin.tool(read_only=True, permission="templates.read")
async def template_export_recipe(call: Call, args: RecipeExportArgs) -> RecipeExported:
    """Export a template as a Goose recipe (YAML) that `goose recipe validate` accepts and `goose run
    --recipe` runs. Templates that use the goosuke extension get the hub as a streamable_http extension
    (set GOOSUKE_TOKEN in Goose's environment to a hub token)."""
    async with call.app.db.session() as session:
        row = await access.visible_row(session, call.principal, args.name)
        definition, version = store.definition_of(row), row.version
    recipe = await recipe_of(  # only extensions the caller sees and the template's team may use
        definition,
        hub_url=f"{call.app.settings.base_url}/mcp",
        store=call.app.services.find(ExtensionStore),
        principal=call.principal,
        team=row.team_id or DEFAULT_TEAM_ID,
        creator=row.created_by,
    )
    if definition.runner is not None:  # the runner's provider, as Goose's own setting (if the caller sees it)
        try:
            runner, _, _ = await call.app.services.get(Runners).get(definition.runner, call.principal)
        except NotFound:
            runner = None
        if runner is not None and runner.provider:
            recipe.setdefault("settings", {})["goose_provider"] = runner.provider
    text, plain = dump_recipe(recipe)
    return RecipeExported(name=args.name, version=version, recipe_yaml=text, recipe=plain)
