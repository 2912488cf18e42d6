"""Sign-in through the team's identity provider: ``GET /auth/oidc/login`` and ``GET /auth/oidc/callback``.

``/auth/oidc/login`` sends the browser to the provider with a fresh state, nonce and PKCE (S256)
challenge; those three wait for the callback in a cookie (``goosuke_oidc``: HttpOnly, SameSite=Lax,
path ``/auth/oidc``, Secure on an https redirect URL) signed with the hub's JWT key and valid for ten
minutes, so any hub process sharing the key can finish the sign-in. ``/auth/oidc/callback`` checks
the state, trades the code (with the verifier, and the client secret from the vault when one is
named), verifies the id_token (``hub.teams.oidc``), finds or creates the user and applies the group
mapping both ways (``hub.teams.oidc_sync``), all in one transaction, then answers a hub access token
as JSON: ``{access_token, token_type, expires_in, user, teams}``. A sign-in started with
``/auth/oidc/login?return_to=console`` (the console's "Sign in with" button; the choice, and the console
page to return to from ``&next=``, travel in the signed cookie beside the state) ends instead with a
console session cookie and a redirect to that page; when such a sign-in fails, the browser is sent back
to the console's sign-in page, which names the reason, instead of being answered a problem response.

Both routes are public (they authenticate through the provider). Sign-in is off until
``GOOSUKE_OIDC_ISSUER`` and ``GOOSUKE_OIDC_CLIENT_ID`` are set; every failure is a problem response
naming the reason (``reason`` is a short code for programs), never a 500.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import httpx2
import jwt
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hub.context import AppContext
from hub.db.models import User
from hub.errors import GoosukeError
from hub.plugin import Plugin
from hub.problems import problem
from hub.teams import audit
from hub.teams.oidc import RESTART, OidcClient, Pending, SignInError
from hub.teams.oidc_sync import (
    apply_groups,
    find_or_create_user,
    memberships,
    misconfigured,
    record_sign_in,
    sign_in_call,
)
from hub.vault.service import Vault

logger = logging.getLogger("goosuke.oidc")
plugin = Plugin("oidc")

COOKIE = "goosuke_oidc"
COOKIE_PATH = "/auth/oidc"
COOKIE_AUDIENCE = "goosuke-oidc-sign-in"  # never confused with an access token (aud goosuke)
PENDING_SECONDS = 600


@plugin.service(OidcClient, needs=[Vault])
@asynccontextmanager
async def oidc_client(app: AppContext) -> AsyncIterator[OidcClient]:
    """The relying party, with one HTTP client to the provider for the hub's lifetime."""

    async def client_secret() -> str | None:
        name = app.settings.oidc_client_secret_name
        if not name:
            return None
        try:
            return await app.services.get(Vault).get(name)
        except GoosukeError as exc:
            raise misconfigured(
                f"The client secret named by GOOSUKE_OIDC_CLIENT_SECRET_NAME ({name!r}) cannot be read: {exc.message}"
            ) from None

    async with httpx2.AsyncClient(timeout=app.settings.oidc_timeout, follow_redirects=False) as http:
        yield OidcClient(app.settings, http, client_secret)


def _ready(app: AppContext) -> tuple[OidcClient, str]:
    """The client and the hub's signing key, or the 404 of a hub where sign-in is off."""
    client = app.services.get(OidcClient)
    if not client.configured:
        raise SignInError(
            404,
            "Not found",
            "OIDC sign-in is not configured: set GOOSUKE_OIDC_ISSUER and GOOSUKE_OIDC_CLIENT_ID (and "
            "GOOSUKE_OIDC_CLIENT_SECRET_NAME naming a vault secret for a confidential client).",
            "not_configured",
        )
    if app.verifier is None:
        raise SignInError(
            404, "Not found", "OIDC sign-in mints hub tokens: it needs GOOSUKE_AUTH=token.", "not_configured"
        )
    return client, app.verifier.key


