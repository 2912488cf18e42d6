"""Discord: reaction-to-execution latency, and a 2,000-message history summarised through chunking.

    .venv/bin/python -m bench.discord_bench [--reactions 50] [--messages 2000]
                                            [--database-url postgresql://postgres@127.0.0.1:5432/test]

Everything runs against the doubles of harness/doubles/, on real sockets in one process: the Discord
double (REST + gateway) driven by the real discord.py inside a running hub, and the OpenAI-compatible
LLM double behind the `openai` agent.

1. Baseline: a bare discord.py client on the same double; time from the double sending
   MESSAGE_REACTION_ADD to the client's ``on_raw_reaction_add``.
2. Hub, one reaction at a time: time from the event to the execution row (queued), to the agent
   starting (running), and to the bot's ✅ (a `command` agent that answers at once).
3. Hub, a burst: all reactions at once, each on its own message.
4. A 2,000-message conversation, ✏️ on the last message: history pages read, chunks, agent calls, the
   largest prompt, and the time to ✅.
Writes bench/results/discord.md and prints it. Compare numbers within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import discord as discord_py
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from pydantic import SecretStr
from sqlalchemy import select

from harness.doubles.discord import DiscordDouble
from harness.doubles.llm import LLMDouble, Say
from hub.app import build_context, running
from hub.clock import aware
from hub.context import AppContext
from hub.db.models import Execution, RunnerRow
from hub.discord import DiscordService
from hub.discord.service import intents
from hub.runners import store as runners
from hub.runners.model import RunnerDefinition
from hub.settings import Settings
from hub.templates import store
from hub.templates.definition import AgentSettings

RESULTS = Path(__file__).parent / "results" / "discord.md"
NOTES = "- decided: ship on Friday\n- owner ana: release notes\n- open: feature flag?"
ANSWER = "import sys; sys.stdin.read(); print('## Summary'); print('Done.')"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def row(label: str, values: list[float]) -> str:
    return f"| {label} | {ms(statistics.median(values))} | {ms(pct(values, 0.95))} | {ms(max(values))} |"


async def poll(check: Any, timeout: float = 120.0) -> Any:
    with anyio.fail_after(timeout):
        while True:
            value = await check()
            if value:
                return value
            await anyio.sleep(0.002)


def world(double: DiscordDouble) -> tuple[str, str, list[str]]:
    guild = double.add_guild("Bench")
    channel = double.add_channel(guild, "general")
    users = [double.add_user(f"user{i}") for i in range(8)]
    return guild, channel, users


async def bare_baseline(double: DiscordDouble, channel: str, users: list[str], count: int) -> list[float]:
    """Event sent by the double -> discord.py's handler, with nothing else in the way."""
    received: asyncio.Queue[float] = asyncio.Queue()
    client = discord_py.Client(intents=intents(), guild_ready_timeout=0.05)
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready.set()

    @client.event
    async def on_raw_reaction_add(payload: discord_py.RawReactionActionEvent) -> None:
        received.put_nowait(time.perf_counter())

    old = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = double.api_base, yarl.URL(double.gateway_url)
    task = asyncio.create_task(client.start(double.token))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        message = double.say(channel, users[0], "baseline", dispatch=False)
        latencies = []
        for i in range(count):
            sent = time.perf_counter()
            await double.react(channel, message, users[i % len(users)], "👍")
            latencies.append(await asyncio.wait_for(received.get(), 30) - sent)
        return latencies
    finally:
        await client.close()
        await task
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old


async def use_agent(app: AppContext, agent: str, options: AgentSettings, argv: list[str] | None = None) -> None:
    """Point the built-in meeting-summary at ``agent`` (a command's ``argv`` on a runner of its own), as a
    release changing the library would: built-ins are read-only to users."""
    async with app.db.session() as session:
        runner = None
        if argv is not None:
            runner = "bench-command"
            if await session.get(RunnerRow, runner) is None:
                await runners.create(session, RunnerDefinition(name=runner, agent=agent, argv=argv), "bench")
        row_ = await store.get_row(session, "meeting-summary")
        update = {"agent": agent, "runner": runner, "agent_settings": options}
        definition = store.definition_of(row_).model_copy(update=update)
        await store.replace(session, row_, definition, "bench", library=True)


async def execution_times(app: AppContext, message: str) -> tuple[datetime, datetime | None] | None:
    async with app.db.session() as session:
        found = await session.scalar(select(Execution).where(Execution.trigger_ref.like(f"%/{message}")))
        return (aware(found.queued_at), aware(found.started_at)) if found else None  # type: ignore[return-value]


async def reacted(double: DiscordDouble, message: str) -> bool:
    return any(m == message and e == "✅" for _, m, e in double.reactions)


async def hub_latency(
    app: AppContext, double: DiscordDouble, channel: str, users: list[str], count: int
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"queued": [], "started": [], "done": []}
    for i in range(count):
        message = double.say(channel, users[i % len(users)], f"item {i}: ship it", dispatch=False)
        wall, sent = datetime.now(UTC), time.perf_counter()
        await double.react(channel, message, users[(i + 1) % len(users)], "✏️")
        await poll(lambda m=message: reacted(double, m))
        out["done"].append(time.perf_counter() - sent)
        queued, started = await poll(lambda m=message: execution_times(app, m))
        out["queued"].append((queued - wall).total_seconds())
        out["started"].append(((started or queued) - wall).total_seconds())
    return out


