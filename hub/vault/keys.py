"""Vault keys: generating, fingerprinting and parsing them, and where they live (``GOOSUKE_VAULT_KEY``, or
``DATA_DIR/vault.key`` created 0600 on a fresh hub)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from pathlib import Path

from hub.errors import ConfigError
from hub.files import write_private
from hub.settings import Settings

logger = logging.getLogger("goosuke.vault")

KEY_FILE = "vault.key"
GENERATE_HINT = 'python -c "import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'


def generate_key() -> str:
    """A new vault key: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"goosuke-vault-key:" + key).hexdigest()[:16]


def parse_keys(text: str, source: str) -> list[bytes]:
    """Keys separated by commas, spaces or newlines, newest first.

    Raises:
        ConfigError: a key is not base64url of 32 bytes (the message names its position, not its value).
    """
    keys: list[bytes] = []
    for position, item in enumerate(re.split(r"[\s,]+", text.strip()), start=1):
        if not item:
            continue
        try:
            raw = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except (ValueError, TypeError):
            raw = b""
        if len(raw) != 32:
            raise ConfigError(
                f"Vault key #{position} in {source} is not base64url of 32 bytes. Generate one with: {GENERATE_HINT}"
            )
        keys.append(raw)
    return keys


def new_key() -> bytes:
    return os.urandom(32)


def encode(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def load_keys(settings: Settings, key_file: Path, *, create: bool) -> tuple[list[bytes], str]:
    """The keys, newest first, and their source: ``setting``, ``file`` or ``none``. With ``create``, a
    missing key file is made (mode 0600).

    Raises:
        ConfigError: a key is malformed, or the source holds none.
    """
    if settings.vault_key is not None:
        keys, source = parse_keys(settings.vault_key.get_secret_value(), "GOOSUKE_VAULT_KEY"), "setting"
    elif key_file.exists():
        keys, source = parse_keys(key_file.read_text(), str(key_file)), "file"
    elif create:
        write_private(key_file, generate_key() + "\n")
        logger.info("Created a new vault key file at %s (mode 0600); back it up with the database.", key_file)
        keys, source = parse_keys(key_file.read_text(), str(key_file)), "file"
    else:
        return [], "none"
    if not keys:
        raise ConfigError(f"The vault key source ({source}) holds no key. Generate one: {GENERATE_HINT}")
    return keys, source


def write_key_file(key_file: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically (newest key first), mode 0600."""
    temp = key_file.with_name(KEY_FILE + ".tmp")
    write_private(temp, "\n".join(encode(k) for k in keys) + "\n")
    os.replace(temp, key_file)
