"""One attempt of one delivery: the HMAC-signed HTTP POST, or the Discord post."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import httpx2

from hub.deliveries.model import DiscordTarget, HttpTarget, Payload, Purpose, message_of
from hub.engine.records import ExecutionInfo
from hub.errors import GoosukeError, InvalidArguments, NotFound, PermissionDenied
from hub.triggers.webhooks import sign_hmac

if TYPE_CHECKING:
    from hub.discord.service import DiscordService
    from hub.settings import Settings

USER_AGENT = "goosuke-deliveries"
PERMANENT_DISCORD = (NotFound, PermissionDenied, InvalidArguments)  # retrying cannot help
RETRIED_STATUSES = frozenset({408, 425, 429})  # 4xx answers that may pass later


class AttemptFailed(Exception):
    """One attempt did not deliver. ``final``: later attempts cannot succeed (a 404, a missing channel)."""

    def __init__(self, message: str, *, status_code: int | None = None, final: bool = False) -> None:
        super().__init__(message)
        self.message, self.status_code, self.final = message, status_code, final


def signed(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers of a signed delivery: the same scheme as incoming ``hmac`` webhooks."""
    stamp = str(int(time.time() if now is None else now))
    return {"X-Goosuke-Timestamp": stamp, "X-Goosuke-Signature": sign_hmac(secret, stamp, body)}


async def send_http(target: HttpTarget, secret: str, payload: Payload, *, timeout: float) -> int:
    """POST the payload; returns the 2xx status code.

    Raises:
        AttemptFailed: no answer, or a non-2xx answer (``final`` for a 4xx other than 408/425/429).
    """
    body = json.dumps(payload.model_dump(mode="json"), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Goosuke-Delivery": payload.delivery_id,
        **signed(secret, body),
    }
    try:
        async with httpx2.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            response = await http.post(str(target.url), content=body, headers=headers)
    except httpx2.HTTPError as exc:
        raise AttemptFailed(f"No answer from the callback ({type(exc).__name__}).") from None
    code = response.status_code
    if 200 <= code < 300:
        return code
    final = 400 <= code < 500 and code not in RETRIED_STATUSES
    raise AttemptFailed(f"The callback answered {code}.", status_code=code, final=final)


async def send_discord(
    discord: DiscordService | None, settings: Settings, target: DiscordTarget, purpose: Purpose, info: ExecutionInfo
) -> None:
    """Post the result (split into 2,000-character messages) into the channel or thread.

    Raises:
        AttemptFailed: the bot is not configured, not started yet or not connected, or Discord refused.
    """
    configured = bool(settings.discord_token or settings.discord_token_secret)
    if discord is None and configured:
        raise AttemptFailed("The Discord bot has not started yet.")
    if discord is None or not discord.configured:
        raise AttemptFailed(
            "The Discord bot is not configured: set GOOSUKE_DISCORD_TOKEN (or a vault secret) and restart.",
            final=True,
        )
    try:
        where = target.thread_id or target.channel_id
        if target.new_thread:
            name = f"{info.template} {info.finished_at:%Y-%m-%d %H:%M}" if info.finished_at else info.template
            thread = await discord.api.create_thread(target.channel_id, name[:100])
            where = str(thread["id"])
        await discord.api.post(where, message_of(purpose, info), what=f"Posting the result to {where}")
    except PERMANENT_DISCORD as exc:
        raise AttemptFailed(exc.message, final=True) from None
    except GoosukeError as exc:
        raise AttemptFailed(exc.message) from None
