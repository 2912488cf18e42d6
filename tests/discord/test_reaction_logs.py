"""The server log has one line per chat event: each reaction a binding looks at, with the emoji, the user, the
message, the channel, the guild, the binding and what became of it (a run started, a duplicate, ignored,
refused), never a message's text (issue 12, "Operations that tell the truth")."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from harness.doubles.discord import DiscordDouble
from hub.db.models import DiscordRun
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.discord.support import World, bot_ready, conversation, discord_hub, point_at
from tests.discord.test_settings import handled, reacted, summaries_with_command, tool
from tests.engine_support import until

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(settings: Settings, discord: DiscordDouble, world: World) -> AsyncIterator[LiveHub]:
    """A hub that may touch #general only (so #random shows the allow-list line)."""
    async with discord_hub(point_at(settings, discord, discord_allowed_channels=[world.general])) as live:
        await summaries_with_command(live.context)
        await bot_ready(live.context)
        yield live


def _line(world: World, user: str, message: str, channel: str, outcome: str) -> str:
    return (
        f"discord reaction ✏️ by user {user} on message {message} in channel {channel} (guild {world.guild}): "
        f"action 'discord-summary' {outcome}"
    )


async def test_each_reaction_a_binding_sees_logs_one_line_with_its_fields_and_outcome(
    hub: LiveHub, discord: DiscordDouble, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="goosuke.discord")
    ids = conversation(discord, world)
    await discord.react(world.general, ids[-1], world.ana, "✏️")
    await until(lambda: reacted(discord, ids[-1], "✅"), 30, "the ✅ reaction")
    await discord.react(world.general, ids[-1], world.bob, "✏️")  # the same message again: a duplicate
    await handled(hub, 2)
    elsewhere = discord.say(world.random, world.ana, "Off the allow-list.")
    await discord.react(world.random, elsewhere, world.ana, "✏️")
    await handled(hub, 3)
    await tool(hub, "discord_settings_set", guild_id=world.guild, allowed_roles=["lead"])
    await discord.react(world.general, ids[0], world.bob, "✏️")  # bob is not a lead
    await handled(hub, 4)
    await discord.react(world.general, ids[0], world.bot_user, "✏️")  # a bot: not an event of ours, no line
    await discord.react(world.general, ids[0], world.ana, "👍")  # no binding: no line
    await handled(hub, 5)

    async with hub.context.db.session() as session:
        (run,) = list(await session.scalars(select(DiscordRun)))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("discord reaction ")]
    assert lines == [
        _line(world, world.ana, ids[-1], world.general, f"started run {run.id}"),
        _line(world, world.bob, ids[-1], world.general, "duplicate (a run for this message exists)"),
        _line(world, world.ana, elsewhere, world.random, "ignored (not on the allow-list)"),
        _line(world, world.bob, ids[0], world.general, "refused"),
    ]
    texts = [m["content"] for c in (world.general, world.random) for m in discord.messages[c].values()]
    assert texts and not any(text in record.getMessage() for record in caplog.records for text in texts)
