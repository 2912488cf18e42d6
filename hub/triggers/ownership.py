"""Owning team and visibility of the objects this domain makes (actions, chat scopes, destinations).

Small helpers over :mod:`hub.teams.policy`: where a new object goes, the team names views show, and
whether a team (not a person) may see an object it binds — an action's team must see its template.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.db import Database
from hub.principal import Grants, Principal, Role
from hub.teams import policy
from hub.teams import service as teams_service
from hub.teams.service import placed_in


async def placement(
    db: Database, principal: Principal, permission: str, team: str | None, visibility: str | None, default: str
) -> tuple[str, str]:
    """The team id and visibility of a new object: ``team`` (a name or id) or the caller's default
    (:func:`hub.teams.service.placed_in`),
    ``visibility`` or ``default``.

    Raises:
        InvalidArguments: an unknown visibility.
        NotFound: no such team (or one the principal cannot see).
        PermissionDenied: the principal lacks ``permission`` in that team.
    """
    chosen = policy.check_visibility(visibility) or default
    async with db.session() as session:
        return await placed_in(session, principal, permission, team), chosen


async def team_names(db: Database, ids: Iterable[str | None]) -> dict[str, str]:
    """Team id → name for the views (one query for a whole list)."""
    async with db.session() as session:
        return await teams_service.team_names(session, ids)


def team_sees(team_id: str, creator: str, permission: str, obj: policy.Owned) -> bool:
    """Whether ``team_id`` (an object of it made by ``creator``) may see and use ``obj`` with ``permission``:
    the policy's answer for a member who holds ``permission`` in that team only."""
    member = Principal(
        subject=f"team:{team_id}",
        name=creator,
        role=Role.viewer,
        via="team",
        grants=Grants(platform=frozenset(), teams={team_id: frozenset({permission})}),
        team=team_id,
    )
    return policy.can_see(member, permission, obj)
