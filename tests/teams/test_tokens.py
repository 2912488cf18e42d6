"""Scoped tokens through the real hub: tool patterns, teams and permissions never beyond the owner's live grants."""

from __future__ import annotations

import time

import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select

from hub.db.models import ApiToken, User
from tests.conftest import LiveHub
from tests.teams.support import count, ok, refused, user_token

pytestmark = pytest.mark.anyio

SIGNING_KEY = "test-signing-key-that-is-long-enough-for-hs256"  # tests/conftest.py's settings


async def test_a_token_with_tool_patterns_sees_and_calls_only_those_tools(live_hub: LiveHub) -> None:
    token = await user_token(live_hub, "tess", role="operator", tool_patterns=["template_*"], note="for the CI")
    async with (
        live_hub.http(token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        listed = await client.call_tool("template_list", {})
        denied = await client.call_tool("whoami", {})
        facade = {tool["name"] for tool in (await http.get("/api/tools")).json()["tools"]}
        outside = await refused(http, "whoami", 403)
    assert names and all(name.startswith("template_") for name in names), names
    assert {"template_list", "template_get", "template_run"} <= names
    assert facade == names
    assert not listed.is_error
    assert denied.is_error and "outside this token's tool patterns (template_*)" in getattr(
        denied.content[0], "text", ""
    )
    assert "outside this token's tool patterns" in outside
    async with live_hub.http(live_hub.admin_token) as admin:
        info = next(t for t in (await ok(admin, "token_list", username="tess"))["tokens"])
    assert info["tool_patterns"] == ["template_*"] and info["note"] == "for the CI" and info["teams"] is None


async def test_a_token_never_asks_for_more_than_its_owner_holds(live_hub: LiveHub) -> None:
    await user_token(live_hub, "bob")
    async with live_hub.http(live_hub.admin_token) as admin:
        await ok(admin, "team_create", name="sales")
        await ok(admin, "team_create", name="ops")
        await ok(admin, "team_member_add", team="sales", username="bob", role="operator")
        before = await count(live_hub, ApiToken)

        async def refusal(status: int, **scope: object) -> str:
            return await refused(admin, "token_create", status, name="scoped", username="bob", **scope)

        more = await refusal(403, permissions=["templates.run", "secrets.manage"])
        assert "'bob' does not hold secrets.manage globally or in any team" in more
        unknown = await refusal(422, permissions=["templates.fly", "templates.read"])
        assert "Unknown permission(s): templates.fly." in unknown
        assert "No team named 'nope'" in await refusal(404, teams=["sales", "nope"])
        assert "not a member of team 'ops'" in await refusal(403, teams=["ops"])
        assert "hub-wide" in await refusal(422, teams=["sales"], permissions=["users.manage"])
        assert "'viewer' does not hold templates.run" in await refusal(
            422, role="viewer", permissions=["templates.run"]
        )
        assert "Bad tool pattern" in await refusal(422, tool_patterns=["template list"])
        assert "Unknown role" in await refusal(422, role="boss")
        assert await count(live_hub, ApiToken) == before  # nothing written
        made = await ok(
            admin, "token_create", name="scoped", username="bob", teams=["sales"], permissions=["templates.run"]
        )
        assert made["info"]["teams"] == ["sales"] and made["info"]["permissions"] == ["templates.run"]
        assert made["info"]["role"] == "admin"  # no ceiling but the permissions (and bob's live grants)
        # an admin holds permissions hub-wide: their token may be limited to a team they are not in
        admins = await ok(admin, "token_create", name="ops-only", username="admin", teams=["ops"])
        assert admins["info"]["teams"] == ["ops"] and admins["info"]["role"] == "viewer"


async def test_losing_a_membership_takes_it_from_the_token_at_once(live_hub: LiveHub) -> None:
    await user_token(live_hub, "bob")
    async with live_hub.http(live_hub.admin_token) as admin:
        await ok(admin, "team_create", name="sales")
        await ok(admin, "team_member_add", team="sales", username="bob", role="operator")
        token = (
            await ok(
                admin,
                "token_create",
                name="sales",
                username="bob",
                teams=["sales"],
                permissions=["hub.read", "templates.read", "teams.read"],
            )
        )["token"]
        async with live_hub.http(token) as as_bob:
            me = await ok(as_bob, "whoami")
            assert [(t["name"], t["permissions"]) for t in me["teams"]] == [
                ("sales", ["hub.read", "teams.read", "templates.read"])
            ]
            assert me["home_team"] == "sales"  # the token does not reach his personal team
            assert [t["name"] for t in (await ok(as_bob, "team_list"))["teams"]] == ["sales"]
            assert "templates.run" in await refused(as_bob, "template_run", 403, name="x")  # not in the token
            await ok(as_bob, "template_list")
            await ok(admin, "team_member_update", team="sales", username="bob", role="member")
            assert "templates.read" in await refused(as_bob, "template_list", 403)  # the next call
            await ok(admin, "team_member_update", team="sales", username="bob", role="viewer")
            await ok(as_bob, "template_list")
            await ok(admin, "team_member_remove", team="sales", username="bob")
            assert "templates.read" in await refused(as_bob, "template_list", 403)
            assert [t["name"] for t in (await ok(as_bob, "whoami"))["teams"]] == [
                "sales"
            ]  # only what is left: hub.read


async def _jwt(live_hub: LiveHub, username: str, **claims: object) -> str:
    async with live_hub.context.db.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        now = int(time.time())
        base = {"sub": user.id, "name": username, "aud": "goosuke", "iss": "goosuke", "iat": now, "exp": now + 300}
        return jwt.encode({**base, "ver": user.token_version or 0, **claims}, SIGNING_KEY, algorithm="HS256")


async def test_jwt_perms_and_teams_claims_narrow_like_a_scoped_token(live_hub: LiveHub) -> None:
    await user_token(live_hub, "jo", role="viewer")
    async with live_hub.http(live_hub.admin_token) as admin:
        sales = (await ok(admin, "team_create", name="sales"))["id"]
        await ok(admin, "team_member_add", team="sales", username="jo", role="operator")
        perms = await _jwt(live_hub, "jo", perms=["hub.read", "teams.read"])
        teams = await _jwt(live_hub, "jo", teams=[sales])
        async with live_hub.http(perms) as by_perms, live_hub.http(teams) as by_teams:
            narrowed = await ok(by_perms, "whoami")
            assert narrowed["via"] == "jwt" and narrowed["permissions"] == ["hub.read", "teams.read"]
            assert "templates.read" in await refused(by_perms, "template_list", 403)
            in_sales = await ok(by_teams, "whoami")
            assert in_sales["permissions"] == [] and [t["name"] for t in in_sales["teams"]] == ["sales"]
            assert "templates.run" in in_sales["teams"][0]["permissions"]
            await ok(admin, "team_member_remove", team="sales", username="jo")
            left = await ok(by_teams, "whoami")  # the JWT still works; the team gives it nothing more
            assert "templates.run" not in left["teams"][0]["permissions"]
            assert "templates.read" in left["teams"][0]["permissions"]  # jo's viewer role, limited to sales
