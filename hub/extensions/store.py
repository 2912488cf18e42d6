"""The extension store (``app.services.get(ExtensionStore)``): rows in Goose's schema plus the hub's own
role, owning team, visibility and discovery, lookups by name or key, and launch environments with
``env_keys`` resolved from the vault (only the owning team's secrets). The schema itself (models,
``name_to_key``, validation) is in :mod:`hub.extensions.schema`.

Reads and changes made for a caller pass its ``principal``: lists keep what it may see with
``extensions.read``, changes need ``extensions.manage`` where the extension lives (``hub.teams.policy``).
Without a principal (the hub itself: federation, runs, sync) everything is visible. Keys are unique
across the hub, so a name another team took is refused without showing that team's extension."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.accounts import audit
from hub.db import Database
from hub.db.models import Extension
from hub.errors import Conflict, InvalidArguments, NotFound
from hub.extensions.schema import (
    DEFAULT_EXTENSION_TIMEOUT,
    FEDERATED_TYPES,
    config_hash,
    config_warnings,
    goose_fields,
    name_to_key,
    parse_config,
)
from hub.principal import Principal, Role
from hub.teams.policy import DEFAULT_TEAM_ID, can_see, require_change, visible
from hub.vault.ownership import team_names
from hub.vault.service import Vault

if TYPE_CHECKING:
    pass

READ, MANAGE = "extensions.read", "extensions.manage"


@dataclass(frozen=True)
class ExtensionRecord:
    key: str
    name: str
    type: str
    enabled: bool
    config: Any
    role: Role
    source: str
    discovered: dict[str, Any] | None
    discovered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str
    team_id: str = DEFAULT_TEAM_ID
    visibility: str = "team"
    created_by: str | None = None
    team: str | None = None
    """The owning team's name (filled where a caller is shown the record)."""

    @classmethod
    def of(cls, row: Extension, teams: dict[str, str] | None = None) -> ExtensionRecord:
        team_id = row.team_id or DEFAULT_TEAM_ID
        return cls(
            key=row.key,
            name=row.name,
            type=row.type,
            enabled=row.enabled,
            config=parse_config(row.config, label=f"stored extension {row.key!r}", lenient=True),
            role=Role(row.role),
            source=row.source,
            discovered=row.discovered,
            discovered_at=row.discovered_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            team_id=team_id,
            visibility=row.visibility or "team",
            created_by=row.created_by,
            team=(teams or {}).get(team_id, team_id),
        )

    @property
    def timeout(self) -> float:
        return float(getattr(self.config, "timeout", None) or DEFAULT_EXTENSION_TIMEOUT)

    @property
    def federated(self) -> bool:
        return self.type in FEDERATED_TYPES

    @property
    def hash(self) -> str:
        return config_hash(self.config, self.enabled)

    def goose_entry(self) -> dict[str, Any]:
        return {"enabled": self.enabled, **goose_fields(self.config)}


ChangeListener = Callable[[str, "ExtensionRecord | None"], Awaitable[None]]


