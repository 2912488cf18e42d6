"""Stored templates: definitions in and out of rows, versions, listing, and seeding the built-in library.

Built-in templates (``builtin`` on the row, set only by :func:`seed_library`) are read-only: :func:`replace`
and :func:`remove` refuse them unless the hub itself (the library seeding) asks. Every change is audited
(``template.create``/``update``/``delete``), naming the triggers (schedules, webhooks, reactions) that run
the template, so a change to what a trigger runs is traceable. Every version a create, change or library
seeding stores is also kept whole in ``template_versions`` (written in the same transaction), for the
template's history and diffs (``template_history``, ``template_version_get``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.accounts import audit
from hub.clock import UtcDatetime, aware
from hub.db import Database
from hub.db.models import Action, TaskTemplate, TemplateSeed, utcnow
from hub.deliveries.store import check_destinations
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.teams.policy import DEFAULT_TEAM_ID
from hub.templates import versions
from hub.templates.definition import (
    AgentSettings,
    Parameter,
    TemplateDefinition,
)


class TemplateInfo(TemplateDefinition):
    """A stored template: its definition plus version and bookkeeping."""

    version: int = Field(description="Bumped on every change; executions record the version they ran.")
    builtin: bool = Field(
        default=False, description="A built-in library template: read-only; copy it with template_copy to change it."
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime
    created_by: str
    updated_by: str
    uri: str = Field(description="The MCP resource of this template.")
    team: str | None = Field(default=None, description="The team that owns it (built-in templates: default).")
    visibility: str = Field(
        default="team", description="private (its creator), team (its team) or public (everyone may see and run it)."
    )

    @classmethod
    def of(cls, row: TaskTemplate, team: str | None = None) -> TemplateInfo:
        """``team`` is the owning team's name (default: its id)."""
        return cls(
            **definition_of(row).model_dump(),
            version=row.version,
            builtin=bool(row.builtin),
            team=team or row.team_id,
            visibility=row.visibility or "team",
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
            created_by=row.created_by,
            updated_by=row.updated_by,
            uri=f"goosuke://templates/{row.name}",
        )


class TemplateSummary(BaseModel):
    name: str
    title: str
    description: str
    agent: str | None = Field(default=None, description="Its agent (none: the default runner's).")
    runner: str | None = Field(
        default=None, description="The runner it runs on (none: the built-in one of its agent, or the default runner)."
    )
    tags: list[str]
    version: int
    builtin: bool = Field(default=False, description="A read-only built-in library template.")
    parameters: list[str] = Field(description="Parameter keys; required ones end with `*`.")
    updated_at: UtcDatetime
    team: str | None = Field(default=None, description="The team that owns it.")
    visibility: str = Field(default="team", description="private, team or public.")

    @classmethod
    def of(cls, row: TaskTemplate, team: str | None = None) -> TemplateSummary:
        params = [Parameter.model_validate(p) for p in row.parameters or []]
        return cls(
            name=row.name,
            title=row.title,
            description=row.description,
            agent=row.agent,
            runner=row.runner,
            tags=list(row.tags or []),
            version=row.version,
            builtin=bool(row.builtin),
            parameters=[p.key + ("" if p.requirement == "optional" else "*") for p in params],
            updated_at=aware(row.updated_at),
            team=team or row.team_id,
            visibility=row.visibility or "team",
        )


def definition_of(row: Any, agent_settings: AgentSettings | None = None) -> TemplateDefinition:
    """A row (ORM or Core) as a definition; ``agent_settings`` replaces the stored ones (the migration)."""
    if agent_settings is None:
        agent_settings = AgentSettings.model_validate(row.agent_settings or {})
    return TemplateDefinition(
        name=row.name,
        title=row.title,
        description=row.description,
        prompt=row.prompt,
        instructions=row.instructions,
        parameters=[Parameter.model_validate(p) for p in row.parameters or []],
        extensions=list(row.extensions or []),
        agent=row.agent,
        runner=row.runner,
        agent_settings=agent_settings,
        tags=list(row.tags or []),
        **(getattr(row, "delivery", None) or {}),
    )


def _apply(row: TaskTemplate, definition: TemplateDefinition) -> None:
    data = definition.model_dump(mode="json")
    row.title = data["title"]
    row.description = data["description"]
    row.prompt = data["prompt"]
    row.instructions = data["instructions"]
    row.parameters = data["parameters"]
    row.extensions = data["extensions"]
    row.agent = data["agent"]
    row.runner = data["runner"]
    row.agent_settings = data["agent_settings"]
    row.tags = data["tags"]
    routing = {k: data[k] for k in ("deliver_to", "announce_failures_to") if data[k] is not None}
    row.delivery = routing or None
    row.tag_index = "," + ",".join(data["tags"]) + ("," if data["tags"] else "")
    row.content_hash = definition.content_hash()


