"""The README's first summary, followed as written (issue 12, "A real model in one step"): its blocks from
"First start" to the end of "First summary" run in order on a real `goosuke serve` started with a bot
token (`GOOSUKE_DISCORD_TOKEN=... goosuke serve`, on the Discord double): `goosuke setup` with flags makes
the default runner (on the model double), `discord_reaction_update` binds ✏️ in one channel; then a ✏️
reaction there gets the summary posted back, made by that default runner: the hub has no other model
setting, and `meeting-summary` is the built-in one, with no agent of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from harness import REPO
from harness.doubles.discord import DiscordDouble
from tests.discord.support import World, conversation
from tests.docs.examples import FAKE_OPENAI_KEY, MODEL_ANSWER, section
from tests.docs.hub import Hub, ModelDouble, document_hub
from tests.engine_support import until

pytestmark = pytest.mark.anyio

README = REPO / "README.md"


async def call(hub: Hub, tool: str, **arguments: Any) -> Any:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {hub.token}"}, timeout=30) as http:
        answer = await http.post(f"{hub.url}/api/tools/{tool}", json=arguments)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_readme_path_setup_bind_react_posts_the_summary_of_the_default_runner(
    tmp_path: Path, port: int, discord: DiscordDouble, world: World
) -> None:
    steps = section(README, "First start", "First summary")
    kinds = [(example.kind, example.options) for example in steps]
    assert [kind for kind, _ in kinds] == ["sh", "sh", "sh", "sh", "sh"], kinds
    assert any("llm" in options for _, options in kinds) and any("discord-channel" in o for _, o in kinds)
    async with (
        ModelDouble() as llm,
        document_hub(tmp_path, port, llm=llm, discord=discord, channel=world.general) as hub,
    ):
        for example in steps:  # curl /healthz and $GOOSUKE_TOKEN, setup (Ollama, then OpenAI), a run, the binding
            failure = await hub.run(example)
            assert failure is None, failure

        runners = {r["name"]: r for r in (await call(hub, "runner_list"))["runners"]}
        assert runners["default"]["default"] is True and runners["default"]["agent"] == "openai"
        [binding] = [
            b for b in (await call(hub, "discord_reaction_list"))["bindings"] if b["name"] == "discord-summary"
        ]
        assert binding["channel_id"] == world.general and binding["template"] == "meeting-summary"

        async def bot_ready() -> bool:
            return bool((await call(hub, "discord_status"))["connection"]["state"] == "ready")

        await until(bot_ready, 30, "the bot to connect to the Discord double")
        ids = conversation(discord, world)
        asked = len(llm.turns)
        await discord.react(world.general, ids[-1], world.ana, "✏️")

        async def done() -> bool:
            return (world.general, ids[-1], "✅") in discord.reactions

        await until(done, 60, "the ✅ reaction after the summary")
        [reply] = discord.bot_messages(world.general)
        assert reply["content"] == MODEL_ANSWER
        assert reply["message_reference"]["message_id"] == ids[-1]
        [run] = (await call(hub, "discord_reaction_runs"))["runs"]
        execution = await call(hub, "execution_get", id=run["execution_id"])

    assert run["status"] == "posted" and run["binding"] == "discord-summary" and run["replies"] == [reply["id"]]
    assert execution["template"] == "meeting-summary" and execution["agent"] == "openai"
    assert execution["status"] == "succeeded" and execution["output"] == MODEL_ANSWER
    assert execution["trigger"]["kind"] == "discord"
    # the summary came from the runner setup made last (README's OpenAI block): its model, its key from the vault
    [summary] = llm.turns[asked:]
    assert summary.body["model"] == "gpt-4o-mini"
    assert llm.authorizations[-1] == f"Bearer {FAKE_OPENAI_KEY}"
    prompt = str(summary.messages)
    assert "ana: Standup: we ship the login fix on Friday." in prompt and "from #general" in prompt
