"""Task templates: create, change, copy, delete, read, list and dry-run them.

A template is a prompt with typed parameters (Goose recipe semantics), the extensions its run
needs and the agent that runs it. Every change bumps its version; runs record the version and the
rendered prompt. Running one is ``template_run`` (tools/executions.py).

A template belongs to a team and has a visibility (``hub.templates.access``): private (its creator), team
or public (every team may see and run it; only its team changes it). Lists, reads, renders and runs keep
to what the caller may see; built-in templates are public and read-only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from hub import Call, Plugin
from hub.db.models import TaskTemplate, utcnow
from hub.deliveries.routes import AnnounceFailuresTo, DeliverTo
from hub.errors import InvalidArguments, describe_validation_errors, summarize_validation_errors
from hub.paging import Offset
from hub.plugin import Arguments
from hub.runners.ownership import new_owner
from hub.runners.service import Runners
from hub.teams import audit
from hub.teams.policy import DEFAULT_TEAM_ID, Visibility, visible
from hub.templates import access, store
from hub.templates import preview as previews
from hub.templates.definition import NAME_PATTERN, InlineSettings, Parameter, TemplateDefinition
from hub.templates.store import TemplateInfo, TemplateSummary

plugin = Plugin("templates")

NAME = Field(pattern=NAME_PATTERN, description="The template's name, e.g. meeting-summary.")
TEAM_HELP = "The owning team's name (default: your own team); templates.manage is needed there."
VISIBILITY_HELP = (
    "Who sees and runs it: private (you), team (its team) or public (every team; only its team changes it)."
)


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
    agent: str | None = Field(default=None, max_length=32, description="goose, openai, command or sampling.")
    runner: str | None = Field(default=None, pattern=NAME_PATTERN, description="The runner it runs on (runner_list).")
    agent_settings: InlineSettings | None = Field(
        default=None,
        description="Run knobs; host fields (argv, base_url, api_key_secret, provider, options) are admins' only.",
    )
    tags: list[str] | None = None
    deliver_to: DeliverTo = None
    announce_failures_to: AnnounceFailuresTo = None
    expected_version: int | None = Field(
        default=None, description="Refuse the change unless the template is still at this version."
    )
    team: str | None = Field(default=None, max_length=64, description="Move it to this team; unset: keep.")
    visibility: Visibility | None = Field(default=None, description=VISIBILITY_HELP + " Unset: keep.")


class TemplateInput(TemplateDefinition):
    """A new template. ``agent_settings`` may carry a runner's host fields when an admin calls: they are
    stored as a runner named after the template, which the template then names."""

    agent_settings: InlineSettings = Field(default_factory=InlineSettings)
    team: str | None = Field(default=None, max_length=64, description=TEAM_HELP)
    visibility: Visibility = Field(default="team", description=VISIBILITY_HELP)


class TemplateCopy(Arguments):
    name: str = NAME
    new_name: str = Field(pattern=NAME_PATTERN, description="Name of the copy.")
    title: str | None = Field(default=None, max_length=200, description="Title of the copy (default: the same).")
    team: str | None = Field(default=None, max_length=64, description=TEAM_HELP)
    visibility: Visibility = Field(default="team", description=VISIBILITY_HELP)


class TemplateListArgs(Arguments):
    tag: str | None = Field(default=None, max_length=40, description="Only templates with this tag.")
    agent: str | None = Field(default=None, max_length=32, description="Only templates run by this agent.")
    search: str | None = Field(default=None, max_length=200, description="Text in the name, title or description.")
    limit: int = Field(default=50, ge=1, le=200)
    offset: Offset = 0


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


async def resolve(
    call: Call,
    definition: TemplateDefinition,
    inline: InlineSettings | None = None,
    *,
    agent_given: bool = True,
    team_id: str | None = None,
) -> TemplateDefinition:
    """Inline host settings to a runner of the template's team (admins only), the runner checked (one the
    team may use), then the recipe and agent checks."""
    definition = await call.app.services.get(Runners).resolve(
        definition, inline, call.principal, agent_given=agent_given, team_id=team_id or DEFAULT_TEAM_ID
    )
    previews.validate(definition, agents(call))
    return definition


def split(args: TemplateInput) -> tuple[TemplateDefinition, InlineSettings]:
    """The stored definition (knobs only) and the inline settings as given."""
    data = args.model_dump(exclude={"agent_settings", "team", "visibility"})
    return TemplateDefinition(**data, agent_settings=args.agent_settings.knobs()), args.agent_settings


async def save_new(
    call: Call,
    definition: TemplateDefinition,
    inline: InlineSettings | None = None,
    *,
    agent_given: bool = True,
    team: str | None = None,
    visibility: str | None = None,
) -> TemplateInfo:
    """Store a new template in ``team`` (a name; default the caller's own team), checked first."""
    async with call.app.db.session() as session:
        team_id, chosen = await new_owner(session, call.principal, access.MANAGE, team, visibility)
    definition = await resolve(call, definition, inline, agent_given=agent_given, team_id=team_id)
    async with call.app.db.session() as session:
        row = await store.create(session, definition, call.principal.name, team_id=team_id, visibility=chosen)
        info = await access.info_of(session, row)
    await notify(call, definition.name)
    return info


@plugin.tool(permission="templates.manage")
async def template_create(call: Call, args: TemplateInput) -> TemplateInfo:
    """Create a task template: a Jinja prompt (and optional instructions) with typed parameters, the agent
    that runs it (goose, openai, command or sampling) and the runner it runs on (runner_list; default the
    built-in runner named like the agent), its knobs (model among the runner's, timeout within its bound,
    retries...), the extensions it needs (`goosuke` lets the agent call this hub's tools) and tags. Goose
    recipe rules apply: optional parameters need a default, required ones cannot have one, and every
    parameter must be used. Host settings (argv, base_url, api_key_secret, provider) are an admin's: given
    inline by an admin they become a runner named after the template. It belongs to `team` (default: your
    own team) and is seen by `visibility` (private, team or public).
    """
    definition, inline = split(args)
    return await save_new(
        call,
        definition,
        inline,
        agent_given="agent" in args.model_fields_set,
        team=args.team,
        visibility=args.visibility,
    )


@plugin.tool(permission="templates.manage")
async def template_update(call: Call, args: TemplateUpdate) -> TemplateInfo:
    """Change some fields of a template; the others keep their value. The version goes up by one
    when anything changed. Pass expected_version to refuse the change if someone changed it meanwhile.
    Built-in templates are read-only (copy one with template_copy); only the template's own team changes
    it. `team` moves it (templates.manage needed in both teams), `visibility` shares it. Every change is
    audited with the schedules, webhooks and reactions that run the template."""
    changes = args.model_dump(exclude_unset=True, exclude={"name", "expected_version", "team", "visibility"})
    if changes.get("instructions") == "":
        changes["instructions"] = None
    async with call.app.db.session() as session:  # every check before anything is written (an inline runner)
        row = await access.changeable_row(session, call.principal, args.name, "changed")
        sharing = await access.new_sharing(session, call.principal, row, args.team, args.visibility)
        current, version = store.definition_of(row).model_dump(), row.version
    inline = args.agent_settings
    if inline is not None:
        changes["agent_settings"] = inline.knobs().model_dump()
    try:  # a field the update's own model bounds more loosely than the definition (e.g. agent's length)
        definition = TemplateDefinition.model_validate({**current, **changes})
    except ValidationError as exc:
        details = describe_validation_errors(exc.errors(), TemplateDefinition)
        raise InvalidArguments(
            f"Invalid arguments for 'template_update': {summarize_validation_errors(details)}", errors=details
        ) from None
    definition = await resolve(
        call, definition, inline, agent_given="agent" in args.model_fields_set, team_id=sharing.team_id
    )
    expected = args.expected_version if args.expected_version is not None else version
    async with call.app.db.session() as session:
        row = await access.changeable_row(session, call.principal, args.name, "changed")
        row = await store.replace(session, row, definition, call.principal.name, expected)
        if sharing.changed:
            await share(call, session, row, sharing)
        info = await access.info_of(session, row)
    await notify(call, args.name)
    return info


async def share(call: Call, session: Any, row: TaskTemplate, sharing: access.Sharing) -> None:
    """Apply a change of team or visibility in ``session``, audited as ``template.share``."""
    detail = await access.apply_sharing(session, row, sharing)
    row.updated_at, row.updated_by = utcnow(), call.principal.name
    audit.add(session, call, "template.share", row.name, team=detail["team"], visibility=detail["visibility"])


@plugin.tool(permission="templates.manage")
async def template_copy(call: Call, args: TemplateCopy) -> TemplateInfo:
    """Copy a template you may see (for example a built-in one, or another team's public one) under a new
    name into `team` (default: your own), to change the copy freely."""
    async with call.app.db.session() as session:
        source = store.definition_of(await access.visible_row(session, call.principal, args.name))
    copy = source.model_copy(update={"name": args.new_name, "title": args.title or source.title})
    return await save_new(call, copy, team=args.team, visibility=args.visibility)


@plugin.tool(permission="templates.manage", destructive=True)
async def template_delete(call: Call, args: TemplateName) -> Deleted:
    """Delete a template. Its past executions stay (they record the template's name and version).
    Built-in templates cannot be deleted, nor another team's. Audited with the triggers that still run it."""
    async with call.app.db.session() as session:
        await access.changeable_row(session, call.principal, args.name, "deleted")
        row = await store.remove(session, args.name, call.principal.name)
        deleted = Deleted(name=row.name, version=row.version)
    await notify(call, args.name)
    return deleted


@plugin.tool(read_only=True, permission="templates.read")
async def template_get(call: Call, args: TemplateName) -> TemplateInfo:
    """Show a template in full: prompt, instructions, parameters, agent settings, version, team, visibility."""
    async with call.app.db.session() as session:
        return await access.info_of(session, await access.visible_row(session, call.principal, args.name))


@plugin.tool(read_only=True, permission="templates.read")
async def template_list(call: Call, args: TemplateListArgs) -> TemplateList:
    """List the templates you may see, filtered by tag, agent or text (in name, title, description), a page
    at a time, with their team and visibility. Parameters ending with * are required."""
    async with call.app.db.session() as session:
        rows, total = await store.list_rows(
            session,
            tag=args.tag,
            agent=args.agent,
            search=args.search,
            limit=args.limit,
            offset=args.offset,
            where=visible(call.principal, access.READ, TaskTemplate),
        )
        summaries = await access.summaries(session, rows)
    end = args.offset + len(rows)
    return TemplateList(templates=summaries, total=total, next_offset=end if end < total else None)


@plugin.tool(read_only=True, permission="templates.read")
async def template_render(call: Call, args: TemplateRenderArgs) -> Rendered:
    """Dry run: check parameter values and render the prompt and instructions exactly as a run would,
    without running anything."""
    async with call.app.db.session() as session:
        await access.visible_row(session, call.principal, args.name)
    preview = await previews.prepare(call.app.db.read, args.name, args.params)
    return Rendered(
        name=args.name,
        version=preview.version,
        params=preview.params,
        prompt=preview.prompt,
        instructions=preview.instructions,
    )
