"""Runners: what an admin lets templates run (an agent and its host settings); operators pick among them.

Admins create, change and delete runners; everyone may read them. Runners are team objects: each has an
owning team and a visibility (private, team, public); a caller sees the runners it may read and changes
those of the teams where it holds runners.manage. A template names only a runner its team may use (a
public one, one of its team, or any for a hub-wide reader). The built-in runners are public. A runner
shows its key's secret by name only, never its value. Deleting a runner that a template names is refused.
One runner may be the default (``default: true``): templates that name neither a runner nor an agent run
on it; with none marked, the built-in ``goose`` runner is the default.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.clock import UtcDatetime, aware
from hub.db.models import RunnerRow
from hub.plugin import Arguments
from hub.runners.model import RunnerDefinition, RunnerSpec
from hub.runners.service import Runners
from hub.teams.policy import DEFAULT_TEAM_NAME, Visibility
from hub.templates.definition import NAME_PATTERN

plugin = Plugin("runners")

NAME = Field(pattern=NAME_PATTERN, description="The runner's name, e.g. local-llm.")


class RunnerName(Arguments):
    name: str = NAME


TEAM = Field(default=None, max_length=64, description="The owning team's name (default: your own team).")
VISIBILITY_HELP = (
    "Who sees and uses it: private (you), team (its team) or public (every team; only its team changes it)."
)


class RunnerCreate(RunnerSpec, Arguments):
    name: str = NAME
    default: bool = Field(
        default=False,
        description="Make it the default runner (templates without a runner or an agent run on it); the previous "
        "default is unmarked. Needs runners.manage hub-wide.",
    )
    team: str | None = TEAM
    visibility: Visibility = Field(default="team", description=VISIBILITY_HELP)


class RunnerUpdate(RunnerSpec, Arguments):
    """The runner's new settings in full (the fields left out take their defaults)."""

    name: str = NAME
    default: bool | None = Field(
        default=None,
        description="true: make it the default runner (unmarking the previous one); false: unmark it (the built-in "
        "goose runner becomes the default); unset: keep.",
    )
    team: str | None = Field(
        default=None, max_length=64, description="Move it to this team (runners.manage needed there); unset: keep."
    )
    visibility: Visibility | None = Field(default=None, description=VISIBILITY_HELP + " Unset: keep.")


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
    team: str | None = Field(default=None, description="The owning team (built-in runners: default).")
    visibility: str = Field(default="public", description="private, team or public (built-in runners: public).")

    @classmethod
    def of(
        cls,
        definition: RunnerDefinition,
        row: RunnerRow | None,
        templates: list[str] | None = None,
        *,
        default: str | None = None,
        teams: dict[str, str] | None = None,
    ) -> RunnerInfo:
        """``default`` is the default runner's name, when known (a row knows it is marked); ``teams`` the
        team names by id."""
        team = (teams or {}).get(row.team_id or "", row.team_id) if row is not None else DEFAULT_TEAM_NAME
        return cls(
            **definition.model_dump(),
            builtin=row is None,
            default=bool(row.is_default) if row is not None else definition.name == default,
            templates=templates,
            created_at=aware(row.created_at) if row else None,
            updated_at=aware(row.updated_at) if row else None,
            created_by=row.created_by if row else None,
            updated_by=row.updated_by if row else None,
            team=team,
            visibility=(row.visibility or "team") if row is not None else "public",
        )


class RunnerList(BaseModel):
    runners: list[RunnerInfo]


def runners_of(call: Call) -> Runners:
    return call.app.services.get(Runners)


def _definition(args: RunnerSpec) -> RunnerDefinition:
    return RunnerDefinition.model_validate(args.model_dump(exclude={"default", "team", "visibility"}))


async def _info(call: Call, definition: RunnerDefinition, row: RunnerRow | None, **kwargs: Any) -> RunnerInfo:
    teams = await runners_of(call).owners([row.team_id] if row is not None else [])
    return RunnerInfo.of(definition, row, teams=teams, **kwargs)


@plugin.tool(permission="runners.manage")
async def runner_create(call: Call, args: RunnerCreate) -> RunnerInfo:
    """Create a runner: the agent (goose, openai, command or a plugin agent) and everything a run may reach
    on the host or the network: a command's argv, an OpenAI-compatible base_url and the vault secret of its
    key, Goose's provider and allowed builtins, the models templates may pick (first = default), the
    extensions runs may get and the largest timeout. Templates name it in `runner`. It belongs to `team`
    (default: yours) and is seen as its `visibility` says."""
    definition = _definition(args)
    row = await runners_of(call).create(
        definition, call.principal, make_default=args.default, team=args.team, visibility=args.visibility
    )
    return await _info(call, definition, row)


@plugin.tool(permission="runners.manage")
async def runner_update(call: Call, args: RunnerUpdate) -> RunnerInfo:
    """Replace a runner's settings; the templates that name it run with the new ones from their next run.
    `default` true makes it the default runner, false unmarks it; `team` moves it, `visibility` shares it.
    Only the runner's own team changes it."""
    definition = _definition(args)
    row = await runners_of(call).replace(
        definition, call.principal, make_default=args.default, team=args.team, visibility=args.visibility
    )
    return await _info(call, definition, row)


@plugin.tool(permission="runners.manage", destructive=True)
async def runner_delete(call: Call, args: RunnerName) -> RunnerInfo:
    """Delete a runner; refused while a template names it (the message names those templates)."""
    definition = await runners_of(call).remove(args.name, call.principal)
    return RunnerInfo.of(definition, None).model_copy(update={"builtin": False, "team": None, "visibility": "team"})


@plugin.tool(read_only=True, permission="runners.read")
async def runner_get(call: Call, args: RunnerName) -> RunnerInfo:
    """Show a runner and the templates that name it (those you may see; its key's secret by name only)."""
    runners = runners_of(call)
    definition, row, templates = await runners.get(args.name, call.principal)
    return await _info(call, definition, row, templates=templates, default=(await runners.default()).name)


@plugin.tool(read_only=True, permission="runners.read")
async def runner_list(call: Call, args: Arguments) -> RunnerList:
    """List the runners you may see: the built-in goose, openai and sampling, and the teams' own (with their
    team and visibility); `default` marks the one templates without a runner or an agent run on."""
    runners = runners_of(call)
    default = (await runners.default()).name
    found = await runners.list_all(call.principal)
    teams = await runners.owners([r.team_id for _, r in found if r is not None])
    return RunnerList(runners=[RunnerInfo.of(d, r, default=default, teams=teams) for d, r in found])
