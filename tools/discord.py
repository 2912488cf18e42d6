"""Discord messages as tools: read, post, edit, delete and react through the hub's bot; and the bot itself.

Every Discord tool waits (up to ``GOOSUKE_DISCORD_READY_TIMEOUT``) for the bot to connect, touches
only guilds and channels on the allow-list, and turns Discord's refusals into errors that say what to
do. Reading needs the viewer role, writing the operator role. Guilds, channels, threads and search
are in ``tools/discord_guilds.py``; settings and bindings in ``discord_settings``/``discord_reactions``.
The bot itself, and the default ✏️ binding, are the Discord service's (``hub/discord/plugin.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from hub import Call, Plugin
from hub.clock import UtcDatetime
from hub.context import AppContext
from hub.discord import DiscordService, Emoji, ReplyTo, message_link
from hub.discord.text import Snowflake, embed_text, message_text, snowflake_time
from hub.errors import InvalidArguments
from hub.plugin import Arguments

plugin = Plugin("discord")

MAX_CONTENT = 20_000  # characters one discord_send_message call may post (split into messages)


def discord_of(app: AppContext) -> DiscordService:
    """The bot service (``hub/discord/``)."""
    return app.services.get(DiscordService)


class AuthorView(BaseModel):
    id: str
    name: str
    bot: bool = False


class AttachmentView(BaseModel):
    filename: str
    url: str | None = None
    size: int | None = None


class MessageView(BaseModel):
    id: str
    channel_id: str
    guild_id: str | None
    author: AuthorView
    content: str
    text: str = Field(description="Content, embed text and attachment names together: what a reader sees.")
    embeds: list[str] = Field(description="The text of each embed.")
    attachments: list[AttachmentView]
    reply_to: str | None = Field(description="The id of the message this one replies to.")
    created_at: UtcDatetime
    edited_at: UtcDatetime | None
    link: str

    @classmethod
    def of(cls, data: dict[str, Any], guild_id: int | None = None) -> MessageView:
        author = data.get("author") or {}
        member = data.get("member") or {}
        guild = data.get("guild_id") or guild_id
        edited = data.get("edited_timestamp")
        return cls(
            id=str(data["id"]),
            channel_id=str(data["channel_id"]),
            guild_id=str(guild) if guild else None,
            author=AuthorView(
                id=str(author.get("id", "")),
                name=str(member.get("nick") or author.get("global_name") or author.get("username") or "unknown"),
                bot=bool(author.get("bot")),
            ),
            content=str(data.get("content") or ""),
            text=message_text(data),
            embeds=[embed_text(e) for e in data.get("embeds") or []],
            attachments=[
                AttachmentView(filename=a.get("filename", ""), url=a.get("url"), size=a.get("size"))
                for a in data.get("attachments") or []
            ],
            reply_to=str((data.get("message_reference") or {}).get("message_id") or "") or None,
            created_at=snowflake_time(data["id"]),
            edited_at=datetime.fromisoformat(edited) if edited else None,
            link=message_link(guild, data["channel_id"], data["id"]),
        )


class MessageRef(Arguments):
    channel_id: Snowflake = Field(description="The channel or thread id.")
    message_id: Snowflake = Field(description="The message id.")


class SendMessage(Arguments):
    channel_id: Snowflake = Field(description="The channel or thread to post in.")
    content: str = Field(
        min_length=1,
        max_length=MAX_CONTENT,
        description="Text to post; over 2,000 characters it is split into several messages on line boundaries.",
    )
    reply_to: Snowflake | None = Field(default=None, description="Reply to this message id.")
    mentions: list[Literal["users", "roles", "everyone"]] = Field(
        default_factory=list,
        description="Which mentions may ping; default none (no @everyone, no role or user pings).",
    )


class SentMessages(BaseModel):
    messages: list[MessageView]
    count: int = Field(description="How many Discord messages the content took.")


class EditMessage(MessageRef):
    content: str = Field(
        min_length=1,
        max_length=2000,
        description="The new text, at most 2,000 characters (an edit cannot be split); only the bot's messages.",
    )


class Deleted(BaseModel):
    deleted: bool
    channel_id: str
    message_id: str


class HistoryQuery(Arguments):
    channel_id: Snowflake = Field(description="The channel or thread to read.")
    before: Snowflake | None = Field(default=None, description="Messages older than this id.")
    after: Snowflake | None = Field(default=None, description="Messages newer than this id.")
    around: Snowflake | None = Field(default=None, description="Messages around this id.")
    limit: int = Field(default=50, ge=1, le=100, description="At most 100 (one Discord page).")

    @model_validator(mode="after")
    def _one_anchor(self) -> HistoryQuery:
        if sum(v is not None for v in (self.before, self.after, self.around)) > 1:
            raise ValueError("give at most one of before, after and around")
        return self


class History(BaseModel):
    messages: list[MessageView] = Field(description="Oldest first.")
    older: str | None = Field(description="Pass as `before` for the page before this one (None at the start).")
    newer: str | None = Field(description="Pass as `after` for the page after this one.")


class ReactionArgs(MessageRef):
    emoji: str = Field(min_length=1, max_length=80, description="A Unicode emoji (✅) or a custom one (<:name:id>).")


class Reacted(BaseModel):
    channel_id: str
    message_id: str
    emoji: str


async def post_messages(
    service: DiscordService,
    channel_id: int,
    content: str,
    *,
    reply_to: str | None = None,
    mentions: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    reply = ReplyTo(reply_to, channel_id) if reply_to else None
    posted = await service.api.post(channel_id, content, reply_to=reply, mentions=mentions or ())
    if not posted:
        raise InvalidArguments("The content is blank: there is nothing to post.")
    return posted


@plugin.tool(permission="chat.post")
async def discord_send_message(call: Call, args: SendMessage) -> SentMessages:
    """Post a message in a Discord channel or thread, optionally as a reply. Text over 2,000 characters is
    split into several messages on line boundaries. Mentions do not ping unless `mentions` allows them."""
    service = discord_of(call.app)
    place = await service.allowed_place(int(args.channel_id))
    posted = await post_messages(
        service, place.channel_id, args.content, reply_to=args.reply_to, mentions=args.mentions
    )
    return SentMessages(messages=[MessageView.of(m, place.guild_id) for m in posted], count=len(posted))


@plugin.tool(permission="chat.post")
async def discord_edit_message(call: Call, args: EditMessage) -> MessageView:
    """Replace the text of one of the bot's own messages (at most 2,000 characters)."""
    service = discord_of(call.app)
    place = await service.allowed_place(int(args.channel_id))
    data = await service.api.edit_message(place.channel_id, args.message_id, args.content)
    return MessageView.of(data, place.guild_id)


