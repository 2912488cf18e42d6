"""The hub's MCP resources (and the templates' MCP prompts).

The hub loads exactly the modules listed in ``PLUGINS`` (see ``hub/registry.py``)."""

PLUGINS: tuple[str, ...] = (
    "resources.executions",
    "resources.extensions",
    "resources.hub",
    "resources.templates",
)
