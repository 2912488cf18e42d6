"""Goose's own config.yaml kept in step with the hub's extensions, and config fragments for a new Goose."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.errors import PermissionDenied
from hub.extensions.goose_sync import GooseSync, SyncResult, render
from hub.extensions.store import ExtensionStore
from hub.plugin import Arguments
from hub.teams.service import placed_in

plugin = Plugin("goose-sync")


def sync_of(call: Call) -> GooseSync:
    return call.app.services.get(GooseSync)


class SyncArgs(Arguments):
    mode: Literal["pull", "push", "both"] = Field(
        default="both", description="pull: config.yaml -> hub; push: hub -> config.yaml; both ways."
    )
    dry_run: bool = Field(default=False, description="Only report what would change, with the file's diff.")
    prefer: Literal["hub", "goose"] = Field(
        default="hub", description="mode=both: whose version wins a conflict (both sides changed since last sync)."
    )
    secrets: Literal["ignore", "export", "import"] = Field(
        default="ignore",
        description="export: write the vault values of env_keys to Goose's secrets.yaml (0600); import: store "
        "values found there in the vault. Values never go into config.yaml.",
    )
    include_bundled: bool = Field(default=False, description="Also pull Goose's bundled builtin/platform entries.")
    team: str | None = Field(
        default=None,
        max_length=64,
        description="The team that extensions new to the hub (and imported secrets) go to; default: your own team. "
        "Extensions the hub has keep theirs.",
    )


class RenderArgs(Arguments):
    include_extensions: bool = Field(default=True, description="The extensions you may see, each as its own entry.")
    include_hub: bool = Field(
        default=True, description="The hub itself (streamable_http with a bearer token from GOOSUKE_TOKEN)."
    )
    enabled_only: bool = False


class Rendered(BaseModel):
    yaml: str = Field(description="A config.yaml fragment for a fresh Goose (~/.config/goose/config.yaml).")
    secrets_needed: list[str] = Field(description="Names Goose needs as environment variables or in secrets.yaml.")


@plugin.tool(permission="extensions.manage")
async def goose_config_sync(call: Call, args: SyncArgs) -> SyncResult:
    """Sync the hub's extensions with Goose's config.yaml (GOOSUKE_GOOSE_CONFIG_PATH): pull, push or both.
    Comments and keys the hub does not own are kept, writes are atomic with a .bak copy, conflicts are
    reported with both versions. dry_run shows the diff without writing. The file holds every team's
    extensions, so this needs extensions.manage hub-wide."""
    if call.principal.grants.teams_with("extensions.manage") is not None:
        raise PermissionDenied(
            "Goose's config.yaml on the hub's host holds every team's extensions: syncing it needs the "
            f"extensions.manage permission hub-wide (a platform role); you ({call.principal.name}) hold it only in "
            "some teams. Use goose_config_render for a config of your own."
        )
    async with call.app.db.session() as session:
        team_id = await placed_in(session, call.principal, "extensions.manage", args.team)
    return await sync_of(call).sync(
        args.mode,
        actor=call.principal.name,
        dry_run=args.dry_run,
        prefer=args.prefer,
        secrets=args.secrets,
        include_bundled=args.include_bundled,
        team_id=team_id,
    )


@plugin.tool(permission="extensions.read", read_only=True)
async def goose_config_render(call: Call, args: RenderArgs) -> Rendered:
    """Render a complete config.yaml `extensions:` fragment for a fresh Goose: the extensions you may see
    and the hub itself. Secrets are named (env_keys), never included."""
    store = call.app.services.get(ExtensionStore)
    records = (
        await store.records(enabled_only=args.enabled_only, principal=call.principal) if args.include_extensions else []
    )
    needed = sorted({k for r in records for k in getattr(r.config, "env_keys", [])})
    if args.include_hub:
        needed = sorted({*needed, "GOOSUKE_TOKEN"})
    hub_url = call.app.settings.base_url if args.include_hub else None
    return Rendered(yaml=render(records, hub_url), secrets_needed=needed)
