"""The objects a team owns (the ``Owned`` tables), counted for team_delete and moved by team_transfer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    Action,
    DeliveryDestination,
    DiscordScope,
    Execution,
    Extension,
    RunnerRow,
    Secret,
    TaskTemplate,
)
from hub.errors import InvalidArguments, NotFound


@dataclass(frozen=True)
class OwnedKind:
    """One kind of team object: its table and the column(s) that name one."""

    kind: str
    table: str
    model: Any

    def label(self, row: Any) -> str:
        if self.model is DiscordScope:
            return f"{row.kind}:{row.discord_id}"
        if self.model is Extension:
            return str(row.key)
        if self.model is Execution:
            return str(row.id)
        return str(row.name)

    def columns(self) -> tuple[Any, ...]:
        if self.model is DiscordScope:
            return (DiscordScope.kind, DiscordScope.discord_id)
        if self.model is Extension:
            return (Extension.key,)
        if self.model is Execution:
            return (Execution.id,)
        return (self.model.name,)

    def named(self, names: Sequence[str]) -> ColumnElement[bool]:
        """A WHERE clause for the objects called ``names`` (``channel:123`` / ``guild:45`` for chat scopes)."""
        if self.model is not DiscordScope:
            column: Any = self.columns()[0]
            clause: ColumnElement[bool] = column.in_(list(names))
            return clause
        clauses = []
        for name in names:
            kind, _, ident = name.partition(":")
            if not ident.isdigit() or kind not in ("guild", "channel"):
                raise InvalidArguments(
                    f"Name chat scopes as guild:<id> or channel:<id>, not {name!r}.",
                    errors=[{"field": "names", "message": "guild:<id> or channel:<id>", "type": "pattern"}],
                )
            clauses.append(and_(DiscordScope.kind == kind, DiscordScope.discord_id == int(ident)))
        return or_(*clauses)


KINDS: tuple[OwnedKind, ...] = (
    OwnedKind("template", "templates", TaskTemplate),
    OwnedKind("runner", "runners", RunnerRow),
    OwnedKind("extension", "extensions", Extension),
    OwnedKind("secret", "secrets", Secret),
    OwnedKind("action", "actions", Action),
    OwnedKind("discord_scope", "discord_scopes", DiscordScope),
    OwnedKind("destination", "delivery_destinations", DeliveryDestination),
    OwnedKind("execution", "executions", Execution),
)
BY_KIND = {k.kind: k for k in KINDS}
KIND_NAMES = tuple(BY_KIND)


def kind_of(name: str) -> OwnedKind:
    try:
        return BY_KIND[name]
    except KeyError:
        raise InvalidArguments(
            f"Unknown object kind {name!r}: use one of {', '.join(KIND_NAMES)} "
            "(schedules, webhooks and reaction bindings are actions).",
            errors=[{"field": "kind", "message": f"unknown kind {name!r}", "type": "enum"}],
        ) from None


async def counts(session: AsyncSession, team_id: str) -> dict[str, int]:
    """How many objects of each kind ``team_id`` owns (kinds with none left out)."""
    out: dict[str, int] = {}
    for kind in KINDS:
        found = int(
            await session.scalar(select(func.count()).select_from(kind.model).where(kind.model.team_id == team_id)) or 0
        )
        if found:
            out[kind.table] = found
    return out


async def samples(session: AsyncSession, team_id: str, limit: int = 5) -> dict[str, tuple[int, list[str]]]:
    """Per table the number of objects ``team_id`` owns and the names of the first ``limit``."""
    out: dict[str, tuple[int, list[str]]] = {}
    for table, total in (await counts(session, team_id)).items():
        kind = next(k for k in KINDS if k.table == table)
        rows = await session.execute(
            select(*kind.columns()).where(kind.model.team_id == team_id).order_by(*kind.columns()).limit(limit)
        )
        names = [":".join(str(part) for part in row) for row in rows]
        out[table] = (total, names)
    return out


async def move(
    session: AsyncSession, source: str, target: str, kind_name: str | None, names: Sequence[str] | None
) -> dict[str, int]:
    """Move objects from team ``source`` to ``target``: the named ones of one kind, or all of them.

    Moving a template also moves its executions that ``source`` owns (a run belongs to its
    template's team). Raises NotFound naming the objects ``source`` does not own.
    """
    moved: dict[str, int] = {}
    if kind_name is None:
        for kind in KINDS:
            result = await session.execute(
                update(kind.model)
                .where(kind.model.team_id == source)
                .values(team_id=target)
                .execution_options(synchronize_session=False)
            )
            if rowcount(result):
                moved[kind.table] = rowcount(result)
        return moved
    kind = kind_of(kind_name)
    wanted = sorted(set(names or ()))
    rows = list(await session.execute(select(*kind.columns()).where(kind.named(wanted), kind.model.team_id == source)))
    found = {":".join(str(part) for part in row) for row in rows}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise NotFound(
            f"The source team owns no {kind.kind} named {', '.join(missing)}. Nothing was moved; "
            "see team_get for what it owns."
        )
    result = await session.execute(
        update(kind.model)
        .where(kind.named(wanted), kind.model.team_id == source)
        .values(team_id=target)
        .execution_options(synchronize_session=False)
    )
    moved[kind.table] = rowcount(result)
    if kind.model is TaskTemplate:
        runs = await session.execute(
            update(Execution)
            .where(Execution.template_name.in_(wanted), Execution.team_id == source)
            .values(team_id=target)
            .execution_options(synchronize_session=False)
        )
        if rowcount(runs):
            moved["executions"] = rowcount(runs)
    return moved


def rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
