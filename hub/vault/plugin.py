"""The vault's service: the :class:`Vault`."""

from __future__ import annotations

from hub.context import AppContext
from hub.plugin import Plugin
from hub.vault.scrubbing import install_log_scrubber
from hub.vault.service import Vault

plugin = Plugin("vault-service")


@plugin.service(Vault)
async def start_vault(app: AppContext) -> Vault:
    """Load the keys and check them against the stored rows; mask every known value (the vault's and the
    configured secrets) in the logs."""
    vault = Vault(app.db, app.settings)
    vault.remember_configured()  # even when the vault's key is wrong: the settings' secrets stay masked
    await vault.start()
    install_log_scrubber(vault.scrubber)
    return vault
