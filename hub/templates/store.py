"""Stored templates: definitions in and out of rows, versions, listing, and seeding the built-in library."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.accounts import audit
from hub.clock import UtcDatetime, aware
from hub.db import Database
from hub.db.models import TaskTemplate, TemplateSeed, utcnow
from hub.errors import Conflict, NotFound
from hub.templates.definition import (
    AgentSettings,
    Parameter,
    TemplateDefinition,
)


class TemplateInfo(TemplateDefinition):
    """A stored template: its definition plus version and bookkeeping."""

    version: int = Field(description="Bumped on every change; executions record the version they ran.")
    created_at: UtcDatetime
    updated_at: UtcDatetime
    created_by: str
    updated_by: str
    uri: str = Field(description="The MCP resource of this template.")

    @classmethod
    def of(cls, row: TaskTemplate) -> TemplateInfo:
        return cls(
            **definition_of(row).model_dump(),
            version=row.version,
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
    agent: str
    tags: list[str]
    version: int
    parameters: list[str] = Field(description="Parameter keys; required ones end with `*`.")
    updated_at: UtcDatetime

    @classmethod
    def of(cls, row: TaskTemplate) -> TemplateSummary:
        params = [Parameter.model_validate(p) for p in row.parameters or []]
        return cls(
            name=row.name,
            title=row.title,
            description=row.description,
            agent=row.agent,
            tags=list(row.tags or []),
            version=row.version,
            parameters=[p.key + ("" if p.requirement == "optional" else "*") for p in params],
            updated_at=aware(row.updated_at),
        )


def definition_of(row: TaskTemplate) -> TemplateDefinition:
    return TemplateDefinition(
        name=row.name,
        title=row.title,
        description=row.description,
        prompt=row.prompt,
        instructions=row.instructions,
        parameters=[Parameter.model_validate(p) for p in row.parameters or []],
        extensions=list(row.extensions or []),
        agent=row.agent,
        agent_settings=AgentSettings.model_validate(row.agent_settings or {}),
        tags=list(row.tags or []),
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
    row.agent_settings = data["agent_settings"]
    row.tags = data["tags"]
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


async def create(session: AsyncSession, definition: TemplateDefinition, actor: str) -> TaskTemplate:
    if await session.scalar(select(TaskTemplate.id).where(TaskTemplate.name == definition.name)):
        raise Conflict(
            f"A template named {definition.name!r} exists already. Change it with template_update, "
            "or pick another name."
        )
    row = TaskTemplate(name=definition.name, version=1, created_by=actor, updated_by=actor)
    _apply(row, definition)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"A template named {definition.name!r} was just created by someone else.") from None
    await audit(session, actor, "template.create", definition.name, version=1)
    return row


async def replace(
    session: AsyncSession, row: TaskTemplate, definition: TemplateDefinition, actor: str, expected: int | None = None
) -> TaskTemplate:
    """Store a new definition; the version goes up when anything changed."""
    if expected is not None and expected != row.version:
        raise Conflict(
            f"Template {row.name!r} is at version {row.version}, not {expected}: someone changed it. "
            "Read it again (template_get) and reapply your change."
        )
    if definition.content_hash() == row.content_hash:
        return row
    _apply(row, definition)
    row.version += 1
    row.updated_at = utcnow()
    row.updated_by = actor
    await audit(session, actor, "template.update", row.name, version=row.version)
    return row


async def remove(session: AsyncSession, name: str, actor: str) -> TaskTemplate:
    row = await get_row(session, name)
    await session.delete(row)
    await audit(session, actor, "template.delete", name, version=row.version)
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
    session: AsyncSession, *, tag: str | None, agent: str | None, search: str | None, limit: int, offset: int
) -> tuple[list[TaskTemplate], int]:
    rows = await session.scalars(
        _filtered(select(TaskTemplate), tag, agent, search).order_by(TaskTemplate.name).limit(limit).offset(offset)
    )
    total = await session.scalar(_filtered(select(func.count()).select_from(TaskTemplate), tag, agent, search))
    return list(rows), int(total or 0)


async def seed_library(db: Database, definitions: Iterable[TemplateDefinition], actor: str = "library") -> list[str]:
    """Add the built-in templates once; later releases update them only where nobody changed them.

    A template a user changed, replaced or deleted is never touched again. Returns the names written.
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
                        await create(session, definition, actor)
                        changed = True
                elif row is not None and row.content_hash == seed.content_hash and seed.content_hash != new_hash:
                    await replace(session, row, definition, actor)
                    seed.content_hash, seed.seeded_at = new_hash, utcnow()
                    changed = True
        except (IntegrityError, Conflict):  # another hub seeded it at the same moment
            continue
        if changed:
            written.append(definition.name)
    return written
