"""Teams and memberships: create, rename, delete teams; add, change and remove members; move objects.

Who sees a team: a principal holding ``teams.read`` globally sees every team; anyone else sees the
teams in which they hold any permission (their memberships, narrowed by their token's teams).
Changing a team or its members needs ``teams.manage`` in that team; creating one needs it globally.
Every membership change moves the auth revision on (``accounts.credentials_changed``) in the same
transaction, so every process drops its cached token verdicts and the member's tokens (API tokens and
JWTs alike, whose grants are read live) carry the new grants from their next call; it writes an audit
row too. The user's ``token_version`` is left alone: a membership change does not sign them out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import accounts
from hub.db.models import Team, TeamMember, User
from hub.errors import Conflict, InvalidArguments, NotFound, PermissionDenied
from hub.principal import Principal
from hub.teams import audit, owned
from hub.teams.lookup import member_counts as member_counts  # re-exported: the tools find them here
from hub.teams.lookup import resolve_team as resolve_team
from hub.teams.policy import DEFAULT_TEAM_ID, owner_team
from hub.teams.roles import check_role

if TYPE_CHECKING:
    from hub.plugin import Call

TEAM_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
OWNER = "owner"


async def team_names(session: AsyncSession, ids: Iterable[str | None]) -> dict[str, str]:
    """Team id → name for ``ids`` (one query for a whole list; an id without a team row is left out)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = await session.execute(select(Team.id, Team.name).where(Team.id.in_(wanted)))
    return {team_id: name for team_id, name in rows}


def sees_team(principal: Principal, team_id: str) -> bool:
    return principal.grants.teams_with("teams.read") is None or team_id in principal.grants.teams


async def visible_team(session: AsyncSession, principal: Principal, name_or_id: str) -> Team:
    """Like ``resolve_team``, but a team the principal may not see is NotFound too (not disclosed)."""
    team = await resolve_team(session, name_or_id)
    if not sees_team(principal, team.id):
        raise NotFound(f"No team named {name_or_id!r}. List the teams you can see with team_list (or whoami).")
    return team


async def team_id_of(session: AsyncSession, principal: Principal, team: str | None) -> str | None:
    """The id of the team named (or with the id) ``team``, among those ``principal`` sees; None stays None.

    Raises:
        NotFound: no such team, or one the principal may not see.
    """
    return (await visible_team(session, principal, team)).id if team else None


async def placed_in(session: AsyncSession, principal: Principal, permission: str, team: str | None) -> str:
    """The id of the team a new object goes to: ``team`` (a name or id) if given, else the one
    :func:`hub.teams.policy.owner_team` picks.

    Raises:
        NotFound: no such team (or one the principal cannot see).
        PermissionDenied: the principal lacks ``permission`` there.
    """
    return owner_team(principal, permission, await team_id_of(session, principal, team))


async def managed_team(session: AsyncSession, principal: Principal, name_or_id: str) -> Team:
    """A team the principal may change (``teams.manage`` in it), else NotFound/PermissionDenied."""
    team = await visible_team(session, principal, name_or_id)
    if not principal.may("teams.manage", team.id):
        raise PermissionDenied(
            f"Changing team {team.name!r} needs the teams.manage permission in it; you ({principal.name}) lack it. "
            "Ask one of its owners (team_get lists them) or an admin."
        )
    return team


def check_team_name(name: str) -> None:
    if name.startswith("@"):
        raise InvalidArguments(
            f"Team names starting with '@' are personal teams (one per user, made with the user): pick "
            f"another name than {name!r}.",
            errors=[{"field": "name", "message": "'@' names are personal teams", "type": "pattern"}],
        )
    if not re.match(TEAM_NAME_PATTERN, name):
        raise InvalidArguments(
            f"Bad team name {name!r}: use lowercase letters, digits, - and _ (at most 64, starting with a letter "
            "or digit), e.g. sales or platform-eng.",
            errors=[{"field": "name", "message": "lowercase letters, digits, - and _", "type": "pattern"}],
        )


async def _free_name(session: AsyncSession, name: str) -> None:
    if await session.scalar(select(Team.id).where(or_(Team.name == name, Team.id == name))):
        raise Conflict(f"A team named {name!r} exists already. Pick another name.")


async def list_teams(session: AsyncSession, principal: Principal) -> list[Team]:
    query = select(Team).order_by(Team.name)
    if principal.grants.teams_with("teams.read") is not None:
        query = query.where(Team.id.in_(sorted(principal.grants.teams)))
    return list(await session.scalars(query))


async def members(session: AsyncSession, team_id: str) -> list[tuple[TeamMember, str]]:
    rows = await session.execute(
        select(TeamMember, User.username)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team_id)
        .order_by(User.username)
    )
    return [(member, username) for member, username in rows]


async def create_team(session: AsyncSession, call: Call, name: str, description: str) -> Team:
    """A shared team; a calling user becomes its first owner. Needs ``teams.manage`` globally."""
    principal = call.principal
    if principal.grants.teams_with("teams.manage") is not None:
        raise PermissionDenied(
            f"Creating a team needs the teams.manage permission hub-wide (a platform role such as admin); you "
            f"({principal.name}) hold it at most within teams. Ask an admin."
        )
    check_team_name(name)
    await _free_name(session, name)
    team = Team(name=name, description=description, created_by=principal.name)
    session.add(team)
    await session.flush()
    user = await session.get(User, principal.subject)
    if user is not None:
        session.add(TeamMember(team_id=team.id, user_id=user.id, role=OWNER))
        await accounts.credentials_changed(session)
    audit.add(session, call, "team.create", f"team:{name}", owner=user.username if user else None)
    return team


