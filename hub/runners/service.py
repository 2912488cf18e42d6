"""The runners' service: runner rows and the checks a template's save makes against its runner."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.db.models import RunnerRow, TaskTemplate
from hub.errors import NotFound, PermissionDenied
from hub.principal import Principal, Role
from hub.runners import ownership, store
from hub.runners.model import BUILTIN_RUNNER_NAMES, RunnerDefinition, effective, runner_name_for
from hub.teams.policy import DEFAULT_TEAM_ID, can_change, can_see, check_visibility, visible
from hub.templates.definition import HOST_FIELDS, InlineSettings, TemplateDefinition


class Runners:
    """Runner rows (audited) and templates' runner checks. One per hub (``app.services.get(Runners)``).

    With a ``principal``, reads keep to the runners it may see and changes to those it may change
    (``hub.runners.ownership``); without one (the hub itself) every runner."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_all(self, principal: Principal | None = None) -> list[tuple[RunnerDefinition, RunnerRow | None]]:
        async with self.db.session() as session:
            where = None if principal is None else visible(principal, ownership.READ, RunnerRow)
            return await store.list_all(session, where)

    async def get(
        self, name: str, principal: Principal | None = None
    ) -> tuple[RunnerDefinition, RunnerRow | None, list[str]]:
        """The runner, its row (None for a built-in one) and the templates that name it (those the
        principal may see)."""
        async with self.db.session() as session:
            row = await session.get(RunnerRow, name)
            if row is not None and principal is not None and not _sees(principal, row):
                raise NotFound(
                    f"No runner named {name!r}. List runners with runner_list; admins add them with runner_create."
                )
            definition = store.definition_of(row) if row is not None else await store.get(session, name)
            where = None if principal is None else visible(principal, "templates.read", TaskTemplate)
            return definition, row, await store.users(session, name, where)

    async def owners(self, ids: list[str | None]) -> dict[str, str]:
        """Team names by id (for showing a runner's owning team)."""
        async with self.db.session() as session:
            return await ownership.team_names(session, ids)

    async def create(
        self,
        definition: RunnerDefinition,
        principal: Principal,
        *,
        make_default: bool = False,
        team: str | None = None,
        visibility: str | None = None,
    ) -> RunnerRow:
        """A runner in ``team`` (a name; default the principal's own), ``visibility`` (default team).

        Raises:
            NotFound: unknown team. PermissionDenied: no runners.manage there, or ``make_default`` without
                runners.manage held hub-wide (the default runner serves every team).
        """
        async with self.db.session() as session:
            team_id, chosen = await ownership.new_owner(session, principal, ownership.MANAGE, team, visibility)
            if make_default:
                _may_mark_default(principal)
            return await store.create(
                session, definition, principal.name, make_default=make_default, team_id=team_id, visibility=chosen
            )

    async def replace(
        self,
        definition: RunnerDefinition,
        principal: Principal,
        *,
        make_default: bool | None = None,
        team: str | None = None,
        visibility: str | None = None,
    ) -> RunnerRow:
        """Replace a runner's settings (and its team or visibility when given), if ``principal`` may change it."""
        async with self.db.session() as session:
            row = await self._changeable(session, principal, definition.name)
            if make_default is not None and make_default != bool(row.is_default):
                _may_mark_default(principal)
            sharing = None
            if team is not None or visibility is not None:
                moved = await ownership.moved_to(session, principal, ownership.MANAGE, row.team_id, team)
                sharing = (moved, check_visibility(visibility) or row.visibility)
            return await store.replace(
                session, definition, principal.name, make_default=make_default, row=row, sharing=sharing
            )

    async def default(self) -> RunnerDefinition:
        """The default runner (the marked one, else the built-in ``goose``)."""
        async with self.db.session() as session:
            return await store.default(session)

    async def remove(self, name: str, principal: Principal) -> RunnerDefinition:
        async with self.db.session() as session:
            row = await self._changeable(session, principal, name)
            seen = await store.users(session, name, visible(principal, "templates.read", TaskTemplate))
            return await store.remove(session, name, principal.name, row=row, seen=seen)

    async def _changeable(self, session: AsyncSession, principal: Principal, name: str) -> RunnerRow:
        """Raises:
        InvalidArguments: a built-in runner. NotFound: no such runner, or one the principal may not see.
        PermissionDenied: it sees the runner but may not change it (another team's).
        """
        row = await session.get(RunnerRow, name)
        if row is None and name in BUILTIN_RUNNER_NAMES:
            raise store.builtin_refusal(name)
        if row is None or not _sees(principal, row):
            raise NotFound(f"No runner named {name!r}. List runners with runner_list.")
        if not can_change(principal, ownership.MANAGE, row):
            raise PermissionDenied(
                f"You may use runner {name!r} but not change it: that needs runners.manage in its owning team. "
                "Ask a member of that team."
            )
        return row

    async def resolve(
        self,
        definition: TemplateDefinition,
        inline: InlineSettings | None,
        principal: Principal,
        *,
        agent_given: bool = True,
        team_id: str = DEFAULT_TEAM_ID,
    ) -> TemplateDefinition:
        """A template about to be saved, with an admin's inline host settings turned into a runner (named
        after the template, reused when identical, owned by the template's ``team_id``), then checked
        against its runner (one ``team_id`` may use). Without ``agent_given``, a template naming a runner
        takes the runner's agent.

        Raises:
            PermissionDenied: a non-admin passed host settings (naming the field and runner_create).
            InvalidArguments: unknown runner, another agent's runner, a model or timeout out of bounds.
        """
        host = inline.host() if inline is not None else {}
        if host:
            if not principal.role.allows(Role.admin):
                fields = ", ".join(f"agent_settings.{k}" for k in HOST_FIELDS if k in host)
                raise PermissionDenied(
                    f"{fields} reach the hub's host or network, so only an admin sets them, on a runner "
                    "(runner_create). Name an existing runner in `runner` instead (runner_list)."
                )
            async with self.db.session() as session:
                agent = definition.agent or (await store.default(session)).agent
                name = await store.adopt(
                    session,
                    definition.name,
                    agent,
                    host,
                    definition.agent_settings.model,
                    principal.name,
                    team_id=team_id,
                )
            definition = definition.model_copy(update={"runner": name, "agent": agent})
        async with self.db.session() as session:
            if definition.runner is None and definition.agent is None:  # the default runner, whichever it is then
                runner: RunnerDefinition | None = await store.default(session)
                name = runner.name if runner is not None else runner_name_for(None, None)
            else:
                name = runner_name_for(definition.agent, definition.runner)
                runner = await store.find(session, name)
                if definition.runner is not None:  # a runner it names: one its team may use
                    ownership.require_usable(principal, await session.get(RunnerRow, name), name, team_id)
        named = definition.runner is not None
        if named and runner is not None and runner.agent != definition.agent and not (agent_given and definition.agent):
            definition = definition.model_copy(update={"agent": runner.agent})
        effective(definition.agent, definition.agent_settings, runner, name)
        return definition


def _sees(principal: Principal, row: RunnerRow) -> bool:
    return can_see(principal, ownership.READ, row) or can_see(principal, ownership.MANAGE, row)


def _may_mark_default(principal: Principal) -> None:
    if principal.grants.teams_with(ownership.MANAGE) is not None:
        raise PermissionDenied(
            "The default runner serves every team, so marking or unmarking it needs runners.manage hub-wide "
            "(an admin). Leave `default` unset."
        )
