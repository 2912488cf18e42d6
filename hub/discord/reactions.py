"""Reaction actions: a reaction on a message -> the bound action -> an execution -> the reply.

The walk: discord.py's raw reaction event -> :meth:`Reactions.receive` (bots, the bot itself and
DMs are ignored) -> the enabled ``reaction`` actions whose emoji and scope match -> the allow-list
and the channel's settings (enabled, which actions, allowed roles) -> one ``discord_runs`` row per
(action, message), unique in the database, so many reactors, restarts and replicas make one run ->
the template's parameters from the event (the history since the previous summary or within the
window; a history over the agent's budget is summarised in chunks through the engine and the notes
combined) -> ``Actions.fire`` with the message id as slot -> the execution's output posted as a reply
split at 2,000 characters without mention pings -> ✅, or ⚠️ and a short reason.

Runs live in the service's task group, not in the gateway's: a dropped gateway does not stop them,
and rows left half-way by a stopped hub are picked up again (:mod:`hub.discord.runs`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import discord
from sqlalchemy.exc import IntegrityError

from hub.db.models import Action, DiscordRun
from hub.discord.failures import guarded
from hub.discord.runs import Runs
from hub.discord.scopes import EffectiveConfig
from hub.discord.service import DiscordService, Place
from hub.discord.text import Emoji
from hub.errors import Conflict, GoosukeError, NotFound
from hub.triggers.actions import Actions

logger = logging.getLogger("goosuke.discord")

EVENT_FIELDS: dict[str, str] = {
    "history": "the conversation up to the message (since the previous summary, within the window)",
    "channel": "the channel's name, e.g. #general or #general › thread",
    "channel_id": "the channel's id",
    "guild": "the guild's name",
    "guild_id": "the guild's id",
    "message": "the reacted message's text (content, embed text, attachment names)",
    "message_id": "the reacted message's id",
    "message_link": "a link to the reacted message",
    "author": "who wrote the reacted message",
    "author_id": "the author's id",
    "reactor": "who reacted",
    "reactor_id": "the reactor's id",
    "emoji": "the emoji",
    "language": "the summary language set for the channel (auto by default)",
}

DEFAULT_ACTION = "discord-summary"
DEFAULT_TEMPLATE = "meeting-summary"
DEFAULT_EMOJIS = ("✏️", "📝")
DEFAULT_MAPPING = {"transcript": "history", "channel": "channel", "language": "language"}


@dataclass(frozen=True)
class ReactionEvent:
    guild_id: int
    channel_id: int
    message_id: int
    user_id: int
    user_name: str
    roles: tuple[str, ...]  # ids and lowercased names
    emoji: str

    @property
    def reactor(self) -> str:
        return f"{self.user_name} ({self.user_id})"[:200]

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "user_name": self.user_name, "emoji": self.emoji}


def reaction_config(emojis: list[Emoji], guild_id: str | None, channel_id: str | None) -> dict[str, Any]:
    """An action's ``config`` for a reaction binding."""
    return {
        "emoji": " ".join(str(e) if e.id else e.name for e in emojis),
        "emojis": [{"name": e.name, "id": e.id, "animated": e.animated} for e in emojis],
        "guild_id": guild_id,
        "channel_id": channel_id,
    }


def emojis_of(action: Action) -> list[Emoji]:
    return [Emoji(e["name"], e.get("id"), bool(e.get("animated"))) for e in action.config.get("emojis") or []]


def in_scope(action: Action, place: Place) -> bool:
    guild, channel = action.config.get("guild_id"), action.config.get("channel_id")
    if guild and int(guild) != place.guild_id:
        return False
    return not channel or int(channel) in (place.channel_id, place.parent_id)


async def seed_default_reactions(actions: Actions) -> bool:
    """Bind ✏️ and 📝 to meeting-summary once (idempotent across restarts and replicas)."""
    if any(a.name == DEFAULT_ACTION for a in await actions.matching("reaction")):
        return False
    try:
        await actions.create(
            name=DEFAULT_ACTION,
            kind="reaction",
            template=DEFAULT_TEMPLATE,
            params={},
            mapping=dict(DEFAULT_MAPPING),
            config=reaction_config([Emoji.parse(e) for e in DEFAULT_EMOJIS], None, None),
            enabled=True,
            actor="discord",
        )
    except Conflict:  # another hub seeded it at the same moment
        return False
    except NotFound:
        logger.warning("The %s template is missing: the default ✏️ binding was not created", DEFAULT_TEMPLATE)
        return False
    return True


