"""Authentication: JWT access tokens, API tokens, the token verifier and the ASGI middleware.

Every HTTP route except health, metrics, token issuance, OAuth metadata and the static API page
needs ``Authorization: Bearer <token>``. A token is either a JWT issued by ``POST /api/auth/token``
(HS256, ``aud`` and ``iss`` checked, ``alg: none`` refused) or an API token (``gsk_...``) whose
SHA-256 is looked up in the database.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime

import jwt
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from sqlalchemy import select
from starlette.authentication import AuthCredentials
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.accounts import TOKEN_PREFIX, hash_token
from hub.clock import aware
from hub.db import Database
from hub.db.models import ApiToken, AuthRevision, User
from hub.errors import AuthError
from hub.files import write_private
from hub.login import CLIENT_ADDRESS, LoginGuard
from hub.principal import ANONYMOUS_ADMIN, Principal, Role
from hub.problems import problem
from hub.settings import Settings
from hub.teams.grants import narrow, principal_for, role_permissions, user_grants

logger = logging.getLogger("goosuke.auth")

JWT_ALGORITHM = "HS256"
# A verdict is cached this long at most; any credential change (here or in another process sharing the
# database) empties the cache within ``auth_revision_poll`` seconds, so this bounds only the DB reads.
VERIFY_CACHE_SECONDS = 5.0
PRINCIPAL_SCOPE_KEY = "goosuke.principal"


def signing_key(settings: Settings) -> str:
    """The JWT key from settings, else from DATA_DIR/jwt.key, created 0600 on first use."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = settings.data_dir / "jwt.key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    write_private(path, key)
    return key


