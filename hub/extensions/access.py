"""Who may use an extension through the hub: its federated tools, resources and prompts, and a check.

An extension keeps its ``role``: the level a caller needs to use it. Used through the hub that level is
a permission, read with the object policy (``hub.teams.policy.can_see``) on the extension's owning team
and visibility:

* ``viewer``: ``templates.read`` (what every viewer holds; ``hub.read`` is every signed-in user's, so it
  would not keep teams apart);
* ``operator``: ``templates.run`` (``hub.teams.permissions.LEGACY_ROLE_PERMISSION``);
* ``admin``: ``users.manage`` (a platform permission: only hub admins).

So a ``team`` extension of team A with role operator serves its tools to whoever may run templates in
A (or hub-wide); a ``public`` one to whoever may run templates anywhere; a ``private`` one to its creator.
``tools/list`` shows exactly the tools a caller may call. Someone who may read the team's templates but
lacks the level is told what is missing; anyone else is told the tool does not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.errors import NotFound, PermissionDenied
from hub.principal import Principal, Role
from hub.teams.permissions import LEGACY_ROLE_PERMISSION
from hub.teams.policy import DEFAULT_TEAM_ID, can_see

if TYPE_CHECKING:
    from hub.extensions.store import ExtensionRecord

USE_PERMISSION: dict[Role, str] = {
    Role.viewer: "templates.read",
    Role.operator: LEGACY_ROLE_PERMISSION["operator"],
    Role.admin: LEGACY_ROLE_PERMISSION["admin"],
}


def use_permission(record: ExtensionRecord) -> str:
    """The permission a caller needs (in its team, by its visibility) to use ``record`` through the hub."""
    return USE_PERMISSION[record.role]


def may_use(principal: Principal, record: ExtensionRecord) -> bool:
    """Whether ``principal`` may call ``record``'s tools, read its resources and get its prompts."""
    return can_see(principal, use_permission(record), record)


def refusal(principal: Principal, record: ExtensionRecord, what: str) -> NotFound | PermissionDenied | None:
    """Why ``principal`` may not use ``record`` for ``what`` (None: it may).

    A caller who may see the extension at the lowest level learns what is missing; anyone else gets
    NotFound, so another team's extension is not disclosed.
    """
    if may_use(principal, record):
        return None
    if can_see(principal, USE_PERMISSION[Role.viewer], record) or can_see(principal, "extensions.read", record):
        needed = use_permission(record)
        return PermissionDenied(
            f"Extension {record.key!r} needs the {record.role.value} role: the {needed} permission in its team. "
            f"You ({principal.name}) do not hold it there. Ask an admin or its team's owner (extension_update "
            "role=... lowers it)."
        )
    return NotFound(f"Unknown {what}. Call tools/list to see the tools this hub offers.")


def run_may_have(record: ExtensionRecord, team: str, creator: str | None) -> bool:
    """Whether a run of ``team`` started by ``creator`` may get ``record``: a public extension, one of its
    own team, or one private to its creator in that team. (The run's role is checked beside this.)"""
    if record.visibility == "public":
        return True
    if (record.team_id or DEFAULT_TEAM_ID) != team:
        return False
    return record.visibility != "private" or (creator is not None and record.created_by == creator)
