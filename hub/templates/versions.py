"""A template's history: every version it was saved at, kept whole (``template_versions``, migration 0016).

:mod:`hub.templates.store` records a version in the transaction of each create, change and library
seeding; ``template_history`` and ``template_version_get`` read them with the template's visibility.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import UtcDatetime, aware
from hub.db.models import TaskTemplate
from hub.db.template_models import TemplateVersion
from hub.errors import Conflict, NotFound
from hub.templates.definition import TemplateDefinition


class VersionSummary(BaseModel):
    version: int
    saved_at: UtcDatetime
    saved_by: str
    summary: str = Field(description="One line: created, or which fields changed.")

    @classmethod
    def of(cls, row: TemplateVersion) -> VersionSummary:
        return cls(version=row.version, saved_at=aware(row.saved_at), saved_by=row.saved_by, summary=row.summary)


class TemplateVersionInfo(VersionSummary):
    name: str
    definition: TemplateDefinition = Field(description="The whole definition as that version stored it.")


def record(session: AsyncSession, row: TaskTemplate, definition: TemplateDefinition, summary: str) -> None:
    """Keep the version ``row`` is now at, whole, in the session's transaction (its history)."""
    session.add(
        TemplateVersion(
            template_id=row.id,
            version=row.version,
            definition=definition.model_dump(mode="json"),
            summary=summary[:300],
            saved_at=row.updated_at,
            saved_by=row.updated_by,
        )
    )


async def history(
    session: AsyncSession, row: TaskTemplate, limit: int, offset: int
) -> tuple[list[TemplateVersion], int]:
    """A page of ``row``'s stored versions, newest first, and how many there are."""
    where = TemplateVersion.template_id == row.id
    rows = await session.scalars(
        select(TemplateVersion).where(where).order_by(TemplateVersion.version.desc()).limit(limit).offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(TemplateVersion).where(where))
    return list(rows), int(total or 0)


async def version_of(session: AsyncSession, row: TaskTemplate, version: int) -> TemplateVersion:
    """Raises:
    NotFound: ``row`` has no stored version ``version`` (naming the way to list them).
    """
    found = await session.scalar(
        select(TemplateVersion).where(TemplateVersion.template_id == row.id, TemplateVersion.version == version)
    )
    if found is None:
        raise NotFound(
            f"Template {row.name!r} has no stored version {version}. List its versions with "
            f"template_history name={row.name}.",
            errors=[{"field": "version", "message": f"No stored version {version}."}],
        )
    return found


def definition_of(found: TemplateVersion, name: str) -> TemplateDefinition:
    """A stored version as a definition.

    Raises:
        Conflict: the version was stored in a shape this hub no longer reads (say which field).
    """
    try:
        return TemplateDefinition.model_validate(found.definition)
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"]) or "(definition)"
        raise Conflict(
            f"Version {found.version} of template {name!r} was stored in a form this hub no longer reads "
            f"({where}); compare other versions, or read the current one with template_get."
        ) from None
