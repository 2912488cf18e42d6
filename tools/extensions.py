"""Extensions (MCP servers agents use), in Goose's own schema, and the federation that serves their tools.

Each extension belongs to a team and is ``private``, ``team`` or ``public``; reading needs
extensions.read and changing extensions.manage where it lives (a stdio extension is a program the hub
runs). Who may call its tools through the hub is its ``role`` on its team (``hub.extensions.access``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from hub import AppContext, Call, Plugin, Role
from hub.clock import UtcDatetime
from hub.errors import ConfigError
from hub.extensions.access import refusal
from hub.extensions.schema import MODELS, ExtensionConfig
from hub.extensions.store import ExtensionRecord, ExtensionStore
from hub.federation.check import CheckReport
from hub.federation.listing import SEP
from hub.federation.service import Federation
from hub.plugin import Arguments
from hub.teams.service import placed_in

plugin = Plugin("extensions")

EXTENSION_MODELS = {model.__name__ for model in MODELS.values()}
NAME = Field(min_length=1, max_length=255, description="The extension's name or key (Goose's name_to_key).")
Visibility = Literal["private", "team", "public"]
TEAM = Field(default=None, max_length=64, description="The team it belongs to (default: your own team).")
VISIBILITY_HELP = (
    "private (only you), team (its team's members) or public (every team may see it and use its tools; only its "
    "team changes it)."
)


def store_of(call: Call) -> ExtensionStore:
    return call.app.services.get(ExtensionStore)


def federation_of(app: AppContext) -> Federation | None:
    return app.services.find(Federation)


class ExtensionView(BaseModel):
    key: str = Field(description="Goose's key: name_to_key(name). Its tools are served as {key}__{tool}.")
    name: str
    type: str
    enabled: bool
    role: Role = Field(description="The role needed to call this extension's tools through the hub.")
    team: str | None = Field(description="The team that owns it (its secrets come from that team).")
    visibility: str = Field(description=VISIBILITY_HELP)
    source: str = Field(description="hub, goose (pulled from config.yaml) or catalog:<name>.")
    config: dict[str, Any] = Field(description="The entry exactly as Goose's config.yaml holds it (no secrets).")
    federated: bool = Field(description="Whether the hub can serve its tools (stdio, streamable_http, sse).")
    tools: list[str] = Field(description="Its tools as the hub serves them, from the last start.")
    left_out: list[str] = Field(
        default_factory=list,
        description="Tools it offers that its available_tools leave out (not served), by their own names.",
    )
    state: str = Field(description="stopped, starting, ready, backoff or failed.")
    last_error: str | None = None
    retry_at: UtcDatetime | None = Field(default=None, description="backoff: when the hub starts it again.")
    stderr_last_line: str | None = Field(
        default=None, description="backoff or failed (stdio): the last line it wrote to stderr, secrets masked."
    )
    discovered_at: UtcDatetime | None
    updated_at: UtcDatetime
    updated_by: str

    @classmethod
    def of(cls, record: ExtensionRecord, app: AppContext) -> ExtensionView:
        federation = federation_of(app)
        status: dict[str, Any] = (
            federation.status(record.key) if federation else {"state": "stopped", "last_error": None}
        )
        available = record.config.available_tools
        tools = [
            f"{record.key}{SEP}{t['name']}"
            for t in (record.discovered or {}).get("tools", [])
            if not available or t["name"] in available
        ]
        offered = [t["name"] for t in (record.discovered or {}).get("tools", [])]
        return cls(
            key=record.key,
            name=record.name,
            type=record.type,
            enabled=record.enabled,
            role=record.role,
            team=record.team,
            visibility=record.visibility,
            source=record.source,
            config=record.goose_entry(),
            federated=record.federated,
            tools=tools,
            left_out=[name for name in offered if available and name not in available],
            state=status["state"],
            last_error=status["last_error"],
            retry_at=status.get("retry_at"),
            stderr_last_line=status.get("stderr_last_line"),
            discovered_at=record.discovered_at,
            updated_at=record.updated_at,
            updated_by=record.updated_by,
        )


class ExtensionChanged(BaseModel):
    extension: ExtensionView
    warnings: list[str] = Field(default_factory=list, description="Things to look at; nothing was refused.")
    start_error: str | None = Field(default=None, description="Why it could not be started to list its tools.")


class ExtensionAdd(Arguments):
    extension: ExtensionConfig = Field(
        description="Goose's fields, e.g. {type: stdio, name, cmd, args, envs, env_keys, timeout} or "
        "{type: streamable_http, name, uri, headers, env_keys, timeout}. Secrets go in the vault "
        "(secret_set) and are named in env_keys, never written in envs or headers."
    )
    enabled: bool = Field(
        default=True, description="Whether Goose and the hub use it; Goose's own `enabled` in `extension` is the same."
    )
    role: Role = Field(default=Role.operator, description="The role needed to call its tools through the hub.")
    team: str | None = TEAM
    visibility: Visibility = Field(default="team", description=VISIBILITY_HELP)
    start: bool = Field(default=True, description="Start it now to list its tools (it stops again when idle).")

    @model_validator(mode="before")
    @classmethod
    def _goose_enabled(cls, data: Any) -> Any:
        """An entry pasted from Goose's config.yaml carries Goose's own ``enabled`` among its fields: it is
        the hub's ``enabled`` (kept beside the entry, as Goose's ``ExtensionEntry`` does)."""
        entry = data.get("extension") if isinstance(data, dict) else None
        if not (isinstance(entry, dict) and "enabled" in entry):
            return data
        entry = dict(entry)
        inner = entry.pop("enabled")
        if "enabled" in data and data["enabled"] != inner:
            raise ValueError(
                f"extension.enabled ({inner!r}) and enabled ({data['enabled']!r}) differ; give only one of them"
            )
        return {**data, "extension": entry, "enabled": inner}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The schema, with Goose's ``enabled`` allowed in each kind of ``extension`` entry."""
        schema = super().model_json_schema(*args, **kwargs)
        for definition in schema.get("$defs", {}).values():
            if definition.get("title") in EXTENSION_MODELS:
                definition.setdefault("properties", {})["enabled"] = {
                    "type": "boolean",
                    "description": "Goose's own key, as config.yaml has it; the same as `enabled` beside `extension`.",
                }
        return schema


