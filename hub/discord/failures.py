"""How a reaction run fails: the reason the ⚠️ reply gives."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("goosuke.discord")


class RunFailed(Exception):
    """A run cannot go on; ``reason`` is what the ⚠️ reply says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def short(text: str | None, limit: int = 200) -> str:
    text = " ".join((text or "no details").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def guarded(fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """Run a reaction's work; whatever goes wrong is logged, the bot carries on."""
    try:
        await fn(*args)
    except Exception:  # a broken reaction must never take the bot down
        logger.exception("Handling a Discord reaction failed")
