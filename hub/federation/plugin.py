"""The federation service: every enabled extension's tools, resources and prompts, served by the hub."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from hub.context import AppContext
from hub.extensions.store import ExtensionStore
from hub.federation.service import Federation
from hub.plugin import Plugin
from hub.vault.service import Vault

plugin = Plugin("federation-service")


@plugin.service(Federation, needs=[ExtensionStore, Vault])
def federation(app: AppContext) -> AbstractAsyncContextManager[Federation]:
    return Federation(app, app.services.get(ExtensionStore), app.services.get(Vault)).running()
