"""Discord destinations: results posted into a channel or thread of the Discord double; the daily digest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from harness.doubles.discord import DiscordDouble
from hub.runners import store as runners_store
from hub.settings import Settings
from hub.templates import store
from hub.templates.definition import InlineSettings
from tests.conftest import LiveHub
from tests.deliveries.support import ok
from tests.discord.support import World, bot_ready, discord_hub, point_at
from tests.engine_support import add_template, python_argv, until

pytestmark = pytest.mark.anyio

# stands in for the model: writes a "digest" of the material it was given (the rendered prompt)
DIGEST = (
    "import sys; text = sys.stdin.read(); material = text.split('---')[1].strip().splitlines();"
    "print('## Highlights'); [print('- ' + line) for line in material]"
)


@pytest.fixture
async def hub(settings: Settings, discord: DiscordDouble, world: World) -> AsyncIterator[LiveHub]:
    settings = point_at(settings, discord, delivery_backoff=0.05, scheduler_enabled=False)
    async with discord_hub(settings) as live:
        await bot_ready(live.context)
        yield live


async def digest_on_command(hub: LiveHub) -> None:
    """The built-in daily-digest, run by a command runner instead of a model (its prompt unchanged)."""
    host = InlineSettings(argv=python_argv(DIGEST), timeout=30).host()
    async with hub.context.db.session() as session:
        runner = await runners_store.adopt(session, "digest-command", "command", host, None, "test")
        row = await store.get_row(session, "daily-digest")
        definition = store.definition_of(row).model_copy(update={"agent": "command", "runner": runner})
        await store.replace(session, row, definition, "test", library=True)


async def posted(discord: DiscordDouble, channel: str, count: int = 1) -> list[str]:
    async def enough() -> list[str] | None:
        texts = [m["content"] for m in discord.bot_messages(channel)]
        return texts if len(texts) >= count else None

    return await until(enough, 20, "the bot to post")  # type: ignore[no-any-return]


async def test_a_result_is_posted_into_the_discord_channel_and_thread_it_names(
    hub: LiveHub, discord: DiscordDouble, world: World
) -> None:
    thread = discord.add_thread(world.general, "results")
    await add_template(hub.context, "echo", argv=python_argv("import sys; print(sys.stdin.read())"))
    await ok(hub, "destination_create", name="general", discord={"channel_id": world.general})
    in_results = {"channel_id": world.general, "thread_id": thread}
    await ok(hub, "destination_create", name="results-thread", discord=in_results)
    run = await ok(
        hub, "template_run", name="echo", params={"text": "x" * 2500}, deliver_to=["general", "results-thread"], wait=20
    )
    pieces = await posted(discord, world.general, 2)
    assert "".join(pieces).strip() == "x" * 2500  # split like reaction replies: at most 2,000 characters each
    assert all(len(p) <= 2000 for p in pieces)
    [in_thread, *_] = await posted(discord, thread)
    assert in_thread.startswith("x")
    body = await ok(hub, "delivery_list", execution_id=run["id"])
    assert sorted(d["destination"] for d in body["deliveries"]) == ["general", "results-thread"]


async def test_the_daily_digest_schedule_posts_its_digest_to_its_destination(
    hub: LiveHub, discord: DiscordDouble, world: World
) -> None:
    await digest_on_command(hub)
    await ok(hub, "destination_create", name="team-digest", discord={"channel_id": world.random})
    schedule = await ok(
        hub,
        "schedule_create",
        name="weekday-digest",
        template="daily-digest",
        cron="0 9 * * 1-5",
        timezone="Europe/Berlin",
        params={"content": "Release 1.4 shipped\nIncident INC-7 closed", "focus": "releases and incidents"},
        deliver_to=["team-digest"],
        announce_failures_to=["team-digest"],
    )
    assert [r["destination"] for r in schedule["routes"]] == ["team-digest", "team-digest"]
    run = await ok(hub, "schedule_run_now", name="weekday-digest")
    [digest] = await posted(discord, world.random)
    assert digest.startswith("## Highlights") and "- Release 1.4 shipped" in digest and "INC-7" in digest

    async def recorded() -> dict[str, object] | None:  # the post lands a moment before its row says so
        [delivery] = (await ok(hub, "delivery_list", destination="team-digest"))["deliveries"]
        return delivery if delivery["status"] == "delivered" else None

    delivery = await until(recorded, 20, "the delivery to be recorded as delivered")
    assert delivery["execution_id"] == run["execution"]["id"]
