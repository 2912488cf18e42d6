"""Which runners a caller sees and changes, and which ones a template of a team may name.

Runners are team objects (``hub.teams.policy``): ``runners.read`` to see one, ``runners.manage`` in its
owning team to change it. The built-in runners (goose, openai, sampling) have no row and are public.
A template may name a runner only when the runner is usable by the template's team: public, owned by
that team (a private one: only by its creator), or seen through a global grant of ``runners.read`` (the
platform roles, as before teams). The check runs when a template is saved and again at every run, so
a runner withdrawn from a team later is no longer reached.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import RunnerRow
from hub.errors import InvalidArguments, PermissionDenied
from hub.principal import Principal
from hub.teams.policy import can_see, check_visibility, owner_team
from hub.teams.service import placed_in, visible_team
from hub.teams.service import team_names as team_names  # re-exported for this domain

READ, MANAGE = "runners.read", "runners.manage"


def unknown(name: str, field: str = "name") -> InvalidArguments:
    message = f"No runner named {name!r}. List runners with runner_list; an admin creates them with runner_create."
    return InvalidArguments(message, errors=[{"field": field, "message": message, "type": "runner_unknown"}])


def usable(principal: Principal, row: RunnerRow | None, team_id: str | None) -> bool:
    """Whether a template of ``team_id`` may run on ``row`` for ``principal`` (None: a built-in runner)."""
    if row is None:
        return True
    if not can_see(principal, READ, row):
        return False
    held_globally = principal.grants.teams_with(READ) is None
    return row.visibility == "public" or row.team_id == team_id or held_globally


def require_usable(
    principal: Principal, row: RunnerRow | None, name: str, team_id: str | None, *, field: str = "runner"
) -> None:
    """Raises:
    InvalidArguments: the principal may not see the runner (as if it did not exist).
    PermissionDenied: it sees the runner, but it belongs to another team and is not public.
    """
    if row is None or usable(principal, row, team_id):
        return
    if not can_see(principal, READ, row):
        raise unknown(name, field)
    message = (
        f"Runner {name!r} belongs to another team and is shared only within it, so this template's team cannot "
        "run on it. Ask that team to make it public (runner_update visibility=public), or pick a runner of "
        "your team (runner_list)."
    )
    raise PermissionDenied(message, errors=[{"field": field, "message": message, "type": "runner_team"}])


# -- owning teams, shared by runners and templates ------------------------------------------------


async def new_owner(
    session: AsyncSession, principal: Principal, permission: str, team: str | None, visibility: str | None
) -> tuple[str, str]:
    """The team id and visibility a new object of ``principal`` gets: ``team`` (a name or id) if given and
    allowed, else the principal's own team or the first where it may create (:func:`hub.teams.policy.owner_team`);
    ``visibility`` checked, default ``team``.

    Raises:
        NotFound: unknown team. InvalidArguments: unknown visibility.
        PermissionDenied: the principal lacks ``permission`` in that team.
    """
    chosen = check_visibility(visibility) or "team"
    return await placed_in(session, principal, permission, team), chosen


async def moved_to(
    session: AsyncSession, principal: Principal, permission: str, current: str | None, team: str | None
) -> str | None:
    """The team an object of ``current`` moves to when ``team`` is asked (``permission`` needed there)."""
    if team is None:
        return current
    target = (await visible_team(session, principal, team)).id
    return current if target == current else owner_team(principal, permission, target)