async def update_team(
    session: AsyncSession, call: Call, team_name: str, name: str | None, description: str | None
) -> Team:
    team = await managed_team(session, call.principal, team_name)
    changes: dict[str, Any] = {}
    if name is not None and name != team.name:
        if team.personal_of is not None:
            raise Conflict(f"{team.name!r} is a personal team: its name follows its user's and cannot change.")
        if team.id == DEFAULT_TEAM_ID:
            raise Conflict("The default team keeps its name: objects from before teams and the local owner's use it.")
        check_team_name(name)
        await _free_name(session, name)
        changes["name"] = {"from": team.name, "to": name}
        team.name = name
    if description is not None and description != team.description:
        changes["description"] = True
        team.description = description
    if changes:
        audit.add(session, call, "team.update", f"team:{team.name}", **changes)
    return team


async def delete_team(session: AsyncSession, call: Call, team_name: str) -> Team:
    """Delete a shared team that owns nothing; its members lose their role in it at once."""
    team = await managed_team(session, call.principal, team_name)
    if team.personal_of is not None:
        raise Conflict(f"{team.name!r} is a personal team: it goes when its user is removed, not before.")
    if team.id == DEFAULT_TEAM_ID:
        raise Conflict(
            "The default team cannot be deleted: the local owner's objects and those from before teams go there."
        )
    held = await owned.samples(session, team.id)
    if held:
        listed = "; ".join(
            f"{table} ({total}): {', '.join(names)}{', ...' if total > len(names) else ''}"
            for table, (total, names) in held.items()
        )
        raise Conflict(
            f"Team {team.name!r} still owns objects: {listed}. Move them first with team_transfer "
            f"(all=true moves everything), then delete the team."
        )
    for member, _ in await members(session, team.id):
        await session.delete(member)
    await accounts.credentials_changed(session)
    await session.delete(team)
    audit.add(session, call, "team.delete", f"team:{team.name}")
    return team


async def _member(session: AsyncSession, team: Team, username: str) -> TeamMember:
    user = await accounts.get_user(session, username)
    member = await session.get(TeamMember, (team.id, user.id))
    if member is None:
        raise NotFound(f"{username!r} is not a member of team {team.name!r}. Add them with team_member_add.")
    return member


async def _owners(session: AsyncSession, team_id: str) -> int:
    query = select(func.count()).select_from(TeamMember).where(TeamMember.team_id == team_id, TeamMember.role == OWNER)
    return int(await session.scalar(query) or 0)


async def _keep_an_owner(session: AsyncSession, team: Team, member: TeamMember, username: str, doing: str) -> None:
    if member.role == OWNER and await _owners(session, team.id) <= 1:
        raise Conflict(
            f"{username!r} is the last owner of team {team.name!r}: {doing} would leave it without one. "
            "Make another member owner first (team_member_update role=owner)."
        )


async def add_member(session: AsyncSession, call: Call, team_name: str, username: str, role: str) -> TeamMember:
    team = await managed_team(session, call.principal, team_name)
    role = await check_role(session, role, platform=False)
    if team.personal_of is not None:
        raise Conflict(
            f"{team.name!r} is a personal team: it has only its user. Create a shared team with team_create."
        )
    user = await accounts.get_user(session, username)
    if await session.get(TeamMember, (team.id, user.id)) is not None:
        raise Conflict(f"{username!r} is a member of {team.name!r} already. Change their role with team_member_update.")
    member = TeamMember(team_id=team.id, user_id=user.id, role=role, source="hub")
    session.add(member)
    await accounts.credentials_changed(session)
    audit.add(session, call, "team.member.add", f"team:{team.name}", user=username, role=role)
    await session.flush()
    return member


async def update_member(session: AsyncSession, call: Call, team_name: str, username: str, role: str) -> TeamMember:
    team = await managed_team(session, call.principal, team_name)
    role = await check_role(session, role, platform=False)
    member = await _member(session, team, username)
    if member.role == role:
        return member
    if role != OWNER:
        await _keep_an_owner(session, team, member, username, f"making them {role}")
    previous, member.role = member.role, role
    await accounts.credentials_changed(session)
    audit.add(session, call, "team.member.update", f"team:{team.name}", user=username, role=role, previous=previous)
    return member


async def remove_member(session: AsyncSession, call: Call, team_name: str, username: str) -> TeamMember:
    team = await managed_team(session, call.principal, team_name)
    member = await _member(session, team, username)
    await _keep_an_owner(session, team, member, username, "removing them")
    await session.delete(member)
    await accounts.credentials_changed(session)
    audit.add(session, call, "team.member.remove", f"team:{team.name}", user=username, role=member.role)
    return member


async def transfer(
    session: AsyncSession,
    call: Call,
    source_name: str,
    target_name: str,
    kind: str | None,
    names: list[str] | None,
) -> tuple[Team, Team, dict[str, int]]:
    """Move objects between teams (``teams.manage`` in both); the named ones of ``kind``, or all."""
    if (kind is None) != (not names):
        raise InvalidArguments(
            "Name what to move: kind and names together (e.g. kind=template, names=[report]), or all=true.",
            errors=[{"field": "names" if kind else "kind", "message": "kind and names go together", "type": "missing"}],
        )
    source = await managed_team(session, call.principal, source_name)
    target = await managed_team(session, call.principal, target_name)
    if source.id == target.id:
        raise InvalidArguments(
            f"Source and target are the same team ({source.name!r}): name another target.",
            errors=[{"field": "to_team", "message": "same as from_team", "type": "value_error"}],
        )
    moved = await owned.move(session, source.id, target.id, kind, names)
    audit.add(
        session,
        call,
        "team.transfer",
        f"team:{source.name}",
        to=target.name,
        kind=kind or "all",
        names=sorted(names or [])[:50],
        moved=moved,
    )
    return source, target, moved