class ExtensionStore:
    """The team's extensions (``app.services.get(ExtensionStore)``).

    For other domains (agents): ``await store.launch_spec(name)`` gives the configuration and the
    environment an extension starts with (``envs`` plus its ``env_keys`` resolved from the vault).
    """

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault
        self._listeners: list[ChangeListener] = []

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(key, record_or_None)`` after every add, update, enable/disable or removal."""
        self._listeners.append(listener)

    async def _changed(self, key: str, record: ExtensionRecord | None) -> None:
        for listener in self._listeners:
            await listener(key, record)

    async def _check_no_plain_secrets(self, config: Any) -> None:
        values = set(await self.vault.known_values())
        plain: dict[str, str] = {**getattr(config, "envs", {}), **getattr(config, "headers", {})}
        for field_name, value in plain.items():
            if value in values or any(v in value for v in values):
                raise InvalidArguments(
                    f"{field_name} holds the value of a vault secret in plain text. Put the secret's name in "
                    f"env_keys and refer to it as ${{NAME}} instead."
                )

    # -- reading ----------------------------------------------------------------------------

    async def records(self, *, enabled_only: bool = False, principal: Principal | None = None) -> list[ExtensionRecord]:
        """Every extension (with ``principal``: those it may see with ``extensions.read``), by key."""
        async with self.db.session() as session:
            query = select(Extension).order_by(Extension.key)
            if enabled_only:
                query = query.where(Extension.enabled.is_(True))
            if principal is not None:
                query = query.where(visible(principal, READ, Extension))
            rows = list(await session.scalars(query))
            teams = await team_names(session, [row.team_id for row in rows]) if principal is not None else {}
            return [ExtensionRecord.of(row, teams) for row in rows]

    @staticmethod
    async def _row(session: AsyncSession, name: str) -> Extension | None:
        row = await session.scalar(select(Extension).where(Extension.name == name))
        return row if row is not None else await session.get(Extension, name_to_key(name))

    async def find(self, name: str, principal: Principal | None = None) -> ExtensionRecord | None:
        """Goose's lookup: an exact name first, then the key of ``name`` (None too when ``principal`` may
        not see it)."""
        async with self.db.session() as session:
            row = await self._row(session, name)
            if row is None or (principal is not None and not can_see(principal, READ, row)):
                return None
            teams = await team_names(session, [row.team_id]) if principal is not None else {}
            return ExtensionRecord.of(row, teams)

    async def get(self, name: str, principal: Principal | None = None) -> ExtensionRecord:
        record = await self.find(name, principal)
        if record is None:
            raise NotFound(f"No extension named {name!r}. List them with extension_list.")
        return record

    async def taken(self, name: str) -> bool:
        """Whether the key of ``name`` is used (by any team; names are unique across the hub)."""
        async with self.db.session() as session:
            return await session.get(Extension, name_to_key(name)) is not None

    async def launch_spec(self, name: str) -> tuple[Any, dict[str, str]]:
        """The configuration and the environment of its process: ``envs`` over the vault's ``env_keys``
        (inline values shadow secrets, as in Goose).

        Raises:
            NotFound: no such extension, or some of its secrets are not in the vault.
            ConfigError: the vault key cannot open the secrets.
        """
        record = await self.get(name)
        config = record.config
        envs: dict[str, str] = dict(getattr(config, "envs", {}))
        wanted = [k for k in getattr(config, "env_keys", []) if k not in envs]
        secret_key = getattr(config, "client_secret_key", None)
        if secret_key and secret_key not in envs:
            wanted.append(secret_key)
        resolved = await self.vault.resolve(
            wanted, team=record.team_id, creator=record.created_by, what=f"extension {record.key!r}"
        )
        return config, {**resolved, **envs}

    # -- writing ----------------------------------------------------------------------------

    async def add(
        self,
        config: Any,
        *,
        actor: str,
        enabled: bool = True,
        role: Role = Role.operator,
        source: str = "hub",
        replace: bool = False,
        team_id: str | None = None,
        visibility: str | None = None,
        principal: Principal | None = None,
    ) -> tuple[ExtensionRecord, list[str]]:
        """Store a new extension in team ``team_id`` (None: ``default``) with ``visibility`` (None: team).

        Raises Conflict when its key is taken (unless ``replace``: then the row keeps its team and, unless
        ``visibility`` is given, its visibility; with ``principal`` it must be one it may change).
        """
        warnings = config_warnings(config)
        await self._check_no_plain_secrets(config)
        key = name_to_key(config.name)
        now = datetime.now(UTC)
        async with self.db.session() as session:
            row = await session.get(Extension, key)
            if row is not None and (not replace or (principal is not None and not can_see(principal, READ, row))):
                shown = f" ({row.name!r})" if principal is None or can_see(principal, READ, row) else " in another team"
                raise Conflict(
                    f"An extension with key {key!r} exists already{shown}. Change it with extension_update or pick "
                    "another name (extension keys are unique across the hub)."
                )
            if row is not None and principal is not None:
                require_change(principal, MANAGE, row, f"extension named {row.name!r}")
            if row is None:
                row = Extension(key=key, created_at=now, created_by=actor, team_id=team_id or DEFAULT_TEAM_ID)
                session.add(row)
            if visibility is not None or row.visibility is None:
                row.visibility = visibility or "team"
            row.name, row.type, row.enabled = config.name, config.type, enabled
            row.config, row.role, row.source = goose_fields(config), role.value, source
            row.discovered, row.discovered_at = None, None
            row.updated_at, row.updated_by = now, actor
            await session.flush()
            await audit(
                session, actor, "extension.add", key, type=config.type, source=source, team=row.team_id,
                visibility=row.visibility,
            )  # fmt: skip
            record = ExtensionRecord.of(row, await team_names(session, [row.team_id]))
        await self._changed(key, record)
        return record, warnings

    async def update(
        self,
        name: str,
        *,
        actor: str,
        changes: dict[str, Any] | None = None,
        enabled: bool | None = None,
        role: Role | None = None,
        visibility: str | None = None,
        principal: Principal | None = None,
    ) -> tuple[ExtensionRecord, list[str]]:
        """Change fields of an extension (``changes`` are Goose fields; ``None`` removes a field).

        A new ``name`` that gives another key is refused: remove and add it instead. With ``principal``
        it needs ``extensions.manage`` where the extension lives (NotFound when it may not see it).
        """
        current = await self.get(name, principal)
        if principal is not None:
            require_change(principal, MANAGE, current, f"extension named {name!r}")
        warnings: list[str] = []
        config = current.config
        if changes:
            if "type" in changes and changes["type"] != current.type:
                raise InvalidArguments("An extension's type cannot change; remove it and add it again.")
            merged = {**goose_fields(current.config), **changes}
            merged = {k: v for k, v in merged.items() if v is not None}
            config = parse_config(merged, label=f"extension {current.key!r}")
            if name_to_key(config.name) != current.key:
                raise InvalidArguments(
                    f"The new name {config.name!r} gives key {name_to_key(config.name)!r}, not {current.key!r}: "
                    "remove the extension and add it under the new name."
                )
            warnings = config_warnings(config)
            await self._check_no_plain_secrets(config)
        async with self.db.session() as session:
            row = await session.get(Extension, current.key)
            if row is None:
                raise NotFound(f"Extension {current.key!r} was removed meanwhile.")
            if changes:
                if goose_fields(config) != row.config:
                    row.discovered, row.discovered_at = None, None
                row.name, row.config = config.name, goose_fields(config)
            if enabled is not None:
                row.enabled = enabled
            if role is not None:
                row.role = role.value
            if visibility is not None:
                row.visibility = visibility
            row.updated_at, row.updated_by = datetime.now(UTC), actor
            action = "extension.update"
            if enabled is not None and not changes and role is None and visibility is None:
                action = "extension.enable" if enabled else "extension.disable"
            await audit(
                session, actor, action, current.key, fields=sorted(changes or {}), role=role, enabled=enabled,
                visibility=visibility,
            )  # fmt: skip
            record = ExtensionRecord.of(row, await team_names(session, [row.team_id]))
        await self._changed(record.key, record)
        return record, warnings

    async def remove(self, name: str, *, actor: str, principal: Principal | None = None) -> ExtensionRecord:
        record = await self.get(name, principal)
        if principal is not None:
            require_change(principal, MANAGE, record, f"extension named {name!r}")
        async with self.db.session() as session:
            row = await session.get(Extension, record.key)
            if row is not None:
                await session.delete(row)
            await audit(session, actor, "extension.remove", record.key)
        await self._changed(record.key, None)
        return record

    async def save_discovery(self, key: str, discovered: dict[str, Any]) -> None:
        async with self.db.session() as session:
            row = await session.get(Extension, key)
            if row is not None:
                row.discovered, row.discovered_at = discovered, datetime.now(UTC)
