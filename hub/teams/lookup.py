"""Finding teams by name or id, and counting their members: the lookups the policy and the CLI need."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Team, TeamMember
from hub.errors import NotFound


async def resolve_team(session: AsyncSession, name_or_id: str) -> Team:
    """The team named (or with the id) ``name_or_id``; NotFound saying how to find one."""
    team = await session.scalar(select(Team).where(Team.name == name_or_id))
    if team is None:
        team = await session.get(Team, name_or_id)
    if team is None:
        raise NotFound(f"No team named {name_or_id!r}. List the teams you can see with team_list (or whoami).")
    return team


async def member_counts(session: AsyncSession, team_ids: list[str]) -> dict[str, int]:
    rows = await session.execute(
        select(TeamMember.team_id, func.count()).where(TeamMember.team_id.in_(team_ids)).group_by(TeamMember.team_id)
    )
    return {team_id: int(count) for team_id, count in rows}
