"""Task templates: create, change, copy, delete, read, list, dry-run them and read their history.

A template is a prompt with typed parameters (Goose recipe semantics), the extensions its run
needs and the agent that runs it. Every change bumps its version; runs record the version and the
rendered prompt. Running one is ``template_run`` (tools/executions.py).

A template belongs to a team and has a visibility (``hub.templates.access``): private (its creator), team
or public (every team may see and run it; only its team changes it). Lists, reads, renders and runs keep
to what the caller may see; built-in templates are public and read-only. Every saved version is kept
(``template_history``, ``template_version_get``), with the same visibility as the template.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from hub import Call, Plugin
from hub.db.models import TaskTemplate, utcnow
from hub.deliveries.routes import AnnounceFailuresTo, DeliverTo
from hub.deliveries.store import check_destinations
from hub.errors import InvalidArguments, PermissionDenied, describe_validation_errors, summarize_validation_errors
from hub.paging import Offset
from hub.plugin import Arguments
from hub.principal import Role
from hub.runners.ownership import new_owner
from hub.runners.service import Runners
from hub.teams import audit
from hub.teams.policy import DEFAULT_TEAM_ID, Visibility, visible
from hub.templates import access, store, versions
from hub.templates import preview as previews
from hub.templates.definition import NAME_PATTERN, InlineSettings, Parameter, TemplateDefinition
from hub.templates.store import TemplateInfo, TemplateSummary
from hub.templates.versions import TemplateVersionInfo, VersionSummary

plugin = Plugin("templates")

NAME = Field(pattern=NAME_PATTERN, description="The template's name, e.g. meeting-summary.")
TEAM_HELP = "The owning team's name (default: your own team); templates.manage is needed there."
VISIBILITY_HELP = (
    "Who sees and runs it: private (you), team (its team) or public (every team; only its team changes it)."
)
DRY_RUN = Field(
    default=False,
    description="Only check: answer what would be saved (version included), writing nothing and auditing nothing.",
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
    dry_run: bool = DRY_RUN


class TemplateInput(TemplateDefinition):
    """A new template. ``agent_settings`` may carry a runner's host fields when an admin calls: they are
    stored as a runner named after the template, which the template then names."""

    agent_settings: InlineSettings = Field(default_factory=InlineSettings)
    team: str | None = Field(default=None, max_length=64, description=TEAM_HELP)
    visibility: Visibility = Field(default="team", description=VISIBILITY_HELP)
    dry_run: bool = DRY_RUN


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


class HistoryArgs(Arguments):
    name: str = NAME
    limit: int = Field(default=50, ge=1, le=200)
    offset: Offset = 0


class History(BaseModel):
    name: str
    current: int = Field(description="The template's current version.")
    versions: list[VersionSummary] = Field(description="Newest first.")
    total: int = Field(description="Stored versions, over all pages.")
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last page.")


class VersionArgs(Arguments):
    name: str = NAME
    version: int = Field(ge=1, le=2**31 - 1, description="The version to show (template_history lists them).")


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
    dry_run: bool = False,
) -> TemplateDefinition:
    """Inline host settings to a runner of the template's team (admins only), the runner checked (one the
    team may use), then the recipe and agent checks. A ``dry_run`` makes no runner: an admin's inline host
    settings are left to the save (which makes the runner from them); the recipe and agent are checked."""
    if dry_run and inline is not None and inline.host():
        if not call.principal.role.allows(Role.admin):
            raise PermissionDenied(
                "agent_settings host fields reach the hub's host or network, so only an admin sets them, on a "
                "runner (runner_create). Name an existing runner in `runner` instead (runner_list)."
            )
        definition = definition.model_copy(update={"runner": definition.name})  # the runner the save makes
        previews.validate(definition, agents(call))
        return definition
    definition = await call.app.services.get(Runners).resolve(
        definition, inline, call.principal, agent_given=agent_given, team_id=team_id or DEFAULT_TEAM_ID
    )
    previews.validate(definition, agents(call))
    return definition


def split(args: TemplateInput) -> tuple[TemplateDefinition, InlineSettings]:
    """The stored definition (knobs only) and the inline settings as given."""
    data = args.model_dump(exclude={"agent_settings", "team", "visibility", "dry_run"})
    return TemplateDefinition(**data, agent_settings=args.agent_settings.knobs()), args.agent_settings


async def save_new(
    call: Call,
    definition: TemplateDefinition,
    inline: InlineSettings | None = None,
    *,
    agent_given: bool = True,
    team: str | None = None,
    visibility: str | None = None,
    dry_run: bool = False,
) -> TemplateInfo:
    """Store a new template in ``team`` (a name; default the caller's own team), checked first; with
    ``dry_run``, only checked (what would be stored)."""
    async with call.app.db.session() as session:
        team_id, chosen = await new_owner(session, call.principal, access.MANAGE, team, visibility)
    if dry_run:
        definition = await resolve(call, definition, inline, agent_given=agent_given, team_id=team_id, dry_run=True)
        async with call.app.db.session() as session:
            await store.check_new(session, definition)
            row = store.draft_row(definition, call.principal.name, team_id=team_id)
            row.visibility = chosen
            return await access.info_of(session, row)
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
    own team) and is seen by `visibility` (private, team or public). `dry_run` only checks it all and
    answers what would be saved, writing nothing.
    """
    definition, inline = split(args)
    return await save_new(
        call,
        definition,
        inline,
        agent_given="agent" in args.model_fields_set,
        team=args.team,
        visibility=args.visibility,
        dry_run=args.dry_run,
    )


@plugin.tool(permission="templates.manage")
async def template_update(call: Call, args: TemplateUpdate) -> TemplateInfo:
    """Change some fields of a template; the others keep their value. The version goes up by one
    when anything changed. Pass expected_version to refuse the change if someone changed it meanwhile.
    Built-in templates are read-only (copy one with template_copy); only the template's own team changes
    it. `team` moves it (templates.manage needed in both teams), `visibility` shares it. Every change is
    audited with the schedules, webhooks and reactions that run the template. `dry_run` only checks the
    change and answers what would be saved (the version it would get), writing nothing."""
    changes = args.model_dump(exclude_unset=True, exclude={"name", "expected_version", "team", "visibility", "dry_run"})
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
        call,
        definition,
        inline,
        agent_given="agent" in args.model_fields_set,
        team_id=sharing.team_id,
        dry_run=args.dry_run,
    )
    expected = args.expected_version if args.expected_version is not None else version
    if args.dry_run:
        async with call.app.db.session() as session:
            row = await access.changeable_row(session, call.principal, args.name, "changed")
            store.check_change(row, expected)
            await check_destinations(session, definition)
            draft = store.draft_row(definition, call.principal.name, base=row)
            draft.team_id, draft.visibility = sharing.team_id, sharing.visibility
            return await access.info_of(session, draft)
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


@plugin.tool(read_only=True, permission="templates.read")
async def template_history(call: Call, args: HistoryArgs) -> History:
    """List a template's saved versions, newest first: version, when, who, and a one-line summary of what
    changed. Read one whole with template_version_get; the same visibility as template_get."""
    async with call.app.db.session() as session:
        row = await access.visible_row(session, call.principal, args.name)
        rows, total = await versions.history(session, row, args.limit, args.offset)
        current = row.version
    end = args.offset + len(rows)
    return History(
        name=args.name,
        current=current,
        versions=[VersionSummary.of(r) for r in rows],
        total=total,
        next_offset=end if end < total else None,
    )


@plugin.tool(read_only=True, permission="templates.read")
async def template_version_get(call: Call, args: VersionArgs) -> TemplateVersionInfo:
    """Show one saved version of a template in full (its definition as that version stored it), e.g. to
    compare two versions or restore an old one with template_update."""
    async with call.app.db.session() as session:
        row = await access.visible_row(session, call.principal, args.name)
        found = await versions.version_of(session, row, args.version)
    return TemplateVersionInfo(
        name=args.name,
        definition=versions.definition_of(found, args.name),
        **VersionSummary.of(found).model_dump(),
    )
