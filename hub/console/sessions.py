"""Console sign-ins: a random cookie value mapped, by its SHA-256, to a user (and to a pasted API token).

A session never caches what its user may do: every request re-reads the user's live grants with the
functions token verification uses (``hub.teams.grants``), so a role or membership change applies at
the next click. A session ends when it expires (``console_session_ttl`` after sign-in, or
``console_session_idle`` after the last request), at sign-out, when its user is disabled, when the
password it was opened with changes, and when the pasted API token is revoked or expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from hub.accounts import TOKEN_PREFIX, hash_token
from hub.clock import aware
from hub.context import AppContext
from hub.db.account_models import ConsoleSession
from hub.db.models import ApiToken, User
from hub.errors import AuthError
from hub.principal import Principal
from hub.teams.grants import narrow, principal_for, role_permissions, user_grants

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often: a read per click, not a write


@dataclass(frozen=True)
class Signed:
    """A live session: its id (the hash), its CSRF token and the principal it acts as right now."""

    id: str
    csrf: str
    principal: Principal


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _credential(user: User) -> str | None:
    return _digest(user.password_hash) if user.password_hash else None


async def open_session(app: AppContext, user: User, token_id: str | None = None) -> str:
    """Store a new session of ``user`` and return the cookie value (shown to nobody but the browser)."""
    value = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with app.db.session() as session:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))  # keep the table small
        session.add(
            ConsoleSession(
                id=_digest(value),
                user_id=user.id,
                token_id=token_id,
                credential=None if token_id else _credential(user),
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=app.settings.console_session_ttl),
            )
        )
    return value


async def close_session(app: AppContext, value: str | None) -> None:
    """Sign out: forget the session (a missing or unknown one is already gone)."""
    if not value:
        return
    async with app.db.session() as session:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.id == _digest(value)))


async def resolve(app: AppContext, value: str | None, *, touch: bool = True) -> Signed | None:
    """The session behind a cookie value with its user's live grants, or None when there is none any more.
    ``touch``: the request is the user's (a click), so the idle clock starts again; a live page's event
    stream is not, so an unattended open page still signs out after ``console_session_idle``."""
    if not value or len(value) > 200:
        return None
    now = datetime.now(UTC)
    idle = timedelta(seconds=app.settings.console_session_idle)
    async with app.db.session() as session:
        row = await session.get(ConsoleSession, _digest(value))
        if row is None:
            return None
        user = await session.get(User, row.user_id)
        live = (
            user is not None
            and not user.disabled
            and aware(row.expires_at) > now
            and aware(row.last_seen_at) + idle > now
            and (row.token_id is not None or row.credential == _credential(user))
        )
        token = await session.get(ApiToken, row.token_id) if row.token_id else None
        if row.token_id and (token is None or token.revoked_at is not None or _expired(token, now)):
            live = False
        if not live or user is None:
            await session.delete(row)
            return None
        if touch and now - aware(row.last_seen_at) > TOUCH_EVERY:
            row.last_seen_at = now
        grants, home = await user_grants(session, user)
        if token is not None:
            ceiling = (await role_permissions(session, [token.role]))[token.role]
            grants = narrow(
                grants,
                ceiling=ceiling,
                permissions=token.permissions,
                teams=token.team_ids,
                tool_patterns=token.tool_patterns,
            )
        principal = principal_for(user, grants, home, via="console", token_id=token.id if token else None)
        return Signed(id=row.id, csrf=row.csrf, principal=principal)


def _expired(token: ApiToken, now: datetime) -> bool:
    return token.expires_at is not None and aware(token.expires_at) <= now


def csrf_matches(signed: Signed, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(signed.csrf, str(sent))


async def user_of_password(app: AppContext, username: str, password: str) -> User:
    """The user whose password this is, checked by the login guard (off the loop, rate limited).

    Raises:
        RateLimited: too many failures for this username or address.
        AuthError: wrong username or password, or a disabled user (one answer for all three).
    """
    verifier = app.verifier
    if verifier is None:
        raise AuthError("Sign-in is off: this hub runs with GOOSUKE_AUTH=none.")
    verifier.logins.gate(username)
    async with app.db.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
    ok = await verifier.logins.check(username, password, user.password_hash if user is not None else None)
    if user is None or user.disabled or not ok:
        raise AuthError("Wrong username or password, or the user is disabled.")
    return user


async def user_of_token(app: AppContext, value: str) -> tuple[User, str]:
    """The user a pasted API token belongs to, and the token's id (its scopes then bound the session).

    Raises:
        AuthError: not an API token, or one that is unknown, revoked, expired, or not a user's.
    """
    verifier = app.verifier
    if verifier is None:
        raise AuthError("Sign-in is off: this hub runs with GOOSUKE_AUTH=none.")
    value = value.strip()
    if not value.startswith(TOKEN_PREFIX):
        raise AuthError(f"Paste an API token (it starts with {TOKEN_PREFIX}); for an account, use its password.")
    principal = await verifier.authenticate(value)  # the same checks as a bearer token: revoked, expired...
    async with app.db.session() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(value)))
        user = await session.get(User, row.user_id) if row is not None and row.user_id else None
    if row is None or user is None:
        raise AuthError(f"The token {principal.name!r} belongs to no user; sign in with a user's token.")
    return user, row.id
