"""Who is calling: a principal, its built-in role and the permissions it holds, globally and per team."""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class Role(enum.StrEnum):
    """The built-in roles in increasing power: a higher role may do everything a lower one may.

    Permissions are what the hub checks (``hub.teams.permissions``); a role is a named set of them.
    """

    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}
_EMPTY: Mapping[str, frozenset[str]] = MappingProxyType({})


@dataclass(frozen=True)
class Grants:
    """What a principal may do: ``platform`` permissions hold in every team, ``teams`` only in that team.

    ``tool_patterns`` (a scoped token's) limit which tools may be called at all; ``None`` is any.
    """

    platform: frozenset[str]
    teams: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)
    tool_patterns: tuple[str, ...] | None = None
    anywhere: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # asked on every call and for every listed tool: precomputed
        object.__setattr__(self, "anywhere", self.platform.union(*self.teams.values()))

    @classmethod
    def of_role(cls, role: Role) -> Grants:
        from hub.teams.permissions import BUILTIN_ROLES

        return cls(platform=BUILTIN_ROLES[role.value])

    def may(self, permission: str, team: str | None = None) -> bool:
        """Whether ``permission`` holds in ``team`` (``None``: globally or in at least one team)."""
        if team is None:
            return permission in self.anywhere
        return permission in self.platform or permission in self.teams.get(team, frozenset())

    def teams_with(self, permission: str) -> frozenset[str] | None:
        """The teams in which ``permission`` holds; ``None`` when it holds everywhere (platform grant)."""
        if permission in self.platform:
            return None
        return frozenset(team for team, granted in self.teams.items() if permission in granted)

    def may_call(self, tool: str) -> bool:
        return self.tool_patterns is None or any(fnmatch.fnmatchcase(tool, p) for p in self.tool_patterns)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a tool.

    ``via`` says how it was authenticated: ``jwt``, ``api_token``, ``local`` (stdio: the
    person who started the process) or ``anonymous`` (``GOOSUKE_AUTH=none`` on loopback).
    ``role`` is the built-in role nearest to what it holds (for display and for a run's own
    token); decisions read ``grants``. ``role_name`` is the user's platform role as stored
    (a built-in or custom role). ``team`` is the team new objects go to unless one is named.
    """

    subject: str
    name: str
    role: Role
    via: str
    token_id: str | None = None
    grants: Grants = None  # type: ignore[assignment]  # filled from ``role`` when not given
    role_name: str = ""
    team: str | None = None

    def __post_init__(self) -> None:
        if self.grants is None:
            object.__setattr__(self, "grants", Grants.of_role(self.role))
        if not self.role_name:
            object.__setattr__(self, "role_name", self.role.value)

    def may(self, permission: str, team: str | None = None) -> bool:
        return self.grants.may(permission, team)

    @property
    def sees_everything(self) -> bool:
        """A principal that manages every team sees every object, private ones included."""
        return "teams.manage" in self.grants.platform


LOCAL_OWNER = Principal(subject="local", name="local-owner", role=Role.admin, via="local")
ANONYMOUS_ADMIN = Principal(subject="anonymous", name="anonymous", role=Role.admin, via="anonymous")


def nearest_role(permissions: frozenset[str]) -> Role:
    """The highest built-in role whose permissions ``permissions`` covers (viewer when none)."""
    from hub.teams.permissions import BUILTIN_ROLES

    for role in (Role.admin, Role.operator):
        if BUILTIN_ROLES[role.value] <= permissions:
            return role
    return Role.viewer
