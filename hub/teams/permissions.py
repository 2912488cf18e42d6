"""The named permissions tools declare, and the built-in roles as sets of them.

A permission is granted globally (a user's platform role) or within one team (a membership's team
role). The built-in roles keep the meaning the three roles always had: a viewer reads, an operator
also runs and manages templates and triggers, an admin may do everything. ``member`` grants nothing
globally (a user who works only through their teams); ``owner`` is a team's admin, and a team keeps
at least one.
"""

from __future__ import annotations

from typing import Final

PERMISSIONS: Final[dict[str, str]] = {
    "hub.read": "See the hub's info and who you are.",
    "hub.settings": "Read the hub's effective settings.",
    "catalog.read": "Search the extension catalog and get recommendations.",
    "templates.read": "List, read and render templates.",
    "templates.manage": "Create, change, copy and delete templates.",
    "templates.run": "Run templates and retry executions.",
    "executions.read": "Read executions and their logs.",
    "executions.cancel": "Cancel executions.",
    "runners.read": "List and read runners.",
    "runners.manage": "Create, change and delete runners (what reaches the host and the network).",
    "extensions.read": "List, read and check extensions; render the Goose config.",
    "extensions.manage": "Add, change, enable, disable, install and remove extensions; sync Goose's config.",
    "secrets.use": "List vault secrets (names only) and name them in extensions and runners.",
    "secrets.manage": "Set, delete and rotate vault secrets.",
    "secrets.reveal": "Reveal a vault secret's value.",
    "triggers.read": "List actions, schedules, webhooks and reaction bindings and their history.",
    "triggers.manage": "Create, change, enable, disable and delete schedules, webhooks and reaction bindings.",
    "deliveries.read": "List destinations and deliveries.",
    "deliveries.manage": "Create, change and delete destinations; retry deliveries.",
    "chat.read": "Read chat messages, channels and chat settings.",
    "chat.post": "Post, edit and delete chat messages, reactions and threads as the bot.",
    "chat.settings": "Change per-channel chat settings.",
    "chat.manage": "Change the chat allow-list.",
    "teams.read": "List teams and their members.",
    "teams.manage": "Create, change and delete teams, their members and move objects between them.",
    "users.manage": "Create and change users and their tokens.",
    "roles.manage": "Create, change and delete custom roles.",
    "audit.read": "Read the audit log.",
}
ALL: Final[frozenset[str]] = frozenset(PERMISSIONS)

_VIEWER = frozenset(
    {
        "hub.read",
        "catalog.read",
        "templates.read",
        "executions.read",
        "runners.read",
        "triggers.read",
        "deliveries.read",
        "chat.read",
        "teams.read",
    }
)
_OPERATOR = _VIEWER | {
    "hub.settings",
    "templates.manage",
    "templates.run",
    "executions.cancel",
    "extensions.read",
    "secrets.use",
    "triggers.manage",
    "deliveries.manage",
    "chat.post",
    "chat.settings",
}

BUILTIN_ROLES: Final[dict[str, frozenset[str]]] = {
    "member": frozenset({"hub.read"}),
    "viewer": _VIEWER,
    "operator": frozenset(_OPERATOR),
    "admin": ALL,
    "owner": ALL,
}
"""Built-in roles; ``viewer``, ``operator`` and ``admin`` are what the three roles always allowed."""

BUILTIN_DESCRIPTIONS: Final[dict[str, str]] = {
    "member": "Signs in; gets everything else from team roles.",
    "viewer": "Reads templates, executions, triggers and chat.",
    "operator": "A viewer who also runs and manages templates, triggers, deliveries and chat posts.",
    "admin": "Every permission.",
    "owner": "A team's admin; a team keeps at least one owner.",
}

# Permissions that mean something only hub-wide: a team role that lists them grants nothing more.
PLATFORM_ONLY: Final[frozenset[str]] = frozenset({"users.manage", "roles.manage", "secrets.reveal", "hub.settings"})

LEGACY_ROLE_PERMISSION: Final[dict[str, str]] = {
    "viewer": "hub.read",
    "operator": "templates.run",
    "admin": "users.manage",
}
"""What a plugin tool declared with only ``role=`` needs: a permission that role's built-in set holds
and the lower roles' sets do not."""


def unknown_permissions(names: object) -> list[str]:
    """The names in ``names`` that are not permissions (for clear errors)."""
    if not isinstance(names, list | tuple | set | frozenset):
        return []
    return sorted(str(n) for n in names if n not in PERMISSIONS)
