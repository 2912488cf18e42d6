"""What an OpenID Connect sign-in changes: the user, their link to the provider, their IdP team roles.

- The user is found by the provider's ``(issuer, sub)`` (table ``user_identities``), never by name:
  a provider account called ``admin`` does not become the hub's ``admin``. The first sign-in creates
  the user (named from ``preferred_username``, else ``email``, else ``sub``; ``-2``, ``-3``... when the
  name is taken) with the platform role ``GOOSUKE_OIDC_DEFAULT_ROLE`` and their personal team.
- ``GOOSUKE_OIDC_GROUP_MAPPING`` turns the user's groups into team roles, applied both ways at every
  sign-in: a missing membership is added and a changed role updated (``source='idp'``), and an
  IdP-sourced membership of a team the groups no longer map to is removed. Memberships given in the
  hub (``source='hub'``, the personal team's included) are never touched: a team where the user is a
  hub member keeps that role. Two groups mapping one team: the role with more permissions wins.
- A mapped team that does not exist is created, owned by no user (admins manage it like any shared
  team; its members come from the provider).

Everything happens in the caller's transaction: a sign-in that fails changes nothing. Each change is
an audit row (surface ``oidc``, actor the signing-in user); any membership change moves the auth
revision on, so every process re-reads the user's grants at once (as ``hub.teams.service`` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import accounts
from hub.db.account_models import UserIdentity
from hub.db.models import Team, TeamMember, User
from hub.errors import GoosukeError, NotFound
from hub.plugin import Call
from hub.principal import Principal, Role
from hub.settings import Settings
from hub.teams import audit
from hub.teams.grants import role_permissions
from hub.teams.oidc import Identity, SignInError
from hub.teams.permissions import BUILTIN_ROLES
from hub.teams.roles import check_role
from hub.teams.service import check_team_name, resolve_team

if TYPE_CHECKING:
    from hub.context import AppContext

SOURCE = "idp"
_RANK = {name: rank for rank, name in enumerate(BUILTIN_ROLES)}  # member < viewer < operator < admin < owner
_NOT_NAME = re.compile(r"[^A-Za-z0-9._@+-]+")


@dataclass(frozen=True)
class Wanted:
    team: Team
    role: str
    groups: tuple[str, ...]


def misconfigured(reason: str) -> SignInError:
    return SignInError(
        503,
        "OIDC sign-in is misconfigured",
        f"{reason} An admin must fix it; sign-in waits till then.",
        "misconfigured",
    )


def candidates(claims: dict[str, Any]) -> list[str]:
    """Usernames to try, best first: ``preferred_username``, ``email``, ``sub`` (cleaned, at most 60 chars)."""
    names = []
    for key in ("preferred_username", "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str):
            cleaned = _NOT_NAME.sub("-", value).strip("-.")[:60]
            if cleaned and not cleaned.startswith("@") and cleaned not in names:
                names.append(cleaned)
    return names


async def free_username(session: AsyncSession, claims: dict[str, Any]) -> str:
    names = candidates(claims) or ["user"]
    for name in names:
        if await session.scalar(select(User.id).where(User.username == name)) is None:
            return name
    for n in range(2, 1000):
        name = f"{names[0]}-{n}"
        if await session.scalar(select(User.id).where(User.username == name)) is None:
            return name
    raise SignInError(
        409, "Sign-in failed", f"No free username near {names[0]!r}; ask an admin to rename users.", "no_username"
    )


def sign_in_call(app: AppContext, user: User) -> Call:
    """The audit's view of a sign-in: the user acting through the provider (surface ``oidc``)."""
    return Call(
        principal=Principal(subject=user.id, name=user.username, role=Role.viewer, via="oidc"), app=app, via="oidc"
    )


async def find_or_create_user(session: AsyncSession, identity: Identity, settings: Settings) -> tuple[User, bool]:
    """The user linked to the identity; created (with their link) on the first sign-in."""
    link = await session.get(UserIdentity, (identity.issuer, identity.subject))
    if link is not None:
        user = await session.get(User, link.user_id)
        if user is not None:
            return user, False
    username = await free_username(session, identity.claims)
    try:
        user = await accounts.create_user(session, username, None, settings.oidc_default_role, actor="oidc")
    except GoosukeError as exc:  # an unknown GOOSUKE_OIDC_DEFAULT_ROLE
        raise misconfigured(f"GOOSUKE_OIDC_DEFAULT_ROLE is not usable: {exc.message}") from None
    if link is None:
        session.add(UserIdentity(issuer=identity.issuer, subject=identity.subject, user_id=user.id, groups=[]))
    else:  # a link left behind by a user deleted without foreign keys: it is the new user's now
        link.user_id = user.id
    return user, True


