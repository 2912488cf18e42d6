"""Hub settings kept in the database, changeable at run time (``HubSettings``).

A setting marked secret lives in the vault and is masked everywhere (tools, logs, the database); the
hub's own code reads it through ``app.services.get(HubSettings).get(name)``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hub.accounts import audit
from hub.db import Database
from hub.db.models import HubSetting
from hub.errors import NotFound
from hub.vault.service import Vault


class HubSettings:
    """Settings in the database (``app.services.get(HubSettings)``); secret values sealed by the vault."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault

    async def put(self, name: str, value: Any, *, secret: bool, description: str | None, actor: str) -> HubSetting:
        if secret:
            if not isinstance(value, str):
                value = json.dumps(value)
            await self.vault.put(name, value, actor=actor, scope="setting")
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

    async def entries(self) -> list[HubSetting]:
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