async def find_row(session: AsyncSession, name: str) -> TaskTemplate | None:
    row = await session.scalar(select(TaskTemplate).where(TaskTemplate.name == name))
    return row


async def get_row(session: AsyncSession, name: str) -> TaskTemplate:
    row = await find_row(session, name)
    if row is None:
        raise NotFound(f"No template named {name!r}. List templates with template_list.")
    return row


async def triggers_of(session: AsyncSession, name: str) -> list[str]:
    """The triggers that run the template, as ``kind:name`` (``schedule:nightly``, ``reaction:summary``...)."""
    rows = await session.execute(select(Action.kind, Action.name).where(Action.template == name).order_by(Action.name))
    return [f"{kind}:{action}" for kind, action in rows]


def refuse_builtin(row: TaskTemplate, verb: str) -> None:
    """Raises:
    PermissionDenied: ``row`` is a built-in template (naming template_copy, the way to change one).
    """
    if not row.builtin:
        return
    message = (
        f"Template {row.name!r} is built in and read-only, so it cannot be {verb}. Copy it under another name "
        f"(template_copy name={row.name} new_name=my-{row.name}), change the copy, and point your schedules, "
        "webhooks and reactions at the copy."
    )
    raise PermissionDenied(message, errors=[{"field": "name", "message": message, "type": "template_builtin"}])


def _changed(row: TaskTemplate, definition: TemplateDefinition) -> list[str]:
    before, after = definition_of(row).model_dump(mode="json"), definition.model_dump(mode="json")
    return sorted(k for k in after if before.get(k) != after[k])


async def check_new(session: AsyncSession, definition: TemplateDefinition) -> None:
    """Raises:
    Conflict: a template of that name exists. InvalidArguments: a destination it names is unknown.
    """
    if await session.scalar(select(TaskTemplate.id).where(TaskTemplate.name == definition.name)):
        raise Conflict(
            f"A template named {definition.name!r} exists already. Change it with template_update, "
            "or pick another name.",
            errors=[{"field": "name", "message": f"A template named {definition.name!r} exists already."}],
        )
    await check_destinations(session, definition)


def check_change(row: TaskTemplate, expected: int | None, *, library: bool = False) -> None:
    """Raises:
    PermissionDenied: ``row`` is built in (only the library seeding, ``library``, changes one).
    Conflict: ``expected`` is not the current version.
    """
    if not library:
        refuse_builtin(row, "changed")
    if expected is not None and expected != row.version:
        raise Conflict(
            f"Template {row.name!r} is at version {row.version}, not {expected}: someone changed it. "
            "Read it again (template_get) and reapply your change."
        )


def draft_row(
    definition: TemplateDefinition, actor: str, *, base: TaskTemplate | None = None, team_id: str = DEFAULT_TEAM_ID
) -> TaskTemplate:
    """What saving ``definition`` would store (new, or over ``base``), as a row never added to a session."""
    now = utcnow()
    row = TaskTemplate(
        name=definition.name,
        version=1,
        builtin=False,
        team_id=team_id,
        visibility="team",
        created_at=now,
        updated_at=now,
        created_by=actor,
        updated_by=actor,
    )
    if base is not None:
        row.version, row.builtin, row.team_id, row.visibility = (
            base.version,
            base.builtin,
            base.team_id,
            base.visibility,
        )
        row.created_at, row.created_by = base.created_at, base.created_by
        if definition.content_hash() == base.content_hash:
            row.updated_at, row.updated_by = base.updated_at, base.updated_by
        else:
            row.version += 1
    _apply(row, definition)
    return row


async def create(
    session: AsyncSession,
    definition: TemplateDefinition,
    actor: str,
    *,
    builtin: bool = False,
    team_id: str = DEFAULT_TEAM_ID,
    visibility: str = "team",
) -> TaskTemplate:
    """A new template owned by ``team_id``; a built-in one is always the default team's and public."""
    await check_new(session, definition)
    if builtin:
        team_id, visibility = DEFAULT_TEAM_ID, "public"
    row = TaskTemplate(
        name=definition.name,
        version=1,
        created_by=actor,
        updated_by=actor,
        builtin=builtin,
        team_id=team_id,
        visibility=visibility,
    )
    _apply(row, definition)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"A template named {definition.name!r} was just created by someone else.") from None
    versions.record(session, row, definition, "the library's version" if builtin else "created")
    triggers = await triggers_of(session, definition.name)  # a trigger may name a template before it exists
    await audit(
        session,
        actor,
        "template.create",
        definition.name,
        version=1,
        triggers=triggers,
        team=team_id,
        visibility=visibility,
    )
    return row


