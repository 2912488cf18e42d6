"""A user's live grants: their platform role's permissions, their team roles', narrowed by a token's scopes.

Read at every verification (cached briefly; a membership, role or token change bumps the auth
revision so every process drops its cache), so taking a permission from a user takes it from every
token of theirs at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import RoleRow, Team, TeamMember, User
from hub.principal import Grants, Principal, nearest_role
from hub.teams.permissions import ALL, BUILTIN_ROLES, PLATFORM_ONLY
from hub.teams.policy import DEFAULT_TEAM_ID


async def role_permissions(session: AsyncSession, names: Iterable[str]) -> dict[str, frozenset[str]]:
    """The permissions of each named role (built-in or custom); an unknown role grants nothing."""
    wanted = set(names)
    found = {name: BUILTIN_ROLES[name] for name in wanted if name in BUILTIN_ROLES}
    custom = wanted - set(found)
    if custom:
        for row in await session.scalars(select(RoleRow).where(RoleRow.name.in_(sorted(custom)))):
            found[row.name] = frozenset(p for p in row.permissions if p in ALL)
    return {name: found.get(name, frozenset()) for name in wanted}


async def user_grants(session: AsyncSession, user: User) -> tuple[Grants, str | None]:
    """The user's grants with no token scope, and the team their new objects go to (their personal team).

    A personal team holds what the user's platform role holds, whatever the membership's role says:
    owning your own team is a place for your objects, never a way past your platform role.
    """
    memberships = list(
        await session.execute(
            select(TeamMember.team_id, TeamMember.role, Team.personal_of)
            .join(Team, Team.id == TeamMember.team_id)
            .where(TeamMember.user_id == user.id)
        )
    )
    roles = await role_permissions(session, [user.role, *(role for _, role, _ in memberships)])
    platform = roles[user.role]
    teams = {
        team_id: (platform if personal_of == user.id else roles[role]) - PLATFORM_ONLY
        for team_id, role, personal_of in memberships
    }
    personal = next((team_id for team_id, _, personal_of in memberships if personal_of == user.id), None)
    home = personal or (DEFAULT_TEAM_ID if DEFAULT_TEAM_ID in teams else min(teams, default=None))
    return Grants(platform=platform, teams=teams), home


def narrow(
    grants: Grants,
    *,
    ceiling: frozenset[str] | None = None,
    permissions: Iterable[str] | None = None,
    teams: Iterable[str] | None = None,
    tool_patterns: Iterable[str] | None = None,
) -> Grants:
    """``grants`` cut down by a token's scopes; never more than ``grants``.

    ``teams`` limits the token to those teams: its platform permissions then hold only there.
    """
    keep: frozenset[str] = ALL if ceiling is None else ceiling
    if permissions is not None:
        keep = keep & frozenset(permissions)
    platform = grants.platform & keep
    team_grants = {team: granted & keep for team, granted in grants.teams.items()}
    if teams is not None:
        allowed = set(teams)
        team_grants = {team: (team_grants.get(team, frozenset()) | (platform - PLATFORM_ONLY)) for team in allowed}
        team_grants = {team: granted for team, granted in team_grants.items() if granted}
        platform = frozenset()
    patterns = tuple(tool_patterns) if tool_patterns is not None else grants.tool_patterns
    return Grants(platform=platform, teams=team_grants, tool_patterns=patterns)


def principal_for(
    user: User, grants: Grants, home: str | None, *, via: str, token_id: str | None = None, name: str | None = None
) -> Principal:
    """The principal of ``user`` holding ``grants``; new objects go to ``home`` while the grants reach it."""
    held = grants.platform.union(*grants.teams.values())
    if home is not None and not grants.platform and home not in grants.teams:
        home = min(grants.teams, default=None)
    return Principal(
        subject=user.id,
        name=name or user.username,
        role=nearest_role(held),
        via=via,
        token_id=token_id,
        grants=grants,
        role_name=user.role,
        team=home,
    )


def scope_summary(grants: Grants) -> dict[str, Any]:
    return {
        "platform": sorted(grants.platform),
        "teams": {team: sorted(granted) for team, granted in sorted(grants.teams.items())},
        "tool_patterns": list(grants.tool_patterns) if grants.tool_patterns is not None else None,
    }
