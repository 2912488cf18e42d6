"""Reaction bindings: an emoji in a guild or channel runs a template, its parameters filled from the event.

Bindings are actions of kind ``reaction`` (they show in action_list, and action_enable/disable and
action_firings work on them). The default binding, ``discord-summary``, maps ✏️ and 📝 to
meeting-summary; it is created when the bot first starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.clock import UtcDatetime
from hub.db.models import Action
from hub.discord import EVENT_FIELDS, Emoji, reaction_config
from hub.discord.runs import recent_runs
from hub.discord.text import Snowflake
from hub.errors import InvalidArguments
from hub.plugin import Arguments
from tools.actions import Owned, Owning, Reowning, actions_of, names_of, ownership, placed, revisibility

plugin = Plugin("discord-reactions")

EventField = Literal[
    "history",
    "channel",
    "channel_id",
    "guild",
    "guild_id",
    "message",
    "message_id",
    "message_link",
    "author",
    "author_id",
    "reactor",
    "reactor_id",
    "emoji",
    "language",
]
MAPPING_HELP = "Template parameter -> event field: " + "; ".join(f"{k}: {v}" for k, v in EVENT_FIELDS.items()) + "."


class BindingView(Owned):
    name: str
    emojis: list[str]
    template: str
    guild_id: str | None = Field(description="Only in this guild; None: every guild.")
    channel_id: str | None = Field(description="Only in this channel and its threads; None: every channel.")
    mapping: dict[str, str]
    params: dict[str, Any]
    enabled: bool
    last_fired_at: UtcDatetime | None
    created_by: str

    @classmethod
    def of(cls, row: Action, teams: Mapping[str, str] | None = None) -> BindingView:
        config = row.config
        emojis = [f"<:{e['name']}:{e['id']}>" if e.get("id") else e["name"] for e in config.get("emojis") or []]
        return cls(
            name=row.name,
            emojis=emojis,
            template=row.template,
            guild_id=config.get("guild_id"),
            channel_id=config.get("channel_id"),
            mapping=row.mapping,
            params=row.params,
            enabled=row.enabled,
            last_fired_at=row.last_fired_at,
            created_by=row.created_by,
            **ownership(row, teams or {}),
        )


class BindingCreate(Owning):
    name: str = Field(min_length=1, max_length=64, description="Unique action name: lowercase, digits, - and _.")
    emojis: list[str] = Field(
        min_length=1, max_length=10, description="Unicode emoji (✏️ matches with or without U+FE0F) or <:name:id>."
    )
    template: str = Field(min_length=1, max_length=64)
    guild_id: Snowflake | None = Field(default=None, description="Only in this guild.")
    channel_id: Snowflake | None = Field(default=None, description="Only in this channel and threads.")
    mapping: dict[str, EventField] = Field(default_factory=dict, description=MAPPING_HELP)
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed parameter values.")
    enabled: bool = True


class BindingUpdate(Reowning):
    name: str = Field(min_length=1, max_length=64)
    emojis: list[str] | None = Field(default=None, min_length=1, max_length=10)
    template: str | None = Field(default=None, max_length=64)
    guild_id: Snowflake | None = Field(default=None)
    channel_id: Snowflake | None = Field(default=None)
    mapping: dict[str, EventField] | None = None
    params: dict[str, Any] | None = None
    enabled: bool | None = None


class BindingName(Arguments):
    name: str = Field(min_length=1, max_length=64)


class BindingFilter(Arguments):
    enabled: bool | None = None


class BindingList(BaseModel):
    bindings: list[BindingView]


class RunQuery(Arguments):
    name: str | None = Field(default=None, max_length=64, description="Only this binding's runs.")
    channel_id: Snowflake | None = Field(default=None)
    status: Literal["collecting", "running", "posting", "posted", "failed"] | None = None
    limit: int = Field(default=50, ge=1, le=500)


class RunView(BaseModel):
    binding: str
    template: str
    message_link: str
    reactor: str
    status: str = Field(description="collecting, running, posting, posted or failed.")
    execution_id: str | None
    detail: str | None = Field(description="Why it failed.")
    replies: list[str] = Field(description="Ids of the messages the result was posted as.")
    created_at: UtcDatetime
    updated_at: UtcDatetime


class RunList(BaseModel):
    runs: list[RunView]


def _emojis(values: list[str]) -> list[Emoji]:
    out = []
    for value in values:
        try:
            emoji = Emoji.parse(value)
        except ValueError as exc:
            raise InvalidArguments(
                str(exc), errors=[{"field": "emojis", "message": str(exc), "type": "emoji"}]
            ) from None
        if emoji not in out:
            out.append(emoji)
    return out


@plugin.tool(permission="triggers.manage")
async def discord_reaction_create(call: Call, args: BindingCreate) -> BindingView:
    """Bind emoji to a template: reacting with one of them on a message (in the guild/channel scope) runs
    the template once per message, with parameters mapped from the event (e.g. transcript <- history),
    and posts the output as a reply. Required template parameters must be mapped or fixed now. Its runs
    belong to the binding's team."""
    owner = await placed(call, args, args.template)
    row = await actions_of(call.app).create(
        name=args.name,
        kind="reaction",
        template=args.template,
        params=args.params,
        mapping=dict(args.mapping),
        config=reaction_config(_emojis(args.emojis), args.guild_id, args.channel_id),
        enabled=args.enabled,
        actor=call.principal.name,
        **owner,
    )
    return BindingView.of(row, await names_of(call.app, [row]))


