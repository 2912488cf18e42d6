"""Per-guild and per-channel Discord settings, and the allow-list of what the hub may touch.

A channel's effective settings are the hub's defaults, overridden by its guild's row, then by its
parent channel's row (for a thread), then by its own row. The allow-list is the union of
``GOOSUKE_DISCORD_ALLOWED_GUILDS``/``_CHANNELS`` and the rows marked ``allowed``; when it is empty
the hub may touch every guild the bot is in. A guild on the list allows all its channels; a
channel on the list allows its threads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from hub.db import Database
from hub.db.models import DiscordScope, utcnow
from hub.discord.text import Snowflake
from hub.errors import InvalidArguments, PermissionDenied
from hub.principal import Principal
from hub.settings import Settings
from hub.teams import policy

ScopeKind = Literal["guild", "channel"]
PostTo = Literal["reply", "thread", "channel"]


class ScopeConfig(BaseModel):
    """Settings of one guild or channel; unset fields inherit (channel -> parent -> guild -> defaults)."""

    enabled: bool | None = Field(default=None, description="Reaction actions fire here.")
    actions: list[str] | None = Field(
        default=None, description="Names of the reaction actions that apply here; unset: all."
    )
    allowed_roles: list[str] | None = Field(
        default=None, description="Role ids or names allowed to trigger reaction actions; empty: everyone."
    )
    language: str | None = Field(default=None, max_length=40, description="Summary language; auto: the chat's.")
    history_count: int | None = Field(default=None, ge=1, le=20_000, description="History window: messages.")
    history_hours: float | None = Field(default=None, gt=0, le=24 * 365, description="History window: hours.")
    post_to: PostTo | None = Field(
        default=None, description="Where results go: reply (in place), thread (on the message) or channel."
    )
    post_channel_id: Snowflake | None = Field(
        default=None, description="The channel results go to when post_to is channel."
    )


class EffectiveConfig(BaseModel):
    enabled: bool
    actions: list[str] | None
    allowed_roles: list[str]
    language: str
    history_count: int
    history_hours: float
    post_to: PostTo
    post_channel_id: str | None


def defaults(settings: Settings) -> dict[str, Any]:
    return {
        "enabled": True,
        "actions": None,
        "allowed_roles": [],
        "language": "auto",
        "history_count": settings.discord_history_limit,
        "history_hours": settings.discord_history_hours,
        "post_to": "reply",
        "post_channel_id": None,
    }


@dataclass(frozen=True)
class _Owned:
    """A scope as the policy reads it: a scope has no creator, so it is never private."""

    team_id: str | None
    visibility: str
    created_by: None = None


def _owned(row: DiscordScope) -> _Owned:
    return _Owned(row.team_id, row.visibility or "team")


def sees(principal: Principal, row: DiscordScope) -> bool:
    """May ``principal`` read this scope's settings (``chat.read`` in its team, or it is public)?"""
    return policy.can_see(principal, "chat.read", _owned(row))


def check_scope_visibility(value: str | None) -> str | None:
    if policy.check_visibility(value) == "private":
        raise InvalidArguments(
            "A guild's or channel's settings apply to everyone there, so they cannot be private: use team or public.",
            errors=[{"field": "visibility", "message": "team or public", "type": "enum"}],
        )
    return value


