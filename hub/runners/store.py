"""Runner rows: create, change, delete (refused while a template names it), read, and adopting inline settings.

Every change is written to the audit log. The built-in runners (``goose``, ``openai``, ``sampling``)
have no row and cannot be changed; a row may not take their names.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, bindparam, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.accounts import audit
from hub.db.models import Action, RunnerRow, TaskTemplate, utcnow
from hub.errors import Conflict, InvalidArguments, NotFound
from hub.runners.model import (
    BUILTIN_RUNNER_NAMES,
    DEFAULT_RUNNER,
    RunnerDefinition,
    RunnerSpec,
    builtin_runner,
    inline_runner,
    runner_candidates,
    runner_name_for,
)
from hub.teams.policy import DEFAULT_TEAM_ID

RUNNERS: Table = RunnerRow.__table__  # type: ignore[assignment]  # a declarative model's table is a Table
SELECT_RUNNER = select(RUNNERS).where(RUNNERS.c.name == bindparam("b_name"))
SELECT_DEFAULT = select(RUNNERS).where(RUNNERS.c.is_default == true()).order_by(RUNNERS.c.name).limit(1)


def definition_of(row: Any) -> RunnerDefinition:
    """A row (ORM or Core) as a definition."""
    return RunnerDefinition.model_validate(
        {**(row.config or {}), "name": row.name, "agent": row.agent, "description": row.description}
    )


def read_runner(conn: Connection, name: str) -> RunnerDefinition | None:
    """A runner by name, on a synchronous connection: its row, else the built-in runner of that name."""
    row = conn.execute(SELECT_RUNNER, {"b_name": name}).first()
    return definition_of(row) if row is not None else builtin_runner(name)


def read_default(conn: Connection) -> RunnerDefinition:
    """The default runner (the marked row, else the built-in ``goose``), on a synchronous connection."""
    row = conn.execute(SELECT_DEFAULT).first()
    return definition_of(row) if row is not None else _builtin_default()


def read_for(conn: Connection, agent: str | None, runner: str | None) -> tuple[str, RunnerDefinition | None]:
    """A template's runner name and runner: its ``runner``; else the built-in one of its ``agent``; else
    the default runner."""
    if runner is None and agent is None:
        found = read_default(conn)
        return found.name, found
    name = runner_name_for(agent, runner)
    return name, read_runner(conn, name)


def _builtin_default() -> RunnerDefinition:
    found = builtin_runner(DEFAULT_RUNNER)
    assert found is not None
    return found


def _config(spec: RunnerSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude={"name", "agent", "description"})


async def find(session: AsyncSession, name: str) -> RunnerDefinition | None:
    row = await session.get(RunnerRow, name)
    return definition_of(row) if row is not None else builtin_runner(name)


async def default(session: AsyncSession) -> RunnerDefinition:
    """The default runner: the marked row, else the built-in ``goose`` runner."""
    row = await session.scalar(select(RunnerRow).where(RunnerRow.is_default == true()).order_by(RunnerRow.name))
    return definition_of(row) if row is not None else _builtin_default()


async def mark_default(session: AsyncSession, row: RunnerRow, actor: str) -> None:
    """Make ``row`` the default runner, unmarking the previous one (audited as ``runner.default``)."""
    previous = await session.scalar(
        select(RunnerRow.name).where(RunnerRow.is_default == true(), RunnerRow.name != row.name)
    )
    await session.execute(update(RunnerRow).where(RunnerRow.name != row.name).values(is_default=False))
    if not row.is_default:
        row.is_default = True
        await audit(session, actor, "runner.default", row.name, previous=previous or DEFAULT_RUNNER)


async def unmark_default(session: AsyncSession, row: RunnerRow, actor: str) -> None:
    if row.is_default:
        row.is_default = False
        await audit(session, actor, "runner.default", DEFAULT_RUNNER, previous=row.name)


async def get(session: AsyncSession, name: str) -> RunnerDefinition:
    found = await find(session, name)
    if found is None:
        raise NotFound(f"No runner named {name!r}. List runners with runner_list; admins add them with runner_create.")
    return found


async def list_all(
    session: AsyncSession, where: ColumnElement[bool] | None = None
) -> list[tuple[RunnerDefinition, RunnerRow | None]]:
    """The built-in runners and the rows (``where`` keeps only some: the caller's visible ones)."""
    query = select(RunnerRow).order_by(RunnerRow.name)
    rows = list(await session.scalars(query if where is None else query.where(where)))
    stored = [(definition_of(r), r) for r in rows]
    built = [(b, None) for n in BUILTIN_RUNNER_NAMES if (b := builtin_runner(n)) is not None]
    return sorted([*built, *stored], key=lambda pair: pair[0].name)


async def users(session: AsyncSession, name: str, where: ColumnElement[bool] | None = None) -> list[str]:
    """The templates that name this runner (``where`` keeps only some)."""
    query = select(TaskTemplate.name).where(TaskTemplate.runner == name).order_by(TaskTemplate.name)
    return list(await session.scalars(query if where is None else query.where(where)))


def builtin_refusal(name: str) -> InvalidArguments:
    message = f"{name!r} is a built-in runner (it follows the hub's settings); pick another name."
    return InvalidArguments(message, errors=[{"field": "name", "message": message, "type": "runner_builtin"}])


async def create(
    session: AsyncSession,
    definition: RunnerDefinition,
    actor: str,
    *,
    make_default: bool = False,
    team_id: str = DEFAULT_TEAM_ID,
    visibility: str = "team",
) -> RunnerRow:
    """A new runner owned by ``team_id`` (audited as ``runner.create``)."""
    if definition.name in BUILTIN_RUNNER_NAMES:
        raise builtin_refusal(definition.name)
    if await session.get(RunnerRow, definition.name) is not None:
        raise Conflict(f"A runner named {definition.name!r} exists already; change it with runner_update.")
    row = RunnerRow(
        name=definition.name,
        agent=definition.agent,
        description=definition.description,
        config=_config(definition),
        created_by=actor,
        updated_by=actor,
        team_id=team_id,
        visibility=visibility,
    )
    session.add(row)
    await session.flush()
    await audit(
        session,
        actor,
        "runner.create",
        definition.name,
        agent=definition.agent,
        team=team_id,
        visibility=visibility,
        **_config(definition),
    )
    if make_default:
        await mark_default(session, row, actor)
    return row


async def replace(
    session: AsyncSession,
    definition: RunnerDefinition,
    actor: str,
    *,
    make_default: bool | None = None,
    row: RunnerRow | None = None,
    sharing: tuple[str | None, str] | None = None,
) -> RunnerRow:
    """Replace a runner's settings; ``make_default`` True marks it default, False unmarks it, None keeps it.
    ``row`` is the runner's row when the caller read it already; ``sharing`` its new (team id, visibility)."""
    if definition.name in BUILTIN_RUNNER_NAMES:
        raise builtin_refusal(definition.name)
    row = row or await session.get(RunnerRow, definition.name)
    if row is None:
        raise NotFound(f"No runner named {definition.name!r}; create it with runner_create.")
    if definition.agent != row.agent:
        used = await users(session, definition.name)
        if used:
            raise Conflict(
                f"Runner {definition.name!r} runs {row.agent}, and templates {used} name it; create a new runner "
                "for another agent instead."
            )
    shared: dict[str, object] = {}
    if sharing is not None and sharing != (row.team_id, row.visibility):
        shared = {"team": [row.team_id, sharing[0]], "visibility": [row.visibility, sharing[1]]}
        row.team_id, row.visibility = sharing
    row.agent, row.description, row.config = definition.agent, definition.description, _config(definition)
    row.updated_at, row.updated_by = utcnow(), actor
    templates = sorted(await users(session, definition.name))  # what the change reaches, and through which triggers
    triggers = await session.execute(
        select(Action.kind, Action.name).where(Action.template.in_(templates)).order_by(Action.name)
    )
    await audit(
        session,
        actor,
        "runner.update",
        definition.name,
        agent=definition.agent,
        templates=templates,
        triggers=[f"{kind}:{name}" for kind, name in triggers],
        **shared,
        **_config(definition),
    )
    if make_default:
        await mark_default(session, row, actor)
    elif make_default is False:
        await unmark_default(session, row, actor)
    return row


async def remove(
    session: AsyncSession, name: str, actor: str, *, row: RunnerRow | None = None, seen: list[str] | None = None
) -> RunnerDefinition:
    """Delete a runner no template names. ``seen``: the templates that name it the caller may see (the
    refusal names those and counts the others)."""
    if name in BUILTIN_RUNNER_NAMES:
        raise builtin_refusal(name)
    row = row or await session.get(RunnerRow, name)
    if row is None:
        raise NotFound(f"No runner named {name!r}. List runners with runner_list.")
    used = await users(session, name)
    if used:
        shown = sorted(used) if seen is None else [n for n in sorted(used) if n in set(seen)]
        hidden = len(used) - len(shown)
        listed = ", ".join(shown) + (f" and {hidden} of other teams" if hidden else "")
        raise Conflict(
            f"Runner {name!r} is used by template(s) {listed.removeprefix(' and ')}; point them at another runner "
            "(template_update runner=...) or delete them first."
        )
    definition = definition_of(row)
    await session.delete(row)
    await audit(session, actor, "runner.delete", name)
    return definition


async def adopt(
    session: AsyncSession,
    template: str,
    agent: str,
    host: dict[str, Any],
    model: str | None,
    actor: str,
    *,
    team_id: str = DEFAULT_TEAM_ID,
) -> str:
    """Store inline host settings as a runner of ``team_id`` named after ``template`` (reusing an identical
    one of that team) and return its name. The migration of legacy templates does the same
    (:func:`adopt_sync`)."""
    spec = inline_runner(template, agent, host, model)
    for name in runner_candidates(template):
        if name in BUILTIN_RUNNER_NAMES:
            continue
        existing = await session.get(RunnerRow, name)
        if existing is None:
            await create(session, RunnerDefinition(name=name, **spec.model_dump()), actor, team_id=team_id)
            return name
        if existing.team_id == team_id and definition_of(existing).fingerprint() == spec.fingerprint():
            return name
    raise Conflict(f"Too many runners are named after template {template!r}; create one with runner_create.")


def adopt_sync(conn: Connection, template: str, agent: str, host: dict[str, Any], model: str | None) -> str:
    """:func:`adopt` on a synchronous connection, for the migration (audited as ``migration``)."""
    from hub.db.models import AuditEvent

    spec = inline_runner(template, agent, host, model)
    for name in runner_candidates(template):
        if name in BUILTIN_RUNNER_NAMES:
            continue
        row = conn.execute(SELECT_RUNNER, {"b_name": name}).first()
        if row is None:
            config = _config(spec)
            now = utcnow()
            conn.execute(
                RUNNERS.insert().values(
                    name=name,
                    agent=agent,
                    description=spec.description,
                    config=config,
                    created_at=now,
                    updated_at=now,
                    created_by="migration",
                    updated_by="migration",
                    team_id=DEFAULT_TEAM_ID,
                    visibility="team",
                )
            )
            audit_table: Table = AuditEvent.__table__  # type: ignore[assignment]
            conn.execute(
                audit_table.insert().values(
                    at=now, actor="migration", action="runner.create", target=name, detail={"template": template}
                )
            )
            return name
        if definition_of(row).fingerprint() == spec.fingerprint():
            return name
    raise Conflict(f"Too many runners are named after template {template!r}.")
