"""The Discord connection: one discord.py client, pointed by the settings, reconnected with backoff.

discord.py keeps the REST base URL (``Route.BASE``) and the gateway URL
(``DiscordWebSocket.DEFAULT_GATEWAY``) in class attributes: :meth:`DiscordService.running` sets them
from the settings for the whole process and restores them on exit, so one process talks to one
Discord. The client is created per connection attempt; a failed attempt (Discord unreachable, a
5xx at login, a lost gateway) is retried with exponential backoff while the hub keeps serving.
A rejected token or a missing privileged intent (close code 4014) is reported with what to change
and retried at the longest delay, so fixing it in the developer portal is enough.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import discord
import yarl
from anyio.abc import TaskGroup
from discord.gateway import DiscordWebSocket
from discord.http import Route

from hub.discord.api import TRANSIENT, DiscordApi
from hub.discord.scopes import Scopes
from hub.errors import ConfigError, GoosukeError, ToolError
from hub.protocols import ReadinessReport
from hub.vault.service import Vault

if TYPE_CHECKING:
    from hub.context import AppContext

logger = logging.getLogger("goosuke.discord")

CLOSE_HINTS = {
    4004: "Discord rejected the bot token on the gateway (4004). Reset the token in the developer portal (Bot tab) "
    "and update GOOSUKE_DISCORD_TOKEN or the vault secret.",
    4013: "Discord refused the gateway intents as invalid (4013); this is a hub bug, please report it.",
    4014: "Discord closed the gateway with 4014 (disallowed intents): the bot needs the privileged MESSAGE CONTENT "
    "intent to read conversations. Turn on 'Message Content Intent' in the developer portal (Applications → your "
    "app → Bot → Privileged Gateway Intents); the hub retries by itself.",
}


THREAD_TYPES = {10, 11, 12}  # announcement, public and private threads


@dataclass(frozen=True)
class Place:
    """Where a channel or thread is: its guild and, for a thread, its parent channel."""

    guild_id: int | None
    channel_id: int
    parent_id: int | None
    name: str
    parent_name: str | None = None
    guild_name: str | None = None

    @property
    def label(self) -> str:
        if self.parent_id is not None:
            return f"#{self.parent_name or self.parent_id} › {self.name}"
        return f"#{self.name}"


def intents() -> discord.Intents:
    """Guilds, guild messages, message content (privileged) and reactions; no member list."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.guild_reactions = True
    return wanted


