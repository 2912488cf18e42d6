"""Teams and their members: every object belongs to a team; a member's team role says what they may do there.

Every user has a personal team `@username` (they are its owner); admins (teams.manage hub-wide)
create shared ones. A caller holding teams.read hub-wide sees every team; anyone else sees the teams
they hold a permission in. Changing a team, its members or moving its objects needs teams.manage in
that team. A team keeps at least one owner; it is deleted only when it owns nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import Call, Plugin
from hub.clock import UtcDatetime
from hub.db.models import Team, TeamMember, User
from hub.paging import Offset
from hub.plugin import Arguments
from hub.teams import owned
from hub.teams import service as teams

plugin = Plugin("teams")

TEAM = Field(min_length=1, max_length=65, description="The team's name (or id), e.g. sales or @alice.")
USERNAME = Field(min_length=1, max_length=64, description="The user's name (user_list).")
ROLE = Field(
    min_length=1,
    max_length=64,
    description="Team role: owner, admin, operator, viewer, member or a custom role (role_list).",
)
Kind = Literal["template", "runner", "extension", "secret", "action", "discord_scope", "destination", "execution"]


class TeamView(BaseModel):
    id: str
    name: str
    description: str
    personal_of: str | None = Field(description="The user whose personal team this is; null for a shared team.")
    member_count: int
    created_at: UtcDatetime
    created_by: str


class MemberView(BaseModel):
    username: str
    role: str
    source: str = Field(description="hub (added here) or idp (from the identity provider's groups).")
    created_at: UtcDatetime


class TeamDetail(TeamView):
    members: list[MemberView]
    objects: dict[str, int] = Field(description="How many objects of each kind the team owns (none left out).")


class Membership(BaseModel):
    team: str
    username: str
    role: str
    source: str


class Teams(BaseModel):
    teams: list[TeamView]
    total: int = Field(description="Teams you can see, over all pages.")
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last page.")


class TeamName(Arguments):
    team: str = TEAM


class TeamListArgs(Arguments):
    limit: int = Field(default=100, ge=1, le=500)
    offset: Offset = 0


class TeamCreate(Arguments):
    name: str = Field(
        min_length=1,
        max_length=64,
        description="Lowercase letters, digits, - and _; names starting with @ are personal teams.",
    )
    description: str = Field(default="", max_length=2000)


class TeamUpdate(Arguments):
    team: str = TEAM
    name: str | None = Field(default=None, min_length=1, max_length=64, description="New name.")
    description: str | None = Field(default=None, max_length=2000)


class MemberAdd(Arguments):
    team: str = TEAM
    username: str = USERNAME
    role: str = Field(default="member", min_length=1, max_length=64, description=ROLE.description)


class MemberUpdate(Arguments):
    team: str = TEAM
    username: str = USERNAME
    role: str = ROLE


class MemberRemove(Arguments):
    team: str = TEAM
    username: str = USERNAME


class Transfer(Arguments):
    from_team: str = TEAM
    to_team: str = TEAM
    kind: Kind | None = Field(default=None, description="The kind of the named objects (actions: schedules, ...).")
    names: list[str] | None = Field(
        default=None,
        max_length=500,
        description="Their names (ids for executions, guild:<id>/channel:<id> for chat scopes).",
    )
    all: bool = Field(default=False, description="Move every object the source team owns.")

    @model_validator(mode="after")
    def _one_way(self) -> Transfer:
        if self.all == bool(self.kind or self.names):
            raise ValueError("give either kind and names, or all=true")
        return self


class Transferred(BaseModel):
    from_team: str
    to_team: str
    moved: dict[str, int] = Field(description="Objects moved, per table.")


async def _personal_names(session: AsyncSession, rows: list[Team]) -> dict[str, str]:
    ids = [row.personal_of for row in rows if row.personal_of]
    if not ids:
        return {}
    return dict((await session.execute(select(User.id, User.username).where(User.id.in_(ids)))).tuples().all())


async def _views(session: AsyncSession, rows: list[Team]) -> list[TeamView]:
    counts = await teams.member_counts(session, [row.id for row in rows])
    personal = await _personal_names(session, rows)
    return [
        TeamView(
            id=row.id,
            name=row.name,
            description=row.description,
            personal_of=personal.get(row.personal_of) if row.personal_of else None,
            member_count=counts.get(row.id, 0),
            created_at=row.created_at,
            created_by=row.created_by,
        )
        for row in rows
    ]


async def _detail(session: AsyncSession, team: Team) -> TeamDetail:
    (view,) = await _views(session, [team])
    members = [
        MemberView(username=username, role=m.role, source=m.source, created_at=m.created_at)
        for m, username in await teams.members(session, team.id)
    ]
    return TeamDetail(**view.model_dump(), members=members, objects=await owned.counts(session, team.id))


def _membership(team: Team, username: str, member: TeamMember) -> Membership:
    return Membership(team=team.name, username=username, role=member.role, source=member.source)


def _forget(call: Call) -> None:
    """Drop this process's cached token verdicts now (other processes do at their next revision poll)."""
    if call.app.verifier is not None:
        call.app.verifier.forget()


