"""Test helpers for teams: shared teams, custom roles and users whose permissions come from them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select

from hub import accounts
from hub.db import Database
from hub.db.models import RoleRow, Team, TeamMember
from hub.principal import Role
from tests.conftest import LiveHub


async def make_team(db: Database, name: str) -> str:
    """A shared team named ``name`` (its id)."""
    async with db.session() as session:
        team = Team(name=name, description="", created_by="test")
        session.add(team)
        await session.flush()
        return team.id


async def make_role(db: Database, name: str, permissions: Iterable[str]) -> None:
    async with db.session() as session:
        session.add(RoleRow(name=name, permissions=sorted(permissions), description="test"))


async def make_user(
    db: Database, username: str, *, platform_role: str = "member", teams: Mapping[str, str] | None = None
) -> str:
    """A user with ``platform_role`` and a team role in each team of ``teams`` (id → role); their API token."""
    async with db.session() as session:
        user = await accounts.create_user(session, username, None, Role.viewer)
        user.role = platform_role
        for team_id, role in (teams or {}).items():
            session.add(TeamMember(team_id=team_id, user_id=user.id, role=role))
        _, token = await accounts.create_token(session, f"{username}-token", Role.admin, user_id=user.id)
        return token


async def team_id(db: Database, name: str) -> str:
    async with db.session() as session:
        found = await session.scalar(select(Team.id).where(Team.name == name))
    assert found is not None, name
    return found


@asynccontextmanager
async def client(hub: LiveHub, token: str) -> AsyncIterator[Client]:
    """The real SDK client over Streamable HTTP, authenticated with ``token``."""
    async with hub.http(token) as http, Client(streamable_http_client(f"{hub.url}/mcp", http_client=http)) as mcp:
        yield mcp
