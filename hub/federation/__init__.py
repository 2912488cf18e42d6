"""Federation: the hub serves its extensions' tools, resources and prompts as its own.

Service: :class:`~hub.federation.service.Federation` (needs ``ExtensionStore`` and ``Vault``), declared
in ``plugin.py``. The MCP server reaches it only through :class:`hub.protocols.CapabilitySource`.

- ``service.py``: routing names to extensions, listing and calling them for a caller;
- ``calls.py``: one request to an extension: the caller's check, lost-session retry, failures, masking;
- ``listing.py``: the names and shapes clients see (``{key}__{tool}``, resource URIs, prompts);
- ``upstream.py``: one extension's connection, with restarts and backoff;
- ``client.py``: the MCP client session to an extension over stdio, SSE or Streamable HTTP;
- ``processes.py``: stdio extensions' child processes, found and killed by their marker;
- ``check.py``: ``extension_check``, a start-list-stop on a connection of its own.
"""
