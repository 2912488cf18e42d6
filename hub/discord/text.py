"""Text rules of Discord: message splitting, emoji forms, links, and messages as transcript lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

MESSAGE_LIMIT = 2000  # characters of one message's content
FENCE_ROOM = 32  # kept free in each piece to close and reopen a code fence split across pieces
VARIATION_SELECTORS = ("\ufe0f", "\ufe0e")
CUSTOM_EMOJI = (
    re.compile(r"^<(?P<animated>a?):(?P<name>[A-Za-z0-9_~]{1,32}):(?P<id>\d{1,20})>$"),
    re.compile(r"^(?P<animated>)(?P<name>[A-Za-z0-9_~]{1,32}):(?P<id>\d{1,20})$"),
)
DISCORD_EPOCH_MS = 1420070400000


def _fits_int64(value: str) -> str:
    if int(value) >= 1 << 63:
        raise ValueError("is not a Discord id (too large)")
    return value


Snowflake = Annotated[str, StringConstraints(pattern=r"^\d{1,19}$"), AfterValidator(_fits_int64)]
"""A Discord id as a string of digits (JSON numbers lose precision past 2**53)."""


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into messages of at most ``limit`` characters, on line boundaries.

    A line longer than a message is cut first (at a space near the end when there is one), because
    ``commands.Paginator`` raises on such lines. A code fence open at a cut is closed in that piece
    and reopened in the next. Blank pieces are dropped.
    """
    budget = max(limit - FENCE_ROOM, 1)
    lines: list[str] = []
    for line in text.strip("\n").split("\n"):
        while len(line) > budget:
            cut = line.rfind(" ", budget * 4 // 5, budget)
            cut = cut if cut > 0 else budget
            lines.append(line[:cut])
            line = line[cut:].lstrip(" ")
        lines.append(line)
    pieces: list[list[str]] = [[]]
    size = 0
    for line in lines:
        extra = len(line) + (1 if pieces[-1] else 0)
        if pieces[-1] and size + extra > budget:
            pieces.append([])
            extra, size = len(line), 0
        pieces[-1].append(line)
        size += extra
    out: list[str] = []
    fence: str | None = None  # the line that opened the fence still open at the end of the last piece
    for piece in pieces:
        head = [fence] if fence else []
        for line in piece:
            if line.lstrip().startswith("```"):
                fence = None if fence else (line.strip()[:24] if len(line.strip()) <= 24 else "```")
        tail = ["```"] if fence else []
        body = "\n".join(head + piece + tail)
        if body.strip() and body.strip() != "```":
            out.append(body)
    return out


def normalize_emoji(name: str) -> str:
    """``✏️`` (U+270F U+FE0F) and ``✏`` are the same reaction: compare without variation selectors."""
    for selector in VARIATION_SELECTORS:
        name = name.replace(selector, "")
    return name.strip()


@dataclass(frozen=True)
class Emoji:
    """A Unicode emoji (``id`` None) or a custom one (``name`` and ``id``)."""

    name: str
    id: int | None = None
    animated: bool = False

    @classmethod
    def parse(cls, text: str) -> Emoji:
        """Accept ``✏️``, ``<:name:123>``, ``<a:name:123>`` or ``name:123``.

        Raises:
            ValueError: empty, or too long to be one emoji.
        """
        text = text.strip()
        for pattern in CUSTOM_EMOJI:
            custom = pattern.match(text)
            if custom:
                return cls(custom["name"], int(custom["id"]), bool(custom["animated"]))
        if not text or len(text) > 16 or any(c.isspace() for c in text) or text.isascii():
            raise ValueError(f"{text!r} is not an emoji: give a Unicode emoji like ✏️ or a custom one like <:name:id>")
        return cls(normalize_emoji(text))

    def matches(self, name: str | None, emoji_id: int | None) -> bool:
        if self.id is not None:
            return emoji_id == self.id
        return emoji_id is None and normalize_emoji(name or "") == self.name

    @property
    def api_form(self) -> str:
        """How the REST API names it in a reaction URL."""
        return f"{self.name}:{self.id}" if self.id is not None else self.name

    def __str__(self) -> str:
        if self.id is not None:
            return f"<{'a' if self.animated else ''}:{self.name}:{self.id}>"
        return self.name


def message_link(guild_id: int | str | None, channel_id: int | str, message_id: int | str) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def snowflake_time(snowflake: int | str) -> datetime:
    return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


def time_snowflake(moment: datetime) -> int:
    """The smallest snowflake of ``moment`` (for ``after=`` bounds)."""
    return max(int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS, 0) << 22


def author_name(message: dict[str, Any]) -> str:
    member = message.get("member") or {}
    author = message.get("author") or {}
    return str(member.get("nick") or author.get("global_name") or author.get("username") or "unknown")


def embed_text(embed: dict[str, Any]) -> str:
    parts = [embed.get("title"), embed.get("description")]
    parts += [f"{f.get('name')}: {f.get('value')}" for f in embed.get("fields") or []]
    parts.append((embed.get("footer") or {}).get("text"))
    return " — ".join(str(p) for p in parts if p)


def message_text(message: dict[str, Any]) -> str:
    """Content, embed text and attachment names: what a reader of the channel sees."""
    parts = [str(message.get("content") or "")]
    parts += [f"[embed: {text}]" for text in map(embed_text, message.get("embeds") or []) if text]
    parts += [f"[attachment: {a.get('filename')}]" for a in message.get("attachments") or []]
    return " ".join(p for p in parts if p)


def transcript_line(message: dict[str, Any]) -> str | None:
    """``2026-05-04 12:01 ana: text`` (continuation lines indented), or None for an empty message."""
    text = message_text(message).strip()
    if not text:
        return None
    stamp = message.get("timestamp")
    moment = datetime.fromisoformat(stamp) if stamp else snowflake_time(message["id"])
    body = text.replace("\n", "\n  ")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} {author_name(message)}: {body}"


def chunk_lines(lines: list[str], budget: int) -> list[str]:
    """Join lines into chunks of at most ``budget`` characters (a longer single line is cut)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if len(line) > budget:
            line = line[: budget - 1] + "…"
        if current and size + 1 + len(line) > budget:
            chunks.append("\n".join(current))
            current, size = [], 0
        size += len(line) + (1 if current else 0)
        current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks
