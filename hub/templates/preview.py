"""A template prepared for a run: loaded, its parameters checked, its prompt rendered — nothing written.

The engine prepares every submission through :func:`prepare`; ``template_render`` and MCP prompts
show the same preview. :func:`validate` applies the recipe rules and the agent's own checks when a
template is saved.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection, Table, bindparam, select

from hub.db.models import TaskTemplate
from hub.errors import InvalidArguments, NotFound
from hub.runners.model import RunOptions, builtin_runner, effective, runner_name_for
from hub.runners.store import read_for
from hub.templates.definition import TemplateDefinition, bind_values, check_definition
from hub.templates.rendering import render_async
from hub.templates.store import definition_of

TEMPLATES = TaskTemplate.__table__
assert isinstance(TEMPLATES, Table)
SELECT_TEMPLATE = select(TEMPLATES).where(TEMPLATES.c.name == bindparam("b_name"))  # built once: the hot path


@dataclass(frozen=True)
class RunPreview:
    """A template rendered for a run, before the execution row exists."""

    template: str
    version: int
    agent: str
    params: dict[str, Any]
    prompt: str
    instructions: str | None
    extensions: list[str]
    options: RunOptions
    """The template's knobs on its runner (:func:`hub.runners.model.effective`): all an agent reads."""
    team_id: str | None = None
    """The template's owning team: its runs belong to it (read here, so a run costs no second lookup)."""


@runtime_checkable
class CheckingAgent(Protocol):
    def check(self, definition: TemplateDefinition) -> None:
        """Refuse a template this agent cannot run (raise InvalidArguments), at create/update time."""
        ...


Reader = Callable[[Callable[[Connection], Any]], Awaitable[Any]]
_DEFINITIONS: OrderedDict[tuple[str, int, str | None], TemplateDefinition] = OrderedDict()
DEFINITION_CACHE = 256  # parsed definitions kept, keyed by name, version and content hash


def _definition(row: Any) -> TemplateDefinition:
    """The row's definition, parsed once per version (a run reads the row, not the models, each time)."""
    key = (row.name, row.version, row.content_hash)
    definition = _DEFINITIONS.get(key)
    if definition is None:
        definition = _DEFINITIONS[key] = definition_of(row)
        while len(_DEFINITIONS) > DEFINITION_CACHE:
            _DEFINITIONS.popitem(last=False)
    return definition


async def prepare(read: Reader, template: str, params: Mapping[str, Any] | None = None) -> RunPreview:
    """Load ``template``, resolve its runner, check ``params`` and render its prompt and instructions
    (nothing is written).

    Raises:
        NotFound: no such template.
        InvalidArguments: bad parameters, a rendering error, or a runner that is unknown or does not allow
            the template's model or timeout (naming the field).

    ``read`` runs a synchronous read: ``Database.read``, or the engine's shorter road."""
    row = await read(lambda conn: conn.execute(SELECT_TEMPLATE, {"b_name": template}).first())
    if row is None:
        raise NotFound(f"No template named {template!r}. List templates with template_list.")
    definition, version = _definition(row), row.version
    if definition.runner is None and definition.agent is not None:  # the built-in runner: no second read
        name = runner_name_for(definition.agent, None)
        runner = builtin_runner(name)
    else:  # its runner, or the default runner
        name, runner = await read(lambda conn: read_for(conn, definition.agent, definition.runner))
    options = effective(definition.agent, definition.agent_settings, runner, name)
    agent = definition.agent or (runner.agent if runner is not None else name)
    values = bind_values(definition.parameters, params)
    prompt = await render_async(definition.prompt, values, "prompt")
    instructions = None
    if definition.instructions:
        instructions = await render_async(definition.instructions, values, "instructions")
    return RunPreview(
        template=definition.name,
        version=version,
        agent=agent,
        params=values,
        prompt=prompt,
        instructions=instructions,
        extensions=list(definition.extensions),
        options=options,
        team_id=row.team_id,
    )


def validate(definition: TemplateDefinition, agents: Mapping[str, Any]) -> None:
    """Recipe rules plus the agent's own checks.

    Raises:
        InvalidArguments: what is wrong and how to fix it.
    """
    if definition.agent is None:  # the default runner's agent, known at run time: the recipe rules only
        check_definition(definition)
        return
    agent = agents.get(definition.agent)
    if agent is None:
        known = ", ".join(sorted(agents)) or "none installed"
        raise InvalidArguments(
            f"Unknown agent {definition.agent!r}; this hub has: {known}.",
            errors=[{"field": "agent", "message": "unknown agent", "type": "agent_unknown"}],
        )
    check_definition(definition)
    if isinstance(agent, CheckingAgent):
        agent.check(definition)
