"""Two-way sync between the hub's extensions and Goose's own ``config.yaml``.

The file is edited round-trip (ruamel.yaml): comments, key order and every key the hub does not own
stay as they were; only entries under ``extensions:`` that the sync changes are touched, and within an
entry only the fields of Goose's schema. Writes are atomic (a temporary file renamed over the old one)
and keep the previous file as ``config.yaml.bak``.

Each extension is compared three ways: the hub's version, the file's version and the version both had
at the last sync (a hash per file and key in ``goose_sync_state``). A side that differs from that base
has changed; if only one side changed its version is copied to the other. If both changed, it is a
conflict, resolved by a fixed rule: ``push`` keeps the hub's version, ``pull`` keeps Goose's, ``both``
keeps the side named by ``prefer`` (hub by default). A conflict is never silent: the result lists both
versions, the losing file version stays in ``config.yaml.bak`` and the losing hub version in the audit
log. Secret values are never written to ``config.yaml``: only ``env_keys`` names are; values go to
Goose's ``secrets.yaml`` (mode 0600) only when asked for (``secrets="export"``).

The file is the host's, so a sync sees every team's extensions; the tool asks for extensions.manage
hub-wide. Entries pulled in for the first time (and imported secrets) go to the team the sync names
(``team_id``); an entry that exists already keeps its team and visibility.
"""

from __future__ import annotations

import difflib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, Field
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from sqlalchemy import delete, select

from hub.accounts import audit
from hub.db import Database
from hub.db.models import GooseSyncEntry
from hub.errors import Conflict, GoosukeError, ToolError
from hub.extensions.goose_file import FileEntry, dump, file_entries, file_hash, load, new_yaml, set_entry, write_atomic
from hub.extensions.schema import HUB_EXTENSION, config_warnings, goose_fields, hub_extension
from hub.extensions.store import ExtensionRecord, ExtensionStore
from hub.principal import Role
from hub.vault.service import Vault

logger = logging.getLogger("goosuke.goose")

Mode = Literal["push", "pull", "both"]
SecretsMode = Literal["ignore", "export", "import"]


class SyncResult(BaseModel):
    """What one sync did (or, on a dry run, would do), by extension key."""

    mode: str
    path: str
    dry_run: bool
    pushed: list[str] = Field(default_factory=list, description="Keys written to config.yaml.")
    pulled: list[str] = Field(default_factory=list, description="Keys taken into the hub from config.yaml.")
    removed_from_goose: list[str] = Field(default_factory=list)
    removed_from_hub: list[str] = Field(default_factory=list)
    conflicts: list[dict[str, Any]] = Field(
        default_factory=list, description="Both sides changed: both versions and which one was kept."
    )
    pending: list[dict[str, str]] = Field(
        default_factory=list, description="Changes this mode left for the other direction."
    )
    skipped: list[dict[str, str]] = Field(
        default_factory=list, description="Entries left alone, with the reason (e.g. malformed)."
    )
    warnings: list[str] = Field(default_factory=list)
    secrets: list[str] = Field(
        default_factory=list, description="Names of secrets exported or imported (never values)."
    )
    diff: str = Field(default="", description="Unified diff of config.yaml.")
    backup: str | None = Field(default=None, description="Where the previous config.yaml was kept.")
    written: bool = Field(default=False, description="Whether config.yaml was written.")


