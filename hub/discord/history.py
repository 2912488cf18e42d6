"""Reading a conversation back from a message: pages of REST history within a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.discord.scopes import EffectiveConfig
from hub.discord.text import time_snowflake, transcript_line

if TYPE_CHECKING:
    from hub.discord.api import DiscordApi

PAGE = 100  # Discord's largest history page


async def collect(
    api: DiscordApi,
    channel_id: int,
    message_id: int,
    *,
    after_id: int | None,
    config: EffectiveConfig,
    skip_author: int | None,
    history: bool = True,
) -> tuple[dict[str, Any], list[str]]:
    """The reacted message and the transcript lines up to it, oldest first.

    The conversation starts after ``after_id`` (the previous summary's message), after the time
    window, and holds at most ``config.history_count`` messages; ``skip_author``'s messages (the
    bot's own) are left out.

    Raises:
        NotFound: the message or the channel is gone.
        PermissionDenied: the bot may not read the channel.
    """
    anchor = await api.message(channel_id, message_id, what="Reading the reacted message")
    if not history:
        return anchor, []
    since = time_snowflake(datetime.now(UTC) - timedelta(hours=config.history_hours))
    floor = max(after_id or 0, since)
    messages = [anchor]
    cursor = message_id
    while len(messages) < config.history_count:
        asked = min(PAGE, config.history_count - len(messages))
        page = await api.history(channel_id, limit=asked, before=cursor, what="Reading the channel history")
        kept = [m for m in page if int(m["id"]) > floor]
        messages.extend(kept)
        if len(kept) < len(page) or len(page) < asked:
            break
        cursor = int(page[-1]["id"])
    messages.sort(key=lambda m: int(m["id"]))
    lines = [transcript_line(m) for m in messages if skip_author is None or int(m["author"]["id"]) != skip_author]
    return anchor, [line for line in lines if line]
