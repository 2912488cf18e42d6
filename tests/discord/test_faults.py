"""Discord faults during reaction runs: rate limits and 5xx, a dropped gateway, deleted messages, missing
permissions, and a hub that stops mid-summary. Each ends in a posted summary or a ⚠️, never in a dead bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from harness.doubles.discord import DiscordDouble
from harness.doubles.llm import LLMDouble, Say
from hub.db import Database
from hub.db.models import DiscordRun
from hub.discord import runs as run_module
from hub.engine import Engine
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.discord.support import (
    GatedLLM,
    World,
    bot_ready,
    conversation,
    discord_hub,
    point_at,
    summaries_with_openai,
)
from tests.engine_support import repoint_template, until

pytestmark = pytest.mark.anyio


@pytest.fixture
async def llm() -> AsyncIterator[GatedLLM]:
    async with GatedLLM(hold=0) as double:
        yield double
        double.gate.set()  # let held requests finish before the double stops


@pytest.fixture
async def hub(settings: Settings, discord: DiscordDouble, llm: LLMDouble, world: World) -> AsyncIterator[LiveHub]:
    async with discord_hub(point_at(settings, discord, llm)) as live:
        await summaries_with_openai(live.context)
        await bot_ready(live.context)
        yield live


async def reacted(discord: DiscordDouble, message: str, emoji: str) -> bool:
    return any(m == message and e == emoji for _, m, e in discord.reactions)


async def runs(hub: LiveHub) -> list[dict[str, Any]]:
    async with hub.http(hub.admin_token) as http:
        response = await http.post("/api/tools/discord_reaction_runs", json={})
    return response.json()["runs"]


async def test_a_429_and_a_500_while_posting_are_retried_and_the_summary_arrives(
    hub: LiveHub, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    llm.script = [Say("## Summary\nShip Friday.")]
    ids = conversation(discord, world)
    discord.fail("POST", "/channels/{id}/messages", status=500)  # first: discord.py waits 1 + 2 * try seconds
    discord.fail("POST", "/channels/{id}/messages", status=429, retry_after=0.05)
    discord.fail("PUT", "/channels/{id}/messages/{id}/reactions/{emoji}/@me", status=429, retry_after=0.05)
    await discord.react(world.general, ids[-1], world.ana, "✏️")
    await until(lambda: reacted(discord, ids[-1], "✅"), 30, "the ✅ after the retries")
    posts = discord.calls("POST", "/channels/{id}/messages")
    assert [p.status for p in posts] == [500, 429, 200]  # each retried once, after the wait asked for
    assert [p.status for p in discord.calls("PUT", "/channels/{id}/messages/{id}/reactions/{emoji}/@me")] == [429, 204]
    assert discord.bot_messages(world.general)[-1]["content"] == "## Summary\nShip Friday."
    assert (await runs(hub))[0]["status"] == "posted"


async def test_a_gateway_dropped_mid_summary_resumes_and_the_summary_is_still_posted(
    hub: LiveHub, discord: DiscordDouble, llm: GatedLLM, world: World
) -> None:
    llm.hold = 1
    llm.script = [Say("## Summary\nShip Friday."), Say("## Summary\nAgain.")]
    ids = conversation(discord, world)
    await discord.react(world.general, ids[-1], world.ana, "✏️")
    await until(lambda: _is_set(llm.arrived), 20, "the summary to reach the model")
    await discord.drop_gateways(code=4000)
    await until(lambda: _resumed(discord), 20, "the bot to resume the gateway session")
    llm.gate.set()
    await until(lambda: reacted(discord, ids[-1], "✅"), 30, "the ✅ after the resume")
    assert discord.resumes and len(discord.identifies) == 1  # resumed, not a new session

    later = discord.say(world.general, world.bob, "After the blip.")
    await discord.react(world.general, later, world.bob, "✏️")  # events flow on the resumed session
    await until(lambda: reacted(discord, later, "✅"), 30, "the ✅ on the resumed session")


async def _is_set(event: Any) -> bool:
    return bool(event.is_set())


async def _resumed(discord: DiscordDouble) -> bool:
    return bool(discord.resumes) and discord.connected


async def test_a_deleted_message_and_a_forbidden_channel_end_in_a_clear_failure(
    hub: LiveHub, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    llm.script = [Say("## Summary\nStill working.")]
    ids = conversation(discord, world)
    discord.delete(world.general, ids[-1])
    await discord.react(world.general, ids[-1], world.ana, "✏️")  # the message was deleted meanwhile
    secret = discord.say(world.secret, world.ana, "Nobody can read this.")
    await discord.react(world.secret, secret, world.ana, "✏️")

    async def both_failed() -> bool:
        return sorted(r["status"] for r in await runs(hub)) == ["failed", "failed"]

    await until(both_failed, 20, "both runs to fail")
    details = {r["message_link"].rsplit("/", 1)[1]: r["detail"] for r in await runs(hub)}
    assert "Unknown Message" in details[ids[-1]] and "deleted" in details[ids[-1]]
    assert "403" in details[secret] and "permission" in details[secret]
    await until(lambda: _warned(discord, world.general), 20, "the ⚠️ note in #general")
    note = discord.bot_messages(world.general)[-1]
    assert "message_reference" not in note  # the reacted message is gone: a plain message instead of a reply
    assert discord.bot_messages(world.secret) == []  # Discord refused: nothing could be posted there
    assert llm.turns == []

    fine = discord.say(world.general, world.bob, "This one is fine.")
    await discord.react(world.general, fine, world.bob, "✏️")
    await until(lambda: reacted(discord, fine, "✅"), 30, "the bot to carry on")


async def _warned(discord: DiscordDouble, channel: str) -> bool:
    return any(m["content"].startswith("⚠️") for m in discord.bot_messages(channel))


async def test_a_summary_interrupted_by_a_hub_restart_is_finished_by_the_next_hub(
    settings: Settings, discord: DiscordDouble, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with GatedLLM(hold=1, script=[Say("## Summary\nAfter the restart.")]) as llm:
        point_at(settings, discord, llm)
        async with discord_hub(settings) as first:
            await summaries_with_openai(first.context)
            # one automatic retry after an interruption
            await repoint_template(first.context, "meeting-summary", timeout=60, retries=1)
            await bot_ready(first.context)
            ids = conversation(discord, world)
            await discord.react(world.general, ids[-1], world.ana, "✏️")
            await until(lambda: _is_set(llm.arrived), 20, "the summary to reach the model")
        assert [r["status"] for r in await _runs_in(settings)] == ["running"]

        monkeypatch.setattr(run_module, "STALE_AFTER", timedelta(0))  # the first hub is gone for good
        async with discord_hub(settings) as second:
            await until(lambda: reacted(discord, ids[-1], "✅"), 30, "the next hub to post the summary")
            [run] = await runs(second)
            engine = second.context.services.get(Engine)
            execution = await engine.get(run["execution_id"])
        llm.gate.set()
    assert run["status"] == "posted"
    assert execution.status == "succeeded" and execution.attempt == 2 and execution.retry_of is not None
    assert discord.bot_messages(world.general)[-1]["content"] == "## Summary\nAfter the restart."


async def _runs_in(settings: Settings) -> list[dict[str, Any]]:
    """The run rows as a stopped hub left them."""
    db = Database(settings.resolved_database_url)
    try:
        async with db.session() as session:
            return [{"status": r.status} for r in await session.scalars(select(DiscordRun))]
    finally:
        await db.dispose()