class GooseSync:
    """Sync with one ``config.yaml`` (``app.services.get(GooseSync)``). Calls are serialised."""

    def __init__(self, db: Database, store: ExtensionStore, vault: Vault, path: Path) -> None:
        self.db = db
        self.store = store
        self.vault = vault
        self.path = path
        self._lock = anyio.Lock()
        self._last_seen: tuple[int, int] | None = None

    async def _bases(self) -> dict[str, str]:
        async with self.db.session() as session:
            query = select(GooseSyncEntry).where(GooseSyncEntry.path_hash == file_hash(self.path))
            rows = await session.scalars(query)
            return {row.key: row.hash for row in rows}

    async def _save_bases(self, agreed: dict[str, str | None]) -> None:
        path_hash = file_hash(self.path)
        async with self.db.session() as session:
            for key, value in agreed.items():
                await session.execute(
                    delete(GooseSyncEntry).where(GooseSyncEntry.path_hash == path_hash, GooseSyncEntry.key == key)
                )
                if value is not None:
                    session.add(GooseSyncEntry(path_hash=path_hash, key=key, path=str(self.path), hash=value))

    async def sync(
        self,
        mode: Mode = "both",
        *,
        actor: str,
        dry_run: bool = False,
        prefer: Literal["hub", "goose"] = "hub",
        secrets: SecretsMode = "ignore",
        include_bundled: bool = False,
        team_id: str | None = None,
    ) -> SyncResult:
        async with self._lock:
            return await self._sync(mode, actor, dry_run, prefer, secrets, include_bundled, team_id)

    async def _sync(
        self,
        mode: Mode,
        actor: str,
        dry_run: bool,
        prefer: str,
        secrets: SecretsMode,
        include_bundled: bool,
        team_id: str | None,
    ) -> SyncResult:
        result = SyncResult(mode=mode, path=str(self.path), dry_run=dry_run)
        doc, text = load(self.path)
        winner = {"push": "hub", "pull": "goose"}.get(mode, prefer)
        hub = {r.key: r for r in await self.store.records()}
        goose = file_entries(doc)
        bases = await self._bases()
        to_goose: dict[str, dict[str, Any] | None] = {}
        to_hub: dict[str, FileEntry | None] = {}
        agreed: dict[str, str | None] = {}
        for key in sorted(set(hub) | set(goose) | set(bases)):
            record, entry = hub.get(key), goose.get(key)
            if entry is not None and entry.error:
                result.skipped.append({"key": key, "reason": f"malformed in config.yaml ({entry.error}); left as is"})
                continue
            if (
                entry is not None
                and record is None
                and not include_bundled
                and entry.config is not None  # always set when there is no error
                and entry.config.bundled
            ):
                result.skipped.append({"key": key, "reason": "bundled with Goose; left to Goose"})
                continue
            h = record.hash if record else None
            g = entry.hash if entry else None
            b = bases.get(key)
            if h == g:
                agreed[key] = h
                continue
            hub_changed, goose_changed = h != b, g != b
            if hub_changed and goose_changed:
                side = winner
                result.conflicts.append(
                    {
                        "key": key,
                        "hub": record.goose_entry() if record else None,
                        "goose": {"enabled": entry.enabled, **goose_fields(entry.config)} if entry else None,
                        "kept": side,
                        "rule": f"mode={mode}: the {side} version wins; the other is kept in "
                        + ("config.yaml.bak" if side == "hub" else "the audit log"),
                    }
                )
            else:
                side = "hub" if hub_changed else "goose"
            if side == "hub":
                if mode == "pull":
                    result.pending.append({"key": key, "direction": "push"})
                    continue
                to_goose[key] = record.goose_entry() if record else None
                agreed[key] = h
            else:
                if mode == "push":
                    result.pending.append({"key": key, "direction": "pull"})
                    continue
                if entry is not None:
                    try:
                        result.warnings += [f"{key}: {w}" for w in config_warnings(entry.config)]
                        await self.store._check_no_plain_secrets(entry.config)
                    except GoosukeError as exc:
                        result.skipped.append({"key": key, "reason": exc.message})
                        continue
                to_hub[key] = entry
                agreed[key] = g

        extensions = doc.get("extensions")
        if to_goose and extensions is None:
            extensions = doc["extensions"] = CommentedMap()
        for key, entry_dict in to_goose.items():
            assert extensions is not None
            if entry_dict is None:
                if key in extensions:
                    del extensions[key]
                    result.removed_from_goose.append(key)
            else:
                set_entry(extensions, key, entry_dict)
                result.pushed.append(key)
        new_text = dump(doc) if to_goose else text
        for key, pulled in to_hub.items():
            (result.pulled if pulled is not None else result.removed_from_hub).append(key)
        diff = difflib.unified_diff(text.splitlines(True), new_text.splitlines(True), str(self.path), "after sync")
        result.diff = self.vault.scrub("".join(diff))
        result.secrets = await self._secrets_plan(secrets, hub, to_hub)
        if dry_run:
            return result

        if new_text != text:
            if self.path.exists() and self.path.read_text() != text:
                raise Conflict(f"{self.path} changed while syncing; nothing was written. Run the sync again.")
            backup = write_atomic(self.path, new_text)
            result.backup, result.written = (str(backup) if backup else None), True
        for key, pulled in to_hub.items():
            if pulled is None:
                await self.store.remove(key, actor=actor)
                continue
            current = hub.get(key)
            await self.store.add(
                pulled.config,
                actor=actor,
                enabled=pulled.enabled,
                role=current.role if current else Role.operator,
                source="goose",
                replace=True,
                team_id=team_id,
            )
        lost = [c for c in result.conflicts if c["kept"] == "goose" and c["hub"] is not None]
        async with self.db.session() as session:
            await audit(
                session, actor, "goose.sync", str(self.path), mode=mode, pushed=result.pushed,
                pulled=result.pulled, conflicts=[c["key"] for c in result.conflicts], lost_hub_versions=lost,
            )  # fmt: skip
        await self._save_bases(agreed)
        await self._secrets_apply(secrets, result.secrets, actor, team_id)
        self._remember_file()
        return result

    async def _secrets_plan(
        self, secrets: SecretsMode, hub: dict[str, ExtensionRecord], to_hub: dict[str, FileEntry | None]
    ) -> list[str]:
        if secrets == "ignore":
            return []
        names: set[str] = set()
        for record in hub.values():
            names.update(getattr(record.config, "env_keys", []))
        for entry in to_hub.values():
            if entry is not None:
                names.update(getattr(entry.config, "env_keys", []))
        stored = {info.name for info in await self.vault.secrets()}
        if secrets == "export":
            return sorted(names & stored)
        available = self._goose_secrets()
        return sorted(n for n in names if n in available and n not in stored)

    def _goose_secrets(self) -> dict[str, str]:
        path = self.path.with_name("secrets.yaml")
        if not path.exists():
            return {}
        try:
            data = new_yaml().load(path.read_text()) or {}
        except YAMLError:
            raise ToolError(f"{path} is not valid YAML; fix it or remove it. Nothing was imported.") from None
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float)}

    async def _secrets_apply(self, secrets: SecretsMode, names: list[str], actor: str, team_id: str | None) -> None:
        if secrets == "export" and names:
            path = self.path.with_name("secrets.yaml")
            data: Any = CommentedMap()
            if path.exists():
                data = new_yaml().load(path.read_text()) or CommentedMap()
            for name in names:
                data[name] = await self.vault.get(name)
            write_atomic(path, dump(data), backup=False, mode=0o600)
        elif secrets == "import" and names:
            available = self._goose_secrets()
            for name in names:
                await self.vault.put(
                    name, available[name], actor=actor, description="imported from Goose", team_id=team_id
                )

    # -- rendering and watching -----------------------------------------------------------------

    def _remember_file(self) -> None:
        try:
            stat = self.path.stat()
            self._last_seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            self._last_seen = None

    async def watch(self, interval: float) -> None:
        """Re-sync (mode ``both``) whenever the file changes; runs until cancelled."""
        self._remember_file()
        while True:
            await anyio.sleep(interval)
            try:
                stat = self.path.stat()
                seen: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
            except FileNotFoundError:
                seen = None
            if seen == self._last_seen:
                continue
            self._last_seen = seen
            if seen is None:
                continue
            try:
                result = await self.sync("both", actor="goose-config-watch")
                logger.info("config.yaml changed: pulled %s, pushed %s", result.pulled, result.pushed)
            except GoosukeError as exc:
                logger.warning("config.yaml changed but the sync failed: %s", exc.message)


