"""The extensions' services: the :class:`ExtensionStore` and the :class:`GooseSync` of Goose's config file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from hub.context import AppContext
from hub.extensions.goose_sync import GooseSync
from hub.extensions.store import ExtensionStore
from hub.plugin import Plugin
from hub.vault.service import Vault

plugin = Plugin("extensions-service")


@plugin.service(ExtensionStore, needs=[Vault])
def extension_store(app: AppContext) -> ExtensionStore:
    return ExtensionStore(app.db, app.services.get(Vault))


@plugin.service(GooseSync, needs=[ExtensionStore, Vault])
@asynccontextmanager
async def goose_sync(app: AppContext) -> AsyncIterator[GooseSync]:
    """Sync with Goose's config.yaml on request, and on change when GOOSUKE_GOOSE_CONFIG_WATCH is on."""
    service = GooseSync(
        app.db, app.services.get(ExtensionStore), app.services.get(Vault), app.settings.goose_config_path
    )
    async with anyio.create_task_group() as tg:
        if app.settings.goose_config_watch:
            tg.start_soon(service.watch, app.settings.goose_config_watch_interval)
        try:
            yield service
        finally:
            tg.cancel_scope.cancel()