class Reactions:
    """Turns reactions into runs (``DiscordService.reaction_handler``)."""

    def __init__(self, service: DiscordService, actions: Actions) -> None:
        self.service = service
        self.actions = actions
        self.app = service.app
        self.settings = service.settings
        self.runs = Runs(service, actions)
        self.handled = 0  # reactions looked at so far (tests wait on it; duplicates leave no other trace)
        service.reaction_handler = self.receive

    # -- events ---------------------------------------------------------------------------

    def receive(self, client: discord.Client, payload: discord.RawReactionActionEvent) -> None:
        """Called by discord.py for every reaction; the work goes to the service's task group."""
        me = client.user
        if payload.guild_id is None or (me is not None and payload.user_id == me.id):
            return
        member = payload.member
        if member is not None and member.bot:
            return
        roles: tuple[str, ...] = ()
        name = str(payload.user_id)
        if member is not None:
            name = member.display_name
            roles = tuple(str(r.id) for r in member.roles) + tuple(r.name.lower() for r in member.roles)
        event = ReactionEvent(
            guild_id=payload.guild_id,
            channel_id=payload.channel_id,
            message_id=payload.message_id,
            user_id=payload.user_id,
            user_name=name,
            roles=roles,
            emoji=str(payload.emoji),
        )
        emoji_name, emoji_id = payload.emoji.name, payload.emoji.id
        self.service.spawn(guarded, self.handle, event, emoji_name, emoji_id)

    async def handle(self, event: ReactionEvent, emoji_name: str | None, emoji_id: int | None) -> list[int]:
        """Start the runs this reaction asks for; returns the claimed run ids."""
        try:
            return await self._handle(event, emoji_name, emoji_id)
        finally:
            self.handled += 1

    async def _handle(self, event: ReactionEvent, emoji_name: str | None, emoji_id: int | None) -> list[int]:
        candidates = [
            a
            for a in await self.actions.matching("reaction", enabled=True)
            if any(e.matches(emoji_name, emoji_id) for e in emojis_of(a))
        ]
        if not candidates:
            return []
        try:
            place = await self.service.place(event.channel_id)
        except GoosukeError as exc:  # e.g. Discord unreachable right now: nothing was claimed, nothing is owed
            logger.warning("Ignoring a reaction in channel %s: %s", event.channel_id, exc.message)
            return []
        candidates = [a for a in candidates if in_scope(a, place)]
        if not candidates:
            return []
        if not await self.service.scopes.allowed(place.guild_id, place.channel_id, place.parent_id):
            for action in candidates:
                self._log(event, action, "ignored (not on the allow-list)")
                await self.actions.record(
                    action, "ignored", detail=f"{place.label} is not on the Discord allow-list", actor=event.reactor
                )
            return []
        config = await self.service.scopes.effective(place.guild_id, place.channel_id, place.parent_id)
        started = []
        for action in candidates:
            refusal = self._refusal(action, event, config, place)
            if refusal is not None:
                outcome, detail = refusal
                self._log(event, action, outcome)
                await self.actions.record(action, outcome, detail=detail, actor=event.reactor)
                continue
            run = await self._claim(action, event)
            if run is None:
                self._log(event, action, "duplicate (a run for this message exists)")
                continue  # someone else reacted first: that run covers this message
            self._log(event, action, f"started run {run.id}")
            started.append(run.id)
            self.service.spawn(guarded, self.runs.execute, run.id)
        return started

    @staticmethod
    def _log(event: ReactionEvent, action: Action, outcome: str) -> None:
        """One line per reaction and action: ids and names only, never a message's text."""
        logger.info(
            "discord reaction %s by user %s on message %s in channel %s (guild %s): action %r %s",
            event.emoji,
            event.user_id,
            event.message_id,
            event.channel_id,
            event.guild_id,
            action.name,
            outcome,
        )

    @staticmethod
    def _refusal(action: Action, event: ReactionEvent, config: EffectiveConfig, place: Place) -> tuple[str, str] | None:
        if not config.enabled:
            return "ignored", f"Reaction actions are disabled in {place.label}"
        if config.actions is not None and action.name not in config.actions:
            return "ignored", f"{action.name} does not apply in {place.label} (discord_settings actions)"
        if config.allowed_roles:
            wanted = {r.lower() for r in config.allowed_roles}
            if not wanted & set(event.roles):
                return "refused", f"{event.user_name} has none of the roles allowed in {place.label}"
        return None

    async def _claim(self, action: Action, event: ReactionEvent) -> DiscordRun | None:
        row = DiscordRun(
            action_id=action.id,
            template=action.template,
            guild_id=event.guild_id,
            channel_id=event.channel_id,
            message_id=event.message_id,
            reactor=event.reactor,
            status="collecting",
            result={"event": event.as_dict()},
        )
        try:
            async with self.app.db.session() as session:
                session.add(row)
        except IntegrityError:
            return None
        return row
