"""The Discord connection of the hub: the bot, reaction actions and the text rules of Discord.

Modules: ``service`` (the discord.py client, URLs from the settings, backoff, readiness), ``api``
(every REST call the hub makes, their errors, a run's retries), ``scopes`` (per-guild/channel
settings, the allow-list), ``reactions`` (event -> binding -> claimed run), ``runs`` (one run:
parameters, execution, reply, recovery), ``history`` (reading a conversation back), ``condense``
(map-reduce of long histories), ``text`` (splitting, emoji, lines).

Service: :class:`DiscordService` (needs ``Actions``, ``Engine``, ``Vault`` and ``TemplateLibrary``,
for the default ✏️ binding's ``meeting-summary``), declared in ``plugin.py``.

What the Discord tools and the service use::

    service = app.services.get(DiscordService)
    Reactions(service, actions)                      # reaction -> action -> execution -> reply
    async with service.running(): ...                # connects in the background (if a token is set)
    client = await service.ready()                   # waits up to discord_ready_timeout
    place = await service.allowed_place(channel_id)  # guild/parent of a channel on the allow-list
    await service.api.post(place.channel_id, text)   # Discord's REST calls: post, edit, history, search...
"""

from hub.discord.api import DiscordApi, ReplyTo, discord_errors
from hub.discord.reactions import EVENT_FIELDS, Reactions, reaction_config, seed_default_reactions
from hub.discord.scopes import EffectiveConfig, ScopeConfig, Scopes
from hub.discord.service import DiscordService, Place
from hub.discord.text import Emoji, Snowflake, message_link, split_message

__all__ = [
    "EVENT_FIELDS",
    "DiscordApi",
    "DiscordService",
    "EffectiveConfig",
    "Emoji",
    "Place",
    "Reactions",
    "ReplyTo",
    "ScopeConfig",
    "Scopes",
    "Snowflake",
    "discord_errors",
    "message_link",
    "reaction_config",
    "seed_default_reactions",
    "split_message",
]
