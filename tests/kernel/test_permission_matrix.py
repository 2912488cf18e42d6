"""Every tool, a principal with exactly its permission and one with every other: the one gate decides
the same on MCP, the facade and stdio, lists only what may be called, and records each denial."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import func, select

from hub.app import build_context, running
from hub.db.models import AuditEvent
from hub.settings import Settings
from hub.teams.permissions import ALL
from tests.conftest import LiveHub
from tests.teams_support import make_role, make_user

pytestmark = pytest.mark.anyio

# Strict inputs refuse an unknown field after the gate: an allowed call fails validation, nothing runs.
PROBE = {"__probe__": 1}


async def _denials(hub: LiveHub, actor: str, surface: str) -> dict[str, int]:
    async with hub.context.db.session() as session:
        rows = await session.execute(
            select(AuditEvent.target, func.count())
            .where(AuditEvent.actor == actor, AuditEvent.outcome == "denied", AuditEvent.surface == surface)
            .group_by(AuditEvent.target)
        )
    return {target: count for target, count in rows}


async def test_every_tool_is_gated_by_its_permission_on_mcp_and_the_facade(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    tools = live_hub.context.registry.tools
    tokens: dict[str, tuple[str, str]] = {}
    for index, permission in enumerate(sorted({spec.permission for spec in tools.values()})):
        await make_role(db, f"only-{index}", {permission})
        await make_role(db, f"all-but-{index}", ALL - {permission})
        tokens[permission] = (
            await make_user(db, f"with-{index}", platform_role=f"only-{index}"),
            await make_user(db, f"without-{index}", platform_role=f"all-but-{index}"),
        )
    for permission, (with_token, without_token) in tokens.items():
        needing = {name for name, spec in tools.items() if spec.permission == permission}
        index = sorted(tokens).index(permission)
        for token, allowed, who in ((with_token, True, f"with-{index}"), (without_token, False, f"without-{index}")):
            async with (
                live_hub.http(token) as http,
                Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
            ):
                listed = {tool.name for tool in (await client.list_tools()).tools} & set(tools)
                api_listed = {t["name"] for t in (await http.get("/api/tools")).json()["tools"]}
                for name in sorted(needing):
                    result = await client.call_tool(name, PROBE)
                    text = result.content[0].text  # type: ignore[union-attr]
                    response = await http.post(f"/api/tools/{name}", json=PROBE)
                    if allowed:
                        assert "Invalid arguments" in text, (name, who, text)
                        assert response.status_code == 422, (name, who, response.text)
                    else:
                        assert result.is_error and f"needs the {permission} permission" in text, (name, who, text)
                        assert response.status_code == 403, (name, who, response.text)
            assert (needing <= listed) is allowed and (needing <= api_listed) is allowed, (permission, who)
            assert not allowed or listed == api_listed
            if not allowed:  # one denial row per refused call, on each surface, and no other
                for surface in ("mcp", "api"):
                    assert await _denials(live_hub, who, surface) == {f"tool:{name}": 1 for name in needing}


@pytest.mark.parametrize("surface", ["stdio"])
async def test_the_local_owner_of_stdio_passes_every_gate(settings: Settings, surface: str) -> None:
    app = build_context(settings, transport=surface)
    async with running(app), Client(app.server) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert set(app.registry.tools) <= listed
        for name in sorted(app.registry.tools):
            result = await client.call_tool(name, PROBE)
            assert "Invalid arguments" in result.content[0].text, name  # type: ignore[union-attr]
