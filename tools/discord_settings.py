"""Discord settings per guild and channel, the allow-list, and the bot's status.

A channel inherits from its parent channel (for a thread), which inherits from its guild, which
inherits from the hub's defaults (GOOSUKE_DISCORD_HISTORY_LIMIT, ...). The allow-list limits every
Discord tool and every reaction action to the guilds and channels on it; empty, it allows all.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from hub import Call, Plugin
from hub.clock import UtcDatetime
from hub.db.models import DiscordScope
from hub.discord import EffectiveConfig, ScopeConfig
from hub.discord.scopes import ScopeKind, sees
from hub.discord.text import Snowflake
from hub.errors import InvalidArguments, NotFound
from hub.plugin import Arguments, NoArguments
from hub.teams import policy
from hub.triggers.ownership import placement, team_names
from tools.discord import discord_of

plugin = Plugin("discord-settings")

SettingName = Literal[
    "enabled", "actions", "allowed_roles", "language", "history_count", "history_hours", "post_to", "post_channel_id"
]


class ScopeRef(Arguments):
    guild_id: Snowflake | None = Field(default=None, description="A guild (server) id.")
    channel_id: Snowflake | None = Field(
        default=None, description="A channel or thread id; when given, the scope is the channel."
    )

    @model_validator(mode="after")
    def _one_scope(self) -> ScopeRef:
        if self.guild_id is None and self.channel_id is None:
            raise ValueError("give a guild_id or a channel_id")
        return self

    @property
    def kind(self) -> Literal["guild", "channel"]:
        return "channel" if self.channel_id is not None else "guild"

    @property
    def discord_id(self) -> int:
        if self.channel_id is not None:
            return int(self.channel_id)
        assert self.guild_id is not None  # _one_scope: a guild_id when there is no channel_id
        return int(self.guild_id)


class SettingsUpdate(ScopeRef, ScopeConfig):
    unset: list[SettingName] = Field(default_factory=list, description="Settings to forget (they inherit again).")
    team: str | None = Field(
        default=None, min_length=1, max_length=64, description="The team that owns new settings here; default: yours."
    )
    visibility: Literal["team", "public"] | None = Field(
        default=None, description="Who may read them: team (default) or public; only the owning team changes them."
    )


class ScopeView(BaseModel):
    kind: Literal["guild", "channel"]
    id: str
    guild_id: str | None
    allowed: bool = Field(description="On the allow-list.")
    settings: ScopeConfig = Field(description="What is set here (unset fields inherit).")
    updated_at: UtcDatetime
    updated_by: str
    team: str | None = Field(default=None, description="The owning team: who may change these settings.")
    visibility: Literal["team", "public"] = "team"

    @classmethod
    def of(cls, row: DiscordScope, teams: dict[str, str] | None = None) -> ScopeView:
        return cls(
            kind=row.kind,  # type: ignore[arg-type]  # a str column; pydantic checks the Literal
            id=str(row.discord_id),
            guild_id=str(row.guild_id) if row.guild_id else None,
            allowed=row.allowed,
            settings=ScopeConfig.model_validate(row.config or {}),
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            team=(teams or {}).get(row.team_id, row.team_id) if row.team_id else None,
            visibility="public" if row.visibility == "public" else "team",
        )


class SettingsView(BaseModel):
    scope: ScopeView | None = Field(description="The stored row; None when nothing is set here.")
    effective: EffectiveConfig = Field(description="What applies here after inheritance.")


class ScopeList(BaseModel):
    scopes: list[ScopeView]


class Allowlist(BaseModel):
    open: bool = Field(description="True when the list is empty: every guild the bot is in is allowed.")
    guilds: list[str]
    channels: list[str]
    from_settings: dict[str, list[str]] = Field(
        description="Entries from GOOSUKE_DISCORD_ALLOWED_GUILDS / _CHANNELS (change them in the environment)."
    )


class Status(BaseModel):
    connection: dict[str, Any] = Field(description="state (off, connecting, ready, reconnecting, unavailable, failed).")
    allowlist: Allowlist


async def _guild_and_parent(call: Call, ref: ScopeRef) -> tuple[int | None, int | None]:
    """The guild and parent of the scope: from the arguments, else from Discord when the bot is connected."""
    guild = int(ref.guild_id) if ref.guild_id else None
    if ref.channel_id is None:
        return guild, None
    service = discord_of(call.app)
    if service.connected:
        place = await service.place(int(ref.channel_id))
        return place.guild_id or guild, place.parent_id
    return guild, None


@plugin.tool(read_only=True, permission="chat.read")
async def discord_settings_get(call: Call, args: ScopeRef) -> SettingsView:
    """The Discord settings of a guild or a channel: what is set there and what applies after inheritance
    (enabled, which reaction actions, allowed roles, language, history window, where results go)."""
    scopes = discord_of(call.app).scopes
    guild, parent = await _guild_and_parent(call, args)
    row = await scopes.get(args.kind, args.discord_id)
    if row is not None and not sees(call.principal, row):
        row = None  # another team's settings: what applies here shows, not whose they are
    channel = args.discord_id if args.kind == "channel" else None
    effective = await scopes.effective(guild, channel, parent)
    view = ScopeView.of(row, await team_names(call.app.db, [row.team_id])) if row else None
    return SettingsView(scope=view, effective=effective)


async def _new_team(call: Call, kind: ScopeKind, discord_id: int, team: str | None, permission: str) -> str | None:
    """The team a scope row goes to if it is new (checked: ``permission`` there); None when it exists
    (then ``team`` must be its team: settings move with team_transfer)."""
    current = await discord_of(call.app).scopes.get(kind, discord_id)
    if current is None:
        if team is None:
            return policy.owner_team(call.principal, permission, None)
        team_id, _ = await placement(call.app.db, call.principal, permission, team, None, "team")
        return team_id
    if team is not None:
        names = await team_names(call.app.db, [current.team_id])
        if team not in (current.team_id, names.get(current.team_id or "")):
            raise InvalidArguments(
                f"The settings of {kind} {discord_id} belong to another team already; move them with team_transfer.",
                errors=[{"field": "team", "message": "already owned by another team", "type": "conflict"}],
            )
    return None


@plugin.tool(permission="chat.settings")
async def discord_settings_set(call: Call, args: SettingsUpdate) -> SettingsView:
    """Change the Discord settings of a guild or a channel; only the fields given change, `unset` forgets
    some. A channel's settings override its guild's."""
    changes = args.model_dump(include=set(ScopeConfig.model_fields), exclude_unset=True, exclude_none=True)
    if args.post_to == "channel" and not (args.post_channel_id or "post_channel_id" in changes):
        current = await discord_of(call.app).scopes.get(args.kind, args.discord_id)
        if not (current and (current.config or {}).get("post_channel_id")):
            raise InvalidArguments(
                "post_to=channel needs post_channel_id: the channel results go to.",
                errors=[{"field": "post_channel_id", "message": "required with post_to=channel", "type": "missing"}],
            )
    team_id = await _new_team(call, args.kind, args.discord_id, args.team, "chat.settings")
    guild, _ = await _guild_and_parent(call, args)
    await discord_of(call.app).scopes.update(
        args.kind,
        args.discord_id,
        actor=call.principal.name,
        config=changes,
        unset=list(args.unset),
        guild_id=guild if args.kind == "channel" else None,
        principal=call.principal,
        team_id=team_id,
        visibility=args.visibility,
    )
    return await discord_settings_get(call, ScopeRef(guild_id=args.guild_id, channel_id=args.channel_id))


@plugin.tool(read_only=True, permission="chat.read")
async def discord_settings_list(call: Call, args: NoArguments) -> ScopeList:
    """Every guild and channel with Discord settings or an allow-list entry."""
    rows = [r for r in await discord_of(call.app).scopes.entries() if sees(call.principal, r)]
    teams = await team_names(call.app.db, (r.team_id for r in rows))
    return ScopeList(scopes=[ScopeView.of(r, teams) for r in rows])


@plugin.tool(permission="chat.settings")
async def discord_settings_reset(call: Call, args: ScopeRef) -> SettingsView:
    """Forget every setting of a guild or channel (it inherits again); its allow-list entry stays."""
    scopes = discord_of(call.app).scopes
    if await scopes.reset(args.kind, args.discord_id, call.principal.name, call.principal) is None:
        raise NotFound(f"No settings are stored for {args.kind} {args.discord_id}; see discord_settings_list.")
    return await discord_settings_get(call, args)


async def _allowlist(call: Call) -> Allowlist:
    guilds, channels = await discord_of(call.app).scopes.allowlist()
    settings = call.app.settings
    return Allowlist(
        open=not guilds and not channels,
        guilds=sorted(str(g) for g in guilds),
        channels=sorted(str(c) for c in channels),
        from_settings={"guilds": settings.discord_allowed_guilds, "channels": settings.discord_allowed_channels},
    )


@plugin.tool(read_only=True, permission="chat.read")
async def discord_allowlist_get(call: Call, args: NoArguments) -> Allowlist:
    """The guilds and channels the hub may touch (Discord tools and reaction actions). Empty means all."""
    return await _allowlist(call)


@plugin.tool(permission="chat.manage")
async def discord_allowlist_add(call: Call, args: ScopeRef) -> Allowlist:
    """Allow the hub to touch a guild (all its channels) or one channel (and its threads). Once the list
    has an entry, everything not on it is refused."""
    team_id = await _new_team(call, args.kind, args.discord_id, None, "chat.manage")
    guild, _ = await _guild_and_parent(call, args)
    await discord_of(call.app).scopes.update(
        args.kind,
        args.discord_id,
        actor=call.principal.name,
        allowed=True,
        guild_id=guild if args.kind == "channel" else None,
        principal=call.principal,
        permission="chat.manage",
        team_id=team_id,
    )
    return await _allowlist(call)


@plugin.tool(permission="chat.manage")
async def discord_allowlist_remove(call: Call, args: ScopeRef) -> Allowlist:
    """Take a guild or channel off the allow-list (its settings stay). When the list becomes empty, the hub
    may touch every guild the bot is in again."""
    scopes = discord_of(call.app).scopes
    configured = call.app.settings.discord_allowed_channels + call.app.settings.discord_allowed_guilds
    if str(args.discord_id) in configured:
        raise InvalidArguments(
            f"{args.kind} {args.discord_id} is listed by GOOSUKE_DISCORD_ALLOWED_GUILDS/_CHANNELS: change the "
            "environment and restart the hub to remove it."
        )
    row = await scopes.get(args.kind, args.discord_id)
    if row is None or not row.allowed:
        raise NotFound(f"{args.kind} {args.discord_id} is not on the allow-list; see discord_allowlist_get.")
    await scopes.update(
        args.kind,
        args.discord_id,
        actor=call.principal.name,
        allowed=False,
        principal=call.principal,
        permission="chat.manage",
    )
    return await _allowlist(call)


@plugin.tool(read_only=True, permission="chat.read")
async def discord_status(call: Call, args: NoArguments) -> Status:
    """The bot's connection (state, why, since when) and the allow-list."""
    return Status(connection=discord_of(call.app).status(), allowlist=await _allowlist(call))
