"""The one rule for objects: who may see, use and change a template, runner, execution, extension,
secret, trigger, destination or chat scope, by its owning team and visibility.

* ``public``: everyone who holds the permission anywhere may see and use it; only the owning team changes it.
* ``team``: who holds the permission in the owning team (or globally).
* ``private``: only its creator (``created_by``).

A principal that holds ``teams.manage`` globally (the admin role) sees and changes everything.
Every domain asks these functions; none writes its own rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement, and_, or_, true

from hub.errors import Hidden, InvalidArguments, PermissionDenied
from hub.principal import Principal

Visibility = Literal["private", "team", "public"]
VISIBILITIES: tuple[str, ...] = ("private", "team", "public")
DEFAULT_TEAM_ID = "default"
DEFAULT_TEAM_NAME = "default"


class Owned(Protocol):
    """A row or a read-only record of one (read-only members: frozen records qualify too)."""

    @property
    def team_id(self) -> Any: ...

    @property
    def visibility(self) -> Any: ...

    @property
    def created_by(self) -> Any: ...


def can_see(principal: Principal, permission: str, obj: Owned) -> bool:
    """Whether ``principal`` may see (and, with the permission, use) ``obj``."""
    if principal.sees_everything:
        return True
    visibility = obj.visibility or "team"
    if visibility == "public":
        seen = principal.may(permission)
    elif visibility == "private":
        seen = obj.created_by == principal.name and principal.may(permission)
    else:
        seen = principal.may(permission, obj.team_id)
    if not seen:
        hidden = _HIDDEN.get()
        if hidden is not None:
            hidden.append(permission)
    return seen


_HIDDEN: ContextVar[list[str] | None] = ContextVar("goosuke_hidden_objects", default=None)


@contextmanager
def watching_hidden() -> Iterator[list[str]]:
    """Collect, for one call, the permissions of the objects ``can_see`` kept from the caller.

    The registry uses it to audit a "not found" that was really a hidden object as a denial,
    whichever domain raised it.
    """
    seen: list[str] = []
    token = _HIDDEN.set(seen)
    try:
        yield seen
    finally:
        _HIDDEN.reset(token)


def can_change(principal: Principal, permission: str, obj: Owned) -> bool:
    """Whether ``principal`` may change or delete ``obj`` (public objects only from their own team)."""
    if principal.sees_everything:
        return True
    if (obj.visibility or "team") == "private":
        return obj.created_by == principal.name and principal.may(permission)
    return principal.may(permission, obj.team_id)


def require_see(principal: Principal, permission: str, obj: Owned, what: str) -> None:
    """Raises Hidden, a NotFound (the object's existence is not disclosed) that the registry records as a denial."""
    if not can_see(principal, permission, obj):
        raise Hidden(f"No {what}. Check the name, or ask its team to share it (visibility team or public).")


def require_change(principal: Principal, permission: str, obj: Owned, what: str) -> None:
    require_see(principal, permission, obj, what)
    if not can_change(principal, permission, obj):
        raise PermissionDenied(
            f"You may use {what} but not change it: that needs {permission} in its owning team. "
            "Ask a member of that team, or copy it into your own team."
        )


def visible(principal: Principal, permission: str, model: Any) -> ColumnElement[bool]:
    """A WHERE clause keeping the rows of ``model`` (an ``Owned`` table) that ``principal`` may see."""
    if principal.sees_everything:
        return true()
    mine = and_(model.visibility == "private", model.created_by == principal.name)
    teams = principal.grants.teams_with(permission)
    if teams is None:  # held globally: every team's shared objects
        return or_(model.visibility != "private", mine)
    clauses = [mine]
    if principal.may(permission):
        clauses.append(model.visibility == "public")
    if teams:
        clauses.append(and_(model.visibility == "team", model.team_id.in_(sorted(teams))))
    return or_(*clauses)


def check_visibility(value: str | None) -> Visibility | None:
    if value is None:
        return None
    if value not in VISIBILITIES:
        raise InvalidArguments(
            f"Unknown visibility {value!r}: use private, team or public.",
            errors=[{"field": "visibility", "message": "private, team or public", "type": "enum"}],
        )
    return value  # type: ignore[return-value]


def owner_team(principal: Principal, permission: str, team: str | None) -> str:
    """The team a new object of ``principal`` goes to: ``team`` if given (and allowed), else its own
    (personal) team when it holds ``permission`` there, else the one team where it does (a ``member``
    works in its teams only).

    ``team`` is a team id; tools resolve a team name to its id first (``hub.teams.service``).

    Raises:
        PermissionDenied: the principal lacks ``permission`` in that team; or, with none named, it holds
            it in no team or in several (then it must name one).
    """
    chosen = team
    if chosen is None:
        home = principal.team or DEFAULT_TEAM_ID
        held = principal.grants.teams_with(permission)
        if principal.may(permission, home) or not held:
            chosen = home
        elif len(held) == 1:
            chosen = next(iter(held))
        else:
            raise PermissionDenied(
                f"You hold {permission} in {len(held)} teams: name one with `team`. Pick a team with whoami, "
                "which lists yours."
            )
    if not principal.may(permission, chosen):
        raise PermissionDenied(
            f"You cannot create this in that team: it needs {permission} there. Pick a team you are a member of "
            "(see whoami) or ask its owner for a role."
        )
    return chosen