class HubTokenVerifier:
    """Turns a bearer token into a ``Principal``; implements the SDK's ``TokenVerifier`` protocol too.

    Verdicts are cached briefly. Every credential change (``accounts.credentials_changed``: a revoked
    token, a password, role or disabled change) bumps the one-row ``auth_revision`` counter in the
    same transaction; the verifier reads that row at most every ``auth_revision_poll`` seconds, and
    only while requests come in, and empties its cache when the number moved. A JWT carries its
    user's ``token_version`` as ``ver``; one from before a change is refused.
    """

    def __init__(self, db: Database, settings: Settings, key: str) -> None:
        self.db = db
        self.settings = settings
        self.key = key
        self.logins = LoginGuard(settings)
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._revision: int | None = None
        self._next_poll = 0.0

    def issue(self, user: User) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "sub": user.id,
            "name": user.username,
            "role": user.role,
            "aud": self.settings.jwt_audience,
            "iss": self.settings.jwt_issuer,
            "iat": now,
            "exp": now + self.settings.access_token_ttl,
            "jti": secrets.token_hex(8),
            "ver": user.token_version or 0,
        }
        return jwt.encode(claims, self.key, algorithm=JWT_ALGORITHM), self.settings.access_token_ttl

    async def password_login(self, username: str, password: str) -> tuple[str, int]:
        """An access token for the user, after ``LoginGuard`` checked the password (off the loop, backed off).

        Raises:
            RateLimited: too many failures for this username or client address.
            AuthError: wrong username or password, or a disabled user (one answer for all three).
        """
        self.logins.gate(username)
        async with self.db.session() as session:
            user = await session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None else None
        ok = await self.logins.check(username, password, stored)
        if user is None or user.disabled or not ok:
            raise AuthError("Wrong username or password, or the user is disabled.")
        return self.issue(user)

    def forget(self) -> None:
        self._cache.clear()

    async def _sync_revision(self) -> None:
        """Empty the cache when another process (or this one) changed credentials since the last poll."""
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self.settings.auth_revision_poll
        try:
            async with self.db.session() as session:
                revision = await session.scalar(select(AuthRevision.revision).where(AuthRevision.id == 1))
        except Exception as exc:  # no answer: trust no cached verdict
            logger.warning("Could not read the auth revision (%s); token verdicts are not cached.", type(exc).__name__)
            self._cache.clear()
            self._revision = None
            return
        if revision != self._revision:
            self._cache.clear()
            self._revision = revision

    async def authenticate(self, token: str) -> Principal:
        """Raises AuthError with the reason when the token is not acceptable."""
        await self._sync_revision()
        cached = self._cache.get(token)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        if token.startswith(TOKEN_PREFIX):
            principal = await self._api_token(token)
        else:
            principal = await self._jwt(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (time.monotonic() + VERIFY_CACHE_SECONDS, principal)
        return principal

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return access_token_for(await self.authenticate(token), token)
        except AuthError:
            return None

    async def _jwt(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[JWT_ALGORITHM],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("The access token has expired. Get a new one from POST /api/auth/token.") from None
        except jwt.InvalidAudienceError:
            raise AuthError(
                f"The access token is for another audience; this hub accepts aud={self.settings.jwt_audience!r}."
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthError("The access token was issued by someone else; this hub accepts only its own.") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError(f"The access token's algorithm is not allowed; only {JWT_ALGORITHM} is.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"The access token lacks the {exc.claim!r} claim.") from None
        except jwt.PyJWTError:
            raise AuthError("The bearer token is neither a valid access token nor an API token (gsk_...).") from None
        async with self.db.session() as session:
            user = await session.get(User, str(claims["sub"]))
            if user is None or user.disabled:
                raise AuthError("The token's user no longer exists or is disabled.")
            if claims.get("ver", 0) != (user.token_version or 0):
                raise AuthError(
                    "The access token was issued before this user's password, role or status changed; "
                    "log in again at POST /api/auth/token."
                )
            grants, home = await user_grants(session, user)
        scoped = narrow(grants, permissions=_claim_list(claims, "perms"), teams=_claim_list(claims, "teams"))
        return principal_for(user, scoped, home, via="jwt", token_id=str(claims.get("jti")))

    async def _api_token(self, token: str) -> Principal:
        now = datetime.now(UTC)
        async with self.db.session() as session:
            row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
            if row is None:
                raise AuthError("Unknown API token. Create one with `goosuke token create`.")
            if row.revoked_at is not None:
                raise AuthError("This API token was revoked. Ask an admin for a new one.")
            if row.expires_at is not None and aware(row.expires_at) <= now:
                raise AuthError("This API token has expired. Ask an admin for a new one.")
            if row.last_used_at is None or (now - aware(row.last_used_at)).total_seconds() > 60:
                row.last_used_at = now
            if not row.user_id:  # a token from before tokens belonged to users: its role is all it has
                return Principal(
                    subject=f"token:{row.id}", name=row.name, role=Role(row.role), via="api_token", token_id=row.id
                )
            user = await session.get(User, row.user_id)
            if user is None or user.disabled:
                raise AuthError("The user this API token belongs to is disabled.")
            grants, home = await user_grants(session, user)
            ceiling = (await role_permissions(session, [row.role]))[row.role]
        scoped = narrow(
            grants, ceiling=ceiling, permissions=row.permissions, teams=row.team_ids, tool_patterns=row.tool_patterns
        )
        return principal_for(user, scoped, home, via="api_token", token_id=row.id)


def _claim_list(claims: dict[str, object], name: str) -> list[str] | None:
    value = claims.get(name)
    return [str(item) for item in value] if isinstance(value, list) else None


def access_token_for(principal: Principal, token: str) -> AccessToken:
    return AccessToken(
        token=token,
        client_id=principal.name,
        scopes=[principal.role.value],
        subject=principal.subject,
        claims={
            "role": principal.role.value,
            "via": principal.via,
            "token_id": principal.token_id,
            PRINCIPAL_SCOPE_KEY: principal,  # the whole principal, grants included, for the SDK's auth context
        },
    )


def principal_from_access_token(token: AccessToken) -> Principal:
    claims = token.claims or {}
    carried = claims.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(carried, Principal):
        return carried
    return Principal(
        subject=token.subject or token.client_id,
        name=token.client_id,
        role=Role(claims.get("role", Role.viewer.value)),
        via=str(claims.get("via", "jwt")),
        token_id=claims.get("token_id"),
    )


# Paths reachable without a token. Everything else needs one.
PUBLIC_EXACT = {"/", "/healthz", "/readyz", "/metrics", "/api/auth/token", "/api/docs", "/favicon.ico"}
PUBLIC_PREFIXES = ("/.well-known/", "/api/docs/")
MCP_PREFIXES = ("/mcp", "/sse", "/messages")


class AuthMiddleware:
    """Pure ASGI: authenticates the bearer token, refuses protected paths without one.

    MCP paths answer 401 with ``WWW-Authenticate: Bearer ... resource_metadata="..."`` (RFC 9728);
    the facade answers a JSON problem. On success the request carries the principal in
    ``scope["goosuke.principal"]`` and the SDK's ``scope["user"]`` / auth context.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: HubTokenVerifier | None,
        resource_metadata_url: str,
        enabled: bool = True,
        public_routes: list[Route] | None = None,
    ) -> None:
        self.app = app
        self.public_routes = public_routes or []
        self.verifier = verifier
        self.metadata_url = resource_metadata_url
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        reset = CLIENT_ADDRESS.set(str(client[0]) if client else None)  # for the login back-off
        try:
            await self._serve(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(reset)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        public = (
            path in PUBLIC_EXACT
            or path.startswith(PUBLIC_PREFIXES)
            or any(route.matches(scope)[0] != Match.NONE for route in self.public_routes)
        )
        if not self.enabled:
            await self._proceed(scope, receive, send, ANONYMOUS_ADMIN, "")
            return
        token = _bearer(scope)
        if token is None:
            if public:
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, receive, send, "Authentication required: send Authorization: Bearer <token>.")
            return
        assert self.verifier is not None
        try:
            principal = await self.verifier.authenticate(token)
        except AuthError as exc:
            if public:
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, receive, send, exc.message)
            return
        await self._proceed(scope, receive, send, principal, token)

    async def _proceed(self, scope: Scope, receive: Receive, send: Send, principal: Principal, token: str) -> None:
        user = AuthenticatedUser(access_token_for(principal, token))
        scope["user"] = user
        scope["auth"] = AuthCredentials([principal.role.value])
        scope[PRINCIPAL_SCOPE_KEY] = principal
        reset = auth_context_var.set(user)
        try:
            await self.app(scope, receive, send)
        finally:
            auth_context_var.reset(reset)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, reason: str) -> None:
        safe = reason.replace('"', "'")
        challenge = f'Bearer error="invalid_token", error_description="{safe}", resource_metadata="{self.metadata_url}"'
        headers = {"WWW-Authenticate": challenge}
        response: Response
        if scope["path"].startswith(MCP_PREFIXES):  # what MCP clients expect (RFC 6750's error body)
            response = JSONResponse({"error": "invalid_token", "error_description": reason}, 401, headers)
        else:
            response = problem(401, "Authentication required", reason, headers=headers)
        await response(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None
