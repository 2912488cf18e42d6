"""Helpers for engine, execution and agent tests: templates, a running hub in process, bounded polling."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from hub.app import build_context, running
from hub.context import AppContext
from hub.engine import Engine, ExecutionInfo, Trigger
from hub.engine.process import group_members
from hub.settings import Settings
from hub.templates import preview as previews
from hub.templates import store
from hub.templates.definition import AgentSettings, Parameter, TemplateDefinition

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
    **agent_settings: Any,
) -> None:
    if parameters is None:
        parameters = [Parameter(key="text", requirement="optional", default="hello")]
    definition = TemplateDefinition(
        name=name,
        title=name,
        prompt=prompt,
        instructions=instructions,
        parameters=parameters,
        extensions=extensions or [],
        agent=agent,
        agent_settings=AgentSettings(**agent_settings),
    )
    previews.validate(definition, app.registry.provided("agent"))
    async with app.db.session() as session:
        await store.create(session, definition, "test")


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
