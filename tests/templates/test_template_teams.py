"""Templates are team objects: two teams on one hub share only what they publish. A member of A does not see,
run or change B's team templates, sees B's public ones without changing them, and a private one only its
creator sees; prompts/list, prompts/get and goosuke://templates/{name} follow the same rule, over MCP and
the facade. Bad input (unknown team, bad visibility, a change the caller may not make) changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlalchemy import select

from hub.db.models import AuditEvent
from hub.principal import Role
from tests.conftest import LiveHub
from tests.teams_support import make_team, make_user

pytestmark = pytest.mark.anyio

NOTE = {"title": "Note", "prompt": "Write about {{ topic }}.", "parameters": [{"key": "topic"}]}
BUILTINS = {"meeting-summary", "daily-digest", "recommend-extensions", "triage-issue"}


@dataclass
class Caller:
    """One principal over both surfaces: the MCP SDK client and the facade (/api/tools/<name>)."""

    mcp: Client
    http: httpx2.AsyncClient

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.mcp.call_tool(tool, arguments)
        assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
        return result.structured_content  # type: ignore[no-any-return]

    async def refused(self, tool: str, **arguments: Any) -> str:
        result = await self.mcp.call_tool(tool, arguments)
        assert result.is_error, (tool, arguments)
        return result.content[0].text  # type: ignore[union-attr]

    async def api(self, tool: str, **arguments: Any) -> httpx2.Response:
        return await self.http.post(f"/api/tools/{tool}", json=arguments)

    async def names(self) -> set[str]:
        return {t["name"] for t in (await self.ok("template_list", limit=200))["templates"]}

    async def prompts(self) -> set[str]:
        return {p.name for p in (await self.mcp.list_prompts()).prompts}


@asynccontextmanager
async def caller(hub: LiveHub, token: str) -> AsyncIterator[Caller]:
    async with (
        hub.http(token) as http,
        Client(streamable_http_client(f"{hub.url}/mcp", http_client=http)) as client,
    ):
        yield Caller(client, http)


async def two_teams(hub: LiveHub) -> dict[str, str]:
    """Teams A and B; alice (operator in A), bob and carol (operators in B), dave (operator in both):
    platform role member, so every permission they hold comes from a team role. Their tokens by name."""
    db = hub.context.db
    a, b = await make_team(db, "A"), await make_team(db, "B")
    return {
        "alice": await make_user(db, "alice", teams={a: "operator"}),
        "bob": await make_user(db, "bob", teams={b: "operator"}),
        "carol": await make_user(db, "carol", teams={b: "operator"}),
        "dave": await make_user(db, "dave", teams={a: "operator", b: "operator"}),
    }


async def test_a_member_of_a_sees_runs_and_changes_only_what_b_shares(live_hub: LiveHub) -> None:
    tokens = await two_teams(live_hub)
    async with caller(live_hub, tokens["bob"]) as bob:
        made = await bob.ok("template_create", name="b-team", team="B", **NOTE)
        assert (made["team"], made["visibility"], made["created_by"]) == ("B", "team", "bob")
        assert (await bob.ok("template_create", name="b-public", team="B", visibility="public", **NOTE))[
            "visibility"
        ] == "public"
        response = await bob.api("template_create", name="b-private", team="B", visibility="private", **NOTE)
        assert response.status_code == 200 and response.json()["visibility"] == "private"
        assert {"b-team", "b-public", "b-private"} | BUILTINS <= await bob.names()
        assert {"b-team", "b-public", "b-private"} <= await bob.prompts()

    async with caller(live_hub, tokens["alice"]) as alice:
        seen = await alice.names()
        assert "b-public" in seen and seen >= BUILTINS and not {"b-team", "b-private"} & seen
        listed = {t["name"]: t for t in (await alice.ok("template_list"))["templates"]}
        assert (listed["b-public"]["team"], listed["b-public"]["visibility"]) == ("B", "public")
        assert (listed["meeting-summary"]["team"], listed["meeting-summary"]["visibility"]) == ("default", "public")
        for hidden in ("b-team", "b-private"):  # as if absent, on every tool and both surfaces
            for tool, extra in (
                ("template_get", {}),
                ("template_render", {"params": {"topic": "x"}}),
                ("template_run", {"params": {"topic": "x"}}),
                ("template_update", {"title": "Mine"}),
                ("template_delete", {}),
                ("template_copy", {"new_name": "stolen"}),
                ("template_export_recipe", {}),
            ):
                assert f"No template named {hidden!r}" in await alice.refused(tool, name=hidden, **extra), tool
                response = await alice.api(tool, name=hidden, **extra)
                assert response.status_code == 404 and f"No template named {hidden!r}" in response.text, tool
        # b's public template: seen, rendered and run, never changed
        got = await alice.ok("template_get", name="b-public")
        assert got["team"] == "B" and got["visibility"] == "public"
        rendered = await alice.ok("template_render", name="b-public", params={"topic": "cats"})
        assert rendered["prompt"] == "Write about cats."
        run = await alice.ok("template_run", name="b-public", params={"topic": "cats"})
        assert run["template"] == "b-public"
        for tool, extra in (("template_update", {"title": "Mine"}), ("template_delete", {})):
            assert "not change it" in await alice.refused(tool, name="b-public", **extra)
            assert (await alice.api(tool, name="b-public", **extra)).status_code == 403
        assert "not change it" in await alice.refused("template_update", name="b-public", visibility="private")
        copy = await alice.ok("template_copy", name="b-public", new_name="a-copy")
        assert copy["team"] == "A" and copy["visibility"] == "team"
        # the built-ins are everyone's, and nobody's to change
        assert "read-only" in await alice.refused("template_update", name="meeting-summary", title="X")
        # prompts and resources: the same rule
        prompts = await alice.prompts()
        assert {"b-public", "a-copy"} | BUILTINS <= prompts and not {"b-team", "b-private"} & prompts
        for name in ("b-team", "no-such-template"):  # the same answer: existence is not disclosed
            with pytest.raises(MCPError, match=f"No prompt named '{name}'"):
                await alice.mcp.get_prompt(name, {"topic": "x"})
        with pytest.raises(MCPError, match="No template named 'b-private'"):
            await alice.mcp.read_resource("goosuke://templates/b-private")
        shared = await alice.mcp.get_prompt("b-public", {"topic": "dogs"})
        assert shared.messages[0].content.text == "Write about dogs."  # type: ignore[union-attr]
        resource = await alice.mcp.read_resource("goosuke://templates/b-public")
        assert '"visibility": "public"' in resource.contents[0].text  # type: ignore[union-attr]

    async with caller(live_hub, tokens["carol"]) as carol:  # same team, not the creator: no private
        seen = await carol.names()
        assert {"b-team", "b-public"} <= seen and "b-private" not in seen and "a-copy" not in seen
        assert "b-private" not in await carol.prompts()
        await carol.ok("template_update", name="b-team", title="Carol's")  # her team's: she changes it
        assert "Only its creator (bob)" in (await carol.refused("template_update", name="b-team", visibility="private"))

    operator = await live_hub.token(Role.operator)  # a platform role: every team's shared templates, as before
    async with caller(live_hub, operator) as op:
        seen = await op.names()
        assert {"b-team", "b-public", "a-copy"} <= seen and "b-private" not in seen


async def test_bad_input_changes_nothing(live_hub: LiveHub) -> None:
    tokens = await two_teams(live_hub)
    async with caller(live_hub, tokens["bob"]) as bob:
        await bob.ok("template_create", name="b-team", team="B", **NOTE)
        assert "No team named 'nope'" in await bob.refused("template_create", name="x1", team="nope", **NOTE)
        response = await bob.api("template_create", name="x1", team="nope", **NOTE)
        assert response.status_code == 404 and "No team named 'nope'" in response.text
        # a team it is not in is no team at all to it
        assert "No team named 'A'" in await bob.refused("template_create", name="x1", team="A", **NOTE)
        text = await bob.refused("template_create", name="x1", team="B", visibility="secret", **NOTE)
        assert "visibility" in text
        response = await bob.api("template_create", name="x1", team="B", visibility="secret", **NOTE)
        assert response.status_code == 422 and "visibility" in {e["field"] for e in response.json()["errors"]}
        assert "x1" not in await bob.names()
        # no team named: the one team it may create in
        assert (await bob.ok("template_create", name="b-default", **NOTE))["team"] == "B"
        # a change with a bad part changes nothing of the rest
        for extra in ({"team": "nope"}, {"team": "A"}, {"visibility": "everyone"}):
            await bob.refused("template_update", name="b-team", title="Changed", **extra)
        got = await bob.ok("template_get", name="b-team")
        assert (got["title"], got["version"], got["team"], got["visibility"]) == ("Note", 1, "B", "team")

    async with caller(live_hub, tokens["alice"]) as alice:
        assert "No template named 'b-team'" in await alice.refused(
            "template_update", name="b-team", visibility="public"
        )
    async with caller(live_hub, tokens["bob"]) as bob:
        assert (await bob.ok("template_get", name="b-team"))["visibility"] == "team"

    async with caller(live_hub, tokens["dave"]) as dave:  # a member of both teams moves it, audited
        text = await dave.refused("template_create", name="d1", **NOTE)  # two teams: it must name one
        assert "templates.manage" in text and "Pick a team" in text
        moved = await dave.ok("template_update", name="b-team", team="A", visibility="public")
        assert (moved["team"], moved["visibility"], moved["version"]) == ("A", "public", 1)
    async with caller(live_hub, tokens["alice"]) as alice:
        assert (await alice.ok("template_update", name="b-team", title="Ours now"))["version"] == 2
    async with caller(live_hub, tokens["bob"]) as bob:
        assert "not change it" in await bob.refused("template_update", name="b-team", title="Back")
    async with live_hub.context.db.session() as session:
        rows = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "template.share")))
    assert [(r.actor, r.target, r.surface) for r in rows] == [("dave", "b-team", "mcp")]
    assert rows[0].detail["visibility"] == ["team", "public"]


async def test_an_imported_recipe_goes_to_the_named_team(live_hub: LiveHub) -> None:
    tokens = await two_teams(live_hub)
    recipe = "version: 1.0.0\ntitle: Imported\ndescription: d\nprompt: Say hi.\n"
    async with caller(live_hub, tokens["dave"]) as dave:
        made = await dave.ok("template_import_recipe", recipe=recipe, name="imp", team="B", visibility="private")
        assert (made["template"]["team"], made["template"]["visibility"]) == ("B", "private")
        replaced = await dave.ok("template_import_recipe", recipe=recipe, name="imp", replace=True, visibility="team")
        assert (replaced["template"]["team"], replaced["template"]["visibility"]) == ("B", "team")
    async with caller(live_hub, tokens["alice"]) as alice:
        assert "imp" not in await alice.names()
        text = await alice.refused("template_import_recipe", recipe=recipe, name="imp", replace=True, team="A")
        assert "No template named 'imp'" in text
    async with caller(live_hub, tokens["bob"]) as bob:
        assert "imp" in await bob.names()
        assert (await bob.ok("template_export_recipe", name="imp"))["recipe"]["prompt"] == "Say hi."
