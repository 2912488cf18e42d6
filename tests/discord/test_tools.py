"""Every Discord tool through the SDK client against the Discord double: Streamable HTTP for all of them,
SSE and stdio for some; and the errors a tool gives for Discord's refusals, limits and bad input."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from harness import REPO
from harness.doubles.discord import DiscordDouble, snowflake
from harness.processes import hub_env
from hub.principal import Role
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.discord.support import World, bot_ready, conversation, discord_hub, point_at

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(settings: Settings, discord: DiscordDouble, world: World) -> AsyncIterator[LiveHub]:
    async with discord_hub(point_at(settings, discord)) as live:
        await bot_ready(live.context)
        yield live


@asynccontextmanager
async def mcp(hub: LiveHub, token: str | None = None) -> AsyncIterator[Client]:
    async with (
        hub.http(token or hub.admin_token) as http,
        Client(streamable_http_client(f"{hub.url}/mcp", http_client=http)) as client,
    ):
        yield client


async def call(client: Client, name: str, /, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    return result.structured_content  # type: ignore[return-value]


async def refused(client: Client, name: str, /, **args: Any) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error, result.structured_content
    return result.content[0].text  # type: ignore[no-any-return, union-attr]


async def test_every_discord_tool_works_over_streamable_http(
    hub: LiveHub, discord: DiscordDouble, world: World
) -> None:
    ids = conversation(discord, world)
    thread = discord.add_thread(world.general, "design")
    discord.search_pending = 2  # Discord answers 202 "index not ready" twice first
    long_text = "\n".join(f"line {i}: " + "words " * 15 for i in range(50))  # about 4,900 characters
    async with mcp(hub) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {n for n in names if n.startswith("discord_")} >= {
            "discord_send_message",
            "discord_edit_message",
            "discord_delete_message",
            "discord_get_message",
            "discord_get_history",
            "discord_search_messages",
            "discord_add_reaction",
            "discord_list_guilds",
            "discord_list_channels",
            "discord_create_thread",
        }
        guilds = await call(client, "discord_list_guilds")
        assert guilds["guilds"] == [{"id": world.guild, "name": "Acme", "channels": 3}]

        channels = {
            c["name"]: c for c in (await call(client, "discord_list_channels", guild_id=world.guild))["channels"]
        }
        assert set(channels) == {"general", "random", "secret", "design"}
        assert channels["design"]["type"] == "thread" and channels["design"]["parent_id"] == world.general
        assert channels["design"]["archived"] is False and channels["general"]["type"] == "text"

        sent = await call(client, "discord_send_message", channel_id=world.general, content=long_text, reply_to=ids[1])
        assert sent["count"] == 3 and sent["messages"][0]["reply_to"] == ids[1]
        posted = discord.bot_messages(world.general)
        assert "\n".join(m["content"] for m in posted) == long_text
        assert all(len(m["content"]) <= 2000 and m["allowed_mentions"] == {"parse": []} for m in posted)

        message = await call(client, "discord_get_message", channel_id=world.general, message_id=ids[2])
        assert message["author"]["name"] == "ana" and message["embeds"] == ["Error rate — 5xx at 0.2% after the fix"]
        assert "[embed: Error rate" in message["text"]
        assert message["link"] == f"https://discord.com/channels/{world.guild}/{world.general}/{ids[2]}"
        with_file = await call(client, "discord_get_message", channel_id=world.general, message_id=ids[3])
        assert with_file["attachments"][0]["filename"] == "test-plan.pdf"

        mine = sent["messages"][-1]["id"]
        edited = await call(client, "discord_edit_message", channel_id=world.general, message_id=mine, content="Fixed.")
        assert edited["content"] == "Fixed." and edited["edited_at"] is not None

        await call(client, "discord_add_reaction", channel_id=world.general, message_id=ids[0], emoji="👍")
        assert (world.general, ids[0], "👍") in discord.reactions

        page = await call(client, "discord_get_history", channel_id=world.general, limit=3)
        assert [m["id"] for m in page["messages"]] == [m["id"] for m in discord.history(world.general)[-3:]]
        before = await call(client, "discord_get_history", channel_id=world.general, before=page["older"], limit=3)
        assert [m["id"] for m in before["messages"]] == [m["id"] for m in discord.history(world.general)[-6:-3]]
        start = await call(client, "discord_get_history", channel_id=world.general, before=ids[1], limit=10)
        assert [m["id"] for m in start["messages"]] == [ids[0]] and start["older"] is None
        after = await call(client, "discord_get_history", channel_id=world.general, after=ids[0], limit=2)
        assert [m["id"] for m in after["messages"]] == ids[1:3] and after["newer"] == ids[2]
        around = await call(client, "discord_get_history", channel_id=world.general, around=ids[2], limit=3)
        assert ids[2] in [m["id"] for m in around["messages"]]

        found = await call(client, "discord_search_messages", guild_id=world.guild, content="release notes")
        assert found["total_results"] == 1 and found["messages"][0]["id"] == ids[1]
        assert len(discord.calls("GET", "/guilds/{id}/messages/search")) == 3  # two 202s, then the results
        by_author = await call(client, "discord_search_messages", guild_id=world.guild, author_id=world.bob, limit=1)
        assert by_author["total_results"] == 2 and by_author["next_offset"] == 1

        opened = await call(
            client, "discord_create_thread", channel_id=world.general, name="Follow-up", message_id=ids[4], content="Hi"
        )
        assert opened["id"] == ids[4] and opened["parent_id"] == world.general  # a message's thread has its id
        assert [m["content"] for m in discord.bot_messages(ids[4])] == ["Hi"]
        loose = await call(client, "discord_create_thread", channel_id=world.general, name="Loose thread")
        assert discord.channels[loose["id"]]["parent_id"] == world.general
        in_thread = await call(client, "discord_send_message", channel_id=thread, content="In the thread.")
        assert in_thread["messages"][0]["channel_id"] == thread

        deleted = await call(client, "discord_delete_message", channel_id=world.general, message_id=mine)
        assert deleted["deleted"] and mine not in discord.messages[world.general]


async def test_discord_tools_answer_over_legacy_sse(hub: LiveHub, discord: DiscordDouble, world: World) -> None:
    ids = conversation(discord, world)
    headers = {"Authorization": f"Bearer {hub.admin_token}"}
    async with Client(sse_client(f"{hub.url}/sse", headers=headers)) as client:
        page = await call(client, "discord_get_history", channel_id=world.general, limit=100)
        await call(client, "discord_add_reaction", channel_id=world.general, message_id=ids[0], emoji="✅")
    assert [m["id"] for m in page["messages"]] == ids
    assert (world.general, ids[0], "✅") in discord.reactions


async def test_discord_tools_answer_over_stdio(
    tmp_path: Path, database_url: str, discord: DiscordDouble, world: World
) -> None:
    ids = conversation(discord, world)
    env = hub_env(
        tmp_path / "data",
        database_url,
        GOOSUKE_DISCORD_TOKEN=discord.token,
        GOOSUKE_DISCORD_API_BASE_URL=discord.api_base,
        GOOSUKE_DISCORD_GATEWAY_URL=discord.gateway_url,
        GOOSUKE_DISCORD_GUILD_READY_TIMEOUT="0.05",
    )
    params = StdioServerParameters(command=sys.executable, args=["-m", "hub.cli", "stdio"], env=env, cwd=str(REPO))
    async with Client(params) as client:  # the first call waits for the bot to connect
        sent = await call(
            client, "discord_send_message", channel_id=world.general, content="From stdio.", reply_to=ids[0]
        )
        message = await call(client, "discord_get_message", channel_id=world.general, message_id=ids[1])
    assert sent["count"] == 1 and discord.bot_messages(world.general)[-1]["content"] == "From stdio."
    assert message["author"]["name"] == "bob"


async def test_discord_refusals_limits_and_bad_input_become_clear_tool_errors(
    hub: LiveHub, discord: DiscordDouble, world: World
) -> None:
    ids = conversation(discord, world)
    nowhere = snowflake()
    async with mcp(hub) as client:
        text = await refused(client, "discord_get_history", channel_id=nowhere)
        assert "Unknown Channel" in text and "Check the id" in text
        text = await refused(client, "discord_get_history", channel_id=world.secret)
        assert "Discord refused (403" in text and "Read Message History" in text
        text = await refused(client, "discord_get_message", channel_id=world.general, message_id=nowhere)
        assert "Unknown Message" in text and "deleted messages" in text
        text = await refused(client, "discord_edit_message", channel_id=world.general, message_id=ids[0], content="x")
        assert "403" in text and "Cannot edit a message authored by another user" in text
        text = await refused(
            client, "discord_edit_message", channel_id=world.general, message_id=ids[0], content="x" * 2001
        )
        assert "content" in text and "2000" in text
        text = await refused(client, "discord_send_message", channel_id=world.general, content=" \n ")
        assert "blank" in text
        text = await refused(client, "discord_get_history", channel_id=world.general, before=ids[1], after=ids[0])
        assert "at most one of before, after and around" in text
        text = await refused(client, "discord_add_reaction", channel_id=world.general, message_id=ids[0], emoji="ok")
        assert "not an emoji" in text
        text = await refused(client, "discord_send_message", channel_id=world.general, content="Hi", reply_to=nowhere)
        assert "Unknown message" in text

        discord.fail("POST", "/channels/{id}/messages", status=429, retry_after=0.05)
        await call(client, "discord_send_message", channel_id=world.general, content="After a short 429.")
        discord.fail("POST", "/channels/{id}/messages", status=429, retry_after=90)  # over the 30 s we wait at most
        text = await refused(client, "discord_send_message", channel_id=world.general, content="Too long a wait.")
        assert "rate-limits" in text and "90 s" in text
        discord.search_pending = 10
        text = await refused(client, "discord_search_messages", guild_id=world.guild, content="x")
        assert "still indexing" in text

    viewer = await hub.token(Role.viewer)
    async with mcp(hub, viewer) as client:
        await call(client, "discord_get_history", channel_id=world.general, limit=1)
        text = await refused(client, "discord_send_message", channel_id=world.general, content="Hi")
        assert "operator role" in text


async def test_the_allow_list_limits_every_tool(hub: LiveHub, discord: DiscordDouble, world: World) -> None:
    ids = conversation(discord, world)
    other_guild = discord.add_guild("Elsewhere")
    discord.add_channel(other_guild, "lobby")
    async with mcp(hub) as client:
        listed = await call(client, "discord_allowlist_add", channel_id=world.random)
        assert listed["open"] is False and listed["channels"] == [world.random]
        text = await refused(client, "discord_get_history", channel_id=world.general)
        assert "not on the Discord allow-list" in text and "discord_allowlist_add" in text
        text = await refused(client, "discord_send_message", channel_id=world.general, content="Hi")
        assert "not on the Discord allow-list" in text
        await call(client, "discord_send_message", channel_id=world.random, content="Allowed here.")
        channels = await call(client, "discord_list_channels", guild_id=world.guild)
        assert [c["name"] for c in channels["channels"]] == ["random"]
        found = await call(client, "discord_search_messages", guild_id=world.guild, content="")
        assert {m["channel_id"] for m in found["messages"]} == {world.random}

        await call(client, "discord_allowlist_add", guild_id=world.guild)
        await call(client, "discord_get_message", channel_id=world.general, message_id=ids[0])
        await call(client, "discord_allowlist_remove", channel_id=world.random)
        listed = await call(client, "discord_allowlist_get")
        assert listed["guilds"] == [world.guild] and listed["channels"] == []
        text = await refused(client, "discord_allowlist_remove", channel_id=world.random)
        assert "not on the allow-list" in text
        status = await call(client, "discord_status")
        assert status["connection"]["state"] == "ready" and status["allowlist"]["guilds"] == [world.guild]

    operator = await hub.token(Role.operator)
    async with mcp(hub, operator) as client:
        text = await refused(client, "discord_allowlist_add", channel_id=world.general)
        assert "admin role" in text


async def test_settings_binding_and_status_tools_work_over_streamable_http(hub: LiveHub, world: World) -> None:
    async with mcp(hub) as client:
        status = await call(client, "discord_status")
        assert status["connection"]["state"] == "ready" and status["allowlist"]["open"] is True
        assert status["connection"]["user"] == "goosuke-bot" and status["connection"]["guilds"] == 1
        changed = await call(client, "discord_settings_set", channel_id=world.general, language="German")
        assert changed["effective"]["language"] == "German" and changed["scope"]["guild_id"] == world.guild
        got = await call(client, "discord_settings_get", guild_id=world.guild)
        assert got["scope"] is None and got["effective"]["language"] == "auto"
        listed = await call(client, "discord_settings_list")
        assert [s["id"] for s in listed["scopes"]] == [world.general]
        reset = await call(client, "discord_settings_reset", channel_id=world.general)
        assert reset["effective"]["language"] == "auto"

        created = await call(
            client,
            "discord_reaction_create",
            name="ship-it",
            emojis=["🚢"],
            template="meeting-summary",
            guild_id=world.guild,
            mapping={"transcript": "history", "language": "language"},
            params={"channel": "the release room"},
        )
        assert created["emojis"] == ["🚢"] and created["guild_id"] == world.guild
        updated = await call(client, "discord_reaction_update", name="ship-it", enabled=False)
        assert updated["enabled"] is False and updated["guild_id"] == world.guild
        bindings = await call(client, "discord_reaction_list", enabled=False)
        assert [b["name"] for b in bindings["bindings"]] == ["ship-it"]
        assert (await call(client, "discord_reaction_runs", name="ship-it"))["runs"] == []
        deleted = await call(client, "discord_reaction_delete", name="ship-it")
        assert deleted["name"] == "ship-it"
