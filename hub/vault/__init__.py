"""The secrets vault: values sealed with AES-GCM in the database, masked wherever they could leak.

Service: :class:`~hub.vault.service.Vault` (needs nothing but the database and settings), declared
in ``plugin.py``.

- ``service.py``: the vault (store, resolve, reveal, list by scope, delete);
- ``sealing.py``: loading and checking the keys, sealing and opening values with AES-GCM;
- ``rotation.py``: re-sealing every value under a new key without downtime;
- ``ownership.py``: which team a secret goes to and whose extensions and runners may use it;
- ``keys.py``: where the keys come from (``GOOSUKE_VAULT_KEY`` or ``DATA_DIR/vault.key``);
- ``scrubbing.py``: masking known values in text, data and log records.
"""
