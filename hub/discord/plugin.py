"""The Discord service: the bot connects in the background when a token is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.context import AppContext
from hub.discord.reactions import Reactions, seed_default_reactions
from hub.discord.service import DiscordService
from hub.engine import Engine
from hub.plugin import Plugin
from hub.templates.library import TemplateLibrary
from hub.triggers.actions import Actions
from hub.vault.service import Vault

plugin = Plugin("discord-service")


@plugin.service(DiscordService, needs=[Actions, Engine, Vault, TemplateLibrary])
@asynccontextmanager
async def discord_bot(app: AppContext) -> AsyncIterator[DiscordService]:
    """The bot and its reaction handler; the default ✏️ binding is seeded once a token is configured."""
    service = DiscordService(app)
    actions = app.services.get(Actions)
    Reactions(service, actions)
    if service.configured and app.settings.discord_default_reactions:
        await seed_default_reactions(actions)
    async with service.running():
        yield service
