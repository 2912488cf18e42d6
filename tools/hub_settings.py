"""Hub settings kept in the database, changeable at run time. A setting marked secret lives in the vault
and is masked everywhere (tools, logs, the database); the hub's own code reads it through
``app.services["hub_settings"].get(name)``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from hub import AppContext, Call, Plugin, Role
from hub.accounts import audit
from hub.db import Database
from hub.db.models import HubSetting
from hub.errors import ConfigError, InvalidArguments, NotFound
from hub.vault.service import Vault

plugin = Plugin("hub-settings")

MASK = "********"
SETTING_NAME = Field(
    min_length=1, max_length=128, pattern=r"^[a-z][a-z0-9_.]*$", description="Lowercase, e.g. openai.api_key."
)


class HubSettings:
    """Settings in the database (``app.services["hub_settings"]``); secret values sealed by the vault."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault

    async def set(self, name: str, value: Any, *, secret: bool, description: str | None, actor: str) -> HubSetting:
        if secret:
            if not isinstance(value, str):
                value = json.dumps(value)
            await self.vault.set(name, value, actor=actor, scope="setting")
        async with self.db.session() as session:
            row = await session.get(HubSetting, name)
            was_secret = row is not None and row.secret
            if row is None:
                row = HubSetting(name=name)
                session.add(row)
            row.secret = secret
            row.value = None if secret else {"value": value}
            if description is not None:
                row.description = description
            row.updated_at, row.updated_by = datetime.now(UTC), actor
            await audit(session, actor, "setting.set", name, secret=secret)
            await session.flush()
        if was_secret and not secret:
            await self.vault.delete(name, actor=actor, scope="setting")
        return row

    async def row(self, name: str) -> HubSetting:
        async with self.db.session() as session:
            row = await session.get(HubSetting, name)
        if row is None:
            raise NotFound(f"No hub setting named {name!r}. List them with hub_setting_list.")
        return row

    async def get(self, name: str, default: Any = None) -> Any:
        """The value (decrypted when secret), for the hub's own use; ``default`` when unset."""
        try:
            row = await self.row(name)
        except NotFound:
            return default
        if row.secret:
            return await self.vault.get(name, scope="setting")
        return (row.value or {}).get("value")

    async def list(self) -> list[HubSetting]:
        async with self.db.session() as session:
            return list(await session.scalars(select(HubSetting).order_by(HubSetting.name)))

    async def delete(self, name: str, *, actor: str) -> None:
        row = await self.row(name)
        async with self.db.session() as session:
            current = await session.get(HubSetting, name)
            if current is not None:
                await session.delete(current)
            await audit(session, actor, "setting.delete", name)
        if row.secret:
            await self.vault.delete(name, actor=actor, scope="setting")


def settings_of(call: Call) -> HubSettings:
    service = call.app.services.get("hub_settings")
    if service is None:
        raise ConfigError("Hub settings are not available; the hub is starting or stopping. Try again.")
    return service  # type: ignore[no-any-return]


class SettingView(BaseModel):
    name: str
    value: Any = Field(description=f"The value; {MASK} for a secret setting.")
    secret: bool
    description: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, row: HubSetting) -> SettingView:
        value = MASK if row.secret else (row.value or {}).get("value")
        return cls(
            name=row.name,
            value=value,
            secret=row.secret,
            description=row.description,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


class SettingSet(BaseModel):
    name: str = SETTING_NAME
    value: Any = Field(description="Any JSON value; a secret one is stored in the vault.")
    secret: bool = Field(default=False, description="Keep it in the vault and mask it everywhere.")
    description: str | None = Field(default=None, max_length=1000)


class SettingName(BaseModel):
    name: str = SETTING_NAME


class Empty(BaseModel):
    pass


class SettingsList(BaseModel):
    settings: list[SettingView]


class SettingDeleted(BaseModel):
    name: str
    deleted: bool


@plugin.tool(role=Role.admin)
async def hub_setting_set(call: Call, args: SettingSet) -> SettingView:
    """Set a hub setting kept in the database. Mark it secret to keep it in the vault, masked everywhere."""
    if args.value is None:
        raise InvalidArguments("A setting needs a value; delete it with hub_setting_delete instead.")
    row = await settings_of(call).set(
        args.name, args.value, secret=args.secret, description=args.description, actor=call.principal.name
    )
    return SettingView.of(row)


@plugin.tool(role=Role.operator, read_only=True)
async def hub_setting_get(call: Call, args: SettingName) -> SettingView:
    """Show one hub setting; a secret one is masked."""
    return SettingView.of(await settings_of(call).row(args.name))


@plugin.tool(role=Role.operator, read_only=True)
async def hub_setting_list(call: Call, args: Empty) -> SettingsList:
    """List the hub settings kept in the database; secret ones are masked."""
    return SettingsList(settings=[SettingView.of(r) for r in await settings_of(call).list()])


@plugin.tool(role=Role.admin, destructive=True)
async def hub_setting_delete(call: Call, args: SettingName) -> SettingDeleted:
    """Delete a hub setting (and its vault entry when it is secret)."""
    await settings_of(call).delete(args.name, actor=call.principal.name)
    return SettingDeleted(name=args.name, deleted=True)


@plugin.on_startup
async def start_hub_settings(app: AppContext) -> None:
    app.services["hub_settings"] = HubSettings(app.db, app.services["vault"])