@plugin.tool(permission="chat.post", destructive=True)
async def discord_delete_message(call: Call, args: MessageRef) -> Deleted:
    """Delete a message (the bot's own, or anyone's where the bot has Manage Messages)."""
    service = discord_of(call.app)
    place = await service.allowed_place(int(args.channel_id))
    await service.api.delete_message(place.channel_id, args.message_id)
    return Deleted(deleted=True, channel_id=args.channel_id, message_id=args.message_id)


@plugin.tool(read_only=True, permission="chat.read")
async def discord_get_message(call: Call, args: MessageRef) -> MessageView:
    """Read one message with its author, text, embed text and attachment names."""
    service = discord_of(call.app)
    place = await service.allowed_place(int(args.channel_id))
    return MessageView.of(await service.api.message(place.channel_id, args.message_id), place.guild_id)


@plugin.tool(read_only=True, permission="chat.read")
async def discord_get_history(call: Call, args: HistoryQuery) -> History:
    """Read a page of a channel's or thread's messages (at most 100), oldest first: the latest, or those
    before/after/around a message id. Page on with the `older` and `newer` cursors."""
    service = discord_of(call.app)
    place = await service.allowed_place(int(args.channel_id))
    page = await service.api.history(
        place.channel_id, limit=args.limit, before=args.before, after=args.after, around=args.around
    )
    messages = sorted((MessageView.of(m, place.guild_id) for m in page), key=lambda m: int(m.id))
    reached_start = len(page) < args.limit and args.after is None and args.around is None
    older = None if not messages or reached_start else messages[0].id
    newer = messages[-1].id if messages else args.after
    return History(messages=messages, older=older, newer=newer)


@plugin.tool(permission="chat.post")
async def discord_add_reaction(call: Call, args: ReactionArgs) -> Reacted:
    """Add the bot's reaction to a message: a Unicode emoji or a custom one (<:name:id>)."""
    try:
        emoji = Emoji.parse(args.emoji)
    except ValueError as exc:
        raise InvalidArguments(str(exc), errors=[{"field": "emoji", "message": str(exc), "type": "emoji"}]) from None
    service = discord_of(call.app)
    place = await service.allowed_place(int(args.channel_id))
    form = emoji.api_form if emoji.id is not None else args.emoji.strip()
    await service.api.add_reaction(place.channel_id, args.message_id, form)
    return Reacted(channel_id=args.channel_id, message_id=args.message_id, emoji=str(args.emoji.strip()))
