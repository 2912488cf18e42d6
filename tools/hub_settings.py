"""Hub settings kept in the database (``hub/vault/stored_settings.py``): set, get, list, delete."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hub import Call, Plugin, Role
from hub.clock import UtcDatetime
from hub.db.models import HubSetting
from hub.errors import InvalidArguments
from hub.plugin import Arguments, NoArguments
from hub.vault.stored_settings import HubSettings

plugin = Plugin("hub-settings")

MASK = "********"
SETTING_NAME = Field(
    min_length=1, max_length=128, pattern=r"^[a-z][a-z0-9_.]*$", description="Lowercase, e.g. openai.api_key."
)


def settings_of(call: Call) -> HubSettings:
    return call.app.services.get(HubSettings)


class SettingView(BaseModel):
    name: str
    value: Any = Field(description=f"The value; {MASK} for a secret setting.")
    secret: bool
    description: str
    updated_at: UtcDatetime
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


class SettingSet(Arguments):
    name: str = SETTING_NAME
    value: Any = Field(description="Any JSON value; a secret one is stored in the vault.")
    secret: bool = Field(default=False, description="Keep it in the vault and mask it everywhere.")
    description: str | None = Field(default=None, max_length=1000)


class SettingName(Arguments):
    name: str = SETTING_NAME


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
    row = await settings_of(call).put(
        args.name, args.value, secret=args.secret, description=args.description, actor=call.principal.name
    )
    return SettingView.of(row)


@plugin.tool(role=Role.operator, read_only=True)
async def hub_setting_get(call: Call, args: SettingName) -> SettingView:
    """Show one hub setting; a secret one is masked."""
    return SettingView.of(await settings_of(call).row(args.name))


@plugin.tool(role=Role.operator, read_only=True)
async def hub_setting_list(call: Call, args: NoArguments) -> SettingsList:
    """List the hub settings kept in the database; secret ones are masked."""
    return SettingsList(settings=[SettingView.of(r) for r in await settings_of(call).entries()])


@plugin.tool(role=Role.admin, destructive=True)
async def hub_setting_delete(call: Call, args: SettingName) -> SettingDeleted:
    """Delete a hub setting (and its vault entry when it is secret)."""
    await settings_of(call).delete(args.name, actor=call.principal.name)
    return SettingDeleted(name=args.name, deleted=True)

