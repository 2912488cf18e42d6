"""The vault's keys and seal: which keys are loaded, whether they open the stored rows, AES-GCM sealing.

Each value is sealed with AES-256-GCM under the newest key; the row keeps only the ciphertext and the
id of the key that sealed it (a fingerprint, never the key). The associated data binds a ciphertext to
its scope and name, so a row copied onto another name does not decrypt. Older keys stay usable for
reading until rotation (:mod:`hub.vault.rotation`) has re-sealed every row with the newest one.

A key that does not match the stored rows is reported by every vault call and by ``/readyz``; the hub
keeps serving everything else, but ``/readyz`` answers 503 until the key is fixed (a locked vault
locks every extension, webhook and run that needs a secret).
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.db import Database
from hub.db.models import Secret
from hub.errors import ConfigError
from hub.protocols import ReadinessReport
from hub.settings import Settings
from hub.vault.keys import KEY_FILE, encode, key_id, load_keys, write_key_file
from hub.vault.scrubbing import CONFIG_SCOPE, Scrubber, configured_secrets

logger = logging.getLogger("goosuke.vault")

TOKEN_PREFIX = "v1."


def _aad(scope: str, name: str) -> bytes:
    return f"goosuke-vault:{scope}:{name}".encode()


class VaultKeys:
    """The key-holding half of :class:`~hub.vault.service.Vault`: loading and checking keys, sealing and
    opening values, and the scrubber every known value is remembered in."""

    readiness_name = "vault"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._keys: list[tuple[str, AESGCM, bytes]] = []
        self._problem: str | None = None
        self._public_problem: str | None = None  # the same, for /readyz: no key id, no path
        self.scrubber = Scrubber()
        self.key_source = ""

    # -- keys ---------------------------------------------------------------------------

    @property
    def key_file(self) -> Path:
        return self.settings.data_dir / KEY_FILE

    def _load_keys(self, *, create: bool) -> None:
        keys, self.key_source = load_keys(self.settings, self.key_file, create=create)
        self._keys = [(key_id(k), AESGCM(k), k) for k in keys]
        self.remember_configured()

    @property
    def key_ids(self) -> list[str]:
        """The fingerprints of the loaded keys, newest (the primary) first."""
        return [kid for kid, _, _ in self._keys]

    @property
    def loaded_keys(self) -> list[bytes]:
        """The loaded keys themselves, newest first (for rewriting the key file)."""
        return [key for _, _, key in self._keys]

    def rewrite_key_file(self, keys: list[bytes]) -> None:
        """Write ``keys`` (newest first) to the key file (0600) and load them."""
        write_key_file(self.key_file, keys)
        self._load_keys(create=False)

    async def open_keys(self) -> bool:
        """Load the keys (creating the key file on a fresh hub) and check them against the stored rows;
        returns whether the vault is usable (otherwise the problem is logged and reported)."""
        try:
            async with self.db.session() as session:
                stored = set(await session.scalars(select(Secret.key_id).distinct()))
        except SQLAlchemyError:
            self._problem = "The vault's table is missing: run `goosuke migrate` (or start with migrate_on_start)."
            self._public_problem = self._problem
            logger.error("Vault unavailable: %s", self._problem)
            return False
        try:
            self._load_keys(create=not stored)
        except ConfigError as exc:
            self._problem = exc.message
            self._public_problem = (
                "The vault key setting is invalid (GOOSUKE_VAULT_KEY or vault.key in the data folder): fix it "
                "(the hub's log says what is wrong) and restart the hub."
            )
            logger.error("Vault unavailable: %s", exc.message)
            return False
        missing = stored - set(self.key_ids)
        if not self._keys:
            self._problem = (
                f"The vault has {len(stored)} sealed value(s) but no key: restore {self.key_file} from your backup "
                "or set GOOSUKE_VAULT_KEY to the key(s) used before."
            )
        elif missing:
            self._problem = (
                f"The vault key does not match the stored secrets (they were sealed with key id(s) "
                f"{', '.join(sorted(missing))}; loaded: {', '.join(self.key_ids)}). Restore "
                f"{self.key_file} from your backup or put the old key after the new one in GOOSUKE_VAULT_KEY. "
                "Nothing was changed."
            )
        else:
            self._problem = None
        self._public_problem = self._problem and (
            "The vault is locked: its key is "
            + ("missing" if not self._keys else "not the one that sealed the stored secrets")
            + ", so no secret can be read. Restore vault.key into the data folder from your backup "
            "(`goosuke restore`) or set GOOSUKE_VAULT_KEY to the key(s) used before, then restart the hub."
        )
        if self._problem:
            logger.error("Vault unavailable: %s", self._problem)
            return False
        return True

    def readiness(self) -> ReadinessReport:
        """For ``/readyz`` (public) and ``hub_info``: locked means not ready; never a key id."""
        if self._problem:
            return ReadinessReport(ready=False, detail=self.status(), reason=self._public_problem)
        return ReadinessReport(ready=True, detail=f"ok ({len(self._keys)} key(s) from {self.key_source})")

    def status(self) -> str:
        if self._problem:
            return "unavailable: wrong or missing key"
        return f"ok ({len(self._keys)} key(s) from {self.key_source}, primary {self.primary_key_id})"

    @property
    def primary_key_id(self) -> str:
        return self._keys[0][0] if self._keys else ""

    def require_keys(self) -> None:
        if self._problem:
            raise ConfigError(self._problem)
        if not self._keys:
            raise ConfigError(f"The vault has no key. Set GOOSUKE_VAULT_KEY or let the hub create {self.key_file}.")

    # -- sealing ------------------------------------------------------------------------

    def seal(self, scope: str, name: str, value: str) -> tuple[str, str]:
        self.require_keys()
        kid, aead, _ = self._keys[0]
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, value.encode(), _aad(scope, name))
        return TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode(), kid

    def unseal(self, row: Secret) -> str:
        self.require_keys()
        for kid, aead, _ in self._keys:  # noqa: B007 - the loop finds the key that sealed the row
            if kid == row.key_id:
                break
        else:
            raise ConfigError(
                f"Secret {row.name!r} was sealed with key id {row.key_id}, which is not loaded. Restore the old "
                "vault key (see docs/extensions.md, 'Vault keys')."
            )
        try:
            raw = base64.urlsafe_b64decode(row.ciphertext.removeprefix(TOKEN_PREFIX))
            return aead.decrypt(raw[:12], raw[12:], _aad(row.scope, row.name)).decode()
        except (InvalidTag, ValueError):
            raise ConfigError(
                f"Secret {row.name!r} cannot be decrypted: its row was altered or sealed by another key. "
                "Set it again with secret_set."
            ) from None

    # -- scrubbing (hub/scrubbing.py) -----------------------------------------------------

    def remember_configured(self) -> None:
        """Mask what the hub was configured with (settings, key files) as well as the vault's values."""
        for name, value in configured_secrets(self.settings):
            self._remember(CONFIG_SCOPE, name, value)
        for position, (_, _, key) in enumerate(self._keys, start=1):
            self._remember(CONFIG_SCOPE, f"vault.key#{position}", encode(key))

    def _remember(self, scope: str, name: str, value: str) -> None:
        self.scrubber.remember(scope, name, value)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``[secret NAME]``."""
        return self.scrubber.scrub(text)

    def scrub_data(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string scrubbed."""
        return self.scrubber.scrub_data(value)

    def is_known_value(self, value: str) -> bool:
        return self.scrubber.is_known_value(value)

    @property
    def has_values(self) -> bool:
        """Whether any value is known for scrubbing (outputs need no copy when not)."""
        return self.scrubber.has_values