def _answer(exc: GoosukeError) -> Response:
    reason = exc.reason if isinstance(exc, SignInError) else type(exc).__name__
    if exc.status >= 500:
        logger.warning("OIDC sign-in failed (%s): %s", reason, exc.message)
    response = problem(exc.status, exc.title, exc.message, extra={"reason": reason})
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def _seal(pending: Pending, key: str) -> str:
    now = int(time.time())
    claims = {
        "aud": COOKIE_AUDIENCE,
        "iat": now,
        "exp": now + PENDING_SECONDS,
        "st": pending.state,
        "nn": pending.nonce,
        "cv": pending.verifier,
        "rt": pending.then,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def _claims(value: str, key: str, *, verify_exp: bool = True) -> dict[str, object]:
    """The sign-in cookie's claims, its signature and audience checked (and its expiry unless told not to)."""
    claims: dict[str, object] = jwt.decode(
        value,
        key,
        algorithms=["HS256"],
        audience=COOKIE_AUDIENCE,
        options={"require": ["exp"], "verify_exp": verify_exp},
    )
    return claims


def _unseal(value: str | None, key: str) -> Pending:
    if not value:
        raise SignInError(
            400,
            "No sign-in in progress",
            f"This browser started no sign-in here (no {COOKIE} cookie; cookies must be on). {RESTART}",
            "no_sign_in",
        )
    try:
        claims = _claims(value, key)
    except jwt.ExpiredSignatureError:
        raise SignInError(
            400,
            "Sign-in expired",
            f"The sign-in took longer than {PENDING_SECONDS // 60} minutes. {RESTART}",
            "expired",
        ) from None
    except jwt.PyJWTError:
        raise SignInError(
            400, "No sign-in in progress", f"The sign-in cookie is not valid. {RESTART}", "no_sign_in"
        ) from None
    then = str(claims.get("rt") or "")
    return Pending(state=str(claims["st"]), nonce=str(claims["nn"]), verifier=str(claims["cv"]), then=then)


@plugin.route("/auth/oidc/login", methods=["GET"], public=True)
async def login(request: Request, app: AppContext) -> Response:
    """Send the browser to the identity provider (state, nonce, PKCE S256); ``?return_to=console`` makes the
    callback open a console session and go to the console instead of answering a token."""
    try:
        client, key = _ready(app)
        pending = Pending.new(then=_then(request, app))
        url = await client.authorization_url(pending)
    except GoosukeError as exc:  # SignInError, or ServiceUnavailable while the hub starts
        if request.query_params.get("return_to") == "console":
            return _console_refusal(app, exc, _then(request, app))
        return _answer(exc)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        COOKIE,
        _seal(pending, key),
        max_age=PENDING_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET: Lax cookies travel with it
        secure=app.settings.oidc_redirect_uri.startswith("https://"),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@plugin.route("/auth/oidc/callback", methods=["GET"], public=True)
async def callback(request: Request, app: AppContext) -> Response:
    """Finish the sign-in: check the state, trade the code, verify the id_token, sync the user, mint a token."""
    try:
        response = await _finish(request, app)
    except GoosukeError as exc:  # SignInError, or ServiceUnavailable while the hub starts
        then = _then_of(request.cookies.get(COOKIE), app)
        if then is None:
            return _answer(exc)
        return _console_refusal(app, exc, then)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def _then(request: Request, app: AppContext) -> str:
    """Where the sign-in ends: ``""`` (a token as JSON), or ``console:<page>`` (a console page, kept inside
    the console by the same check as the console's own sign-in)."""
    if request.query_params.get("return_to") != "console":
        return ""
    from hub.console.render import View  # the console is optional

    return "console:" + View.of(request, app).safe_next(request.query_params.get("next"))


def _then_of(value: str | None, app: AppContext) -> str | None:
    """A failed sign-in's console page to return to, read from its cookie even once it has expired (the
    signature still checked), or None when it was not a console sign-in or the cookie cannot be trusted."""
    if not value or app.verifier is None:
        return None
    try:
        claims = _claims(value, app.verifier.key, verify_exp=False)
    except jwt.PyJWTError:
        return None
    then = str(claims.get("rt") or "")
    return then if then.startswith("console") else None


def _console_page(app: AppContext, then: str) -> str:
    from hub.console.render import prefix  # the console is optional

    page = then.removeprefix("console").removeprefix(":")
    return page or f"{prefix(app.settings)}/ui"


def _console_refusal(app: AppContext, exc: GoosukeError, then: str) -> Response:
    """A console sign-in that failed: back to the console's sign-in page, which names the reason."""
    from hub.console.render import prefix  # the console is optional

    reason = exc.reason if isinstance(exc, SignInError) else "unavailable"
    if exc.status >= 500:
        logger.warning("OIDC sign-in failed (%s): %s", reason, exc.message)
    query = urlencode({"oidc": reason, "next": _console_page(app, then)})
    response = RedirectResponse(
        f"{prefix(app.settings)}/ui/signin?{query}", status_code=303, headers={"Cache-Control": "no-store"}
    )
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


async def _to_console(app: AppContext, user: User, then: str) -> Response:
    """The console's ending of a sign-in: a console session (its cookie) and a redirect to the page that sent
    the browser to sign in (the dashboard when none did)."""
    from hub.console.render import SESSION_COOKIE, cookie_path, secure  # the console is optional
    from hub.console.sessions import open_session

    value = await open_session(app, user)
    response = RedirectResponse(_console_page(app, then), status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(app.settings.console_session_ttl),
        path=cookie_path(app.settings),
        httponly=True,
        samesite="lax",
        secure=secure(app.settings),
    )
    return response


async def _finish(request: Request, app: AppContext) -> Response:
    client, key = _ready(app)
    pending = _unseal(request.cookies.get(COOKIE), key)
    query = request.query_params
    if "error" in query:
        said = query["error"][:100] + (
            f": {query['error_description'][:200]}" if query.get("error_description") else ""
        )
        raise SignInError(
            401, "Sign-in refused", f"The identity provider refused the sign-in ({said}).", "provider_denied"
        )
    if not hmac.compare_digest(query.get("state", ""), pending.state):
        raise SignInError(
            400,
            "Sign-in refused",
            f"The state sent back is not this browser's sign-in's (a forged or crossed request). {RESTART}",
            "state_mismatch",
        )
    code = query.get("code")
    if not code:
        raise SignInError(400, "Sign-in refused", f"The identity provider sent back no code. {RESTART}", "no_code")
    identity = await client.sign_in(code, pending)
    verifier = app.verifier
    assert verifier is not None  # _ready checked it
    try:
        async with app.db.session() as session:
            user, created = await find_or_create_user(session, identity, app.settings)
            call = sign_in_call(app, user)
            if user.disabled:
                raise SignInError(
                    403,
                    "Sign-in refused",
                    f"The hub user {user.username!r} is disabled. Ask an admin to enable them.",
                    "user_disabled",
                )
            if created:
                audit.add(
                    session, call, "user.link", f"user:{user.username}", issuer=identity.issuer, sub=identity.subject
                )
            await apply_groups(session, call, user, identity.groups, app.settings)
            await record_sign_in(session, identity, identity.groups)
            audit.add(
                session, call, "auth.oidc_sign_in", f"user:{user.username}", issuer=identity.issuer, created=created
            )
            await session.flush()
            if pending.then.startswith("console"):
                body = None
            else:
                token, ttl = verifier.issue(user)
                body = {
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": ttl,
                    "user": {"id": user.id, "username": user.username, "role": user.role, "created": created},
                    "teams": await memberships(session, user),
                }
    except IntegrityError:  # the same first sign-in twice at once: one of them created the user
        raise SignInError(
            409, "Sign-in clashed", f"Another sign-in of this account was under way. {RESTART}", "conflict"
        ) from None
    if body is None:  # the transaction is committed: the console session can name the user
        return await _to_console(app, user, pending.then)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
