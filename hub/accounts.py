"""Users and API tokens: creation, listing, password changes, revocation. Used by tools and the CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

import anyio.to_thread
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import ApiToken, AuditEvent, AuthRevision, Team, TeamMember, User
from hub.errors import Conflict, InvalidArguments, NotFound
from hub.principal import Role
from hub.teams.roles import check_role

TOKEN_PREFIX = "gsk_"
# scrypt cost: 2**15 x 8 x 1 uses 32 MiB per hash, about 50-100 ms here: memory-hard, still snappy.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 1024 * 1024)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


async def hash_password_off_loop(password: str) -> str:
    """:func:`hash_password` in a worker thread: scrypt takes tens of milliseconds of CPU."""
    return await anyio.to_thread.run_sync(hash_password, password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidArguments(
            f"The password is too short: use at least {MIN_PASSWORD} characters.",
            errors=[{"field": "password", "message": f"at least {MIN_PASSWORD} characters", "type": "too_short"}],
        )


async def audit(session: AsyncSession, actor: str, action: str, target: str, **detail: object) -> None:
    session.add(AuditEvent(actor=actor, action=action, target=target, detail=detail))


async def credentials_changed(session: AsyncSession, user: User | None = None) -> None:
    """Record a credential change in this transaction: the user's access tokens stop working (their
    ``ver`` claim is now old) and the auth revision moves on, so every hub process sharing the
    database drops its cached token verdicts at its next poll (``HubTokenVerifier``)."""
    if user is not None:
        user.token_version = (user.token_version or 0) + 1
    bumped = await session.execute(
        update(AuthRevision).where(AuthRevision.id == 1).values(revision=AuthRevision.revision + 1)
    )
    if not getattr(bumped, "rowcount", 1):  # a database created without migration 0008's row
        session.add(AuthRevision(id=1, revision=1))


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def count_tokens(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ApiToken)) or 0)


async def create_user(
    session: AsyncSession, username: str, password: str | None, role: Role | str, actor: str = "system"
) -> User:
    """A user with a platform ``role`` (built-in or custom) and their personal team ``@username``."""
    role = await check_role(session, str(role), platform=True)
    if await session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"A user named {username!r} exists already. Pick another name or change its password.")
    if password is not None:
        check_password(password)
    hashed = await hash_password_off_loop(password) if password else None
    user = User(username=username, password_hash=hashed, role=role)
    session.add(user)
    await session.flush()
    team = Team(name=f"@{username}", description=f"{username}'s own team.", personal_of=user.id, created_by=actor)
    session.add(team)
    await session.flush()
    session.add(TeamMember(team_id=team.id, user_id=user.id, role="owner"))
    await audit(session, actor, "user.create", username, role=role)
    return user


async def get_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}. List users with user_list or `goosuke user list`.")
    return user


async def token_owner(session: AsyncSession, username: str) -> User:
    """The existing user a new API token is for (every token the token_create tool and
    ``goosuke token create`` make belongs to one)."""
    try:
        return await get_user(session, username)
    except NotFound:
        raise NotFound(
            f"No user named {username!r}: an API token belongs to an existing user. Create them first with "
            "user_create or `goosuke user add`, or pick one from user_list or `goosuke user list`."
        ) from None


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.username)))


async def set_password(session: AsyncSession, username: str, password: str, actor: str = "system") -> User:
    check_password(password)
    user = await get_user(session, username)
    user.password_hash = await hash_password_off_loop(password)
    await credentials_changed(session, user)
    await audit(session, actor, "user.passwd", username)
    return user


async def set_role(session: AsyncSession, username: str, role: Role | str, actor: str = "system") -> User:
    """Change a user's platform role (built-in or custom); their access tokens from before stop working."""
    role = await check_role(session, str(role), platform=True)
    user = await get_user(session, username)
    if user.role != role:
        user.role = role
        await credentials_changed(session, user)
    await audit(session, actor, "user.role", username, role=role)
    return user


async def set_disabled(session: AsyncSession, username: str, disabled: bool, actor: str = "system") -> User:
    user = await get_user(session, username)
    if bool(user.disabled) != disabled:
        user.disabled = disabled
        await credentials_changed(session, user)
    await audit(session, actor, "user.disable" if disabled else "user.enable", username)
    return user


async def create_token(
    session: AsyncSession,
    name: str,
    role: Role | str,
    user_id: str | None = None,
    expires_at: datetime | None = None,
    actor: str = "system",
    *,
    team_ids: list[str] | None = None,
    permissions: list[str] | None = None,
    tool_patterns: list[str] | None = None,
    note: str | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the plaintext value (shown once, never stored).

    ``role`` is the token's ceiling; ``team_ids``, ``permissions`` and ``tool_patterns`` narrow it
    further (``None``: no limit). The caller checks them against the owner (``hub.teams.tokens``).
    """
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    role_name = str(role)
    row = ApiToken(
        name=name,
        token_hash=hash_token(value),
        prefix=value[:10],
        role=role_name,
        user_id=user_id,
        expires_at=expires_at,
        team_ids=team_ids,
        permissions=permissions,
        tool_patterns=tool_patterns,
        note=note,
    )
    session.add(row)
    await session.flush()
    scopes = {"teams": team_ids, "permissions": permissions, "tool_patterns": tool_patterns}
    await audit(
        session, actor, "token.create", row.id, name=name, role=role_name, **{k: v for k, v in scopes.items() if v}
    )
    return row, value


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    return list(await session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


async def revoke_token(session: AsyncSession, token_id: str, actor: str = "system") -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"No API token with id {token_id!r}. List tokens with token_list or `goosuke token list`.")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await credentials_changed(session)
        await audit(session, actor, "token.revoke", token_id, name=row.name)
    return row
