"""A scoped API token's checks at creation: never more than its owner holds live, nothing unknown.

At every verification ``hub.auth`` narrows the owner's live grants by the token's role (a ceiling),
teams, permissions and tool patterns, so a token loses what its owner loses at once. These checks
refuse, before anything is written, a token that asks for more than that from the start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hub import accounts
from hub.db.models import ApiToken, User
from hub.errors import InvalidArguments, PermissionDenied
from hub.teams.grants import role_permissions, user_grants
from hub.teams.lookup import resolve_team
from hub.teams.permissions import PLATFORM_ONLY
from hub.teams.roles import check_permissions, check_role

TOOL_PATTERN = re.compile(r"^[A-Za-z0-9_*?\[\]!-]{1,128}$")
NO_CEILING_ROLE = "admin"
"""The role stored on a token whose scope is its ``permissions`` list alone (the owner's grants still cap it)."""


@dataclass(frozen=True)
class TokenScope:
    role: str
    team_ids: list[str] | None
    permissions: list[str] | None
    tool_patterns: list[str] | None


def _patterns(patterns: list[str] | None) -> list[str] | None:
    if patterns is None:
        return None
    bad = [p for p in patterns if not TOOL_PATTERN.match(p)]
    if bad or not patterns:
        raise InvalidArguments(
            f"Bad tool pattern(s) {', '.join(map(repr, bad)) or '(none given)'}: use tool names with * and ? "
            "wildcards, e.g. template_* or whoami.",
            errors=[{"field": "tool_patterns", "message": "tool names with * and ?", "type": "pattern"}],
        )
    return sorted(set(patterns))


async def check_scope(
    session: AsyncSession,
    owner: User,
    role: str | None,
    teams: list[str] | None,
    permissions: list[str] | None,
    tool_patterns: list[str] | None,
) -> TokenScope:
    """The scope to store for a new token of ``owner``, or the reason it is refused.

    Raises:
        NotFound: a named team does not exist.
        InvalidArguments: an unknown permission, role or pattern; a permission outside the named role;
            a hub-wide permission asked for a token limited to teams.
        PermissionDenied: a permission the owner does not hold (live) where the token would use it, or
            a team the owner is not a member of while holding no permission hub-wide.
    """
    perms = check_permissions(permissions) if permissions is not None else None
    patterns = _patterns(tool_patterns)
    if role is None:
        role = NO_CEILING_ROLE if perms is not None else "viewer"
    else:
        role = await check_role(session, role, platform=False)
        ceiling = (await role_permissions(session, [role]))[role]
        beyond = sorted(set(perms or ()) - ceiling)
        if beyond:
            raise InvalidArguments(
                f"The role {role!r} does not hold {', '.join(beyond)}: leave role out to scope the token by its "
                "permissions alone, or pick a role that holds them.",
                errors=[{"field": "permissions", "message": f"outside role {role!r}", "type": "value_error"}],
            )
    grants, _ = await user_grants(session, owner)
    team_ids: list[str] | None = None
    if teams is not None:
        team_ids = []
        hub_wide = grants.platform - PLATFORM_ONLY - {"hub.read"}
        for name in sorted(set(teams)):
            team = await resolve_team(session, name)
            if team.id not in grants.teams and not hub_wide:
                raise PermissionDenied(
                    f"{owner.username!r} is not a member of team {team.name!r} and holds no permission hub-wide: "
                    "their token cannot be limited to it. Add them to the team first (team_member_add)."
                )
            team_ids.append(team.id)
        platform_only = sorted(set(perms or ()) & PLATFORM_ONLY)
        if platform_only:
            raise InvalidArguments(
                f"{', '.join(platform_only)} hold(s) only hub-wide: a token limited to teams cannot carry them. "
                "Leave teams out, or drop those permissions.",
                errors=[{"field": "permissions", "message": "hub-wide only", "type": "value_error"}],
            )
    if perms is not None:
        lacking = [p for p in perms if not _holds(grants.platform, grants.teams, p, team_ids)]
        if lacking:
            where = "in the token's teams" if team_ids is not None else "globally or in any team"
            raise PermissionDenied(
                f"{owner.username!r} does not hold {', '.join(lacking)} {where}: a token never carries more than "
                "its owner has. Drop them, or grant the owner a role that has them first."
            )
    return TokenScope(role=role, team_ids=team_ids, permissions=perms, tool_patterns=patterns)


def _holds(
    platform: frozenset[str], granted: Mapping[str, frozenset[str]], permission: str, team_ids: list[str] | None
) -> bool:
    if team_ids is None:
        return permission in platform or any(permission in held for held in granted.values())
    if permission in platform and permission not in PLATFORM_ONLY:
        return True
    return any(permission in granted.get(team, frozenset()) for team in team_ids)


async def issue_token(
    session: AsyncSession,
    *,
    username: str,
    name: str,
    role: str | None,
    teams: list[str] | None,
    permissions: list[str] | None,
    tool_patterns: list[str] | None,
    expires_in_days: int | None,
    note: str | None,
    actor: str,
) -> tuple[ApiToken, str]:
    """A new API token of ``username`` (the row and the value, shown once), its scope checked first by
    :func:`check_scope`: the ``token_create`` tool and ``goosuke token create`` both issue through here.

    Raises:
        NotFound: no such user or team. InvalidArguments, PermissionDenied: see :func:`check_scope`;
            nothing is written.
    """
    owner = await accounts.token_owner(session, username)
    scope = await check_scope(session, owner, role, teams, permissions, tool_patterns)
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    return await accounts.create_token(
        session,
        name,
        scope.role,
        user_id=owner.id,
        expires_at=expires,
        actor=actor,
        team_ids=scope.team_ids,
        permissions=scope.permissions,
        tool_patterns=scope.tool_patterns,
        note=note,
    )
