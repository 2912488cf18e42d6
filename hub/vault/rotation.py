"""Vault key rotation: re-seal every row with a new primary key while reads keep working.

With a key file the hub makes the new key itself and, once no row uses them, drops the old keys from
the file. With ``GOOSUKE_VAULT_KEY`` the operator puts a new key first in the setting and restarts;
rotation then re-seals everything with it (MultiFernet-style, so no downtime).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from hub.accounts import audit
from hub.db.models import Secret
from hub.errors import ToolError
from hub.vault.keys import GENERATE_HINT, new_key
from hub.vault.sealing import VaultKeys

ROTATE_BATCH = 200


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    reencrypted: int
    retired_key_ids: list[str]
    key_source: str
    note: str


async def rotate(vault: VaultKeys, *, actor: str, retire_old: bool = True) -> RotationReport:
    """Re-seal every row of ``vault`` with a new primary key; reads keep working throughout.

    Raises:
        ConfigError: the current key cannot open every row (nothing is changed then).
        ToolError: the setting holds a single key, already the one every row uses.
    """
    vault.require_keys()
    async with vault.db.session() as session:
        rows = list(await session.scalars(select(Secret)))
    for row in rows:  # prove every row opens before anything changes
        vault.unseal(row)
    old_ids = vault.key_ids
    if vault.key_source == "file":
        vault.rewrite_key_file([new_key(), *vault.loaded_keys])
    elif vault.key_source == "setting" and len(old_ids) == 1 and all(r.key_id == kid for r in rows for kid in old_ids):
        raise ToolError(
            "GOOSUKE_VAULT_KEY holds one key and every secret already uses it. Put a new key first "
            f"(GOOSUKE_VAULT_KEY=NEW,OLD; generate one with {GENERATE_HINT}), restart the hub, then call "
            "secret_rotate_key again."
        )
    primary = vault.primary_key_id
    count = 0
    for start in range(0, len(rows), ROTATE_BATCH):
        async with vault.db.session() as session:
            for row in rows[start : start + ROTATE_BATCH]:
                if row.key_id == primary:
                    continue
                ciphertext, kid = vault.seal(row.scope, row.name, vault.unseal(row))
                result = await session.execute(
                    update(Secret)
                    .where(Secret.id == row.id, Secret.ciphertext == row.ciphertext)
                    .values(ciphertext=ciphertext, key_id=kid)
                )
                count += int(getattr(result, "rowcount", 0) or 0)
    async with vault.db.session() as session:
        leftover = set(await session.scalars(select(Secret.key_id).where(Secret.key_id != primary).distinct()))
    retired = [kid for kid in old_ids if kid != primary and kid not in leftover]
    note = "Every secret now uses the new key."
    if vault.key_source == "file" and retire_old and not leftover:
        vault.rewrite_key_file(vault.loaded_keys[:1])
        note += f" Old keys were removed from {vault.key_file}: back up the new key file now."
    elif vault.key_source == "setting":
        note += " Remove the retired key(s) from GOOSUKE_VAULT_KEY at the next restart."
    if leftover:
        note = f"Some rows changed during rotation and still use {', '.join(sorted(leftover))}; run it again."
    async with vault.db.session() as session:
        await audit(session, actor, "vault.rotate", primary, reencrypted=count, retired=retired)
    return RotationReport(primary, count, retired, vault.key_source, note)
