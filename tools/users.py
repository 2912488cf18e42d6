"""Users and API tokens (admin only). Passwords and token values are never returned, except a new
token's value, once, in the result of token_create."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from hub import Call, Plugin, Role, accounts
from hub.clock import UtcDatetime
from hub.db.models import ApiToken, User
from hub.plugin import Arguments, NoArguments

plugin = Plugin("users")

USERNAME = Field(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$", description="Letters, digits and _ . @ - only."
)


class UserView(BaseModel):
    id: str
    username: str
    role: Role
    disabled: bool
    created_at: UtcDatetime

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id, username=user.username, role=Role(user.role), disabled=user.disabled, created_at=user.created_at
        )


class TokenView(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="First characters of the token, to recognise it.")
    role: Role
    user_id: str | None
    created_at: UtcDatetime
    expires_at: UtcDatetime | None
    last_used_at: UtcDatetime | None
    revoked: bool

    @classmethod
    def of(cls, row: ApiToken) -> TokenView:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            role=Role(row.role),
            user_id=row.user_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked=row.revoked_at is not None,
        )


class UserCreate(Arguments):
    username: str = USERNAME
    password: str = Field(min_length=8, max_length=1024, description="At least 8 characters.")
    role: Role = Role.viewer


class UserName(BaseModel):
    username: str = USERNAME


class UserPasswd(Arguments):
    username: str = USERNAME
    password: str = Field(min_length=8, max_length=1024)


class UserUpdate(Arguments):
    username: str = USERNAME
    role: Role | None = None
    disabled: bool | None = None


class Users(BaseModel):
    users: list[UserView]


class TokenCreate(Arguments):
    name: str = Field(min_length=1, max_length=128, description="What the token is for, e.g. 'ci' or 'goose'.")
    role: Role = Role.viewer
    username: str = Field(
        min_length=1,
        max_length=64,
        description="The user the token belongs to; it must exist. The token stops working when they are disabled.",
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenCreated(BaseModel):
    token: str = Field(description="The token value. Shown only now: store it safely.")
    info: TokenView


class TokenId(Arguments):
    id: str = Field(min_length=1, max_length=64)


class Tokens(BaseModel):
    tokens: list[TokenView]


@plugin.tool(permission="users.manage")
async def user_create(call: Call, args: UserCreate) -> UserView:
    """Create a user who can log in with a password (POST /api/auth/token) and get a role."""
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
    """Change a user's role or disable/enable them. A disabled user's tokens stop working; after a role
    change the user's access tokens from before stop working (log in again)."""
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
    """Create a long-lived API token with a role for an existing user (`username`); it stops working when
    that user is disabled. The value is returned once and stored only hashed."""
    expires = datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    async with call.app.db.session() as session:
        user_id = (await accounts.token_owner(session, args.username)).id
        row, value = await accounts.create_token(
            session, args.name, args.role, user_id=user_id, expires_at=expires, actor=call.principal.name
        )
        return TokenCreated(token=value, info=TokenView.of(row))


@plugin.tool(permission="users.manage", read_only=True)
async def token_list(call: Call, args: NoArguments) -> Tokens:
    """List API tokens: names, roles, prefixes, last use; never the values."""
    async with call.app.db.session() as session:
        return Tokens(tokens=[TokenView.of(t) for t in await accounts.list_tokens(session)])


@plugin.tool(permission="users.manage", destructive=True)
async def token_revoke(call: Call, args: TokenId) -> TokenView:
    """Revoke an API token at once. Revoking twice is harmless."""
    async with call.app.db.session() as session:
        row = await accounts.revoke_token(session, args.id, actor=call.principal.name)
        view = TokenView.of(row)
    if call.app.verifier is not None:
        call.app.verifier.forget()
    return view
