"""Extensions (MCP servers) in Goose's own schema, and the sync with Goose's ``config.yaml``.

Services: :class:`~hub.extensions.store.ExtensionStore` (needs ``Vault``) and
:class:`~hub.extensions.goose_sync.GooseSync` (needs ``ExtensionStore`` and ``Vault``), declared in
``plugin.py``. Serving their tools to clients is the federation's part (``hub/federation/``).

- ``schema.py``: Goose's extension entry types (stdio, streamable_http, sse, builtin, ...);
- ``store.py``: the extension rows, with change listeners;
- ``goose_sync.py``: import from, export to and watch Goose's ``config.yaml``;
- ``goose_file.py``: reading and writing that file without losing the user's formatting.
"""