async def _team(session: AsyncSession, call: Call, name: str, group: str) -> Team:
    try:
        found = await resolve_team(session, name)
    except NotFound:
        pass
    else:
        if found.personal_of is not None:
            raise misconfigured(f"GOOSUKE_OIDC_GROUP_MAPPING maps group {group!r} to a personal team ({name!r}).")
        return found
    try:
        check_team_name(name)
    except GoosukeError as exc:
        raise misconfigured(
            f"GOOSUKE_OIDC_GROUP_MAPPING maps group {group!r} to a bad team name: {exc.message}"
        ) from None
    team = Team(name=name, description=f"Made by OIDC sign-in for the IdP group {group!r}.", created_by="oidc")
    session.add(team)
    await session.flush()
    audit.add(session, call, "team.create", f"team:{name}", owner=None, source=SOURCE, group=group)
    return team


async def wanted_memberships(
    session: AsyncSession, call: Call, groups: list[str], settings: Settings
) -> dict[str, Wanted]:
    """Team id -> the role the user's groups give there (creating mapped teams that are missing)."""
    pairs = [(group, entry) for group in groups for entry in settings.oidc_group_mapping.get(group, [])]
    for group, entry in pairs:
        try:
            await check_role(session, entry.role, platform=False)
        except GoosukeError as exc:
            raise misconfigured(f"GOOSUKE_OIDC_GROUP_MAPPING gives group {group!r} a bad role: {exc.message}") from None
    power = await role_permissions(session, [entry.role for _, entry in pairs])

    def strength(role: str) -> tuple[int, int]:
        return len(power[role]), _RANK.get(role, -1)

    wanted: dict[str, Wanted] = {}
    for group, entry in pairs:
        team = await _team(session, call, entry.team, group)
        held = wanted.get(team.id)
        if held is None or strength(entry.role) > strength(held.role):
            wanted[team.id] = Wanted(team, entry.role, (*(held.groups if held else ()), group))
        else:
            wanted[team.id] = Wanted(team, held.role, (*held.groups, group))
    return wanted


async def apply_groups(session: AsyncSession, call: Call, user: User, groups: list[str], settings: Settings) -> bool:
    """Make the user's IdP memberships exactly what the groups map to; whether anything changed."""
    wanted = await wanted_memberships(session, call, groups, settings)
    current = {m.team_id: m for m in await session.scalars(select(TeamMember).where(TeamMember.user_id == user.id))}
    changed = False
    for team_id, want in wanted.items():
        member = current.get(team_id)
        target = f"team:{want.team.name}"
        if member is None:
            session.add(TeamMember(team_id=team_id, user_id=user.id, role=want.role, source=SOURCE))
            audit.add(session, call, "team.member.add", target, user=user.username, role=want.role, source=SOURCE)
            changed = True
        elif member.source == SOURCE and member.role != want.role:
            previous, member.role = member.role, want.role
            audit.add(
                session,
                call,
                "team.member.update",
                target,
                user=user.username,
                role=want.role,
                previous=previous,
                source=SOURCE,
            )
            changed = True
    gone = [m for team_id, m in current.items() if m.source == SOURCE and team_id not in wanted]
    if gone:
        found = await session.execute(select(Team.id, Team.name).where(Team.id.in_([m.team_id for m in gone])))
        names: dict[str, str] = {team_id: name for team_id, name in found}
        for member in gone:
            await session.delete(member)
            audit.add(
                session,
                call,
                "team.member.remove",
                f"team:{names.get(member.team_id, member.team_id)}",
                user=user.username,
                role=member.role,
                source=SOURCE,
            )
        changed = True
    if changed:
        await accounts.credentials_changed(session)
    return changed


async def record_sign_in(session: AsyncSession, identity: Identity, groups: list[str]) -> None:
    link = await session.get(UserIdentity, (identity.issuer, identity.subject))
    if link is not None:
        link.groups = groups[:200]
        link.last_sign_in_at = datetime.now(UTC)


async def memberships(session: AsyncSession, user: User) -> list[dict[str, str]]:
    """The user's teams as the sign-in answer shows them."""
    rows = await session.execute(
        select(Team.id, Team.name, TeamMember.role, TeamMember.source)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == user.id)
        .order_by(Team.name)
    )
    return [{"id": tid, "name": name, "role": role, "source": source} for tid, name, role, source in rows]
