"""The Discord REST calls of the hub: one method per operation, the routes and payloads in one place.

:class:`DiscordApi` (``service.api``) is what the Discord tools use: one try, and Discord's refusals
turned into hub errors that say what to do (:func:`discord_errors`). :class:`RetryingApi` is what a
reaction run uses: the same calls, retried while Discord is briefly unreachable, and any other
failure a :class:`~hub.discord.failures.RunFailed` with the reason the ⚠️ reply gives.

Each method names its action in the errors (``Posting to channel 123: ...``); ``what=`` names it
otherwise where a caller tells the story differently (a run says ``Posting the result``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import aiohttp
import anyio
import discord
from discord.http import Route

from hub.discord.failures import RunFailed, short
from hub.discord.text import split_message
from hub.errors import GoosukeError, InvalidArguments, NotFound, PermissionDenied, ToolError

if TYPE_CHECKING:
    from hub.discord.service import DiscordService

Json = dict[str, Any]
"""One Discord object (a message, a channel, a thread) as the REST API answers it."""
Id = int | str
"""A snowflake as a number or a string of digits."""

TRANSIENT = (OSError, aiohttp.ClientError, asyncio.TimeoutError, discord.DiscordServerError, discord.GatewayNotFound)
SEARCH_ATTEMPTS = 5  # 202 "index not ready" answers retried before giving up
SEARCH_WAIT_CAP = 10.0  # seconds: the longest retry_after honoured per attempt
PUBLIC_THREAD = 11
MESSAGE = "/channels/{channel_id}/messages/{message_id}"


@contextmanager
def discord_errors(what: str) -> Iterator[None]:
    """Turn discord.py's and aiohttp's exceptions into hub errors that say what to do."""
    try:
        yield
    except discord.NotFound as exc:
        raise NotFound(
            f"{what}: Discord does not know it ({exc.text or 'not found'}, code {exc.code}). Check the id; "
            "deleted messages and channels cannot be used."
        ) from None
    except discord.Forbidden as exc:
        raise PermissionDenied(
            f"{what}: Discord refused (403, code {exc.code}: {exc.text}). The bot lacks a permission there: give its "
            "role View Channel, Read Message History, Send Messages, Add Reactions and Create Public Threads."
        ) from None
    except discord.RateLimited as exc:
        raise ToolError(f"{what}: Discord rate-limits this route; try again in {exc.retry_after:.0f} s.") from None
    except discord.DiscordServerError as exc:
        raise ToolError(f"{what}: Discord had a server error ({exc.status}) even after retries; try later.") from None
    except discord.HTTPException as exc:
        if exc.status == 400:
            raise InvalidArguments(f"{what}: Discord refused the request ({exc.text}, code {exc.code}).") from None
        raise ToolError(f"{what}: Discord answered {exc.status} ({exc.text}).") from None
    except TRANSIENT as exc:
        raise ToolError(
            f"{what}: cannot reach Discord ({type(exc).__name__}); the bot reconnects by itself, try again shortly."
        ) from None


@dataclass(frozen=True)
class ReplyTo:
    """The message a post replies to (its first piece does)."""

    message_id: Id
    channel_id: Id
    fail_if_not_exists: bool | None = None  # None: Discord's default (the post fails if the message is gone)

    def reference(self) -> Json:
        out: Json = {"message_id": str(self.message_id), "channel_id": str(self.channel_id)}
        if self.fail_if_not_exists is not None:
            out["fail_if_not_exists"] = self.fail_if_not_exists
        return out


class DiscordApi:
    """The Discord operations of the hub, through the service's connected client."""

    def __init__(self, service: DiscordService) -> None:
        self.service = service

    async def request(self, what: str, route: Route, **kwargs: Any) -> Any:
        """One REST call through the connected client, with errors that say what to do."""
        client = await self.service.ready()
        with discord_errors(what):
            return await client.http.request(route, **kwargs)

    # -- messages -------------------------------------------------------------------------

    async def post(
        self,
        channel_id: Id,
        content: str,
        *,
        reply_to: ReplyTo | None = None,
        mentions: Sequence[str] = (),
        what: str | None = None,
    ) -> list[Json]:
        """Post ``content``, split into messages of at most 2,000 characters; none when it is blank.

        Only ``mentions`` (``users``, ``roles``, ``everyone``) may ping."""
        posted = []
        for index, piece in enumerate(split_message(content)):
            payload: Json = {"content": piece, "allowed_mentions": {"parse": list(mentions)}}
            if index == 0 and reply_to is not None:
                payload["message_reference"] = reply_to.reference()
            route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
            posted.append(await self._json(what or f"Posting to channel {channel_id}", route, json=payload))
        return posted

    async def edit_message(self, channel_id: Id, message_id: Id, content: str) -> Json:
        """Replace the text of one of the bot's messages; mentions do not ping."""
        route = Route("PATCH", MESSAGE, channel_id=channel_id, message_id=message_id)
        payload = {"content": content, "allowed_mentions": {"parse": []}}
        return await self._json(f"Editing message {message_id}", route, json=payload)

    async def delete_message(self, channel_id: Id, message_id: Id) -> None:
        route = Route("DELETE", MESSAGE, channel_id=channel_id, message_id=message_id)
        await self.request(f"Deleting message {message_id}", route)

    async def message(self, channel_id: Id, message_id: Id, *, what: str | None = None) -> Json:
        route = Route("GET", MESSAGE, channel_id=channel_id, message_id=message_id)
        return await self._json(what or f"Reading message {message_id}", route)

    async def history(
        self,
        channel_id: Id,
        *,
        limit: int,
        before: Id | None = None,
        after: Id | None = None,
        around: Id | None = None,
        what: str | None = None,
    ) -> list[Json]:
        """One page of at most 100 messages, newest first (Discord's order), before/after/around a message."""
        params: Json = {"limit": limit}
        for key, value in (("before", before), ("after", after), ("around", around)):
            if value is not None:
                params[key] = value
        route = Route("GET", "/channels/{channel_id}/messages", channel_id=channel_id)
        page = await self.request(what or f"Reading the history of channel {channel_id}", route, params=params)
        return cast(list[Json], page)

    async def add_reaction(self, channel_id: Id, message_id: Id, emoji: str, *, what: str | None = None) -> None:
        """The bot's reaction; ``emoji`` as a reaction URL names it (``✅`` or ``name:id``)."""
        route = Route(
            "PUT",
            MESSAGE + "/reactions/{emoji}/@me",
            channel_id=channel_id,
            message_id=message_id,
            emoji=emoji,
        )
        await self.request(what or f"Reacting to message {message_id}", route)

    # -- channels, threads, guilds --------------------------------------------------------------

    async def channel(self, channel_id: Id) -> Json:
        route = Route("GET", "/channels/{channel_id}", channel_id=channel_id)
        return await self._json(f"Reading channel {channel_id}", route)

    async def create_thread(
        self,
        channel_id: Id,
        name: str,
        *,
        message_id: Id | None = None,
        auto_archive_minutes: int = 1440,
        what: str | None = None,
    ) -> Json:
        """A thread on ``message_id``, or a public thread of its own in the channel."""
        body: Json = {"name": name, "auto_archive_duration": auto_archive_minutes}
        if message_id is not None:
            route = Route("POST", MESSAGE + "/threads", channel_id=channel_id, message_id=message_id)
        else:
            route = Route("POST", "/channels/{channel_id}/threads", channel_id=channel_id)
            body["type"] = PUBLIC_THREAD
        return await self._json(what or f"Opening a thread in channel {channel_id}", route, json=body)

    async def guild_channels(self, guild_id: Id) -> list[Json]:
        route = Route("GET", "/guilds/{guild_id}/channels", guild_id=guild_id)
        return cast(list[Json], await self.request(f"Listing the channels of guild {guild_id}", route))

    async def active_threads(self, guild_id: Id) -> list[Json]:
        route = Route("GET", "/guilds/{guild_id}/threads/active", guild_id=guild_id)
        data = await self._json(f"Listing the threads of guild {guild_id}", route)
        return cast(list[Json], data.get("threads", []))

    async def search_messages(
        self,
        guild_id: Id,
        *,
        limit: int,
        offset: int,
        content: str | None = None,
        author_id: Id | None = None,
        channel_id: Id | None = None,
        has: Sequence[str] = (),
    ) -> Json:
        """Discord's guild search (``total_results``, ``messages`` as groups); waits while it indexes the guild.

        Raises:
            ToolError: Discord was still indexing after a few tries.
        """
        params: list[tuple[str, Any]] = [("limit", limit), ("offset", offset)]
        params += [(k, v) for k, v in (("content", content), ("author_id", author_id), ("channel_id", channel_id)) if v]
        params += [("has", h) for h in has]
        route = Route("GET", "/guilds/{guild_id}/messages/search", guild_id=guild_id)
        data: Any = None
        for _ in range(SEARCH_ATTEMPTS):
            data = await self.request(f"Searching guild {guild_id}", route, params=params)
            if not (isinstance(data, dict) and data.get("code") == 110000):  # 202: the index is not ready yet
                return cast(Json, data)
            await anyio.sleep(min(float(data.get("retry_after") or 1), SEARCH_WAIT_CAP))
        wait = float((data or {}).get("retry_after") or 5)
        raise ToolError(f"Discord is still indexing guild {guild_id} for search; try again in {wait:.0f} s.")

    async def _json(self, what: str, route: Route, **kwargs: Any) -> Json:
        return cast(Json, await self.request(what, route, **kwargs))


class RetryingApi(DiscordApi):
    """A reaction run's calls: retried while Discord is unreachable, a :class:`RunFailed` otherwise."""

    def __init__(self, service: DiscordService, attempts: int) -> None:
        super().__init__(service)
        self.attempts = attempts

    async def request(self, what: str, route: Route, **kwargs: Any) -> Any:
        for attempt in range(self.attempts):
            try:
                client = await self.service.ready()
                return await client.http.request(route, **kwargs)
            except discord.HTTPException as exc:
                if not isinstance(exc, discord.DiscordServerError):
                    raise RunFailed(f"{what}: Discord answered {exc.status} ({short(exc.text, 120)})") from None
                failure = f"Discord answered {exc.status}"
            except (GoosukeError, *TRANSIENT) as exc:
                failure = getattr(exc, "message", None) or type(exc).__name__
            if attempt + 1 < self.attempts:
                await anyio.sleep(min(2**attempt, 30))
        raise RunFailed(f"{what}: {short(failure, 160)}")
