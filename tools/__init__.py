"""The hub's MCP tools, one module per domain: thin surfaces that call a domain service.

The hub loads exactly the modules listed in ``PLUGINS`` (see ``hub/registry.py``)."""

PLUGINS: tuple[str, ...] = (
    "tools.actions",
    "tools.audit",
    "tools.catalog",
    "tools.deliveries",
    "tools.discord",
    "tools.discord_guilds",
    "tools.discord_reactions",
    "tools.discord_settings",
    "tools.executions",
    "tools.extensions",
    "tools.goose_sync",
    "tools.hub",
    "tools.recipes",
    "tools.roles",
    "tools.runners",
    "tools.schedules",
    "tools.secrets",
    "tools.teams",
    "tools.templates",
    "tools.users",
    "tools.webhooks",
)
