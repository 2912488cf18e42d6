"""Chat scopes (a guild's or channel's settings) belong to the team that first set them: another team does
not see them in discord_settings_list or _get and cannot change or reset them; they are never private."""

from __future__ import annotations

import pytest

from tests.conftest import LiveHub
from tests.triggers.team_world import two_teams

pytestmark = pytest.mark.anyio

CHANNEL, OTHER = "111111111111111111", "222222222222222222"


async def test_a_teams_chat_settings_are_its_own(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    made = await world.ok("alice", "discord_settings_set", channel_id=CHANNEL, guild_id="1", language="French")
    assert made["scope"]["team"] == "team-a" and made["scope"]["visibility"] == "team"

    listed = await world.ok("bob", "discord_settings_list")
    assert listed["scopes"] == []
    shown = await world.ok("bob", "discord_settings_get", channel_id=CHANNEL)
    assert shown["scope"] is None  # what applies there shows; whose settings they are does not
    for tool, args in (
        ("discord_settings_set", {"channel_id": CHANNEL, "language": "Dutch"}),
        ("discord_settings_reset", {"channel_id": CHANNEL}),
    ):
        status, body = await world.call("bob", tool, **args)
        assert status == 404, (tool, body)
    assert (await world.ok("carol", "discord_settings_get", channel_id=CHANNEL))["scope"]["settings"]["language"] == (
        "French"
    )
    status, _ = await world.call("carol", "discord_settings_set", channel_id=CHANNEL, language="Dutch")
    assert status == 403  # a viewer reads chat settings, does not change them

    status, body = await world.call(
        "alice", "discord_settings_set", channel_id=OTHER, language="x", visibility="private"
    )
    assert status == 422, body
    status, body = await world.call("alice", "discord_settings_set", channel_id=OTHER, language="x", team="nope")
    assert status == 404 and "No team named" in body["detail"], body
    status, body = await world.call("frank", "discord_settings_set", channel_id=CHANNEL, language="x", team="team-b")
    assert status == 422 and "team_transfer" in body["detail"], body
    assert [s["id"] for s in (await world.ok("alice", "discord_settings_list"))["scopes"]] == [CHANNEL]

    public = await world.ok("erin", "discord_settings_set", channel_id=CHANNEL, visibility="public")
    assert public["scope"]["visibility"] == "public" and public["scope"]["settings"]["language"] == "French"
    assert [s["id"] for s in (await world.ok("bob", "discord_settings_list"))["scopes"]] == [CHANNEL]
    status, body = await world.call("bob", "discord_settings_set", channel_id=CHANNEL, language="Dutch")
    assert status == 403 and "owning team" in body["detail"], body
    assert (await world.ok("admin", "discord_settings_reset", channel_id=CHANNEL))["scope"] is None
