"""Users and API tokens (users.manage, a hub-wide permission). Passwords and token values are never
returned, except a new token's value, once, in the result of token_create.

A user's platform role is a built-in role (member, viewer, operator, admin) or a custom one
(role_create); it holds in every team. Tokens may be scoped to teams, permissions and tool-name
patterns; they never carry more than their owner holds at each call (``hub.teams.tokens``).
Token tools stay users.manage-only, also for a user's own tokens: a scoped token that could mint a
token for its owner would be a way out of its scope."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hub import Call, Plugin, accounts
from hub.clock import UtcDatetime
from hub.db.models import ApiToken, User
from hub.plugin import Arguments, NoArguments
from hub.teams import service as teams_service
from hub.teams.roles import ROLE_NAME_PATTERN
from hub.teams.tokens import issue_token

plugin = Plugin("users")

USERNAME = Field(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$", description="Letters, digits and _ . @ - only."
)


PLATFORM_ROLE = Field(
    default="viewer",
    pattern=ROLE_NAME_PATTERN,
    max_length=64,
    description="Platform role: member, viewer, operator, admin or a custom role (role_list).",
)


class UserView(BaseModel):
    id: str
    username: str
    role: str = Field(description="The platform role: built-in or custom.")
    disabled: bool
    created_at: UtcDatetime

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id, username=user.username, role=user.role, disabled=user.disabled, created_at=user.created_at
        )


class TokenView(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="First characters of the token, to recognise it.")
    role: str = Field(description="The token's ceiling role (built-in or custom).")
    user_id: str | None
    created_at: UtcDatetime
    expires_at: UtcDatetime | None
    last_used_at: UtcDatetime | None
    revoked: bool
    teams: list[str] | None = Field(default=None, description="Names of the teams it is limited to; null: all.")
    permissions: list[str] | None = Field(default=None, description="The permissions it is limited to; null: all.")
    tool_patterns: list[str] | None = Field(default=None, description="The tools it may call; null: all.")
    note: str | None = None

    @classmethod
    def of(cls, row: ApiToken, team_names: dict[str, str] | None = None) -> TokenView:
        names = team_names or {}
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            role=row.role,
            user_id=row.user_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked=row.revoked_at is not None,
            teams=[names.get(t, t) for t in row.team_ids] if row.team_ids is not None else None,
            permissions=list(row.permissions) if row.permissions is not None else None,
            tool_patterns=list(row.tool_patterns) if row.tool_patterns is not None else None,
            note=row.note,
        )


async def team_names(session: AsyncSession, rows: list[ApiToken]) -> dict[str, str]:
    """The names of the teams ``rows`` are scoped to."""
    return await teams_service.team_names(session, (t for row in rows for t in (row.team_ids or ())))


class UserCreate(Arguments):
    username: str = USERNAME
    password: str = Field(min_length=8, max_length=1024, description="At least 8 characters.")
    role: str = PLATFORM_ROLE


class UserName(BaseModel):
    username: str = USERNAME


class UserPasswd(Arguments):
    username: str = USERNAME
    password: str = Field(min_length=8, max_length=1024)


class UserUpdate(Arguments):
    username: str = USERNAME
    role: str | None = Field(
        default=None,
        pattern=ROLE_NAME_PATTERN,
        max_length=64,
        description="New platform role: member, viewer, operator, admin or a custom role (role_list).",
    )
    disabled: bool | None = None


class Users(BaseModel):
    users: list[UserView]


class TokenCreate(Arguments):
    name: str = Field(min_length=1, max_length=128, description="What the token is for, e.g. 'ci' or 'goose'.")
    role: str | None = Field(
        default=None,
        pattern=ROLE_NAME_PATTERN,
        max_length=64,
        description="The token's ceiling role (built-in or custom). Left out: viewer, or, when permissions "
        "are given, no ceiling but those permissions.",
    )
    username: str = Field(
        min_length=1,
        max_length=64,
        description="The user the token belongs to; it must exist. The token stops working when they are disabled.",
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    teams: list[str] | None = Field(
        default=None,
        max_length=50,
        description="Limit the token to these teams (names); the owner must be a member of each, or hold "
        "permissions hub-wide. Left out: every team the owner is in.",
    )
    permissions: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Limit the token to these permissions; each must be held by the owner now.",
    )
    tool_patterns: list[str] | None = Field(
        default=None,
        max_length=50,
        description='Tools the token may call, with * and ? wildcards, e.g. ["template_*"]. Left out: any.',
    )
    note: str | None = Field(default=None, max_length=1000, description="What the token is for, for its owner.")


class TokenCreated(BaseModel):
    token: str = Field(description="The token value. Shown only now: store it safely.")
    info: TokenView


class TokenId(Arguments):
    id: str = Field(min_length=1, max_length=64)


class TokenListArgs(Arguments):
    username: str | None = Field(default=None, min_length=1, max_length=64, description="Only this user's tokens.")


class Tokens(BaseModel):
    tokens: list[TokenView]


@plugin.tool(permission="users.manage")
async def user_create(call: Call, args: UserCreate) -> UserView:
    """Create a user who can log in with a password (POST /api/auth/token), with a platform role (built-in
    or custom) that holds in every team, and their personal team `@username`."""
    async with call.app.db.session() as session:
        user = await accounts.create_user(session, args.username, args.password, args.role, actor=call.principal.name)
        return UserView.of(user)


@plugin.tool(permission="users.manage", read_only=True)
async def user_list(call: Call, args: NoArguments) -> Users:
    """List users with their roles (never their passwords)."""
    async with call.app.db.session() as session:
        return Users(users=[UserView.of(u) for u in await accounts.list_users(session)])


@plugin.tool(permission="users.manage")
async def user_passwd(call: Call, args: UserPasswd) -> UserView:
    """Set a user's password. The user's access tokens from before stop working; API tokens keep working."""
    async with call.app.db.session() as session:
        view = UserView.of(
            await accounts.set_password(session, args.username, args.password, actor=call.principal.name)
        )
    if call.app.verifier is not None:
        call.app.verifier.forget()
    return view


@plugin.tool(permission="users.manage")
async def user_update(call: Call, args: UserUpdate) -> UserView:
    """Change a user's platform role (built-in or custom) or disable/enable them. A disabled user's tokens
    stop working; after a role change the user's access tokens from before stop working (log in again)
    and their API tokens carry the new role's permissions from their next call."""
    async with call.app.db.session() as session:
        user = await accounts.get_user(session, args.username)
        if args.role is not None:
            user = await accounts.set_role(session, args.username, args.role, actor=call.principal.name)
        if args.disabled is not None:
            user = await accounts.set_disabled(session, args.username, args.disabled, actor=call.principal.name)
    if call.app.verifier is not None:
        call.app.verifier.forget()
    return UserView.of(user)


