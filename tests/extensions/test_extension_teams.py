"""Extensions are team objects: two teams on one hub see, change and render only their own extensions
(and public ones), private ones only their creator; unknown teams and bad visibilities change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveHub
from tests.extension_support import call, call_error, stdio_test_server
from tests.teams_support import client, make_team, make_user

pytestmark = pytest.mark.anyio


async def two_teams(hub: LiveHub) -> dict[str, str]:
    """Teams red and blue; alice manages red, bob manages blue, carol operates in red (all platform members)."""
    db = hub.context.db
    red, blue = await make_team(db, "red"), await make_team(db, "blue")
    return {
        "alice": await make_user(db, "alice", teams={red: "admin"}),
        "bob": await make_user(db, "bob", teams={blue: "admin"}),
        "carol": await make_user(db, "carol", teams={red: "operator"}),
    }


def keys(listed: dict[str, Any]) -> set[str]:
    return {e["key"] for e in listed["extensions"]}


async def test_two_teams_see_and_change_only_their_own_extensions(live_hub: LiveHub) -> None:
    tokens = await two_teams(live_hub)
    async with client(live_hub, tokens["alice"]) as alice, client(live_hub, tokens["bob"]) as bob:
        added = await call(alice, "extension_add", {"extension": stdio_test_server("red tool"), "team": "red"})
        assert added["extension"]["team"] == "red" and added["extension"]["visibility"] == "team"
        await call(bob, "extension_add", {"extension": stdio_test_server("blue tool"), "team": "blue", "start": False})

        assert keys(await call(alice, "extension_list")) == {"redtool"}
        assert keys(await call(bob, "extension_list")) == {"bluetool"}
        for tool in ("extension_get", "extension_check", "extension_enable", "extension_disable", "extension_remove"):
            assert "No extension named 'bluetool'" in await call_error(alice, tool, {"name": "bluetool"}), tool
        assert "No extension named" in await call_error(
            alice, "extension_update", {"name": "bluetool", "changes": {"timeout": 5}}
        )
        with pytest.raises(Exception, match="No extension named"):
            await alice.read_resource("goosuke://extensions/bluetool")
        rendered = await call(alice, "goose_config_render", {"include_hub": False})
        assert "redtool" in rendered["yaml"] and "bluetool" not in rendered["yaml"]
        # the key is the hub's: another team's name is refused without showing that team's extension
        taken = await call_error(alice, "extension_add", {"extension": stdio_test_server("blue tool"), "team": "red"})
        assert "exists already in another team" in taken and "blue tool" not in taken

        # blue publishes its extension: red sees and uses it, but cannot change it
        await call(bob, "extension_update", {"name": "bluetool", "visibility": "public"})
        assert keys(await call(alice, "extension_list")) == {"redtool", "bluetool"}
        assert (await call(alice, "extension_get", {"name": "bluetool"}))["visibility"] == "public"
        assert "not change it" in await call_error(alice, "extension_disable", {"name": "bluetool"})
        assert "not change it" in await call_error(
            alice, "extension_update", {"name": "bluetool", "visibility": "team"}
        )
        assert (await call(bob, "extension_get", {"name": "bluetool"}))["enabled"] is True

    async with client(live_hub, live_hub.admin_token) as admin:  # the platform admin sees every team's
        assert keys(await call(admin, "extension_list")) == {"redtool", "bluetool"}


async def test_a_private_extension_is_its_creators_alone(live_hub: LiveHub) -> None:
    tokens = await two_teams(live_hub)
    async with client(live_hub, tokens["alice"]) as alice, client(live_hub, tokens["carol"]) as carol:
        entry = stdio_test_server("mine", timeout=7)
        added = await call(alice, "extension_add", {"extension": entry, "team": "red", "visibility": "private"})
        assert added["extension"]["visibility"] == "private"
        await call(alice, "extension_add", {"extension": stdio_test_server("shared"), "team": "red", "start": False})
        assert keys(await call(alice, "extension_list")) == {"mine", "shared"}
        assert keys(await call(carol, "extension_list")) == {"shared"}  # a team-mate does not see it
        assert "No extension named 'mine'" in await call_error(carol, "extension_get", {"name": "mine"})
        await call(alice, "extension_update", {"name": "mine", "visibility": "team"})
        assert keys(await call(carol, "extension_list")) == {"mine", "shared"}


async def test_unknown_teams_and_visibilities_are_refused_and_change_nothing(live_hub: LiveHub) -> None:
    tokens = await two_teams(live_hub)
    async with client(live_hub, tokens["alice"]) as alice:
        entry = stdio_test_server("nowhere")
        assert "No team named 'nope'" in await call_error(alice, "extension_add", {"extension": entry, "team": "nope"})
        # a team alice is not in is not disclosed either
        assert "No team named 'blue'" in await call_error(alice, "extension_add", {"extension": entry, "team": "blue"})
        bad = await call_error(alice, "extension_add", {"extension": entry, "team": "red", "visibility": "everyone"})
        assert "visibility" in bad
        # a platform member's own team grants nothing more than the platform role: with no team named, the
        # extension goes to the one team where alice may add it
        added = await call(alice, "extension_add", {"extension": entry, "start": False})
        assert added["extension"]["team"] == "red"
        await call(alice, "extension_remove", {"name": "nowhere"})
        assert keys(await call(alice, "extension_list")) == set()
        await call(alice, "extension_add", {"extension": entry, "team": "red", "start": False})
        bad = await call_error(alice, "extension_update", {"name": "nowhere", "visibility": "world", "enabled": False})
        assert "visibility" in bad
        assert (await call(alice, "extension_get", {"name": "nowhere"}))["enabled"] is True
    async with client(live_hub, live_hub.admin_token) as admin:
        assert keys(await call(admin, "extension_list")) == {"nowhere"}
