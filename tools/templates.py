"""Task templates: create, change, copy, delete, read, list and dry-run them.

A template is a prompt with typed parameters (Goose recipe semantics), the extensions its run
needs and the agent that runs it. Every change bumps its version; runs record the version and the
rendered prompt. Running one is ``template_run`` (tools/executions.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hub import Call, Plugin, Role
from hub.plugin import Arguments
from hub.templates import preview as previews
from hub.templates import store
from hub.templates.definition import NAME_PATTERN, AgentSettings, Parameter, TemplateDefinition
from hub.templates.store import TemplateInfo, TemplateSummary

plugin = Plugin("templates")

NAME = Field(pattern=NAME_PATTERN, description="The template's name, e.g. meeting-summary.")


class TemplateName(Arguments):
    name: str = NAME


class TemplateUpdate(Arguments):
    """Fields to change; the ones left out keep their value."""

    name: str = NAME
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    prompt: str | None = Field(default=None, min_length=1)
    instructions: str | None = Field(default=None, description="Send an empty string to remove them.")
    parameters: list[Parameter] | None = None
    extensions: list[str] | None = None
    agent: str | None = None
    agent_settings: AgentSettings | None = None
    tags: list[str] | None = None
    expected_version: int | None = Field(
        default=None, description="Refuse the change unless the template is still at this version."
    )


class TemplateCopy(Arguments):
    name: str = NAME
    new_name: str = Field(pattern=NAME_PATTERN, description="Name of the copy.")
    title: str | None = Field(default=None, max_length=200, description="Title of the copy (default: the same).")


class TemplateListArgs(Arguments):
    tag: str | None = Field(default=None, max_length=40, description="Only templates with this tag.")
    agent: str | None = Field(default=None, max_length=32, description="Only templates run by this agent.")
    search: str | None = Field(default=None, max_length=200, description="Text in the name, title or description.")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class TemplateList(BaseModel):
    templates: list[TemplateSummary]
    total: int = Field(description="Templates matching the filters, over all pages.")
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last page.")


class TemplateRenderArgs(Arguments):
    name: str = NAME
    params: dict[str, Any] = Field(default_factory=dict, description="Parameter values by key.")


class Rendered(BaseModel):
    name: str
    version: int
    params: dict[str, Any] = Field(description="The values used, converted to their types, defaults filled in.")
    prompt: str
    instructions: str | None


class Deleted(BaseModel):
    name: str
    version: int = Field(description="The version that was deleted.")


async def notify(call: Call, name: str) -> None:
    server = call.app.server
    if server is not None:
        await server.notify_resource_updated(f"goosuke://templates/{name}")


def agents(call: Call) -> dict[str, Any]:
    return call.app.registry.provided("agent")


async def save_new(call: Call, definition: TemplateDefinition) -> TemplateInfo:
    previews.validate(definition, agents(call))
    async with call.app.db.session() as session:
        info = TemplateInfo.of(await store.create(session, definition, call.principal.name))
    await notify(call, definition.name)
    return info


@plugin.tool(role=Role.operator)
async def template_create(call: Call, args: TemplateDefinition) -> TemplateInfo:
    """Create a task template: a Jinja prompt (and optional instructions) with typed parameters, the agent
    that runs it (goose, openai, command or sampling) and its settings, the extensions it needs
    (`goosuke` lets the agent call this hub's tools) and tags. Goose recipe rules apply: optional
    parameters need a default, required ones cannot have one, and every parameter must be used.
    """
    return await save_new(call, args)


@plugin.tool(role=Role.operator)
async def template_update(call: Call, args: TemplateUpdate) -> TemplateInfo:
    """Change some fields of a template; the others keep their value. The version goes up by one
    when anything changed. Pass expected_version to refuse the change if someone changed it meanwhile."""
    changes = args.model_dump(exclude_unset=True, exclude={"name", "expected_version"})
    if changes.get("instructions") == "":
        changes["instructions"] = None
    async with call.app.db.session() as session:
        row = await store.get_row(session, args.name)
        current = store.definition_of(row).model_dump()
        definition = TemplateDefinition.model_validate({**current, **changes})
        previews.validate(definition, agents(call))
        info = TemplateInfo.of(
            await store.replace(session, row, definition, call.principal.name, args.expected_version)
        )
    await notify(call, args.name)
    return info


@plugin.tool(role=Role.operator)
async def template_copy(call: Call, args: TemplateCopy) -> TemplateInfo:
    """Copy a template (for example a built-in one) under a new name, to change the copy freely."""
    async with call.app.db.session() as session:
        source = store.definition_of(await store.get_row(session, args.name))
    copy = source.model_copy(update={"name": args.new_name, "title": args.title or source.title})
    return await save_new(call, copy)


@plugin.tool(role=Role.operator, destructive=True)
async def template_delete(call: Call, args: TemplateName) -> Deleted:
    """Delete a template. Its past executions stay (they record the template's name and version)."""
    async with call.app.db.session() as session:
        row = await store.remove(session, args.name, call.principal.name)
        deleted = Deleted(name=row.name, version=row.version)
    await notify(call, args.name)
    return deleted


@plugin.tool(read_only=True)
async def template_get(call: Call, args: TemplateName) -> TemplateInfo:
    """Show a template in full: prompt, instructions, parameters, agent settings, version."""
    async with call.app.db.session() as session:
        return TemplateInfo.of(await store.get_row(session, args.name))


@plugin.tool(read_only=True)
async def template_list(call: Call, args: TemplateListArgs) -> TemplateList:
    """List templates, filtered by tag, agent or text (in name, title, description), a page at a time.
    Parameters ending with * are required."""
    async with call.app.db.session() as session:
        rows, total = await store.list_rows(
            session, tag=args.tag, agent=args.agent, search=args.search, limit=args.limit, offset=args.offset
        )
    end = args.offset + len(rows)
    return TemplateList(
        templates=[TemplateSummary.of(r) for r in rows], total=total, next_offset=end if end < total else None
    )


@plugin.tool(read_only=True)
async def template_render(call: Call, args: TemplateRenderArgs) -> Rendered:
    """Dry run: check parameter values and render the prompt and instructions exactly as a run would,
    without running anything."""
    preview = await previews.prepare(call.app.db.read, args.name, args.params)
    return Rendered(
        name=args.name,
        version=preview.version,
        params=preview.params,
        prompt=preview.prompt,
        instructions=preview.instructions,
    )
