"""Two teams on one hub for the ownership tests of executions, triggers, chat scopes and destinations.

Team A: alice and erin (operator), carol (viewer); team B: bob (operator); frank is an operator in both.
Everyone's platform role is ``member``: what they may do comes from their team roles only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from hub.db.models import RunnerRow, TaskTemplate
from tests.conftest import LiveHub
from tests.engine_support import add_template
from tests.teams_support import make_team, make_user

PEOPLE = {"alice": "a", "erin": "a", "carol": "a", "bob": "b", "frank": "ab"}
ROLES = {"carol": "viewer"}


@dataclass
class World:
    hub: LiveHub
    a: str  # team ids
    b: str
    tokens: dict[str, str]

    async def call(self, who: str, tool: str, **arguments: Any) -> tuple[int, Any]:
        """A tool over the facade as ``who`` ("admin" for the hub's admin token): (status, JSON body)."""
        token = self.hub.admin_token if who == "admin" else self.tokens[who]
        async with self.hub.http(token) as http:
            response = await http.post(f"/api/tools/{tool}", json=arguments)
        return response.status_code, response.json()

    async def ok(self, who: str, tool: str, **arguments: Any) -> Any:
        status, body = await self.call(who, tool, **arguments)
        assert status == 200, (who, tool, body)
        return body

    async def template(self, name: str, team: str, visibility: str = "team", argv: list[str] | None = None) -> None:
        """A command template owned by ``team`` (an id) with ``visibility``, and its runner (named after it)."""
        await add_template(self.hub.context, name, argv=argv or ["true"])
        async with self.hub.context.db.session() as session:
            for model in (TaskTemplate, RunnerRow):
                await session.execute(
                    update(model).where(model.name == name).values(team_id=team, visibility=visibility)
                )


async def two_teams(hub: LiveHub) -> World:
    db = hub.context.db
    a, b = await make_team(db, "team-a"), await make_team(db, "team-b")
    ids = {"a": a, "b": b}
    tokens = {}
    for name, teams in PEOPLE.items():
        role = ROLES.get(name, "operator")
        tokens[name] = await make_user(db, name, teams={ids[t]: role for t in teams})
    return World(hub, a, b, tokens)