@contextmanager
def endpoints(api_base_url: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py at these URLs for the whole process (they are class attributes), then restore."""
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = api_base_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


class _Bot(discord.Client):
    def __init__(self, service: DiscordService, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    async def on_ready(self) -> None:
        self.service._ready(self)

    async def on_resumed(self) -> None:
        self.service._ready(self, resumed=True)

    async def on_disconnect(self) -> None:
        self.service._disconnected(self)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.service.on_reaction(self, payload)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        logger.exception("Discord event handler %s failed", event_method)


class DiscordService:
    """The bot (``app.services.get(DiscordService)``): connection, readiness, status; Discord calls in ``api``."""

    readiness_name = "discord"

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.settings = app.settings
        self.scopes = Scopes(app.db, app.settings)
        self.api = DiscordApi(self)
        self.state = "off"
        self.detail = "no bot token configured (GOOSUKE_DISCORD_TOKEN or GOOSUKE_DISCORD_TOKEN_SECRET)"
        self.last_failure: str | None = None
        self.since = datetime.now(UTC)
        self.reconnects = 0
        self.user: discord.ClientUser | None = None
        self.client: _Bot | None = None
        self._usable: _Bot | None = None  # logged in and READY once: REST calls may go
        self._changed = anyio.Event()
        self._tg: TaskGroup | None = None
        self.waiting = 0  # calls waiting for the bot to connect
        self.sessions = 0  # READY events so far (a new session resets the reconnect backoff)
        self.reaction_handler: Callable[[discord.Client, discord.RawReactionActionEvent], None] | None = None
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []  # run while the service runs

    @property
    def configured(self) -> bool:
        return bool(self.settings.discord_token or self.settings.discord_token_secret)

    @property
    def connected(self) -> bool:
        """Logged in and READY: calls go through without waiting."""
        return self._usable is not None

    # -- status -----------------------------------------------------------------------

    def readiness(self) -> ReadinessReport:
        """Discord is optional: a bot that is off or down leaves the hub ready; ``detail`` says why."""
        return ReadinessReport(ready=True, detail=self.status())

    def status(self) -> dict[str, Any]:
        """For ``hub_info`` and ``/readyz``: the state, why, and since when."""
        out: dict[str, Any] = {"state": self.state, "detail": self.detail, "since": self.since.isoformat()}
        if self.retrying_after is not None:
            out["last_failure"] = self.retrying_after
        if self.state != "off":
            out["reconnects"] = self.reconnects
            out["waiting_calls"] = self.waiting
        if self.user is not None:
            out["user"] = str(self.user)
        if self._usable is not None:
            out["guilds"] = len(self._usable.guilds)
        return out

    @property
    def retrying_after(self) -> str | None:
        """Why the last attempt failed, while the bot tries again (the state no longer says it)."""
        return None if self.state in ("unavailable", "failed") else self.last_failure

    def _set(self, state: str, detail: str) -> None:
        if (state, detail) != (self.state, self.detail):
            log = logger.warning if state in ("unavailable", "failed") else logger.info
            log("Discord %s: %s", state, detail)
        self.state, self.detail, self.since = state, detail, datetime.now(UTC)
        if state in ("unavailable", "failed"):
            self.last_failure = detail  # kept while it retries: a call in between still learns why
        elif state == "ready":
            self.last_failure = None
        self._changed.set()
        self._changed = anyio.Event()

    def _ready(self, client: _Bot, *, resumed: bool = False) -> None:
        if client is not self.client:
            return
        if not resumed:
            self.sessions += 1
        self._usable, self.user = client, client.user
        self._set("ready", f"connected as {client.user} to {len(client.guilds)} guild(s)")

    def _disconnected(self, client: _Bot) -> None:
        if client is self.client and self._usable is client and self.state == "ready":
            self._set("reconnecting", "the gateway connection dropped; resuming")

    def on_reaction(self, client: discord.Client, payload: discord.RawReactionActionEvent) -> None:
        if self.reaction_handler is not None and client is self.client:
            self.reaction_handler(client, payload)

    # -- calls --------------------------------------------------------------------------

    async def ready(self, timeout: float | None = None) -> discord.Client:
        """The connected client; waits up to ``discord_ready_timeout`` for the bot to connect.

        Raises:
            ToolError: no token configured, or the bot did not connect in time (with its state and why).
        """
        if not self.configured:
            raise ToolError(
                "Discord is not configured on this hub: set GOOSUKE_DISCORD_TOKEN (or GOOSUKE_DISCORD_TOKEN_SECRET "
                "naming a vault secret) and restart it. See docs/discord.md."
            )
        limit = self.settings.discord_ready_timeout if timeout is None else timeout
        self.waiting += 1
        try:
            with anyio.move_on_after(limit):
                while self._usable is None:
                    await self._changed.wait()
        finally:
            self.waiting -= 1
        if self._usable is None:
            why = f" The last attempt failed: {self.retrying_after}" if self.retrying_after else ""
            raise ToolError(
                f"Discord is not connected ({self.state}: {self.detail}); waited {limit:g} s for the bot. "
                f"hub_info shows the connection state; the hub keeps retrying.{why}"
            )
        return self._usable

    async def place(self, channel_id: int) -> Place:
        """The channel's guild and parent, from the cache or else from Discord."""
        client = await self.ready()
        cached = client.get_channel(channel_id)
        if isinstance(cached, discord.Thread):
            parent = cached.parent
            return Place(
                cached.guild.id,
                cached.id,
                cached.parent_id,
                cached.name,
                getattr(parent, "name", None),
                cached.guild.name,
            )
        if isinstance(cached, discord.abc.GuildChannel):
            return Place(cached.guild.id, cached.id, None, cached.name, None, cached.guild.name)
        data = await self.api.channel(channel_id)
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        parent_id = int(data["parent_id"]) if data.get("type") in THREAD_TYPES and data.get("parent_id") else None
        parent_channel = client.get_channel(parent_id) if parent_id else None
        guild = client.get_guild(guild_id) if guild_id else None
        return Place(
            guild_id,
            channel_id,
            parent_id,
            str(data.get("name") or channel_id),
            getattr(parent_channel, "name", None),
            guild.name if guild else None,
        )

    async def allowed_place(self, channel_id: int) -> Place:
        """The place of a channel the hub may touch.

        Raises:
            PermissionDenied: the channel is not on the allow-list.
        """
        place = await self.place(channel_id)
        await self.scopes.require(place.guild_id, place.channel_id, place.parent_id)
        return place

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        if self._tg is not None:
            self._tg.start_soon(fn, *args)

    # -- running --------------------------------------------------------------------------

    async def token(self) -> str:
        if self.settings.discord_token is not None:
            return self.settings.discord_token.get_secret_value()
        name = self.settings.discord_token_secret or ""
        vault = self.app.services.get(Vault)
        try:
            return str(await vault.get(name))
        except GoosukeError as exc:
            raise ConfigError(f"The bot token secret {name!r} cannot be read: {exc.message}") from None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[DiscordService]:
        """Connect in the background for as long as the block runs; the hub never waits for Discord."""
        if not self.configured:
            yield self
            return
        with endpoints(self.settings.discord_api_base_url, self.settings.discord_gateway_url):
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._run_forever)
                for task in self.background:
                    tg.start_soon(task)
                try:
                    yield self
                finally:
                    tg.cancel_scope.cancel()
            self._tg = None
            self._set("off", "the hub stopped")

    async def _run_forever(self) -> None:
        delay = self.settings.discord_reconnect_initial
        while True:
            sessions = self.sessions
            fatal, detail = await self._attempt()
            if self.sessions != sessions:  # it was connected: start the backoff over
                delay = self.settings.discord_reconnect_initial
            wait = self.settings.discord_reconnect_max if fatal else delay
            wait *= 1 + random.random() / 10  # replicas do not reconnect in lockstep
            delay = min(delay * 2, self.settings.discord_reconnect_max)
            self.reconnects += 1
            self._set("failed" if fatal else "unavailable", f"{detail}; retrying in {wait:.1f} s")
            await anyio.sleep(wait)

    async def _attempt(self) -> tuple[bool, str]:
        """One connection: log in, hold the gateway until it fails. Returns (fatal, why it ended)."""
        client = _Bot(
            self,
            intents=intents(),
            guild_ready_timeout=self.settings.discord_guild_ready_timeout,
            max_ratelimit_timeout=self.settings.discord_max_ratelimit_wait,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        self.client = client
        self._set("connecting", f"logging in at {self.settings.discord_api_base_url}")
        try:
            await client.login(await self.token())
            self._set("connecting", f"opening the gateway at {self.settings.discord_gateway_url}")
            await client.connect(reconnect=False)
            return False, "the gateway connection closed"
        except ConfigError as exc:
            return True, exc.message
        except discord.LoginFailure:
            return True, (
                "Discord rejected the bot token (401). Reset it in the developer portal (Bot tab) and update "
                "GOOSUKE_DISCORD_TOKEN or the vault secret"
            )
        except discord.PrivilegedIntentsRequired:
            return True, CLOSE_HINTS[4014]
        except discord.ConnectionClosed as exc:
            if exc.code in CLOSE_HINTS:
                return True, CLOSE_HINTS[exc.code]
            return False, f"the gateway closed the connection (code {exc.code})"
        except discord.HTTPException as exc:
            return False, f"Discord answered {exc.status} at login ({exc.text or 'no details'})"
        except TRANSIENT as exc:
            return False, f"cannot reach Discord ({type(exc).__name__}: {exc or 'no details'})"
        except Exception as exc:  # discord.py may raise oddities on a failed first connect; never crash the hub
            logger.exception("Discord connection failed")
            return False, f"the connection failed ({type(exc).__name__})"
        finally:
            self._usable = None
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await client.close()
