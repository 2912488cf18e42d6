"""What a runner is, the built-in runners, and a template's effective run options on a runner.

A runner is an admin's grant: the agent kind plus everything of a run that reaches the host or the
network. A template names a runner and sets only harmless knobs (:class:`AgentSettings`);
:func:`effective` joins the two into the one :class:`RunOptions` an agent reads.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.errors import InvalidArguments
from hub.extensions.schema import GOOSE_BUILTINS
from hub.templates.definition import HOST_FIELDS, NAME_PATTERN, AgentSettings
from hub.vault.service import SECRET_NAME

BUILTIN_RUNNER_NAMES = ("goose", "openai", "sampling")
DEFAULT_RUNNER = "goose"  # the default runner while no runner is marked default


class RunnerSpec(BaseModel):
    """A runner's settings (everything but its name)."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(max_length=32, description="goose, openai, command or a plugin agent.")
    description: str = Field(default="", max_length=2000)
    argv: list[str] | None = Field(default=None, description="command agent: program and arguments (no shell).")
    base_url: str | None = Field(
        default=None, max_length=500, description="openai agent: API base URL (default GOOSUKE_OPENAI_BASE_URL)."
    )
    api_key_secret: str | None = Field(
        default=None,
        pattern=SECRET_NAME.pattern,
        description="openai agent: vault secret holding the API key (default GOOSUKE_OPENAI_API_KEY).",
    )
    provider: str | None = Field(
        default=None, max_length=64, description="goose agent: provider (default GOOSUKE_GOOSE_PROVIDER)."
    )
    models: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Models a template may choose; the first is the default. Empty: the hub's configured model only.",
    )
    builtins: list[str] = Field(
        default_factory=list,
        description=f"Goose built-in extensions runs may get ({', '.join(sorted(GOOSE_BUILTINS))}); "
        "default none (`developer` is a shell).",
    )
    extensions: list[str] | None = Field(
        default=None, description="Hub extensions runs may get (by name); null: any the run's role may use."
    )
    max_timeout: float | None = Field(
        default=None, gt=0, le=86_400, description="Largest timeout, seconds, a template may set."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Free-form settings for plugin agents.")

    @field_validator("builtins")
    @classmethod
    def _builtins(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - GOOSE_BUILTINS)
        if unknown:
            raise ValueError(f"{unknown} are not Goose built-ins; known: {sorted(GOOSE_BUILTINS)}")
        return list(dict.fromkeys(names))

    def fingerprint(self) -> str:
        data = self.model_dump(mode="json", exclude={"description"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class RunnerDefinition(RunnerSpec):
    """A named runner."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique name, e.g. local-llm.")


def builtin_runner(name: str) -> RunnerDefinition | None:
    """The runners every hub has without a row: the hub's own settings for goose, openai and sampling."""
    descriptions = {
        "goose": "Goose with the hub's GOOSUKE_GOOSE_* provider and model; no built-in extensions.",
        "openai": "The hub's GOOSUKE_OPENAI_* server, model and key.",
        "sampling": "The calling MCP client's model (no host access).",
    }
    if name not in descriptions:
        return None
    return RunnerDefinition(name=name, agent=name, description=descriptions[name])


class RunOptions(AgentSettings):
    """A run's effective options: the template's knobs plus its runner's host fields (what agents read)."""

    runner: str | None = None
    provider: str | None = None
    argv: list[str] | None = None
    base_url: str | None = None
    api_key_secret: str | None = None
    builtins: list[str] = Field(default_factory=list)
    allowed_extensions: list[str] | None = None
    max_timeout: float | None = None
    options: dict[str, Any] = Field(default_factory=dict)


def _refuse(field: str, message: str, kind: str) -> InvalidArguments:
    return InvalidArguments(message, errors=[{"field": field, "message": message, "type": kind}])


def runner_name_for(agent: str | None, runner: str | None, default: str = DEFAULT_RUNNER) -> str:
    """The runner a template runs on: its own; else the built-in one named like its agent; else (no agent
    either) the ``default`` runner.

    Raises:
        InvalidArguments: a command template without a runner (there is no built-in one).
    """
    if runner:
        return runner
    if agent is None:
        return default
    if agent == "command":
        raise _refuse(
            "runner",
            "The command agent has no built-in runner: name a runner (runner_list) in the template's `runner`, "
            "or ask an admin to create one with runner_create (its argv is the program to run).",
            "runner_missing",
        )
    return agent


def effective(agent: str | None, knobs: AgentSettings, runner: RunnerDefinition | None, name: str) -> RunOptions:
    """The template's knobs on its runner, checked against the runner's bounds.

    ``runner`` None means no runner of that ``name`` exists; a plugin agent without a runner of its own
    name runs with no host settings. ``agent`` None (a template on the default runner) takes the runner's.

    Raises:
        InvalidArguments: unknown runner, another agent's runner, a model outside the runner's list, a
            timeout above its bound; each naming the field.
    """
    if agent is None:
        agent = runner.agent if runner is not None else name
    if runner is None:
        if name == agent and agent != "command":
            try:
                runner = RunnerDefinition(name=name, agent=agent)
            except ValidationError:
                raise _refuse(
                    "agent",
                    f"No agent named {agent!r}: use goose, openai, command, sampling or a plugin agent's name.",
                    "agent_unknown",
                ) from None
        else:
            raise _refuse(
                "runner",
                f"No runner named {name!r}. List runners with runner_list; an admin creates them with runner_create.",
                "runner_unknown",
            )
    if runner.agent != agent:
        raise _refuse(
            "runner",
            f"Runner {runner.name!r} runs the {runner.agent} agent, not {agent}; set agent to {runner.agent!r} or "
            "pick another runner (runner_list).",
            "runner_agent",
        )
    model = knobs.model
    if model is not None and model not in runner.models:
        allowed = f"one of {runner.models}" if runner.models else "left unset (the hub's configured model)"
        raise _refuse(
            "agent_settings.model",
            f"agent_settings.model: {model!r} is not allowed on runner {runner.name!r}: it must be {allowed}. "
            "An admin adds "
            "models with runner_update.",
            "runner_model",
        )
    if knobs.timeout is not None and runner.max_timeout is not None and knobs.timeout > runner.max_timeout:
        raise _refuse(
            "agent_settings.timeout",
            f"agent_settings.timeout: {knobs.timeout:g} s is above runner {runner.name!r}'s max_timeout of "
            f"{runner.max_timeout:g} s; lower it or ask an admin to raise the runner's bound.",
            "runner_timeout",
        )
    data = knobs.model_dump()
    data["model"] = model or (runner.models[0] if runner.models else None)
    return RunOptions(
        **data,
        runner=runner.name,
        provider=runner.provider,
        argv=runner.argv,
        base_url=runner.base_url,
        api_key_secret=runner.api_key_secret,
        builtins=list(runner.builtins),
        allowed_extensions=None if runner.extensions is None else list(runner.extensions),
        max_timeout=runner.max_timeout,
        options=dict(runner.options),
    )


def split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A legacy or inline ``agent_settings`` as (template knobs, host fields given)."""
    knobs = {k: v for k, v in settings.items() if k not in HOST_FIELDS}
    host = {k: v for k, v in settings.items() if k in HOST_FIELDS and v not in (None, {}, [])}
    return knobs, host


def inline_runner(template: str, agent: str, host: dict[str, Any], model: str | None) -> RunnerSpec:
    """The runner an admin's inline host settings (or a legacy template's) become: those fields, the
    template's model as its only model, and for Goose no built-ins (they become explicit grants)."""
    return RunnerSpec(
        agent=agent,
        description=f"Created from the inline settings of template {template}.",
        models=[model] if model else [],
        **host,
    )


def runner_candidates(template: str) -> list[str]:
    """Names to try for a runner made from a template's settings: the template's name, then -2, -3..."""
    base = template[:60]
    return [base, *(f"{base}-{i}" for i in range(2, 100))]
