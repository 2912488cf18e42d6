"""The runners' service: runner rows and the checks a template's save makes against its runner."""

from __future__ import annotations

from hub.db import Database
from hub.db.models import RunnerRow
from hub.errors import PermissionDenied
from hub.principal import Principal, Role
from hub.runners import store
from hub.runners.model import RunnerDefinition, effective, runner_name_for
from hub.templates.definition import HOST_FIELDS, InlineSettings, TemplateDefinition


class Runners:
    """Runner rows (audited) and templates' runner checks. One per hub (``app.services.get(Runners)``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_all(self) -> list[tuple[RunnerDefinition, RunnerRow | None]]:
        async with self.db.session() as session:
            return await store.list_all(session)

    async def get(self, name: str) -> tuple[RunnerDefinition, RunnerRow | None, list[str]]:
        """The runner, its row (None for a built-in one) and the templates that name it."""
        async with self.db.session() as session:
            definition = await store.get(session, name)
            row = await session.get(RunnerRow, name)
            return definition, row, await store.users(session, name)

    async def create(self, definition: RunnerDefinition, actor: str, *, make_default: bool = False) -> RunnerRow:
        async with self.db.session() as session:
            return await store.create(session, definition, actor, make_default=make_default)

    async def replace(self, definition: RunnerDefinition, actor: str, *, make_default: bool | None = None) -> RunnerRow:
        async with self.db.session() as session:
            return await store.replace(session, definition, actor, make_default=make_default)

    async def default(self) -> RunnerDefinition:
        """The default runner (the marked one, else the built-in ``goose``)."""
        async with self.db.session() as session:
            return await store.default(session)

    async def remove(self, name: str, actor: str) -> RunnerDefinition:
        async with self.db.session() as session:
            return await store.remove(session, name, actor)

    async def resolve(
        self,
        definition: TemplateDefinition,
        inline: InlineSettings | None,
        principal: Principal,
        *,
        agent_given: bool = True,
    ) -> TemplateDefinition:
        """A template about to be saved, with an admin's inline host settings turned into a runner (named
        after the template, reused when identical), then checked against its runner. Without ``agent_given``,
        a template naming a runner takes the runner's agent.

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
                    session, definition.name, agent, host, definition.agent_settings.model, principal.name
                )
            definition = definition.model_copy(update={"runner": name, "agent": agent})
        async with self.db.session() as session:
            if definition.runner is None and definition.agent is None:  # the default runner, whichever it is then
                runner: RunnerDefinition | None = await store.default(session)
                name = runner.name if runner is not None else runner_name_for(None, None)
            else:
                name = runner_name_for(definition.agent, definition.runner)
                runner = await store.find(session, name)
        named = definition.runner is not None
        if named and runner is not None and runner.agent != definition.agent and not (agent_given and definition.agent):
            definition = definition.model_copy(update={"agent": runner.agent})
        effective(definition.agent, definition.agent_settings, runner, name)
        return definition