@plugin.tool(permission="teams.read", read_only=True)
async def team_list(call: Call, args: TeamListArgs) -> Teams:
    """List the teams you can see: every team with teams.read hub-wide, else the teams you hold a
    permission in (your memberships, narrowed by your token). Sorted by name."""
    async with call.app.db.session() as session:
        rows = await teams.list_teams(session, call.principal)
        page = rows[args.offset : args.offset + args.limit]
        end = args.offset + len(page)
        return Teams(teams=await _views(session, page), total=len(rows), next_offset=end if end < len(rows) else None)


@plugin.tool(permission="teams.read", read_only=True)
async def team_get(call: Call, args: TeamName) -> TeamDetail:
    """Show a team: its members with their team roles, and how many objects of each kind it owns."""
    async with call.app.db.session() as session:
        return await _detail(session, await teams.visible_team(session, call.principal, args.team))


@plugin.tool(permission="teams.manage")
async def team_create(call: Call, args: TeamCreate) -> TeamDetail:
    """Create a shared team (needs teams.manage hub-wide, e.g. the admin role). You become its first owner.
    Add members with team_member_add; create objects in it with their tools' `team` argument."""
    async with call.app.db.session() as session:
        team = await teams.create_team(session, call, args.name, args.description)
        detail = await _detail(session, team)
    _forget(call)
    return detail


@plugin.tool(permission="teams.manage")
async def team_update(call: Call, args: TeamUpdate) -> TeamView:
    """Rename a shared team or change its description (teams.manage in that team). Personal teams and
    the default team keep their names."""
    async with call.app.db.session() as session:
        team = await teams.update_team(session, call, args.team, args.name, args.description)
        (view,) = await _views(session, [team])
        return view


@plugin.tool(permission="teams.manage", destructive=True)
async def team_delete(call: Call, args: TeamName) -> TeamView:
    """Delete a shared team that owns no objects (move them first with team_transfer); its members lose
    their role in it at once. Personal teams and the default team cannot be deleted."""
    async with call.app.db.session() as session:
        team = await teams.managed_team(session, call.principal, args.team)
        (view,) = await _views(session, [team])
        await teams.delete_team(session, call, args.team)
    _forget(call)
    return view


@plugin.tool(permission="teams.manage")
async def team_member_add(call: Call, args: MemberAdd) -> Membership:
    """Add a user to a team with a team role (built-in or custom). Their tokens hold the role's
    permissions in that team from their next call."""
    async with call.app.db.session() as session:
        member = await teams.add_member(session, call, args.team, args.username, args.role)
        team = await teams.resolve_team(session, member.team_id)
        view = _membership(team, args.username, member)
    _forget(call)
    return view


@plugin.tool(permission="teams.manage")
async def team_member_update(call: Call, args: MemberUpdate) -> Membership:
    """Change a member's team role. A team keeps at least one owner: make another owner before demoting
    the last one. Takes effect on the member's tokens at their next call."""
    async with call.app.db.session() as session:
        member = await teams.update_member(session, call, args.team, args.username, args.role)
        team = await teams.resolve_team(session, member.team_id)
        view = _membership(team, args.username, member)
    _forget(call)
    return view


@plugin.tool(permission="teams.manage", destructive=True)
async def team_member_remove(call: Call, args: MemberRemove) -> Membership:
    """Remove a user from a team; their tokens lose what the team role gave them at their next call.
    The last owner cannot be removed."""
    async with call.app.db.session() as session:
        team = await teams.managed_team(session, call.principal, args.team)
        member = await teams.remove_member(session, call, args.team, args.username)
        view = _membership(team, args.username, member)
    _forget(call)
    return view


@plugin.tool(permission="teams.manage")
async def team_transfer(call: Call, args: Transfer) -> Transferred:
    """Move objects from one team to another (teams.manage in both): the named objects of one kind, or
    all=true for everything the source team owns. Moving a template moves its runs too. Visibility and
    creators stay as they were. Nothing moves when one of the named objects is not the source's."""
    async with call.app.db.session() as session:
        source, target, moved = await teams.transfer(session, call, args.from_team, args.to_team, args.kind, args.names)
        return Transferred(from_team=source.name, to_team=target.name, moved=moved)
