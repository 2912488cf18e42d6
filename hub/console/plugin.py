"""The console's routes under ``/ui``: sign-in and sign-out, the pages, the event stream and the two assets.

The routes are public to the bearer-token middleware: the console authenticates by its own session
cookie (``goosuke_console``: HttpOnly, SameSite=Lax, Secure when ``GOOSUKE_PUBLIC_URL`` is https, path
the console's). A request without a live session is sent to sign in and back. Every POST carries the
session's CSRF token (and, when the browser sends one, an ``Origin`` of the hub's); a wrong one ends the
session and sends the browser to sign in, so a forged or stale form never acts.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources as package_files
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from hub.console import (
    events,
    pages,
    pages_admin,
    pages_extensions,
    pages_history,
    pages_run,
    pages_templates,
    pages_triggers,
)
from hub.console.i18n import COOKIE as LANG_COOKIE
from hub.console.i18n import EN, LANGUAGES
from hub.console.render import PRE_COOKIE, SESSION_COOKIE, View, cookie_path, prefix, secure
from hub.console.sessions import (
    Signed,
    close_session,
    csrf_matches,
    open_session,
    resolve,
    user_of_password,
    user_of_token,
)
from hub.context import AppContext
from hub.errors import AuthError, GoosukeError, NotFound, RateLimited
from hub.plugin import Plugin
from hub.principal import ANONYMOUS_ADMIN

plugin = Plugin("console")

ASSETS = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
ASSETS |= {"templates.js": "text/javascript; charset=utf-8", "extensions.js": "text/javascript; charset=utf-8"}
ANONYMOUS_CSRF = secrets.token_urlsafe(32)  # GOOSUKE_AUTH=none (loopback only): one per process
PageFn = Callable[[View], Awaitable[Response]]


def _set_cookie(view: View, response: Response, name: str, value: str, max_age: int | None) -> None:
    settings = view.app.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=cookie_path(settings),
        httponly=True,
        samesite="lax",
        secure=secure(settings),
    )


def _drop_cookie(view: View, response: Response, name: str) -> None:
    response.delete_cookie(name, path=cookie_path(view.app.settings), secure=secure(view.app.settings))


def _same_origin(view: View) -> bool:
    """An ``Origin`` the browser sent names this hub (by its public URL or the Host it was asked by)."""
    origin = view.request.headers.get("origin")
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc
    public = urlsplit(view.app.settings.public_url or "").netloc
    return netloc in {view.request.headers.get("host", ""), public} - {""}


async def _signed(view: View, *, touch: bool = True) -> Signed | None:
    if view.app.settings.auth == "none":
        return Signed(id="anonymous", csrf=ANONYMOUS_CSRF, principal=ANONYMOUS_ADMIN)
    return await resolve(view.app, view.request.cookies.get(SESSION_COOKIE), touch=touch)


def page(
    path: str, fn: PageFn, *, methods: Iterable[str] = ("GET",), back: Callable[[View], str] | None = None
) -> None:
    """Serve ``fn`` at ``path`` for a signed-in caller; ``back`` names the page a refused POST returns to."""

    async def endpoint(request: Request, app: AppContext) -> Response:
        view = View.of(request, app)
        signed = await _signed(view)
        if signed is None:
            target = back(view) if back and request.method == "POST" else None
            reason = "expired" if request.cookies.get(SESSION_COOKIE) else None
            response = view.to_sign_in(target, reason)
            _drop_cookie(view, response, SESSION_COOKIE)
            return response
        view.signed = signed
        if request.method == "POST":
            form = await request.form()
            view.form = {k: v for k, v in form.items() if isinstance(v, str)}
            if not csrf_matches(signed, view.form.get("csrf")) or not _same_origin(view):
                await close_session(app, request.cookies.get(SESSION_COOKIE))
                response = view.to_sign_in(back(view) if back else None, "stale")
                _drop_cookie(view, response, SESSION_COOKIE)
                return response
        try:
            return await fn(view)
        except GoosukeError as exc:
            return view.error(exc)

    plugin.route(path, methods=list(methods), public=True, browser=True)(endpoint)


def _execution_page(view: View) -> str:
    return view.url(f"/executions/{view.request.path_params['id']}")


page("/ui", pages.dashboard)
page("/ui/", pages.dashboard)
page("/ui/executions", pages.executions)
page("/ui/executions/{id}", pages.execution)
page("/ui/executions/{id}/cancel", pages.execution_cancel, methods=["POST"], back=_execution_page)
page("/ui/executions/{id}/retry", pages.execution_retry, methods=["POST"], back=_execution_page)
page("/ui/admin/users", pages.users, methods=["GET", "POST"], back=lambda view: view.url("/admin/users"))


@plugin.route("/ui/events", methods=["GET"], public=True, browser=True)
async def event_stream(request: Request, app: AppContext) -> Response:
    """The live pages' event stream; without a session it says so as an event (EventSource would not follow
    a redirect to the sign-in page: it would give up)."""
    view = View.of(request, app)
    view.signed = await _signed(view, touch=False)
    return events.stream(view) if view.signed is not None else events.ended(view)


async def _sign_out(view: View) -> Response:
    await close_session(view.app, view.request.cookies.get(SESSION_COOKIE))
    response = view.redirect("/signin", reason="signed_out")
    _drop_cookie(view, response, SESSION_COOKIE)
    return response


page("/ui/signout", _sign_out, methods=["POST"], back=lambda view: view.url())


def _oidc_provider(view: View) -> str | None:
    """The identity provider's name (its issuer's host) when the hub signs in through OIDC, else None."""
    from hub.teams.oidc import OidcClient  # the OIDC plugin may be left out

    app = view.app
    if OidcClient not in app.services or app.verifier is None or not app.services.get(OidcClient).configured:
        return None
    return urlsplit(app.settings.oidc_issuer or "").netloc or None


def _oidc_failure(view: View) -> str | None:
    """Why a sign-in through the identity provider failed (``?oidc=<reason>``, set by its callback), in words."""
    reason = view.request.query_params.get("oidc")
    if not reason:
        return None
    key = f"oidc.{reason}"
    return view.t(key) if key in EN else view.t("oidc.other")


def _sign_in_page(view: View, status: int = 200, error: str | None = None, username: str = "") -> Response:
    pre = view.request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
    query = view.request.query_params
    back = view.safe_next(view.form.get("next") or query.get("next"))
    response = view.render(
        "signin.html",
        status=status,
        csrf=pre,
        next=back,
        reason=query.get("reason") if status == 200 else None,
        error=error,
        username=username,
        nav="signin",
        oidc=_oidc_provider(view),
        oidc_url=f"{prefix(view.app.settings)}/auth/oidc/login?{urlencode({'return_to': 'console', 'next': back})}",
        oidc_failed=_oidc_failure(view) if status == 200 else None,
    )
    _set_cookie(view, response, PRE_COOKIE, pre, None)
    return response


@plugin.route("/ui/signin", methods=["GET", "POST"], public=True, browser=True)
async def sign_in(request: Request, app: AppContext) -> Response:
    """The sign-in page; its POST signs in with a password or a pasted API token."""
    view = View.of(request, app)
    if request.method == "GET":
        return _sign_in_page(view)
    form = await request.form()
    view.form = {k: v for k, v in form.items() if isinstance(v, str)}
    username = view.form.get("username", "")[:64]
    pre = request.cookies.get(PRE_COOKIE)
    if not pre or not csrf_matches(Signed("", pre, ANONYMOUS_ADMIN), view.form.get("csrf")) or not _same_origin(view):
        return _sign_in_page(view, 400, view.t("signin.again"), username)
    try:
        if view.form.get("token"):
            user, token_id = await user_of_token(app, view.form["token"])
        else:
            user, token_id = await user_of_password(app, username, view.form.get("password", "")), None
    except (AuthError, RateLimited) as exc:
        return _sign_in_page(view, exc.status, view.t("signin.failed", reason=exc.message), username)
    value = await open_session(app, user, token_id)
    response = view.redirect()
    response.headers["location"] = view.safe_next(view.form.get("next"))
    _set_cookie(view, response, SESSION_COOKIE, value, int(app.settings.console_session_ttl))
    _drop_cookie(view, response, PRE_COOKIE)
    return response


@plugin.route("/ui/lang", methods=["GET"], public=True, browser=True)
async def language(request: Request, app: AppContext) -> Response:
    """Switch the console's language (``?to=ja``) and go back to the page it was switched on."""
    view = View.of(request, app)
    response = view.redirect()
    response.headers["location"] = view.safe_next(request.query_params.get("next"))
    chosen = request.query_params.get("to")
    if chosen in LANGUAGES:
        _set_cookie(view, response, LANG_COOKIE, str(chosen), 365 * 24 * 3600)
    return response


