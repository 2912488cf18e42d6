"""The data step of the runners' arrival: templates whose settings reach the host name a runner instead.

Migration 0007 adds the tables; the :class:`Runners` service runs this step when it starts (before the
template library), so no migration imports domain code.

Each template holding host settings (argv, base_url, api_key_secret, provider, options), or a model
the built-in runner would not allow, gets a runner made from them by :func:`hub.runners.store.adopt_sync`
(the function the admins' inline shorthand uses), and keeps only its knobs. Idempotent: a template
that names a runner already is left alone.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.db import Database
from hub.db.models import TaskTemplate, new_id, utcnow
from hub.db.template_models import TemplateVersion
from hub.runners.model import split_settings
from hub.runners.store import adopt_sync
from hub.templates.definition import AgentSettings
from hub.templates.store import definition_of

TEMPLATES: Table = TaskTemplate.__table__  # type: ignore[assignment]  # a declarative model's table is a Table
VERSIONS: Table = TemplateVersion.__table__  # type: ignore[assignment]
PORTABLE_AGENTS = ("goose", "openai", "command")  # agents whose legacy model or host settings get a runner
LEGACY_COLUMNS = (
    "name",
    "title",
    "description",
    "prompt",
    "instructions",
    "parameters",
    "extensions",
    "agent",
    "runner",
    "tags",
    "version",
)


def adopt_legacy_templates(conn: Connection) -> list[tuple[str, str]]:
    """Rewrite legacy templates to name runners; returns (template, runner) pairs."""
    adopted = []
    rows = conn.execute(
        select(TEMPLATES.c.name, TEMPLATES.c.agent, TEMPLATES.c.agent_settings).where(TEMPLATES.c.runner.is_(None))
    ).all()
    for name, agent, settings in rows:
        knobs, host = split_settings(dict(settings or {}))
        model = knobs.get("model")
        if not host and not (model and agent in PORTABLE_AGENTS) and agent != "command":
            if set(settings or {}) != set(knobs):  # empty host keys only: drop them
                conn.execute(update(TEMPLATES).where(TEMPLATES.c.name == name).values(agent_settings=knobs))
            continue
        runner = adopt_sync(conn, name, agent, host, model)
        columns = [TEMPLATES.c[c] for c in LEGACY_COLUMNS]  # those of revision 0007, not the newest model's
        row = conn.execute(select(TEMPLATES.c.id, *columns).where(TEMPLATES.c.name == name)).one()
        definition = definition_of(row, AgentSettings.model_validate(knobs)).model_copy(update={"runner": runner})
        conn.execute(  # its history keeps the version the adoption makes (hub.templates.versions)
            insert(VERSIONS).values(
                id=new_id(),
                template_id=row.id,
                version=row.version + 1,
                definition=definition.model_dump(mode="json"),
                summary=f"host settings moved to runner {runner!r}",
                saved_at=utcnow(),
                saved_by="migration",
            )
        )
        conn.execute(
            update(TEMPLATES)
            .where(TEMPLATES.c.name == name)
            .values(
                agent_settings=knobs,
                runner=runner,
                content_hash=definition.content_hash(),
                version=row.version + 1,
                updated_by="migration",
            )
        )
        adopted.append((name, runner))
    return adopted


async def adopt_legacy(db: Database) -> list[tuple[str, str]]:
    """Run :func:`adopt_legacy_templates` in one transaction; a second hub starting at the same moment
    may win the race for a runner's name, then this process finds nothing left to adopt."""
    for attempt in range(2):
        try:
            async with db.engine.begin() as conn:
                return await conn.run_sync(adopt_legacy_templates)
        except IntegrityError:
            if attempt:
                raise
    return []
