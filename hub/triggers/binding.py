"""What an action binds: a template its team may run, with parameters its params and mapping can fill."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.db import Database
from hub.db.models import TaskTemplate
from hub.errors import GoosukeError, InvalidArguments, NotFound
from hub.principal import Principal
from hub.teams import policy
from hub.templates import store as templates
from hub.templates.definition import coerce
from hub.triggers.ownership import placement, team_sees


async def check_template(
    db: Database,
    template: str,
    params: dict[str, Any],
    mapped: set[str],
    *,
    team_id: str | None = None,
    principal: Principal | None = None,
) -> None:
    """Refuse, now rather than at 3 a.m., a mapping that cannot fill the template's parameters, and a
    template the action's team (``team_id``, the action made by ``principal``) may not run.

    Raises:
        NotFound: no such template (or one ``principal`` cannot see).
        InvalidArguments: unknown parameter names, mistyped static values, required parameters
            neither given nor mapped; a template the action's team cannot see.
    """
    async with db.session() as session:
        row = await templates.get_row(session, template)
    if principal is not None and team_id is not None:
        if not policy.can_see(principal, "templates.read", row) and not policy.can_see(principal, "templates.run", row):
            raise NotFound(f"No template named {template!r}. List templates with template_list.")
        if not team_sees(team_id, principal.name, "templates.run", row):
            raise InvalidArguments(
                f"The action's team cannot run template {template!r}: it belongs to another team and is not "
                "shared with this one. Ask its team to make it public, or create the action in its team.",
                errors=[{"field": "template", "message": "not visible to the action's team", "type": "team"}],
            )
    definition = templates.definition_of(row)
    by_key = {p.key: p for p in definition.parameters}
    unknown = sorted((set(params) | mapped) - set(by_key))
    if unknown:
        raise InvalidArguments(
            f"Template {template!r} has no parameter(s) {', '.join(unknown)}; "
            f"its parameters are: {', '.join(sorted(by_key)) or 'none'}.",
            errors=[{"field": "params", "message": f"unknown parameter {k}", "type": "unknown"} for k in unknown],
        )
    for key, value in params.items():
        try:
            coerce(by_key[key], value)
        except GoosukeError as exc:
            raise InvalidArguments(
                f"params.{key}: {exc.message}",
                errors=[{"field": f"params.{key}", "message": exc.message, "type": "value"}],
            ) from None
    missing = sorted(
        k for k, p in by_key.items() if p.requirement == "required" and k not in params and k not in mapped
    )
    if missing:
        raise InvalidArguments(
            f"Template {template!r} needs {', '.join(missing)}, which this action neither sets in `params` nor "
            "maps from its event. Add them, or give them defaults in the template.",
            errors=[
                {"field": "params", "message": f"required parameter {k} is not filled", "type": "missing"}
                for k in missing
            ],
        )


async def action_team(db: Database, principal: Principal, template: str, team: str | None, visibility: str) -> str:
    """The team a new action of ``principal`` on ``template`` goes to.

    ``team`` named: that team (it needs triggers.manage there; ``check_template`` then refuses a template
    the team cannot run). Not named: the first of the principal's own team, the template's team and the
    teams it manages triggers in where it manages triggers and the team may run the template.

    Raises:
        NotFound: an unknown team or template (or one the principal cannot see).
        PermissionDenied: the principal lacks triggers.manage in the named team (or in any fitting one).
    """
    if team is not None:
        team_id, _ = await placement(db, principal, "triggers.manage", team, visibility, "team")
        return team_id
    async with db.session() as session:
        row = await session.scalar(select(TaskTemplate).where(TaskTemplate.name == template))
    if row is None or not _sees(principal, row):
        raise _missing(template)
    managed = principal.grants.teams_with("triggers.manage") or frozenset()
    for candidate in (principal.team or policy.DEFAULT_TEAM_ID, row.team_id, *sorted(managed)):
        if (
            candidate
            and principal.may("triggers.manage", candidate)
            and team_sees(candidate, principal.name, "templates.run", row)
        ):
            return candidate
    return policy.owner_team(principal, "triggers.manage", None)


def _sees(principal: Principal, row: TaskTemplate) -> bool:
    return policy.can_see(principal, "templates.read", row) or policy.can_see(principal, "templates.run", row)


def _missing(template: str) -> NotFound:
    return NotFound(f"No template named {template!r}. List templates with template_list.")
