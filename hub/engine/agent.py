"""The one small interface between the engine and an agent backend.

An agent module declares ``plugin.provide("agent", "goose", GooseAgent())``; the engine looks it
up by the template's ``agent`` name and awaits ``agent.run(run)``. The engine owns everything
around the call: the row, the timeout and cancel (the run is cancelled through anyio; an agent
that spawns processes uses :func:`hub.engine.process.run_process`, which kills the whole process
group), the log, retries. An agent only turns a rendered prompt into an :class:`AgentResult`, or
raises :class:`~hub.errors.AgentRunError` with a message that says what to fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from hub.principal import Role
from hub.runners.model import RunOptions
from hub.templates.preview import RunPreview

if TYPE_CHECKING:
    from hub.context import AppContext
    from hub.plugin import Call
    from hub.settings import Settings


class Usage(BaseModel):
    """Token usage and cost, when the agent reports them."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    model: str | None = Field(default=None, description="The model that answered, when known.")


@dataclass
class AgentResult:
    """What a run produced. ``failed`` with an ``error`` ends the run ``failed`` (e.g. a provider
    failure Goose reported as text with exit status 0)."""

    output: str = ""
    structured: dict[str, Any] | None = None
    usage: Usage | None = None
    exit_code: int | None = None
    failed: bool = False
    error: str | None = None


@dataclass(frozen=True)
class HubAccess:
    """How a run's agent reaches the hub's MCP endpoint: the URL and a short-lived bearer token."""

    url: str
    token: str


@dataclass
class AgentRun:
    """One execution as an agent sees it."""

    execution_id: str
    template: str
    template_version: int
    prompt: str
    instructions: str | None
    params: dict[str, Any]
    extensions: list[str]
    options: RunOptions
    """The template's knobs and its runner's host settings: the only place an agent reads them."""
    app: AppContext
    workdir: Path
    log: Callable[[str, str], None]
    """``log(stream, text)``: append one line to the execution's log (``stdout``, ``stderr``, ``agent``...)."""
    hub_access: Callable[[], Awaitable[HubAccess]]
    """Mint (once) a token scoped to this run and return the hub's MCP URL with it."""
    process_started: Callable[[int], None]
    """Tell the engine the pid of the run's process-group leader (recorded for crash recovery)."""
    attachment: Any = None
    """An in-memory object bound to this run by :meth:`CallerBoundAgent.bind` (e.g. the caller's sampler)."""
    output_limit: int = 200_000
    role: Role = Role.operator
    """The run's role (the caller's, or the trigger's): the highest role of the extensions it may get."""
    team: str | None = None
    """The team the execution belongs to: it gets that team's (and public) extensions, whose secrets
    resolve in the extension's own team (``hub.runners.access``, ``hub.vault.ownership``)."""
    created_by: str | None = None
    """Who started it (for the extensions private to them)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.app.settings


@runtime_checkable
class Agent(Protocol):
    """An agent backend, provided under kind ``agent``."""

    async def run(self, run: AgentRun) -> AgentResult:
        """Carry out the run.

        Raises:
            AgentRunError: the agent could not run or failed; the message is stored as the error.
        """
        ...


@runtime_checkable
class CallerBoundAgent(Protocol):
    async def bind(self, call: Call, preview: RunPreview) -> Any:
        """Bind the run to its caller (e.g. the MCP session to sample from) before the row is written.

        Returns the attachment handed to ``run`` as ``AgentRun.attachment``, or an MCP
        ``InputRequiredResult`` the tool returns so the client can answer first (2026 protocol).
        """
        ...


class SecretResolver(Protocol):
    """What agents need of the secrets vault (``app.services.get(Vault)``): a value by name."""

    async def get(self, name: str, scope: str = "env") -> str: ...
