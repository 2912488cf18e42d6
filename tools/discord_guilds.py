"""Discord guilds, channels, threads and search as tools (see tools/discord.py for messages)."""

from __future__ import annotations

from typing import Any, Literal

import discord
from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.discord import DiscordService
from hub.discord.text import Snowflake
from hub.errors import InvalidArguments
from hub.plugin import Arguments, NoArguments
from tools.discord import MAX_CONTENT, MessageView, discord_of, post_messages

plugin = Plugin("discord-guilds")

CHANNEL_TYPES = {0: "text", 2: "voice", 4: "category", 5: "announcement", 10: "announcement_thread", 11: "thread",
                 12: "private_thread", 13: "stage", 15: "forum", 16: "media"}  # fmt: skip


class SearchQuery(Arguments):
    guild_id: Snowflake = Field(description="The guild to search.")
    content: str | None = Field(default=None, max_length=1024, description="Words the messages contain.")
    author_id: Snowflake | None = Field(default=None)
    channel_id: Snowflake | None = Field(default=None)
    has: list[Literal["link", "embed", "file", "image", "video", "sound", "sticker", "poll"]] = Field(
        default_factory=list
    )
    limit: int = Field(default=25, ge=1, le=25)
    offset: int = Field(default=0, ge=0, le=9975)


class SearchResult(BaseModel):
    total_results: int = Field(description="Matches Discord counted (some may be in channels the hub may not show).")
    messages: list[MessageView]
    next_offset: int | None = Field(description="Pass as `offset` for more; None when there are no more.")


class GuildView(BaseModel):
    id: str
    name: str
    channels: int = Field(description="Channels the bot can see (threads not counted).")


class GuildList(BaseModel):
    guilds: list[GuildView]


class GuildRef(Arguments):
    guild_id: Snowflake = Field(description="The guild id (see discord_list_guilds).")
    threads: bool = Field(default=True, description="Include active threads.")


class ChannelView(BaseModel):
    id: str
    name: str
    type: str = Field(description="text, voice, category, announcement, forum, thread, private_thread...")
    parent_id: str | None = Field(description="The category of a channel, the channel of a thread.")
    position: int | None = None
    archived: bool | None = Field(default=None, description="Threads only.")


class ChannelList(BaseModel):
    channels: list[ChannelView]


class CreateThread(Arguments):
    channel_id: Snowflake = Field(description="The channel to open the thread in.")
    name: str = Field(min_length=1, max_length=100)
    message_id: Snowflake | None = Field(default=None, description="Open it on this message.")
    auto_archive_minutes: Literal[60, 1440, 4320, 10080] = Field(default=1440)
    content: str | None = Field(default=None, max_length=MAX_CONTENT, description="A first message to post in it.")


class ThreadView(BaseModel):
    id: str
    name: str
    parent_id: str
    link: str
    messages: list[MessageView] = Field(default_factory=list, description="The first message(s), when given.")


def _id(value: str | None) -> int | None:
    return int(value) if value is not None else None


@plugin.tool(read_only=True, permission="chat.read")
async def discord_search_messages(call: Call, args: SearchQuery) -> SearchResult:
    """Search a guild's messages by words, author, channel or attachments (Discord's search, newest first,
    at most 25 per page). Waits briefly while Discord is still indexing the guild."""
    service = discord_of(call.app)
    guild_id = int(args.guild_id)
    if args.channel_id:
        place = await service.allowed_place(int(args.channel_id))
        if place.guild_id != guild_id:
            raise InvalidArguments(f"Channel {args.channel_id} is not in guild {args.guild_id}.")
    data = await service.api.search_messages(
        guild_id,
        limit=args.limit,
        offset=args.offset,
        content=args.content,
        author_id=args.author_id,
        channel_id=args.channel_id,
        has=args.has,
    )
    found = [group[0] for group in data.get("messages") or [] if group]
    visible = []
    for message in found:
        if await service.scopes.allowed(guild_id, int(message["channel_id"]), await _parent(service, message)):
            visible.append(MessageView.of(message, guild_id))
    total = int(data.get("total_results") or 0)
    more = args.offset + len(found) < total and found
    return SearchResult(total_results=total, messages=visible, next_offset=args.offset + len(found) if more else None)


async def _parent(service: DiscordService, message: dict[str, Any]) -> int | None:
    client = await service.ready()
    channel = client.get_channel(int(message["channel_id"]))
    return channel.parent_id if isinstance(channel, discord.Thread) else None


@plugin.tool(read_only=True, permission="chat.read")
async def discord_list_guilds(call: Call, args: NoArguments) -> GuildList:
    """List the Discord guilds (servers) the bot is in and the hub may touch."""
    service = discord_of(call.app)
    client = await service.ready()
    guilds = []
    for guild in sorted(client.guilds, key=lambda g: g.name.lower()):
        if await service.scopes.guild_visible(guild.id, (c.id for c in guild.channels)):
            guilds.append(GuildView(id=str(guild.id), name=guild.name, channels=len(guild.channels)))
    return GuildList(guilds=guilds)


@plugin.tool(read_only=True, permission="chat.read")
async def discord_list_channels(call: Call, args: GuildRef) -> ChannelList:
    """List a guild's channels and (by default) its active threads, as the hub may touch them."""
    service = discord_of(call.app)
    guild_id = int(args.guild_id)
    channels = await service.api.guild_channels(guild_id)
    if args.threads:
        channels += await service.api.active_threads(guild_id)
    out = []
    for data in channels:
        channel_id, parent_id = int(data["id"]), _id(data.get("parent_id"))
        thread = data.get("type") in (10, 11, 12)
        if not await service.scopes.allowed(guild_id, channel_id, parent_id if thread else None):
            continue
        out.append(
            ChannelView(
                id=str(channel_id),
                name=str(data.get("name") or ""),
                type=CHANNEL_TYPES.get(int(data.get("type", 0)), str(data.get("type"))),
                parent_id=str(parent_id) if parent_id else None,
                position=data.get("position"),
                archived=(data.get("thread_metadata") or {}).get("archived") if thread else None,
            )
        )
    return ChannelList(channels=out)


@plugin.tool(permission="chat.post")
async def discord_create_thread(call: Call, args: CreateThread) -> ThreadView:
    """Open a thread in a channel, on a message or on its own, and optionally post a first message in it."""
    service = discord_of(call.app)
    place = await service.allowed_place(int(args.channel_id))
    thread = await service.api.create_thread(
        place.channel_id, args.name, message_id=args.message_id, auto_archive_minutes=args.auto_archive_minutes
    )
    thread_id = int(thread["id"])
    posted = await post_messages(service, thread_id, args.content) if args.content else []
    return ThreadView(
        id=str(thread_id),
        name=str(thread.get("name") or args.name),
        parent_id=str(place.channel_id),
        link=f"https://discord.com/channels/{place.guild_id}/{thread_id}",
        messages=[MessageView.of(m, place.guild_id) for m in posted],
    )
