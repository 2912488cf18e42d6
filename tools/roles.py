"""Roles: named sets of permissions. Built-in ones (member, viewer, operator, admin, owner) are read-only;
admins (roles.manage) define custom ones. A role is given hub-wide (user_create/user_update) or in a
team (team_member_add); changing a custom role changes every holder's tokens from their next call."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hub import Call, Plugin, accounts
from hub.db.models import RoleRow
from hub.plugin import Arguments, NoArguments
from hub.teams import audit
from hub.teams import roles as service
from hub.teams.permissions import PERMISSIONS
from hub.teams.roles import ROLE_NAME_PATTERN, RoleInfo

plugin = Plugin("roles")

NAME = Field(pattern=ROLE_NAME_PATTERN, description="The role's name: lowercase letters, digits, - and _.")
PERMISSION_LIST = Field(
    max_length=len(PERMISSIONS), description="Permission names (role_list shows them with what each allows)."
)


class RoleView(BaseModel):
    name: str
    description: str
    permissions: list[str]
    builtin: bool = Field(description="Built-in roles cannot be changed or deleted.")

    @classmethod
    def of(cls, info: RoleInfo) -> RoleView:
        return cls(name=info.name, description=info.description, permissions=info.permissions, builtin=info.builtin)


class Roles(BaseModel):
    roles: list[RoleView]
    permissions: dict[str, str] = Field(description="Every permission and what it allows.")


class RoleCreate(Arguments):
    name: str = NAME
    description: str = Field(default="", max_length=2000)
    permissions: list[str] = PERMISSION_LIST


class RoleUpdate(Arguments):
    name: str = NAME
    description: str | None = Field(default=None, max_length=2000)
    permissions: list[str] | None = Field(
        default=None, max_length=len(PERMISSIONS), description="The role's new permissions (replacing the old)."
    )


class RoleName(Arguments):
    name: str = NAME


def _view(row: RoleRow) -> RoleView:
    return RoleView(name=row.name, description=row.description, permissions=sorted(row.permissions), builtin=False)


def _forget(call: Call) -> None:
    if call.app.verifier is not None:
        call.app.verifier.forget()


@plugin.tool(permission="roles.manage", read_only=True)
async def role_list(call: Call, args: NoArguments) -> Roles:
    """List the roles, built-in ones first (marked builtin), with their permissions; and every permission."""
    async with call.app.db.session() as session:
        found = await service.list_roles(session)
    return Roles(roles=[RoleView.of(info) for info in found], permissions=dict(PERMISSIONS))


@plugin.tool(permission="roles.manage")
async def role_create(call: Call, args: RoleCreate) -> RoleView:
    """Create a custom role: a name and a set of permissions. Give it with user_update (hub-wide) or
    team_member_add (in one team)."""
    async with call.app.db.session() as session:
        row = await service.create_role(session, args.name, args.description, args.permissions, call.principal.name)
        audit.add(session, call, "role.create", f"role:{row.name}", permissions=list(row.permissions))
        return _view(row)


@plugin.tool(permission="roles.manage")
async def role_update(call: Call, args: RoleUpdate) -> RoleView:
    """Change a custom role's permissions or description. Every user, membership and token holding it
    gets the new permissions from its next call. Built-in roles are read-only."""
    async with call.app.db.session() as session:
        row = await service.update_role(session, args.name, args.description, args.permissions)
        await accounts.credentials_changed(session)
        audit.add(session, call, "role.update", f"role:{row.name}", permissions=list(row.permissions))
        view = _view(row)
    _forget(call)
    return view


@plugin.tool(permission="roles.manage", destructive=True)
async def role_delete(call: Call, args: RoleName) -> RoleView:
    """Delete a custom role that no user, membership or live token holds (the refusal names them)."""
    async with call.app.db.session() as session:
        row = await service.delete_role(session, args.name)
        view = _view(row)
        await accounts.credentials_changed(session)
        audit.add(session, call, "role.delete", f"role:{row.name}")
    _forget(call)
    return view
