"""✏️ meeting summaries end to end: the Discord double's gateway and REST, real discord.py, the engine,
the `openai` agent against the LLM double, and the reply back on the double."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.doubles.discord import DiscordDouble
from harness.doubles.llm import Fail, LLMDouble, Say
from hub.discord import Reactions
from hub.discord.text import chunk_lines, transcript_line
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.discord.support import (
    World,
    bot_of,
    bot_ready,
    conversation,
    discord_hub,
    point_at,
    summaries_with_openai,
)
from tests.engine_support import until

pytestmark = pytest.mark.anyio

SUMMARY_LINES = [f"- point {i}: " + ("decided and noted " * 8).strip() for i in range(40)]
LONG_SUMMARY = "## Summary\n" + "\n".join(SUMMARY_LINES)  # about 6,000 characters: four messages


@pytest.fixture
async def llm() -> AsyncIterator[LLMDouble]:
    async with LLMDouble() as double:
        yield double


@pytest.fixture
async def hub(settings: Settings, discord: DiscordDouble, llm: LLMDouble, world: World) -> AsyncIterator[LiveHub]:
    async with discord_hub(point_at(settings, discord, llm)) as live:
        await summaries_with_openai(live.context)
        await bot_ready(live.context)
        yield live


async def reacted(discord: DiscordDouble, message: str, emoji: str) -> bool:
    return any(m == message and e == emoji for _, m, e in discord.reactions)


async def test_a_pencil_reaction_posts_the_summary_as_a_split_reply_and_reacts_done(
    hub: LiveHub, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    llm.script = [Say(LONG_SUMMARY)]
    ids = conversation(discord, world)
    await discord.react(world.general, ids[-1], world.bob, "✏️")
    await until(lambda: reacted(discord, ids[-1], "✅"), 30, "the ✅ reaction")

    prompt = llm.turns[0].messages[-1]["content"]
    for part in (
        "ana: Standup: we ship the login fix on Friday.",
        "bob: I'll write the release notes by Thursday.",
        "[embed: Error rate — 5xx at 0.2% after the fix]",
        "[attachment: test-plan.pdf]",
        "from #general",
    ):
        assert part in prompt
    replies = discord.bot_messages(world.general)
    assert len(replies) == 4 and all(len(r["content"]) <= 2000 for r in replies)
    assert "\n".join(r["content"] for r in replies) == LONG_SUMMARY
    assert replies[0]["message_reference"]["message_id"] == ids[-1]
    assert all(r["allowed_mentions"] == {"parse": []} for r in replies)

    async with hub.http(hub.admin_token) as http:
        runs = (await http.post("/api/tools/discord_reaction_runs", json={})).json()["runs"]
        assert [r["status"] for r in runs] == ["posted"]
        execution = (await http.post("/api/tools/execution_get", json={"id": runs[0]["execution_id"]})).json()
    assert execution["status"] == "succeeded" and execution["output"] == LONG_SUMMARY
    assert execution["agent"] == "openai"
    assert execution["trigger"]["kind"] == "discord"
    assert execution["trigger"]["actor"] == f"bob ({world.bob})"
    assert execution["trigger"]["ref"] == f"https://discord.com/channels/{world.guild}/{world.general}/{ids[-1]}"
    assert runs[0]["replies"] == [r["id"] for r in replies]


def reactions_of(hub: LiveHub) -> Reactions:
    return bot_of(hub.context).reaction_handler.__self__  # type: ignore[union-attr, no-any-return]


async def handled(hub: LiveHub, count: int) -> None:
    async def enough() -> bool:
        return reactions_of(hub).handled >= count

    await until(enough, 20, f"{count} reactions to be handled")


async def runs(hub: LiveHub) -> list[dict[str, Any]]:
    async with hub.http(hub.admin_token) as http:
        response = await http.post("/api/tools/discord_reaction_runs", json={})
    return response.json()["runs"]  # type: ignore[no-any-return]


async def test_three_people_reacting_at_once_make_one_summary_and_bots_are_ignored(
    hub: LiveHub, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    llm.script = [Say("## Summary\nWe ship on Friday.")]
    ids = conversation(discord, world)
    await asyncio.gather(
        discord.react(world.general, ids[-1], world.ana, "✏️"),
        discord.react(world.general, ids[-1], world.bob, "✏"),  # without U+FE0F
        discord.react(world.general, ids[-1], world.cid, "📝"),
    )
    await discord.react(world.general, ids[0], world.bot_user, "✏️")  # another bot: ignored
    await discord.react(world.general, ids[0], world.ana, "👍")  # no binding: looked at, nothing done
    await until(lambda: reacted(discord, ids[-1], "✅"), 30, "the ✅ reaction")
    await handled(hub, 4)
    assert len(llm.turns) == 1
    assert len(discord.bot_messages(world.general)) == 1
    assert [r for r in discord.reactions if r[2] == "✅"] == [(world.general, ids[-1], "✅")]
    assert [(r["status"], r["message_link"].rsplit("/", 1)[1]) for r in await runs(hub)] == [("posted", ids[-1])]
    async with hub.http(hub.admin_token) as http:
        executions = (await http.post("/api/tools/execution_list", json={})).json()["executions"]
    assert len([e for e in executions if e["template"] == "meeting-summary"]) == 1


async def test_the_next_summary_starts_after_the_previous_one(
    hub: LiveHub, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    llm.script = [Say("## First\nShip Friday."), Say("## Second\nNo flag.")]
    first = conversation(discord, world)
    await discord.react(world.general, first[-1], world.ana, "✏️")
    await until(lambda: reacted(discord, first[-1], "✅"), 30, "the first ✅")
    later = [
        discord.say(world.general, world.bob, "After lunch: the feature flag is not needed."),
        discord.say(world.general, world.ana, "Agreed, no flag."),
    ]
    await discord.react(world.general, later[-1], world.ana, "✏️")
    await until(lambda: reacted(discord, later[-1], "✅"), 30, "the second ✅")
    second = llm.turns[1].messages[-1]["content"]
    assert "the feature flag is not needed" in second and "Agreed, no flag." in second
    assert "login fix" not in second and "## First" not in second  # neither the old talk nor the bot's reply


async def test_the_history_window_follows_the_channel_settings(
    hub: LiveHub, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    llm.script = [Say("one"), Say("two")]
    discord.say(world.general, world.ana, "Yesterday's topic.", at=datetime.now(UTC) - timedelta(hours=5))
    ids = conversation(discord, world)
    async with hub.http(hub.admin_token) as http:
        body = {"channel_id": world.general, "history_hours": 1, "language": "German"}
        assert (await http.post("/api/tools/discord_settings_set", json=body)).status_code == 200
    await discord.react(world.general, ids[-1], world.ana, "✏️")
    await until(lambda: reacted(discord, ids[-1], "✅"), 30, "the ✅")
    prompt = llm.turns[0].messages[-1]["content"]
    assert "Yesterday's topic." not in prompt and "login fix" in prompt
    assert "Write the whole summary in German." in prompt

    more = conversation(discord, world)
    async with hub.http(hub.admin_token) as http:
        body = {"channel_id": world.general, "history_count": 2}
        assert (await http.post("/api/tools/discord_settings_set", json=body)).status_code == 200
    await discord.react(world.general, more[-1], world.ana, "✏️")
    await until(lambda: reacted(discord, more[-1], "✅"), 30, "the second ✅")
    transcript = llm.turns[1].messages[-1]["content"].split("---")[1].strip().splitlines()
    assert len(transcript) == 2 and transcript[-1].endswith("ana: Open question: do we need a feature flag?")


async def test_a_long_history_is_summarised_in_chunks_and_the_notes_combined(
    settings: Settings, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    for i in range(40):
        who = world.ana if i % 2 else world.bob
        discord.say(world.general, who, f"Item {i}: we looked at part {i} of the plan and agreed on step {i}.")
    last = discord.history(world.general)[-1]["id"]
    lines = [transcript_line(m) for m in discord.history(world.general)]
    parts = len(chunk_lines([line for line in lines if line], 1000))
    assert parts >= 3
    llm.script = [Say(f"notes: {n} decisions") for n in range(parts)] + [Say("## Summary\nAll steps agreed.")]
    async with discord_hub(point_at(settings, discord, llm, discord_summary_chunk_chars=1000)) as hub:
        await summaries_with_openai(hub.context)
        await bot_ready(hub.context)
        await discord.react(world.general, last, world.ana, "✏️")
        await until(lambda: reacted(discord, last, "✅"), 30, "the ✅")
        async with hub.http(hub.admin_token) as http:
            executions = (await http.post("/api/tools/execution_list", json={"limit": 50})).json()["executions"]
    assert len(executions) == parts + 1
    prompts = [turn.messages[-1]["content"] for turn in llm.turns]
    assert all("This is one part of a longer conversation" in p for p in prompts[:parts])
    assert all(len(p) < 1000 + 1000 for p in prompts[:parts])  # a chunk plus the template's text
    assert "Summarise this set of notes" in prompts[-1]
    for n in range(1, parts + 1):
        assert f"Notes on part {n} of {parts}:" in prompts[-1]
    assert discord.bot_messages(world.general)[-1]["content"] == "## Summary\nAll steps agreed."


async def test_an_agent_failure_reacts_with_a_warning_and_a_short_reason_and_the_bot_goes_on(
    hub: LiveHub, discord: DiscordDouble, llm: LLMDouble, world: World
) -> None:
    llm.script = [Fail(500, "the model exploded"), Say("## Summary\nFine now.")]
    ids = conversation(discord, world)
    await discord.react(world.general, ids[-1], world.ana, "✏️")
    await until(lambda: reacted(discord, ids[-1], "⚠️"), 30, "the ⚠️ reaction")
    await until(lambda: _warned(discord, world.general), 30, "the ⚠️ note")
    warning = discord.bot_messages(world.general)[-1]
    assert warning["content"].startswith("⚠️ execution ") and "the model exploded" in warning["content"]
    assert len(warning["content"]) < 400 and warning["allowed_mentions"] == {"parse": []}
    [run] = await runs(hub)
    assert run["status"] == "failed" and "the model exploded" in run["detail"]

    again = discord.say(world.general, world.bob, "Retrying the summary here.")
    await discord.react(world.general, again, world.bob, "✏️")
    await until(lambda: reacted(discord, again, "✅"), 30, "the ✅ after the failure")


async def _warned(discord: DiscordDouble, channel: str) -> bool:
    return any(m["content"].startswith("⚠️") for m in discord.bot_messages(channel))
