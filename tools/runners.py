"""Runners: what an admin lets templates run (an agent and its host settings); operators pick among them.

Admins create, change and delete runners; everyone may read them. A runner shows its key's secret by
name only, never its value. Deleting a runner that a template names is refused. One runner may be the
default (``default: true``): templates that name neither a runner nor an agent run on it; with none
marked, the built-in ``goose`` runner is the default.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.clock import UtcDatetime, aware
from hub.db.models import RunnerRow
from hub.plugin import Arguments
from hub.runners.model import RunnerDefinition, RunnerSpec
from hub.runners.service import Runners
from hub.templates.definition import NAME_PATTERN

plugin = Plugin("runners")

NAME = Field(pattern=NAME_PATTERN, description="The runner's name, e.g. local-llm.")


class RunnerName(Arguments):
    name: str = NAME


class RunnerCreate(RunnerSpec, Arguments):
    name: str = NAME
    default: bool = Field(
        default=False,
        description="Make it the default runner (templates without a runner or an agent run on it); the previous "
        "default is unmarked.",
    )


class RunnerUpdate(RunnerSpec, Arguments):
    """The runner's new settings in full (the fields left out take their defaults)."""

    name: str = NAME
    default: bool | None = Field(
        default=None,
        description="true: make it the default runner (unmarking the previous one); false: unmark it (the built-in "
        "goose runner becomes the default); unset: keep.",
    )


class RunnerInfo(RunnerDefinition):
    builtin: bool = Field(description="A built-in runner (no row; it follows the hub's settings).")
    default: bool = Field(
        default=False, description="The default runner: templates without a runner or an agent run on it."
    )
    templates: list[str] | None = Field(default=None, description="Templates that name it (runner_get only).")
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    created_by: str | None = None
    updated_by: str | None = None

    @classmethod
    def of(
        cls,
        definition: RunnerDefinition,
        row: RunnerRow | None,
        templates: list[str] | None = None,
        *,
        default: str | None = None,
    ) -> RunnerInfo:
        """``default`` is the default runner's name, when known (a row knows it is marked)."""
        return cls(
            **definition.model_dump(),
            builtin=row is None,
            default=bool(row.is_default) if row is not None else definition.name == default,
            templates=templates,
            created_at=aware(row.created_at) if row else None,
            updated_at=aware(row.updated_at) if row else None,
            created_by=row.created_by if row else None,
            updated_by=row.updated_by if row else None,
        )


class RunnerList(BaseModel):
    runners: list[RunnerInfo]


def runners_of(call: Call) -> Runners:
    return call.app.services.get(Runners)


def _definition(args: RunnerSpec) -> RunnerDefinition:
    return RunnerDefinition.model_validate(args.model_dump(exclude={"default"}))


@plugin.tool(permission="runners.manage")
async def runner_create(call: Call, args: RunnerCreate) -> RunnerInfo:
    """Create a runner: the agent (goose, openai, command or a plugin agent) and everything a run may reach
    on the host or the network: a command's argv, an OpenAI-compatible base_url and the vault secret of its
    key, Goose's provider and allowed builtins, the models templates may pick (first = default), the
    extensions runs may get and the largest timeout. Templates name it in `runner`."""
    definition = _definition(args)
    row = await runners_of(call).create(definition, call.principal.name, make_default=args.default)
    return RunnerInfo.of(definition, row)


@plugin.tool(permission="runners.manage")
async def runner_update(call: Call, args: RunnerUpdate) -> RunnerInfo:
    """Replace a runner's settings; the templates that name it run with the new ones from their next run.
    `default` true makes it the default runner, false unmarks it."""
    definition = _definition(args)
    row = await runners_of(call).replace(definition, call.principal.name, make_default=args.default)
    return RunnerInfo.of(definition, row)


@plugin.tool(permission="runners.manage", destructive=True)
async def runner_delete(call: Call, args: RunnerName) -> RunnerInfo:
    """Delete a runner; refused while a template names it (the message names those templates)."""
    definition = await runners_of(call).remove(args.name, call.principal.name)
    return RunnerInfo.of(definition, None).model_copy(update={"builtin": False})


@plugin.tool(read_only=True, permission="runners.read")
async def runner_get(call: Call, args: RunnerName) -> RunnerInfo:
    """Show a runner and the templates that name it (its key's secret by name only)."""
    runners = runners_of(call)
    definition, row, templates = await runners.get(args.name)
    return RunnerInfo.of(definition, row, templates, default=(await runners.default()).name)


@plugin.tool(read_only=True, permission="runners.read")
async def runner_list(call: Call, args: Arguments) -> RunnerList:
    """List the runners templates may name: the built-in goose, openai and sampling, and the admins' own;
    `default` marks the one templates without a runner or an agent run on."""
    runners = runners_of(call)
    default = (await runners.default()).name
    return RunnerList(runners=[RunnerInfo.of(d, r, default=default) for d, r in await runners.list_all()])