async def replace(
    session: AsyncSession,
    row: TaskTemplate,
    definition: TemplateDefinition,
    actor: str,
    expected: int | None = None,
    *,
    library: bool = False,
) -> TaskTemplate:
    """Store a new definition; the version goes up when anything changed.

    Raises:
        PermissionDenied: ``row`` is built in (only the library seeding, ``library``, changes one).
        Conflict: ``expected`` is not the current version.
    """
    check_change(row, expected, library=library)
    if definition.content_hash() == row.content_hash:
        return row
    await check_destinations(session, definition)
    changed = _changed(row, definition)
    _apply(row, definition)
    row.version += 1
    row.updated_at = utcnow()
    row.updated_by = actor
    versions.record(
        session, row, definition, ("the library's new version: " if library else "changed ") + ", ".join(changed)
    )
    try:  # another change saved this version number meanwhile (its history row is unique)
        await session.flush()
    except IntegrityError:
        raise Conflict(
            f"Template {row.name!r} was changed meanwhile; read it again (template_get) and reapply your change."
        ) from None
    triggers = await triggers_of(session, row.name)
    await audit(session, actor, "template.update", row.name, version=row.version, changed=changed, triggers=triggers)
    return row


async def remove(session: AsyncSession, name: str, actor: str) -> TaskTemplate:
    """Raises:
    NotFound: no such template.
    PermissionDenied: it is built in.
    """
    row = await get_row(session, name)
    refuse_builtin(row, "deleted")
    triggers = await triggers_of(session, name)
    await session.delete(row)
    await audit(session, actor, "template.delete", name, version=row.version, triggers=triggers)
    return row


def _filtered(query: Select[Any], tag: str | None, agent: str | None, search: str | None) -> Select[Any]:
    if tag:
        query = query.where(TaskTemplate.tag_index.contains(f",{tag.strip().lower()},", autoescape=True))
    if agent:
        query = query.where(TaskTemplate.agent == agent)
    if search:
        needle = search.strip().lower()
        query = query.where(
            or_(
                func.lower(TaskTemplate.name).contains(needle, autoescape=True),
                func.lower(TaskTemplate.title).contains(needle, autoescape=True),
                func.lower(TaskTemplate.description).contains(needle, autoescape=True),
            )
        )
    return query


async def list_rows(
    session: AsyncSession,
    *,
    tag: str | None,
    agent: str | None,
    search: str | None,
    limit: int,
    offset: int,
    where: ColumnElement[bool] | None = None,
) -> tuple[list[TaskTemplate], int]:
    """A page of templates and the total; ``where`` keeps only some (the caller's visible ones)."""
    query = _filtered(select(TaskTemplate), tag, agent, search)
    counting = _filtered(select(func.count()).select_from(TaskTemplate), tag, agent, search)
    if where is not None:
        query, counting = query.where(where), counting.where(where)
    rows = await session.scalars(query.order_by(TaskTemplate.name).limit(limit).offset(offset))
    total = await session.scalar(counting)
    return list(rows), int(total or 0)


async def seed_library(db: Database, definitions: Iterable[TemplateDefinition], actor: str = "library") -> list[str]:
    """Add the built-in templates, and keep them equal to the library of this release.

    A built-in row (``builtin``) belongs to the hub: when a release changes its file, the row is updated
    (version up, audited as ``library`` with the triggers that run it). A template of that name that is not
    built in (a user's, or a built-in a user changed before built-ins became read-only) is never touched;
    nor is one deleted before then (its seed row stays). Returns the names written.
    """
    written = []
    for definition in definitions:
        new_hash = definition.content_hash()
        changed = False
        try:
            async with db.session() as session:
                seed = await session.get(TemplateSeed, definition.name)
                row = await session.scalar(select(TaskTemplate).where(TaskTemplate.name == definition.name))
                if seed is None:
                    session.add(TemplateSeed(name=definition.name, content_hash=new_hash))
                    if row is None:
                        await create(session, definition, actor, builtin=True)
                        changed = True
                elif row is not None and row.builtin and row.content_hash != new_hash:
                    await replace(session, row, definition, actor, library=True)
                    changed = True
                if row is not None and row.builtin and (row.team_id, row.visibility) != (DEFAULT_TEAM_ID, "public"):
                    row.team_id, row.visibility = DEFAULT_TEAM_ID, "public"  # built-ins are everyone's
                if seed is not None and seed.content_hash != new_hash and (row is None or row.builtin):
                    seed.content_hash, seed.seeded_at = new_hash, utcnow()
        except (IntegrityError, Conflict):  # another hub seeded it at the same moment
            continue
        if changed:
            written.append(definition.name)
    return written
