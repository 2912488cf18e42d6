"""Who is calling: a principal with one of three roles."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    """Roles in increasing power: a higher role may do everything a lower one may."""

    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a tool.

    ``via`` says how it was authenticated: ``jwt``, ``api_token``, ``local`` (stdio: the
    person who started the process) or ``anonymous`` (``GOOSUKE_AUTH=none`` on loopback).
    """

    subject: str
    name: str
    role: Role
    via: str
    token_id: str | None = None


LOCAL_OWNER = Principal(subject="local", name="local-owner", role=Role.admin, via="local")
ANONYMOUS_ADMIN = Principal(subject="anonymous", name="anonymous", role=Role.admin, via="anonymous")
