"""Guild and channel settings, reaction bindings and who may trigger them, against the Discord double.

Runs here use the `command` agent (a tiny Python program) so they are about Discord, not about a model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from harness.doubles.discord import DiscordDouble
from hub.context import AppContext
from hub.settings import Settings
from hub.templates.definition import Parameter
from tests.conftest import LiveHub
from tests.discord.support import World, bot_of, bot_ready, conversation, discord_hub, point_at
from tests.engine_support import add_template, python_argv, repoint_template, until

pytestmark = pytest.mark.anyio

ECHO_SUMMARY = "import sys; sys.stdin.read(); print('## Summary'); print('Done.')"


async def summaries_with_command(app: AppContext) -> None:
    await repoint_template(app, "meeting-summary", agent="command", argv=python_argv(ECHO_SUMMARY), timeout=30)


@pytest.fixture
async def hub(settings: Settings, discord: DiscordDouble, world: World) -> AsyncIterator[LiveHub]:
    async with discord_hub(point_at(settings, discord)) as live:
        await summaries_with_command(live.context)
        await bot_ready(live.context)
        yield live


async def tool(hub: LiveHub, name: str, /, **args: Any) -> dict[str, Any]:
    async with hub.http(hub.admin_token) as http:
        response = await http.post(f"/api/tools/{name}", json=args)
    body = response.json()
    body["_status"] = response.status_code
    return body  # type: ignore[no-any-return]


async def reacted(discord: DiscordDouble, message: str, emoji: str) -> bool:
    return any(m == message and e == emoji for _, m, e in discord.reactions)


async def handled(hub: LiveHub, count: int) -> None:
    reactions = bot_of(hub.context).reaction_handler.__self__  # type: ignore[union-attr]

    async def enough() -> bool:
        return reactions.handled >= count  # type: ignore[no-any-return]

    await until(enough, 20, f"{count} reactions to be handled")


async def test_channel_settings_override_the_guild_and_threads_inherit_them(
    hub: LiveHub, discord: DiscordDouble, world: World
) -> None:
    thread = discord.add_thread(world.general, "design")
    default = await tool(hub, "discord_settings_get", channel_id=thread)
    assert default["scope"] is None and default["effective"]["language"] == "auto"
    assert default["effective"]["history_count"] == 500 and default["effective"]["post_to"] == "reply"

    await tool(hub, "discord_settings_set", guild_id=world.guild, language="French", history_hours=2)
    await tool(hub, "discord_settings_set", channel_id=world.general, history_count=10, post_to="thread")
    inherited = await tool(hub, "discord_settings_get", channel_id=thread)
    assert inherited["effective"]["language"] == "French" and inherited["effective"]["history_hours"] == 2
    assert inherited["effective"]["history_count"] == 10 and inherited["effective"]["post_to"] == "thread"

    changed = await tool(hub, "discord_settings_set", channel_id=world.general, unset=["post_to"], language="Dutch")
    assert changed["scope"]["settings"]["language"] == "Dutch" and changed["scope"]["settings"]["post_to"] is None
    assert changed["scope"]["guild_id"] == world.guild and changed["effective"]["post_to"] == "reply"
    listed = await tool(hub, "discord_settings_list")
    assert [(s["kind"], s["id"]) for s in listed["scopes"]] == [("channel", world.general), ("guild", world.guild)]

    reset = await tool(hub, "discord_settings_reset", channel_id=world.general)
    assert reset["scope"] is None and reset["effective"]["language"] == "French"
    missing = await tool(hub, "discord_settings_reset", channel_id=world.general)
    assert missing["_status"] == 404
    refused = await tool(hub, "discord_settings_set", channel_id=world.general, post_to="channel")
    assert refused["_status"] == 422 and "post_channel_id" in refused["detail"]
    bad = await tool(hub, "discord_settings_set", guild_id=world.guild, history_count=0)
    assert bad["_status"] == 422 and "history_count" in bad["detail"]


async def test_roles_disabled_channels_and_action_lists_decide_who_triggers_what(
    hub: LiveHub, discord: DiscordDouble, world: World
) -> None:
    ids = conversation(discord, world)
    await tool(hub, "discord_settings_set", guild_id=world.guild, allowed_roles=["lead"])
    await discord.react(world.general, ids[0], world.bob, "✏️")  # bob is not a lead
    await discord.react(world.general, ids[-1], world.ana, "✏️")  # ana is
    await until(lambda: reacted(discord, ids[-1], "✅"), 30, "ana's summary")
    await tool(hub, "discord_settings_set", channel_id=world.random, enabled=False)
    elsewhere = discord.say(world.random, world.ana, "Off-topic.")
    await discord.react(world.random, elsewhere, world.ana, "✏️")
    thread = discord.add_thread(world.general, "design")
    in_thread = discord.say(thread, world.ana, "Thread talk.")
    await tool(hub, "discord_settings_set", channel_id=world.general, actions=["some-other-action"])
    await discord.react(thread, in_thread, world.ana, "✏️")  # the thread inherits general's action list
    await handled(hub, 4)

    firings = (await tool(hub, "action_firings", name="discord-summary"))["firings"]
    outcomes = sorted((f["outcome"], f["detail"] or "") for f in firings)
    assert [o for o, _ in outcomes] == ["ignored", "ignored", "queued", "refused"]
    assert "has none of the roles allowed in #general" in outcomes[3][1]
    assert any("disabled in #random" in d for _, d in outcomes)
    assert any("does not apply in #general › design" in d for _, d in outcomes)
    assert discord.bot_messages(world.random) == [] and discord.bot_messages(thread) == []


async def test_a_custom_binding_maps_event_fields_in_its_scope_and_posts_where_the_settings_say(
    hub: LiveHub, discord: DiscordDouble, world: World
) -> None:
    await add_template(
        hub.context,
        "bug-report",
        argv=python_argv("import sys; print('Bug noted: ' + sys.stdin.read().strip())"),
        prompt="{{ reporter }} flagged {{ author }}'s message: {{ message }} ({{ link }})",
        parameters=[
            Parameter(key="message"),
            Parameter(key="author"),
            Parameter(key="reporter"),
            Parameter(key="link"),
        ],
    )
    created = await tool(
        hub,
        "discord_reaction_create",
        name="bugs",
        emojis=["🐛", "<:squash:4242>"],
        template="bug-report",
        channel_id=world.random,
        mapping={"message": "message", "author": "author", "reporter": "reactor", "link": "message_link"},
    )
    assert created["emojis"] == ["🐛", "<:squash:4242>"] and created["channel_id"] == world.random
    await tool(hub, "discord_settings_set", channel_id=world.random, post_to="thread")
    report = discord.say(world.random, world.bob, "Login returns 500.")
    outside = discord.say(world.general, world.bob, "Not in scope.")
    await discord.react(world.general, outside, world.ana, "🐛")  # the binding covers #random only
    await discord.react(world.random, report, world.ana, "squash", emoji_id="4242")
    await until(lambda: reacted(discord, report, "✅"), 30, "the bug report")
    [answer] = discord.bot_messages(report)  # posted in the thread opened on the message
    link = f"https://discord.com/channels/{world.guild}/{world.random}/{report}"
    assert answer["content"] == f"Bug noted: ana flagged bob's message: Login returns 500. ({link})"
    assert discord.channels[report]["parent_id"] == world.random
    await handled(hub, 2)
    assert discord.bot_messages(world.general) == []

    target = discord.add_channel(world.guild, "reports")
    await tool(hub, "discord_settings_set", channel_id=world.random, post_to="channel", post_channel_id=target)
    second = discord.say(world.random, world.cid, "Logout too.")
    await discord.react(world.random, second, world.ana, "🐛")
    await until(lambda: reacted(discord, second, "✅"), 30, "the second report")
    [posted] = discord.bot_messages(target)
    assert posted["content"].startswith(f"https://discord.com/channels/{world.guild}/{world.random}/{second}\n")

    listed = await tool(hub, "discord_reaction_list")
    assert [b["name"] for b in listed["bindings"]] == ["bugs", "discord-summary"]
    updated = await tool(hub, "discord_reaction_update", name="bugs", emojis=["🪲"], channel_id=None)
    assert updated["emojis"] == ["🪲"] and updated["channel_id"] is None
    actions = (await tool(hub, "action_list", kind="reaction"))["actions"]
    assert {a["summary"] for a in actions} == {"reaction 🪲 in any channel", "reaction ✏ 📝 in any channel"}
    deleted = await tool(hub, "discord_reaction_delete", name="bugs")
    assert deleted["name"] == "bugs"


async def test_bindings_are_checked_when_they_are_made(hub: LiveHub) -> None:
    base = {"name": "b", "emojis": ["🐛"], "template": "meeting-summary", "mapping": {"transcript": "history"}}
    bad_emoji = await tool(hub, "discord_reaction_create", **{**base, "emojis": ["bug"]})
    assert bad_emoji["_status"] == 422 and "not an emoji" in bad_emoji["detail"]
    bad_field = await tool(hub, "discord_reaction_create", **{**base, "mapping": {"transcript": "weather"}})
    assert bad_field["_status"] == 422 and "mapping.transcript" in bad_field["detail"]
    bad_param = await tool(hub, "discord_reaction_create", **{**base, "mapping": {"minutes": "history"}})
    assert bad_param["_status"] == 422 and "has no parameter(s) minutes" in bad_param["detail"]
    unfilled = await tool(hub, "discord_reaction_create", **{**base, "mapping": {"channel": "channel"}})
    assert unfilled["_status"] == 422 and "needs transcript" in unfilled["detail"]
    assert (await tool(hub, "discord_reaction_create", **base))["_status"] == 200


async def test_the_default_binding_is_seeded_once_and_keeps_its_state_across_restarts(
    settings: Settings, discord: DiscordDouble, world: World
) -> None:
    point_at(settings, discord)
    async with discord_hub(settings) as hub:
        bindings = (await tool(hub, "discord_reaction_list"))["bindings"]
        assert [(b["name"], b["emojis"], b["template"]) for b in bindings] == [
            ("discord-summary", ["✏", "📝"], "meeting-summary")
        ]
        assert bindings[0]["mapping"] == {"transcript": "history", "channel": "channel", "language": "language"}
        await tool(hub, "action_disable", name="discord-summary")
    async with discord_hub(settings) as hub:
        bindings = (await tool(hub, "discord_reaction_list"))["bindings"]
        assert [(b["name"], b["enabled"]) for b in bindings] == [("discord-summary", False)]
        await bot_ready(hub.context)
        ids = conversation(discord, world)
        await discord.react(world.general, ids[-1], world.ana, "✏️")
        await handled(hub, 1)
        assert (await tool(hub, "discord_reaction_runs"))["runs"] == []  # disabled: nothing runs
