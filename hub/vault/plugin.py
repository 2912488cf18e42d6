"""The vault's services: the :class:`Vault` itself, and :class:`HubSettings` kept beside it."""

from __future__ import annotations

from hub.context import AppContext
from hub.plugin import Plugin
from hub.vault.scrubbing import install_log_scrubber
from hub.vault.service import Vault
from hub.vault.stored_settings import HubSettings

plugin = Plugin("vault-service")


@plugin.service(Vault)
async def start_vault(app: AppContext) -> Vault:
    """Load the keys and check them against the stored rows; mask every known value in the logs."""
    vault = Vault(app.db, app.settings)
    await vault.start()
    install_log_scrubber(vault.scrubber)
    return vault


@plugin.service(HubSettings, needs=[Vault])
def stored_settings(app: AppContext) -> HubSettings:
    return HubSettings(app.db, app.services.get(Vault))
