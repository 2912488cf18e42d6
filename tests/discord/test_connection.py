"""The bot's connection: Discord down at start, a first tool call that waits for the bot, the missing
MESSAGE_CONTENT intent (4014), a rejected token, a token kept in the vault, and hub_info/readyz saying so."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from harness.doubles.discord import DiscordDouble
from harness.processes import free_port
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.discord.support import bot_of, build_world, discord_hub, point_at
from tests.engine_support import until

pytestmark = pytest.mark.anyio


async def tool(hub: LiveHub, name: str, /, **args: Any) -> tuple[int, dict[str, Any]]:
    async with hub.http(hub.admin_token) as http:
        response = await http.post(f"/api/tools/{name}", json=args)
    return response.status_code, response.json()


async def discord_state(hub: LiveHub) -> dict[str, Any]:
    status, info = await tool(hub, "hub_info")
    assert status == 200
    return info["services"]["discord"]  # type: ignore[no-any-return]


async def test_without_a_token_the_bot_is_off_and_tools_say_how_to_configure_it(live_hub: LiveHub) -> None:
    assert (await discord_state(live_hub))["state"] == "off"
    status, body = await tool(live_hub, "discord_list_guilds")
    assert status == 400 and "GOOSUKE_DISCORD_TOKEN" in body["detail"]
    async with live_hub.http(live_hub.admin_token) as http:
        listed = (await http.post("/api/tools/action_list", json={"kind": "reaction"})).json()["actions"]
    assert listed == []  # no default binding on a hub without Discord


async def test_the_hub_serves_while_discord_is_down_and_the_bot_connects_when_it_is_back(
    settings: Settings,
) -> None:
    discord = DiscordDouble(port=free_port())
    build_world(discord)
    point_at(settings, discord, discord_ready_timeout=0.3)
    async with discord_hub(settings) as hub:

        async def unavailable() -> bool:
            return (await discord_state(hub))["state"] == "unavailable"

        await until(unavailable, 10, "the bot to report Discord unreachable")
        state = await discord_state(hub)
        assert "cannot reach Discord" in state["detail"] and "retrying in" in state["detail"]
        async with hub.http() as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["discord"]["state"] == "unavailable"
        status, body = await tool(hub, "discord_list_guilds")
        assert status == 400
        assert "Discord is not connected (unavailable: cannot reach Discord" in body["detail"]
        assert "waited 0.3 s" in body["detail"]

        await discord.start()
        try:

            async def ready() -> bool:
                return (await discord_state(hub))["state"] == "ready"

            await until(ready, 10, "the bot to connect once Discord is back")
            status, body = await tool(hub, "discord_list_guilds")
            assert status == 200 and [g["name"] for g in body["guilds"]] == ["Acme"]
        finally:
            await discord.stop()


async def test_the_first_tool_call_waits_for_the_bot_instead_of_failing(settings: Settings) -> None:
    discord = DiscordDouble(port=free_port())
    build_world(discord)
    point_at(settings, discord, discord_ready_timeout=20.0)
    async with discord_hub(settings) as hub:
        service = bot_of(hub.context)
        result: dict[str, Any] = {}

        async def first_call() -> None:
            result["answer"] = await tool(hub, "discord_list_guilds")

        async def waiting() -> bool:
            return service.waiting == 1

        async with anyio.create_task_group() as tg:
            tg.start_soon(first_call)
            await until(waiting, 10, "the call to wait for the bot")
            await discord.start()
        await discord.stop()
    status, body = result["answer"]
    assert status == 200 and [g["name"] for g in body["guilds"]] == ["Acme"]


async def test_a_missing_message_content_intent_is_reported_with_the_fix_and_retried(settings: Settings) -> None:
    async with DiscordDouble(privileged=False) as discord:
        build_world(discord)
        async with discord_hub(point_at(settings, discord, discord_ready_timeout=0.3)) as hub:

            async def failed() -> bool:
                return (await discord_state(hub))["state"] == "failed"

            await until(failed, 10, "the bot to report the 4014 close")
            detail = (await discord_state(hub))["detail"]
            assert "4014" in detail and "Message Content Intent" in detail and "developer portal" in detail
            status, body = await tool(hub, "discord_list_guilds")
            assert status == 400 and "Message Content Intent" in body["detail"]

            discord.privileged = True  # turned on in the portal: no restart needed

            async def ready() -> bool:
                return (await discord_state(hub))["state"] == "ready"

            await until(ready, 10, "the bot to connect after the fix")


async def test_a_rejected_token_says_to_reset_it(settings: Settings) -> None:
    async with DiscordDouble() as discord:
        build_world(discord)
        point_at(settings, discord, discord_ready_timeout=0.3)
        discord.token = "another-token"
        async with discord_hub(settings) as hub:

            async def failed() -> bool:
                return (await discord_state(hub))["state"] == "failed"

            await until(failed, 10, "the bot to report the rejected token")
            assert "rejected the bot token (401)" in (await discord_state(hub))["detail"]


async def test_the_token_can_live_in_the_vault(settings: Settings) -> None:
    async with DiscordDouble() as discord:
        build_world(discord)
        point_at(settings, discord)
        settings.discord_token = None
        settings.discord_token_secret = "DISCORD_BOT_TOKEN"
        async with discord_hub(settings) as hub:

            async def failed() -> bool:
                return (await discord_state(hub))["state"] == "failed"

            await until(failed, 10, "the bot to report the missing secret")
            assert "secret_set" in (await discord_state(hub))["detail"]
            status, _ = await tool(hub, "secret_set", name="DISCORD_BOT_TOKEN", value=discord.token)
            assert status == 200

            async def ready() -> bool:
                return (await discord_state(hub))["state"] == "ready"

            await until(ready, 10, "the bot to connect with the stored token")
        assert discord.identifies[-1]["token"] == discord.token