class ExtensionUpdate(Arguments):
    name: str = NAME
    changes: dict[str, Any] = Field(
        default_factory=dict, description="Goose fields to change, e.g. {timeout: 60, args: [...]}; null removes one."
    )
    enabled: bool | None = None
    role: Role | None = None
    visibility: Visibility | None = Field(default=None, description=VISIBILITY_HELP)


class ExtensionName(Arguments):
    name: str = NAME


class ExtensionListArgs(Arguments):
    enabled_only: bool = False


class Extensions(BaseModel):
    extensions: list[ExtensionView]


async def warm(app: AppContext, record: ExtensionRecord) -> str | None:
    """Start an enabled extension to discover its tools; returns why it failed, if it did."""
    federation = federation_of(app)
    if federation is None or not record.enabled or not record.federated:
        return None
    try:
        await federation.upstream(record).session(min(app.settings.extension_start_timeout, record.timeout))
    except Exception as exc:
        return getattr(exc, "message", None) or str(exc)
    return None


async def changed(call: Call, record: ExtensionRecord, warnings: list[str], start: bool) -> ExtensionChanged:
    error = await warm(call.app, record) if start else None
    record = await store_of(call).get(record.key, call.principal)
    return ExtensionChanged(extension=ExtensionView.of(record, call.app), warnings=warnings, start_error=error)


@plugin.tool(permission="extensions.manage")
async def extension_add(call: Call, args: ExtensionAdd) -> ExtensionChanged:
    """Add an extension (an MCP server agents use) in Goose's config format. Enabled stdio and
    streamable_http extensions are started once to list their tools, which the hub then serves as
    {key}__{tool}. Put secrets in the vault first (secret_set, in the same team) and name them in env_keys."""
    async with call.app.db.session() as session:
        team_id = await placed_in(session, call.principal, "extensions.manage", args.team)
    record, warnings = await store_of(call).add(
        args.extension,
        actor=call.principal.name,
        enabled=args.enabled,
        role=args.role,
        team_id=team_id,
        visibility=args.visibility,
        principal=call.principal,
    )
    return await changed(call, record, warnings, args.start)


@plugin.tool(permission="extensions.manage")
async def extension_update(call: Call, args: ExtensionUpdate) -> ExtensionChanged:
    """Change an extension: Goose fields in `changes` (null removes a field), `enabled`, `role` (who
    may call its tools through the hub) or `visibility`. A running server restarts with the new configuration."""
    record, warnings = await store_of(call).update(
        args.name,
        actor=call.principal.name,
        changes=args.changes,
        enabled=args.enabled,
        role=args.role,
        visibility=args.visibility,
        principal=call.principal,
    )
    return await changed(call, record, warnings, bool(args.changes) and record.enabled)


@plugin.tool(permission="extensions.manage", destructive=True)
async def extension_remove(call: Call, args: ExtensionName) -> ExtensionView:
    """Remove an extension; its server is stopped and its tools disappear from the hub."""
    record = await store_of(call).remove(args.name, actor=call.principal.name, principal=call.principal)
    return ExtensionView.of(record, call.app)


@plugin.tool(permission="extensions.read", read_only=True)
async def extension_get(call: Call, args: ExtensionName) -> ExtensionView:
    """Show one extension: its Goose entry, role, state and the tools the hub serves from it."""
    return ExtensionView.of(await store_of(call).get(args.name, call.principal), call.app)


@plugin.tool(permission="extensions.read", read_only=True)
async def extension_list(call: Call, args: ExtensionListArgs) -> Extensions:
    """List the extensions you may see (your teams', public ones, your private ones) with their state and tools."""
    records = await store_of(call).records(enabled_only=args.enabled_only, principal=call.principal)
    return Extensions(extensions=[ExtensionView.of(r, call.app) for r in records])


@plugin.tool(permission="extensions.manage")
async def extension_enable(call: Call, args: ExtensionName) -> ExtensionChanged:
    """Enable an extension: Goose and the hub use it again."""
    record, warnings = await store_of(call).update(
        args.name, actor=call.principal.name, enabled=True, principal=call.principal
    )
    return await changed(call, record, warnings, True)


@plugin.tool(permission="extensions.manage")
async def extension_disable(call: Call, args: ExtensionName) -> ExtensionChanged:
    """Disable an extension: its server stops and its tools disappear; its configuration is kept."""
    record, warnings = await store_of(call).update(
        args.name, actor=call.principal.name, enabled=False, principal=call.principal
    )
    return await changed(call, record, warnings, False)


@plugin.tool(permission="extensions.read", read_only=True)
async def extension_check(call: Call, args: ExtensionName) -> CheckReport:
    """Start (or connect to) an extension on a connection of its own, list its tools, resources and
    prompts, report the latency and any error (with the end of its stderr), then stop it."""
    record = await store_of(call).get(args.name, call.principal)
    denied = refusal(call.principal, record, f"extension {args.name!r}")  # starting it hands it its secrets
    if denied is not None:
        raise denied
    federation = federation_of(call.app)
    if federation is None:
        raise ConfigError("Federation is not running; the hub is starting or stopping. Try again.")
    return await federation.check(record)
