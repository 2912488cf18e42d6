"""Helpers for engine, execution and agent tests: templates, a running hub in process, bounded polling."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from hub import accounts
from hub.app import build_context, running
from hub.context import AppContext
from hub.db.models import Execution, ExecutionLogLine, new_id, utcnow
from hub.engine import Engine, ExecutionInfo, Trigger
from hub.engine.process import group_members
from hub.principal import Role
from hub.runners import store as runners_store
from hub.settings import Settings
from hub.templates import preview as previews
from hub.templates import store
from hub.templates.definition import InlineSettings, Parameter, TemplateDefinition

API = Trigger(kind="api", actor="test")
PYTHON = sys.executable


@asynccontextmanager
async def hub_running(settings: Settings, transport: str = "stdio") -> AsyncIterator[AppContext]:
    """A hub with its engine running, in this process (no HTTP)."""
    app = build_context(settings, transport=transport)
    async with running(app):
        yield app


def engine_of(app: AppContext) -> Engine:
    return app.services.get(Engine)


async def add_template(
    app: AppContext,
    name: str,
    *,
    agent: str = "command",
    prompt: str = "{{ text }}",
    instructions: str | None = None,
    parameters: list[Parameter] | None = None,
    extensions: list[str] | None = None,
    runner: str | None = None,
    **agent_settings: Any,
) -> None:
    """Store a template as an admin would: host settings given inline (argv, base_url...) become a
    runner named after the template, as template_create does for an admin."""
    if parameters is None:
        parameters = [Parameter(key="text", requirement="optional", default="hello")]
    inline = InlineSettings(**agent_settings)
    definition = TemplateDefinition(
        name=name,
        title=name,
        prompt=prompt,
        instructions=instructions,
        parameters=parameters,
        extensions=extensions or [],
        agent=agent,
        runner=runner,
        agent_settings=inline.knobs(),
    )
    host = inline.host()
    if host or (agent in ("goose", "openai") and inline.model and runner is None):
        async with app.db.session() as session:
            runner = await runners_store.adopt(session, name, agent, host, inline.model, "test")
        definition = definition.model_copy(update={"runner": runner})
    previews.validate(definition, app.registry.provided("agent"))
    async with app.db.session() as session:
        await store.create(session, definition, "test")


async def repoint_template(app: AppContext, name: str, *, agent: str | None = None, **agent_settings: Any) -> None:
    """Change a stored template's agent and settings in place, as the hub itself does (so a read-only built-in
    like meeting-summary too, as a release changing the library would). Host settings (argv...) go on a
    runner named after the template, as :func:`add_template` does."""
    inline = InlineSettings(**agent_settings)
    async with app.db.session() as session:
        row = await store.get_row(session, name)
        agent = agent or row.agent
        runner = None
        if inline.host() or (agent in ("goose", "openai") and inline.model):
            runner = await runners_store.adopt(session, name, agent, inline.host(), inline.model, "test")
        update = {"agent": agent, "runner": runner, "agent_settings": inline.knobs()}
        definition = store.definition_of(row).model_copy(update=update)
        previews.validate(definition, app.registry.provided("agent"))
        await store.replace(session, row, definition, "test", library=True)


def python_argv(code: str) -> list[str]:
    """argv for a command agent written in Python (no shell involved)."""
    return [PYTHON, "-c", code]


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy, within a bounded time."""
    with anyio.fail_after(timeout):
        while True:
            value = await check()
            if value:
                return value
            await anyio.sleep(0.02)
    raise AssertionError(what)  # pragma: no cover - fail_after raises first


async def finished(app: AppContext, execution_id: str, timeout: float = 30.0) -> ExecutionInfo:
    info = await engine_of(app).wait(execution_id, timeout)
    assert info.final, f"execution {execution_id} still {info.status} after {timeout} s"
    return info


async def status_of(app: AppContext, execution_id: str) -> str:
    return (await engine_of(app).get(execution_id)).status


async def log_text(app: AppContext, execution_id: str) -> str:
    lines, _ = await engine_of(app).logs(execution_id, limit=10_000)
    return "\n".join(f"{line.stream}: {line.text}" for line in lines)


def group_gone(pgid: int) -> bool:
    return not group_members(pgid)


async def pid_of(app: AppContext, execution_id: str) -> int:
    """The recorded pid of a run's process-group leader (recorded just after it started)."""
    from hub.db.models import Execution

    async def recorded() -> int | None:
        async with app.db.session() as session:
            return (await session.get(Execution, execution_id)).pid  # type: ignore[union-attr]

    return int(await until(recorded, what="the run's pid to be recorded"))


def execution_row(template: str, **fields: Any) -> Execution:
    """An execution row as the engine writes one (a command run of ``template``); ``fields`` override."""
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id(),
        "template_name": template,
        "template_version": 1,
        "agent": "command",
        "status": "succeeded",
        "trigger_kind": "api",
        "trigger_actor": "admin",
        "run_role": "operator",
        "params": {},
        "prompt": "p",
        "extensions": [],
        "agent_settings": {},
        "timeout_seconds": 60,
        "attempt": 1,
        "max_retries": 0,
        "queued_at": now,
        "started_at": now,
        "finished_at": now,
        "visibility": "private",  # as the engine writes a run (the Owned default is "team")
    }
    return Execution(**{**values, **fields})


async def orphan(app: AppContext, template: str, owner: str, *, retries: int = 0, host: str | None = None) -> str:
    """A row as a crashed hub (or another hub process) leaves it: running, claimed by ``owner``, with some log."""
    row = execution_row(
        template,
        status="running",
        trigger_kind="schedule",
        trigger_actor="nightly",
        agent_settings={"argv": ["true"], "retries": retries},
        max_retries=retries,
        finished_at=None,
        claimed_by=owner,
        host=host,
        log_lines=1,
        log_bytes=10,
    )
    row_id = row.id
    async with app.db.session() as session:
        session.add(row)
        await session.flush()
        session.add(ExecutionLogLine(execution_id=row_id, seq=1, stream="stdout", text="halfway"))
        await accounts.create_token(session, f"run:{row_id}", Role.operator)
    return row_id