async def hub_burst(
    app: AppContext, double: DiscordDouble, channel: str, users: list[str], count: int
) -> tuple[float, list[float]]:
    messages = [double.say(channel, users[i % len(users)], f"burst {i}", dispatch=False) for i in range(count)]
    wall, sent = datetime.now(UTC), time.perf_counter()
    for i, message in enumerate(messages):
        await double.react(channel, message, users[(i + 3) % len(users)], "✏️")
    for message in messages:
        await poll(lambda m=message: reacted(double, m))
    total = time.perf_counter() - sent
    started = []
    for message in messages:
        queued, start = await poll(lambda m=message: execution_times(app, m))
        started.append(((start or queued) - wall).total_seconds())
    return total, started


async def long_history(app: AppContext, double: DiscordDouble, llm: LLMDouble, count: int) -> dict[str, Any]:
    guild = double.add_guild("History")
    channel = double.add_channel(guild, "meetings")
    users = [double.add_user(f"member{i}", guild=guild) for i in range(6)]
    start = datetime.now(UTC) - timedelta(hours=5)
    for i in range(count):
        double.say(
            channel,
            users[i % len(users)],
            f"Point {i}: we reviewed item {i} of the roadmap, agreed on the next step and who owns it.",
            at=start + timedelta(seconds=i * 8),
            dispatch=False,
        )
    last = double.history(channel)[-1]["id"]
    pages_before = len(double.calls("GET", "/channels/{id}/messages"))
    turns_before = len(llm.turns)
    sent = time.perf_counter()
    await double.react(channel, last, users[0], "✏️")
    first_call = await poll(lambda: _first_turn(llm, turns_before))
    await poll(lambda: reacted(double, last), timeout=600)
    total = time.perf_counter() - sent
    turns = llm.turns[turns_before:]
    prompts = [len(t.messages[-1]["content"]) for t in turns]
    async with app.db.session() as session:
        executions = list(await session.scalars(select(Execution).where(Execution.trigger_ref.like(f"%{last}%"))))
    return {
        "messages": count,
        "pages": len(double.calls("GET", "/channels/{id}/messages")) - pages_before,
        "collect": first_call - sent,
        "total": total,
        "calls": len(turns),
        "executions": len(executions),
        "largest_prompt": max(prompts),
        "reply_chars": sum(len(m["content"]) for m in double.bot_messages(channel)),
    }


async def _first_turn(llm: LLMDouble, before: int) -> float | None:
    return time.perf_counter() if len(llm.turns) > before else None


async def main(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        async with DiscordDouble() as double, LLMDouble([Say(NOTES)] * 1000) as llm:
            _, channel, users = world(double)
            baseline = await bare_baseline(double, channel, users, args.reactions)
            settings = Settings(
                data_dir=Path(tmp) / "data",
                database_url=args.database_url,
                discord_token=SecretStr(double.token),
                discord_api_base_url=double.api_base,
                discord_gateway_url=double.gateway_url,
                discord_guild_ready_timeout=0.05,
                discord_history_limit=args.messages + 10,
                discord_history_hours=48,
                engine_poll_interval=0.2,
                max_concurrent_executions=8,
                openai_base_url=llm.base_url,
                openai_api_key=SecretStr("sk-bench"),
            )
            app = build_context(settings, transport="stdio")
            async with running(app):
                service = app.services.get(DiscordService)
                await service.ready(timeout=30)
                argv = [sys.executable, "-c", ANSWER]
                await use_agent(app, "command", AgentSettings(timeout=60), argv)
                sequential = await hub_latency(app, double, channel, users, args.reactions)
                burst_total, burst_started = await hub_burst(app, double, channel, users, args.reactions)
                await use_agent(app, "openai", AgentSettings(timeout=120))
                history = await long_history(app, double, llm, args.messages)
    budget = Settings.model_fields["discord_summary_chunk_chars"].default
    kind = "postgresql" if args.database_url else "sqlite"
    lines = [
        "# Discord: reaction to execution, and a long history through chunking",
        "",
        f"Python {sys.version.split()[0]}, {kind}, one process: the Discord double (REST + gateway) driven by the",
        "real discord.py in a running hub; the LLM double behind the `openai` agent. Times in ms.",
        "",
        f"## {args.reactions} reactions, one at a time (each on its own message)",
        "",
        "| from the gateway event to | p50 | p95 | max |",
        "|---|---:|---:|---:|",
        row("bare discord.py handler (baseline)", baseline),
        row("hub: execution queued", sequential["queued"]),
        row("hub: agent started (reaction-to-execution-start)", sequential["started"]),
        row("hub: ✅ on the message (`command` agent)", sequential["done"]),
        "",
        f"## Burst: {args.reactions} reactions at once",
        "",
        f"- all ✅ after **{burst_total:.2f} s**; agent started p50 {ms(statistics.median(burst_started))} ms, "
        f"p95 {ms(pct(burst_started, 0.95))} ms (includes waiting for one of 8 execution slots)",
        "",
        f"## {history['messages']} messages summarised (✏️ on the last one)",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| history pages read (100 messages each) | {history['pages']} |",
        f"| event to the first agent call (collecting the history) | {history['collect'] * 1000:.0f} ms |",
        f"| agent calls (chunk notes + the combined summary) | {history['calls']} |",
        f"| executions | {history['executions']} |",
        f"| largest prompt sent to the agent | {history['largest_prompt']:,} chars (conversation budget {budget:,} "
        "+ the template's text) |",
        f"| event to ✅ | {history['total']:.2f} s |",
        "",
        "- The hub's latency over the baseline is the reaction's database work: matching the binding, the",
        "  allow-list and settings, claiming the run row, reading the message, firing the action (one row),",
        "  and the engine's dispatcher picking it up.",
    ]
    return "\n".join(lines) + "\n"


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reactions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("httpx", "httpx2", "discord", "goosuke"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    report = anyio.run(main, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    cli()
