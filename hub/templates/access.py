"""Who may see, run and change a template, by its owning team and visibility (``hub.teams.policy``).

Every template surface asks here: the template tools, ``template_run``, the ``goosuke://templates/{name}``
resource and the MCP prompts. A template the caller may not see is NotFound, with the message an absent
one gets, so its existence is not disclosed. Built-in templates are the default team's and public:
everyone who reads templates sees and runs them, nobody changes them (copy one with template_copy).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Execution, RunnerRow, TaskTemplate
from hub.errors import InvalidArguments, NotFound, PermissionDenied
from hub.principal import Principal
from hub.runners.ownership import moved_to, require_usable, team_names
from hub.teams.policy import can_change, can_see, check_visibility
from hub.templates.store import TemplateInfo, TemplateSummary, refuse_builtin

READ, MANAGE, RUN = "templates.read", "templates.manage", "templates.run"


def _absent(name: str) -> NotFound:
    return NotFound(f"No template named {name!r}. List templates with template_list.")


async def info_of(session: AsyncSession, row: TaskTemplate) -> TemplateInfo:
    """The template as shown, with its owning team's name."""
    return TemplateInfo.of(row, (await team_names(session, [row.team_id])).get(row.team_id or ""))


async def summaries(session: AsyncSession, rows: list[TaskTemplate]) -> list[TemplateSummary]:
    teams = await team_names(session, [row.team_id for row in rows])
    return [TemplateSummary.of(row, teams.get(row.team_id or "")) for row in rows]


async def visible_row(session: AsyncSession, principal: Principal, name: str, *permissions: str) -> TaskTemplate:
    """The template, if ``principal`` may see it with one of ``permissions`` (default templates.read);
    else NotFound, as if absent."""
    row = await session.scalar(select(TaskTemplate).where(TaskTemplate.name == name))
    if row is None or not any(can_see(principal, p, row) for p in permissions or (READ,)):
        raise _absent(name)
    return row


async def changeable_row(session: AsyncSession, principal: Principal, name: str, verb: str) -> TaskTemplate:
    """The template, if ``principal`` may change it (``verb``: changed, deleted, replaced).

    Raises:
        NotFound: absent or not visible. PermissionDenied: built in, or visible but another team's.
    """
    row = await visible_row(session, principal, name, READ, MANAGE)
    refuse_builtin(row, verb)
    if not can_change(principal, MANAGE, row):
        raise PermissionDenied(
            f"You may use template {name!r} but not change it: that needs templates.manage in its owning team. "
            f"Copy it into your own team (template_copy name={name} new_name=my-{name}) and change the copy."
        )
    return row


@dataclass(frozen=True)
class Sharing:
    """A template's owning team and visibility after a change (ids; ``changed`` when either moved)."""

    team_id: str | None
    visibility: str
    changed: bool


async def new_sharing(
    session: AsyncSession, principal: Principal, row: TaskTemplate, team: str | None, visibility: str | None
) -> Sharing:
    """Check a change of ``row``'s team or visibility (``row`` already changeable by ``principal``).

    Moving it to another team needs templates.manage there too. A private template stays its creator's:
    only they may make another one's template private (an admin excepted), so nobody takes it out of sight.

    Raises:
        NotFound: unknown team. InvalidArguments: unknown visibility.
        PermissionDenied: templates.manage missing in the target team.
    """
    chosen = check_visibility(visibility) or row.visibility or "team"
    team_id = await moved_to(session, principal, MANAGE, row.team_id, team)
    if chosen == "private" and row.created_by != principal.name and not principal.sees_everything:
        message = (
            f"Only its creator ({row.created_by}) may make template {row.name!r} private; "
            "use team to keep it within its team."
        )
        raise InvalidArguments(message, errors=[{"field": "visibility", "message": message, "type": "visibility"}])
    return Sharing(team_id, chosen, (team_id, chosen) != (row.team_id, row.visibility))


async def apply_sharing(session: AsyncSession, row: TaskTemplate, sharing: Sharing) -> dict[str, list[str | None]]:
    """Set ``row``'s team and visibility; its runs the old team owned follow it. Returns the audit detail."""
    detail: dict[str, list[str | None]] = {
        "team": [row.team_id, sharing.team_id],
        "visibility": [row.visibility, sharing.visibility],
    }
    if sharing.team_id != row.team_id:
        runs = await session.scalars(
            select(Execution).where(Execution.template_name == row.name, Execution.team_id == row.team_id)
        )
        for run in runs:
            run.team_id = sharing.team_id
    row.team_id, row.visibility = sharing.team_id, sharing.visibility
    return detail


async def check_runner(
    session: AsyncSession, principal: Principal, runner: str | None, team_id: str | None, *, field: str = "runner"
) -> None:
    """A template of ``team_id`` may name only a runner that team can use (``hub.runners.ownership``)."""
    if runner is None:
        return
    require_usable(principal, await session.get(RunnerRow, runner), runner, team_id, field=field)


async def require_runnable(session: AsyncSession, principal: Principal, name: str) -> TaskTemplate:
    """The template, if ``principal`` may run it: templates.run where it is visible, on a runner its team
    may use (checked again at each run: a runner made private later is no longer reached).

    Raises:
        NotFound: no such template (or not visible). PermissionDenied: its runner is not available.
    """
    row = await visible_row(session, principal, name, RUN)
    await check_runner(session, principal, row.runner, row.team_id)
    return row
