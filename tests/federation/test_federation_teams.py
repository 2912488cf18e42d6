"""Federated tools follow their extension's team: tools/list shows a caller only the tools of extensions
its teams may use, a call to another team's tool is an unknown tool (and an audit row), a published
extension's tools serve every team, and an extension's role still needs its permission in that team."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select

from hub.db.models import AuditEvent
from tests.conftest import LiveHub
from tests.extension_support import call, call_error, stdio_test_server, wait_for
from tests.teams_support import make_team, make_user

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def client(hub: LiveHub, token: str) -> AsyncIterator[Client]:
    async with hub.http(token) as http, Client(streamable_http_client(f"{hub.url}/mcp", http_client=http)) as mcp:
        yield mcp


async def tool_names(mcp: Client) -> set[str]:
    return {t.name for t in (await mcp.list_tools()).tools if "__" in t.name}


async def denials(hub: LiveHub, actor: str) -> list[str]:
    async with hub.context.db.session() as session:
        rows = await session.scalars(
            select(AuditEvent.target).where(AuditEvent.actor == actor, AuditEvent.outcome == "denied")
        )
        return list(rows)


async def test_each_team_lists_and_calls_only_the_federated_tools_it_may_use(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    red, blue = await make_team(db, "red"), await make_team(db, "blue")
    alice = await make_user(db, "alice", teams={red: "admin"})
    bob = await make_user(db, "bob", teams={blue: "admin"})
    dave = await make_user(db, "dave", teams={red: "viewer"})
    async with client(live_hub, alice) as as_alice, client(live_hub, bob) as as_bob, client(live_hub, dave) as as_dave:
        await call(as_alice, "extension_add", {"extension": stdio_test_server("red srv"), "team": "red"})
        await call(as_bob, "extension_add", {"extension": stdio_test_server("blue srv"), "team": "blue"})
        await wait_for(lambda: _has(as_bob, "bluesrv__echo"))

        assert "redsrv__echo" in await tool_names(as_alice)
        assert not any(name.startswith("bluesrv__") for name in await tool_names(as_alice))
        assert not any(name.startswith("redsrv__") for name in await tool_names(as_bob))
        assert await call(as_alice, "redsrv__echo", {"text": "red"}) == "red"
        error = await call_error(as_alice, "bluesrv__echo", {"text": "x"})
        assert "Unknown tool" in error and "blue" not in error.replace("'bluesrv__echo'", "")
        assert "tool:bluesrv__echo" in await denials(live_hub, "alice")

        # a viewer of red: the operator-role tools of red need templates.run there
        assert await tool_names(as_dave) == set()
        assert "needs the operator role" in await call_error(as_dave, "redsrv__echo", {"text": "x"})
        await call(as_alice, "extension_update", {"name": "redsrv", "role": "viewer"})
        assert "redsrv__echo" in await tool_names(as_dave)
        assert await call(as_dave, "redsrv__echo", {"text": "read"}) == "read"

        # blue publishes its server: every team may call its tools now, none may change it
        await call(as_bob, "extension_update", {"name": "bluesrv", "visibility": "public"})
        assert "bluesrv__echo" in await tool_names(as_alice)
        assert await call(as_alice, "bluesrv__echo", {"text": "shared"}) == "shared"
        assert "not change it" in await call_error(as_alice, "extension_disable", {"name": "bluesrv"})

        # an admin-role extension: a team's own admin role does not reach it (users.manage is the platform's)
        await call(as_alice, "extension_update", {"name": "redsrv", "role": "admin"})
        assert not any(name.startswith("redsrv__") for name in await tool_names(as_alice))
        assert "needs the admin role" in await call_error(as_alice, "redsrv__echo", {"text": "x"})


async def _has(mcp: Client, name: str) -> bool:
    return name in await tool_names(mcp)
