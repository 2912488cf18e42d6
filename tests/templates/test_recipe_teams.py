"""A recipe carries only extensions of the template's own team (or public ones) that the caller may see:
importing a recipe that names another team's extension, then exporting it, neither picks up nor shows that
extension's configuration (its command, arguments, environment); it comes out as an unknown name would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import LiveHub
from tests.extension_support import call, stdio_test_server
from tests.teams_support import make_team, make_user

pytestmark = pytest.mark.anyio

RECIPE = """version: 1.0.0
title: Imported
description: uses extensions
prompt: Say hi.
extensions:
  - {type: stdio, name: blueonly, cmd: echo, args: [], timeout: 10}
  - {type: stdio, name: bluepublic, cmd: echo, args: [], timeout: 10}
  - {type: stdio, name: redtool, cmd: echo, args: [], timeout: 10}
"""


@asynccontextmanager
async def client(hub: LiveHub, token: str) -> AsyncIterator[Client]:
    async with hub.http(token) as http, Client(streamable_http_client(f"{hub.url}/mcp", http_client=http)) as mcp:
        yield mcp


def by_name(recipe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in recipe.get("extensions", [])}


async def test_a_recipe_never_carries_another_teams_extension(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    red, blue = await make_team(db, "red"), await make_team(db, "blue")
    alice = await make_user(db, "alice", teams={red: "admin"})  # platform role member: team roles only
    bob = await make_user(db, "bob", teams={blue: "admin"})
    async with client(live_hub, alice) as a, client(live_hub, bob) as b:
        await call(
            b,
            "extension_add",
            {
                "extension": stdio_test_server("blueonly", envs={"MODE": "blue-team-only"}),
                "team": "blue",
                "start": False,
            },
        )
        await call(
            b,
            "extension_add",
            {
                "extension": stdio_test_server("bluepublic", envs={"MODE": "shared-with-all"}),
                "team": "blue",
                "visibility": "public",
                "start": False,
            },
        )
        await call(
            a,
            "extension_add",
            {"extension": stdio_test_server("redtool", envs={"MODE": "red-own"}), "team": "red", "start": False},
        )

        await call(a, "template_import_recipe", {"recipe": RECIPE, "name": "imp", "team": "red"})
        exported = await call(a, "template_export_recipe", {"name": "imp"})
        entries = by_name(exported["recipe"])
        # another team's extension: a bare name, as if the hub did not know it (nothing of it disclosed)
        assert entries["blueonly"] == {"type": "builtin", "name": "blueonly", "timeout": 300}
        assert "blue-team-only" not in exported["recipe_yaml"]
        assert "stdio_server" in str(entries["redtool"].get("args")) and entries["redtool"]["envs"] == {
            "MODE": "red-own"
        }
        assert entries["bluepublic"]["envs"] == {"MODE": "shared-with-all"}  # public: every team may use it

        # the same template shared with blue: bob sees blueonly, but red's runs may not have it, and red's
        # own extension is shown to bob only if he may see it (he may not)
        await call(a, "template_update", {"name": "imp", "visibility": "public"})
        seen_by_bob = await call(b, "template_export_recipe", {"name": "imp"})
        bobs = by_name(seen_by_bob["recipe"])
        assert bobs["blueonly"]["type"] == "builtin" and "blue-team-only" not in seen_by_bob["recipe_yaml"]
        assert bobs["redtool"]["type"] == "builtin" and "red-own" not in seen_by_bob["recipe_yaml"]
        assert bobs["bluepublic"]["envs"] == {"MODE": "shared-with-all"}