@plugin.tool(read_only=True, permission="triggers.read")
async def discord_reaction_list(call: Call, args: BindingFilter) -> BindingList:
    """List reaction bindings: emoji, scope, template, parameter mapping."""
    rows = await actions_of(call.app).matching("reaction", args.enabled, call.principal)
    teams = await names_of(call.app, rows)
    return BindingList(bindings=[BindingView.of(r, teams) for r in rows])


@plugin.tool(permission="triggers.manage")
async def discord_reaction_update(call: Call, args: BindingUpdate) -> BindingView:
    """Change a reaction binding; only the fields given change (the scope fields replace both ids)."""
    service = actions_of(call.app)
    row = await service.get(args.name, "reaction", call.principal, change=True)
    config = row.config
    emojis = _emojis(args.emojis) if args.emojis is not None else [Emoji.parse(e) for e in BindingView.of(row).emojis]
    scoped = "guild_id" in args.model_fields_set or "channel_id" in args.model_fields_set
    guild = args.guild_id if scoped else config.get("guild_id")
    channel = args.channel_id if scoped else config.get("channel_id")
    template = args.template or row.template
    mapping = dict(args.mapping) if args.mapping is not None else row.mapping
    params = args.params if args.params is not None else row.params
    await service.check_template(template, params, set(mapping), team_id=row.team_id, principal=call.principal)
    new_config = reaction_config(emojis, guild, channel)
    if config.get("run_visibility"):
        new_config["run_visibility"] = config["run_visibility"]
    changes: dict[str, Any] = {
        "template": template,
        "mapping": mapping,
        "params": params,
        "config": new_config,
        **revisibility(args, new_config),
    }
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    saved = await service.save(row, call, **changes)
    return BindingView.of(saved, await names_of(call.app, [saved]))


@plugin.tool(permission="triggers.manage", destructive=True)
async def discord_reaction_delete(call: Call, args: BindingName) -> BindingView:
    """Delete a reaction binding and its history (executions it started stay)."""
    row = await actions_of(call.app).delete(args.name, "reaction", call.principal)
    return BindingView.of(row, await names_of(call.app, [row]))


@plugin.tool(read_only=True, permission="triggers.read")
async def discord_reaction_runs(call: Call, args: RunQuery) -> RunList:
    """Recent reaction runs, newest first: who reacted where, the execution, and what was posted or why not."""
    channel = int(args.channel_id) if args.channel_id else None
    rows = await recent_runs(call.app.db, args.name, channel, args.status, args.limit, call.principal)
    return RunList(
        runs=[
            RunView(
                binding=name,
                template=run.template,
                message_link=f"https://discord.com/channels/{run.guild_id}/{run.channel_id}/{run.message_id}",
                reactor=run.reactor,
                status=run.status,
                execution_id=run.execution_id,
                detail=run.detail,
                replies=list((run.result or {}).get("replies") or []),
                created_at=run.created_at,
                updated_at=run.updated_at,
            )
            for run, name in rows
        ]
    )