class Scopes:
    """The store behind the discord_settings_* and discord_allowlist_* tools and the bot's checks.

    Who may change a stored scope: ``principal`` holding the tool's permission (``chat.settings``, or
    ``chat.manage`` for the allow-list) in the scope's team; a new scope goes to ``team_id``.
    """

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def get(self, kind: ScopeKind, discord_id: int) -> DiscordScope | None:
        async with self.db.session() as session:
            return await session.get(DiscordScope, (kind, discord_id))

    async def entries(self) -> list[DiscordScope]:
        async with self.db.session() as session:
            return list(
                await session.scalars(select(DiscordScope).order_by(DiscordScope.kind, DiscordScope.discord_id))
            )

    async def update(
        self,
        kind: ScopeKind,
        discord_id: int,
        *,
        actor: str,
        config: dict[str, Any] | None = None,
        unset: list[str] | None = None,
        allowed: bool | None = None,
        guild_id: int | None = None,
        principal: Principal | None = None,
        permission: str = "chat.settings",
        team_id: str | None = None,
        visibility: str | None = None,
    ) -> DiscordScope:
        """Merge ``config`` into the row (creating it in ``team_id``), drop the ``unset`` keys, set the
        allow-list flag and ``visibility``; an existing row only if ``principal`` may change it.

        Raises:
            NotFound, PermissionDenied: ``principal`` may not see, or not change, the stored scope.
        """
        check_scope_visibility(visibility)
        async with self.db.session() as session:
            row = await session.get(DiscordScope, (kind, discord_id))
            if row is None:
                row = DiscordScope(
                    kind=kind,
                    discord_id=discord_id,
                    allowed=False,
                    config={},
                    team_id=team_id or policy.DEFAULT_TEAM_ID,
                    visibility=visibility or "team",
                )
                session.add(row)
            else:
                if principal is not None:
                    self.require_change(principal, permission, row)
                if visibility is not None:
                    row.visibility = visibility
            merged = {**(row.config or {}), **(config or {})}
            for key in unset or []:
                merged.pop(key, None)
            row.config = merged
            if allowed is not None:
                row.allowed = allowed
            if guild_id is not None:
                row.guild_id = guild_id
            row.updated_at = utcnow()
            row.updated_by = actor
        return row

    @staticmethod
    def require_change(principal: Principal, permission: str, row: DiscordScope) -> None:
        policy.require_change(principal, permission, _owned(row), f"settings stored for {row.kind} {row.discord_id}")

    async def reset(
        self, kind: ScopeKind, discord_id: int, actor: str, principal: Principal | None = None
    ) -> DiscordScope | None:
        """Forget the settings of a guild or channel (its allow-list entry stays). None when none are stored
        (or ``principal`` may not see them)."""
        async with self.db.session() as session:
            row = await session.get(DiscordScope, (kind, discord_id))
            if row is None or (principal is not None and not sees(principal, row)):
                return None
            if principal is not None:
                self.require_change(principal, "chat.settings", row)
            if row.allowed:
                row.config, row.updated_at, row.updated_by = {}, utcnow(), actor
            else:
                await session.delete(row)
        return row

    # -- effective settings -------------------------------------------------------------

    async def effective(
        self, guild_id: int | None, channel_id: int | None, parent_id: int | None = None
    ) -> EffectiveConfig:
        rows = await self._rows(guild_id, [c for c in (parent_id, channel_id) if c is not None])
        merged = defaults(self.settings)
        order = [("guild", guild_id), ("channel", parent_id), ("channel", channel_id)]
        for kind, discord_id in order:
            row = rows.get((kind, discord_id)) if discord_id is not None else None
            if row is not None:
                merged.update({k: v for k, v in (row.config or {}).items() if v is not None and k in merged})
        return EffectiveConfig.model_validate(merged)

    async def _rows(self, guild_id: int | None, channel_ids: list[int]) -> dict[tuple[str, int], DiscordScope]:
        conditions = []
        if guild_id is not None:
            conditions.append(and_(DiscordScope.kind == "guild", DiscordScope.discord_id == guild_id))
        if channel_ids:
            conditions.append(and_(DiscordScope.kind == "channel", DiscordScope.discord_id.in_(channel_ids)))
        if not conditions:
            return {}
        async with self.db.session() as session:
            rows = await session.scalars(select(DiscordScope).where(or_(*conditions)))
            return {(r.kind, r.discord_id): r for r in rows}

    # -- the allow-list -----------------------------------------------------------------

    async def allowlist(self) -> tuple[set[int], set[int]]:
        """(guild ids, channel ids) on the allow-list: the settings' and the stored ones."""
        guilds = {int(g) for g in self.settings.discord_allowed_guilds}
        channels = {int(c) for c in self.settings.discord_allowed_channels}
        async with self.db.session() as session:
            for kind, discord_id in await session.execute(
                select(DiscordScope.kind, DiscordScope.discord_id).where(DiscordScope.allowed.is_(True))
            ):
                (guilds if kind == "guild" else channels).add(int(discord_id))
        return guilds, channels

    async def allowed(self, guild_id: int | None, channel_id: int | None = None, parent_id: int | None = None) -> bool:
        guilds, channels = await self.allowlist()
        if not guilds and not channels:
            return True
        if guild_id is not None and guild_id in guilds:
            return True
        return any(c is not None and c in channels for c in (channel_id, parent_id))

    async def guild_visible(self, guild_id: int, channel_ids: Iterable[int]) -> bool:
        """May the hub show this guild (it is listed, or one of the given channels of it is)?"""
        guilds, channels = await self.allowlist()
        if not guilds and not channels:
            return True
        return guild_id in guilds or any(c in channels for c in channel_ids)

    async def require(self, guild_id: int | None, channel_id: int | None = None, parent_id: int | None = None) -> None:
        """Raises PermissionDenied naming the allow-list when the hub may not touch this place."""
        if not await self.allowed(guild_id, channel_id, parent_id):
            where = f"channel {channel_id}" if channel_id is not None else f"guild {guild_id}"
            raise PermissionDenied(
                f"The hub may not touch {where}: it is not on the Discord allow-list. An admin can add it with "
                "discord_allowlist_add (or GOOSUKE_DISCORD_ALLOWED_GUILDS / _CHANNELS)."
            )
