"""The secrets vault: values sealed with AES-GCM in the database, masked wherever they could leak.

Service: :class:`~hub.vault.service.Vault` (needs nothing but the database and settings), declared
in ``plugin.py``.

- ``service.py``: the vault (seal, open, rotate, list by scope);
- ``keys.py``: where the keys come from (``GOOSUKE_VAULT_KEY`` or ``DATA_DIR/vault.key``);
- ``scrubbing.py``: masking known values in text, data and log records.
"""
