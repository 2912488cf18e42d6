"""The extension catalog: MCP servers a team can add in one step, ranked for a task.

No service of its own: functions over the entries shipped in ``data/*.json`` (registry
``server.json`` documents) or fetched from ``GOOSUKE_REGISTRY_URL``.

- ``entries.py``: parsing ``server.json`` documents and turning one into a Goose extension entry with
  its variables prefilled and its secrets named (never written);
- ``ranking.py``: the offline ranking of entries for a task's text;
- ``refinement.py``: re-ranking by a model through the ``recommend-extensions`` template (needs the
  ``Engine`` service when it runs).
"""