def render(records: list[ExtensionRecord], hub_url: str | None, *, token_env: str = "GOOSUKE_TOKEN") -> str:
    """A ``config.yaml`` fragment: the team's extensions and, with ``hub_url``, the hub itself."""
    doc = CommentedMap()
    extensions = CommentedMap()
    for record in records:
        entry = CommentedMap()
        for name, value in record.goose_entry().items():
            entry[name] = value
        extensions[record.key] = entry
    if hub_url:
        hub_entry = hub_extension(f"{hub_url.rstrip('/')}/mcp", token_env=token_env)
        hub = CommentedMap()
        hub.update(
            {
                "enabled": True,
                "type": hub_entry["type"],
                "name": hub_entry["name"],
                "description": "Goosuke hub: the team's tools, templates and extensions",
                "uri": hub_entry["uri"],
                "envs": {},
                "env_keys": hub_entry["env_keys"],
                "headers": hub_entry["headers"],
                "timeout": hub_entry["timeout"],
            }
        )
        extensions[HUB_EXTENSION] = hub
    doc["extensions"] = extensions
    header = (
        f"# Goose extensions from the Goosuke hub, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.\n"
        "# Secrets are not included: provide each env_keys name as an environment variable\n"
        "# or in Goose's secrets.yaml.\n"
    )
    return header + dump(doc)