@plugin.route("/ui/static/{name}", methods=["GET"], public=True, browser=True)
async def asset(request: Request, app: AppContext) -> Response:
    """The console's stylesheet and script (hand-written, no third-party code)."""
    name = request.path_params["name"]
    if name not in ASSETS:
        return View.of(request, app).error(NotFound(f"No console asset {name!r}."))
    body = package_files.files("hub.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


async def _unknown(view: View) -> Response:
    return view.error(NotFound(f"The console has no page {view.request.url.path!r}."))


# triggers and admin pages (pages_triggers.py, pages_admin.py)
page("/ui/triggers", pages_triggers.triggers, methods=["GET", "POST"], back=lambda view: view.url("/triggers"))
page("/ui/triggers/schedules/{name}", pages_triggers.schedule)
page("/ui/triggers/webhooks/{name}", pages_triggers.webhook)
page("/ui/triggers/webhooks/{name}/rotate", pages_triggers.webhook_rotate, methods=["POST"], back=pages_triggers.back)
page("/ui/admin", pages_admin.admin)
page("/ui/admin/teams", pages_admin.teams)
page("/ui/admin/teams/{name}", pages_admin.team)
page("/ui/admin/roles", pages_admin.roles)
page("/ui/admin/tokens", pages_admin.tokens, methods=["GET", "POST"], back=pages_admin.back("/admin/tokens"))
page("/ui/admin/tokens/{id}/revoke", pages_admin.token_revoke, methods=["POST"], back=pages_admin.back("/admin/tokens"))
page("/ui/admin/runners", pages_admin.runners)
page("/ui/admin/secrets", pages_admin.secrets, methods=["GET", "POST"], back=pages_admin.back("/admin/secrets"))
page(
    "/ui/admin/secrets/rotate", pages_admin.secret_rotate_key, methods=["POST"], back=pages_admin.back("/admin/secrets")
)
page("/ui/admin/audit", pages_admin.audit)

# templates and extensions (pages_templates, pages_extensions)
_templates_back = lambda view: view.url("/templates")  # noqa: E731
page("/ui/templates", pages_templates.templates)
page("/ui/templates/-new", pages_templates.template_new, methods=["GET", "POST"], back=_templates_back)
page("/ui/templates/-draft", pages_templates.template_draft, methods=["POST"], back=_templates_back)
page(
    "/ui/templates/{name}/run",
    pages_run.template_run,
    methods=["GET", "POST"],
    back=lambda view: view.url(f"/templates/{view.request.path_params['name']}/run"),
)
page("/ui/templates/{name}/diff", pages_history.template_diff)
page(
    "/ui/templates/{name}",
    pages_templates.template_edit,
    methods=["GET", "POST"],
    back=lambda view: view.url(f"/templates/{view.request.path_params['name']}"),
)
_extensions_back = lambda view: view.url("/extensions")  # noqa: E731
page("/ui/extensions", pages_extensions.extensions)
page("/ui/extensions/tools", pages_extensions.tools_toggle, methods=["POST"], back=_extensions_back)
page("/ui/extensions/add", pages_extensions.extension_add, methods=["GET", "POST"], back=_extensions_back)
page("/ui/extensions/{name}/check", pages_extensions.extension_check, methods=["POST"], back=_extensions_back)
page("/ui/extensions/{name}/edit", pages_extensions.extension_edit, methods=["GET", "POST"], back=_extensions_back)

page("/ui/{rest:path}", _unknown)  # last: any other address under /ui is the console's 404 page