@plugin.tool(permission="users.manage")
async def token_create(call: Call, args: TokenCreate) -> TokenCreated:
    """Create a long-lived API token for an existing user (`username`), optionally scoped: to some of their
    teams, a subset of their permissions and tool-name patterns (`template_*`). It never carries more than
    its owner holds at each call (take a permission from the user and the token loses it at once) and
    stops working when the user is disabled. A scope beyond what the owner holds now is refused. The
    value is returned once and stored only hashed."""
    async with call.app.db.session() as session:
        row, value = await issue_token(
            session,
            username=args.username,
            name=args.name,
            role=args.role,
            teams=args.teams,
            permissions=args.permissions,
            tool_patterns=args.tool_patterns,
            expires_in_days=args.expires_in_days,
            note=args.note,
            actor=call.principal.name,
        )
        return TokenCreated(token=value, info=TokenView.of(row, await team_names(session, [row])))


@plugin.tool(permission="users.manage", read_only=True)
async def token_list(call: Call, args: TokenListArgs) -> Tokens:
    """List API tokens: names, roles, scopes (teams, permissions, tool patterns), prefixes, last use; never
    the values."""
    async with call.app.db.session() as session:
        rows = await accounts.list_tokens(session)
        if args.username is not None:
            owner = await accounts.get_user(session, args.username)
            rows = [row for row in rows if row.user_id == owner.id]
        names = await team_names(session, rows)
        return Tokens(tokens=[TokenView.of(t, names) for t in rows])


@plugin.tool(permission="users.manage", destructive=True)
async def token_revoke(call: Call, args: TokenId) -> TokenView:
    """Revoke an API token at once. Revoking twice is harmless."""
    async with call.app.db.session() as session:
        row = await accounts.revoke_token(session, args.id, actor=call.principal.name)
        view = TokenView.of(row, await team_names(session, [row]))
    if call.app.verifier is not None:
        call.app.verifier.forget()
    return view
