"""Roles: the built-in ones (read-only) and custom ones (named sets of permissions admins define).

A role is granted as a user's platform role (it then holds in every team) or as a team role (a
membership). Changing a custom role changes every holder's grants at once: the auth revision moves
on, so every process re-reads every token's grants at its next call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import ApiToken, RoleRow, Team, TeamMember, User
from hub.errors import Conflict, InvalidArguments, NotFound, PermissionDenied
from hub.teams.permissions import BUILTIN_DESCRIPTIONS, BUILTIN_ROLES, PERMISSIONS

ROLE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
PLATFORM_BUILTINS: tuple[str, ...] = ("member", "viewer", "operator", "admin")
"""Built-in roles a user may hold hub-wide; ``owner`` is a team role only."""


@dataclass(frozen=True)
class RoleInfo:
    name: str
    description: str
    permissions: list[str]
    builtin: bool


def check_permissions(names: Iterable[str], field: str = "permissions") -> list[str]:
    """``names`` sorted and deduplicated; InvalidArguments naming the ones that are not permissions."""
    wanted = sorted(set(names))
    unknown = [name for name in wanted if name not in PERMISSIONS]
    if unknown:
        raise InvalidArguments(
            f"Unknown permission(s): {', '.join(unknown)}. The permissions are: {', '.join(sorted(PERMISSIONS))}.",
            errors=[{"field": field, "message": f"unknown permission {name!r}", "type": "enum"} for name in unknown],
        )
    return wanted


async def custom_names(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(RoleRow.name).order_by(RoleRow.name)))


async def check_role(session: AsyncSession, name: str, *, platform: bool, field: str = "role") -> str:
    """``name`` when it is a built-in or custom role (``owner`` only as a team role), else InvalidArguments."""
    builtins = PLATFORM_BUILTINS if platform else tuple(BUILTIN_ROLES)
    if name in builtins or (name not in BUILTIN_ROLES and await session.get(RoleRow, name) is not None):
        return name
    where = "a platform role" if platform else "a team role"
    custom = await custom_names(session)
    known = ", ".join([*builtins, *custom])
    hint = " (owner is a team role: give it with team_member_add)" if platform and name == "owner" else ""
    raise InvalidArguments(
        f"Unknown role {name!r} for {where}{hint}. Use one of: {known}; or define it with role_create.",
        errors=[{"field": field, "message": f"unknown role {name!r}", "type": "enum"}],
    )


def _check_name(name: str) -> None:
    if not re.match(ROLE_NAME_PATTERN, name):
        raise InvalidArguments(
            f"Bad role name {name!r}: use lowercase letters, digits, - and _ (at most 64, starting with a letter "
            "or digit).",
            errors=[{"field": "name", "message": "lowercase letters, digits, - and _", "type": "pattern"}],
        )


def _builtin_read_only(name: str) -> PermissionDenied:
    return PermissionDenied(
        f"{name!r} is a built-in role: built-in roles cannot be changed or deleted. "
        "Create a custom role with role_create instead."
    )


async def list_roles(session: AsyncSession) -> list[RoleInfo]:
    """Built-in roles first (in increasing power), then custom ones by name."""
    out = [
        RoleInfo(name, BUILTIN_DESCRIPTIONS.get(name, ""), sorted(perms), True) for name, perms in BUILTIN_ROLES.items()
    ]
    for row in await session.scalars(select(RoleRow).order_by(RoleRow.name)):
        out.append(RoleInfo(row.name, row.description, sorted(row.permissions), False))
    return out


async def get_role(session: AsyncSession, name: str) -> RoleRow:
    if name in BUILTIN_ROLES:
        raise _builtin_read_only(name)
    row = await session.get(RoleRow, name)
    if row is None:
        raise NotFound(f"No custom role named {name!r}. List roles with role_list.")
    return row


async def create_role(
    session: AsyncSession, name: str, description: str, permissions: Iterable[str], actor: str
) -> RoleRow:
    _check_name(name)
    if name in BUILTIN_ROLES:
        raise Conflict(f"{name!r} is a built-in role. Pick another name for the custom role.")
    perms = check_permissions(permissions)
    if await session.get(RoleRow, name) is not None:
        raise Conflict(f"A role named {name!r} exists already. Change it with role_update or pick another name.")
    row = RoleRow(name=name, description=description, permissions=perms, created_by=actor)
    session.add(row)
    await session.flush()
    return row


async def update_role(
    session: AsyncSession, name: str, description: str | None, permissions: Iterable[str] | None
) -> RoleRow:
    """Change a custom role; the caller bumps the auth revision (every holder's grants change)."""
    row = await get_role(session, name)
    if permissions is not None:
        row.permissions = check_permissions(permissions)
    if description is not None:
        row.description = description
    row.updated_at = datetime.now(UTC)
    return row


async def role_users(session: AsyncSession, name: str) -> dict[str, list[str]]:
    """What holds the role: users (platform role), memberships and API tokens that are not revoked."""
    users = list(await session.scalars(select(User.username).where(User.role == name).order_by(User.username)))
    members = [
        f"{username} in team {team}"
        for username, team in await session.execute(
            select(User.username, Team.name)
            .select_from(TeamMember)
            .join(User, User.id == TeamMember.user_id)
            .join(Team, Team.id == TeamMember.team_id)
            .where(TeamMember.role == name)
            .order_by(User.username)
        )
    ]
    tokens = list(
        await session.scalars(
            select(ApiToken.name).where(ApiToken.role == name, ApiToken.revoked_at.is_(None)).order_by(ApiToken.name)
        )
    )
    return {"users": users, "memberships": members, "tokens": tokens}


async def delete_role(session: AsyncSession, name: str) -> RoleRow:
    row = await get_role(session, name)
    holders = {kind: names for kind, names in (await role_users(session, name)).items() if names}
    if holders:
        listed = "; ".join(f"{kind}: {', '.join(names[:10])}" for kind, names in holders.items())
        raise Conflict(
            f"Role {name!r} is still in use ({listed}). Give them another role first (user_update, "
            "team_member_update, token_revoke), then delete it."
        )
    await session.delete(row)
    return row
