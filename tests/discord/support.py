"""Helpers for the Discord tests: a hub pointed at the Discord double (and the LLM double), a small world."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from harness.doubles.discord import DiscordDouble
from harness.doubles.llm import LLMDouble
from hub.app import create_app
from hub.context import AppContext
from hub.discord import DiscordService
from hub.settings import Settings
from tests.conftest import LiveHub, serve
from tests.engine_support import repoint_template, until


def point_at(settings: Settings, discord: DiscordDouble, llm: LLMDouble | None = None, **extra: Any) -> Settings:
    """Settings for a hub that talks to the doubles, with short waits so failures show fast."""
    settings.discord_token = SecretStr(discord.token)
    settings.discord_api_base_url = discord.api_base
    settings.discord_gateway_url = discord.gateway_url
    settings.discord_ready_timeout = 10.0
    settings.discord_guild_ready_timeout = 0.05
    settings.discord_reconnect_initial = 0.05
    settings.discord_reconnect_max = 0.5
    settings.engine_poll_interval = 0.2
    if llm is not None:
        settings.openai_base_url = llm.base_url
        settings.openai_model = "fake-model"
        settings.openai_api_key = SecretStr("sk-test")
    for key, value in extra.items():
        setattr(settings, key, value)
    return settings


@asynccontextmanager
async def discord_hub(settings: Settings) -> AsyncIterator[LiveHub]:
    """The hub served on a real socket (like the live_hub fixture) with the given settings."""
    app = create_app(settings)
    async with serve(app, settings.port) as url:
        token = (settings.data_dir / "admin.token").read_text().strip()
        yield LiveHub(url, app, token)


def bot_of(app: AppContext) -> DiscordService:
    return app.services.get(DiscordService)


async def bot_ready(app: AppContext, timeout: float = 10.0) -> DiscordService:
    service = bot_of(app)
    await until(lambda: _connected(service), timeout, "the bot to connect to the double")
    return service


async def _connected(service: DiscordService) -> bool:
    return service.connected


async def summaries_with_openai(app: AppContext, timeout: float = 60.0) -> None:
    """Run meeting-summary with the `openai` agent (against the LLM double) instead of Goose."""
    await repoint_template(app, "meeting-summary", agent="openai", timeout=timeout)


@dataclass
class World:
    guild: str
    general: str
    random: str
    secret: str
    ana: str
    bob: str
    cid: str
    bot_user: str
    lead_role: str


def build_world(discord: DiscordDouble) -> World:
    """One guild with #general, #random and a channel the bot may not read; users ana, bob and a bot."""
    guild = discord.add_guild("Acme")
    lead = discord.add_role(guild, "lead")
    general = discord.add_channel(guild, "general")
    random = discord.add_channel(guild, "random")
    secret = discord.add_channel(guild, "secret", forbidden=True)
    ana = discord.add_user("ana", roles=[lead])
    bob = discord.add_user("bob")
    cid = discord.add_user("cid")
    bot_user = discord.add_user("ci-bot", bot=True)
    return World(guild, general, random, secret, ana, bob, cid, bot_user, lead)


def conversation(discord: DiscordDouble, world: World, channel: str | None = None) -> list[str]:
    """A short meeting: decisions, an owner, a link preview (embed) and a file."""
    where = channel or world.general
    ids = [
        discord.say(where, world.ana, "Standup: we ship the login fix on Friday."),
        discord.say(where, world.bob, "I'll write the release notes by Thursday."),
        discord.say(
            where,
            world.ana,
            "Dashboard: https://grafana.example/d/1",
            embeds=[{"title": "Error rate", "description": "5xx at 0.2% after the fix"}],
        ),
        discord.say(where, world.bob, "Attaching the test plan.", attachments=["test-plan.pdf"]),
        discord.say(where, world.ana, "Open question: do we need a feature flag?"),
    ]
    return ids


class GatedLLM(LLMDouble):
    """The LLM double, but the first ``hold`` chat requests wait for ``gate`` (a summary "in flight")."""

    def __init__(self, *args: Any, hold: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold = hold
        self.gate = asyncio.Event()
        self.arrived = asyncio.Event()

    async def _chat(self, request: Request) -> Response:
        if self.hold > 0:
            self.hold -= 1
            self.arrived.set()
            await self.gate.wait()
        return await super()._chat(request)
