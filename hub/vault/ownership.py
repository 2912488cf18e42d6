"""Which team a new extension or secret goes to, and which secrets an owning team may resolve.

An extension's ``env_keys`` and a runner's ``api_key_secret`` resolve only to secrets of the team that
owns the extension or runner: a ``team`` secret of that team, or a ``private`` one of that team set by
the same user who made the extension or runner. Secrets are never ``public`` (every team would get the
value). Secret names stay unique per scope across the hub (one row per name), so a name taken by another
team cannot be reused; the error says so without showing anything of the other secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.db.models import RunnerRow
from hub.errors import Conflict, InvalidArguments
from hub.principal import Principal
from hub.teams.policy import DEFAULT_TEAM_ID, can_see, check_visibility, require_change
from hub.teams.service import team_names as team_names  # re-exported for this domain

if TYPE_CHECKING:
    from hub.context import AppContext
    from hub.vault.service import Vault

SECRET_VISIBILITIES = ("private", "team")


def secret_visibility(value: str | None) -> str | None:
    """``value`` checked for a secret: ``private`` or ``team`` (``None``: unchanged, or team when new)."""
    if value == "public":
        raise InvalidArguments(
            "A secret cannot be public: every team's extensions and runners could then use its value. Use "
            "visibility team (the extensions and runners of its team get it) or private (only yours do).",
            errors=[{"field": "visibility", "message": "private or team", "type": "enum"}],
        )
    return check_visibility(value)


def usable_by(row: Any, team: str, creator: str | None) -> bool:
    """Whether the secret ``row`` resolves for an extension or runner owned by ``team`` (made by ``creator``)."""
    if (row.team_id or DEFAULT_TEAM_ID) != team:
        return False
    return row.visibility != "private" or (creator is not None and row.created_by == creator)


def may_replace(row: Any, principal: Principal | None, team_id: str | None) -> None:
    """Whether ``principal`` may set the existing secret ``row`` again (``None``: the hub itself may).

    Raises:
        Conflict: the name is another team's secret (names are unique across the hub).
        PermissionDenied: visible, but changing it needs ``secrets.manage`` in its team.
        InvalidArguments: ``team_id`` names another team than the secret's (moving is team_transfer's).
    """
    if principal is None:
        return
    if not (can_see(principal, "secrets.use", row) or can_see(principal, "secrets.manage", row)):
        raise Conflict(
            f"The name {row.name!r} is taken by a secret of another team (secret names are unique across the "
            "hub). Pick another name; nothing was changed."
        )
    require_change(principal, "secrets.manage", row, f"secret named {row.name!r}")
    if team_id is not None and team_id != (row.team_id or DEFAULT_TEAM_ID):
        raise InvalidArguments(
            f"Secret {row.name!r} belongs to another team; setting it again keeps it there. Move it with "
            "team_transfer, or leave out `team`. Nothing was changed.",
            errors=[{"field": "team", "message": "the secret lives in another team", "type": "team"}],
        )


async def runner_secret(app: AppContext, vault: Vault, runner: str | None, name: str) -> str:
    """The value of the secret ``name`` that ``runner`` names (its ``api_key_secret``): a secret of the
    runner's team (a built-in runner's is ``default``), else NotFound naming the secret and the team."""
    row = None
    if runner:
        async with app.db.session() as session:
            row = await session.get(RunnerRow, runner)
    team = (row.team_id if row is not None else None) or DEFAULT_TEAM_ID
    creator = row.created_by if row is not None else None
    return await vault.get(name, team=team, creator=creator)
