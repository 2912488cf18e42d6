"""What every console page shares: the template environment, the sub-path, the signed-in caller and tool calls.

Pages are Jinja2 templates from ``hub/console/templates`` in an ordinary autoescaping environment (the
console's own files, never a user's template: those render in ``hub.templates.sandbox``). Every URL a
page shows comes from :meth:`View.url`, which puts the path of ``GOOSUKE_PUBLIC_URL`` in front, so the
console works behind a proxy that serves the hub at ``https://example.org/goosuke/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hub.console import i18n
from hub.console.sessions import Signed
from hub.context import AppContext
from hub.errors import GoosukeError, NotFound, PermissionDenied
from hub.plugin import Call
from hub.settings import Settings

SESSION_COOKIE = "goosuke_console"
PRE_COOKIE = "goosuke_console_pre"  # the sign-in form's CSRF value (double submit) before a session exists
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("hub.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def digits(text: str) -> bool:
    """``text`` is a plain, short decimal number that ``int()`` reads (``str.isdigit`` also says yes to
    ``²`` and to 5,000 digits, which ``int()`` refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def when(value: object) -> str:
    """An ISO 8601 time from a tool's answer, as people read it (UTC, to the second)."""
    if not value:
        return "—"
    text = str(value).replace("T", " ")
    return text[:19] + " UTC"


def started_by(trigger: object) -> str:
    """An execution's ``kind:actor`` as people read it: ``webhook gh``, not ``webhook:webhook:gh`` (a
    trigger's actor names its kind again)."""
    kind, _, actor = str(trigger or "").partition(":")
    actor = actor.removeprefix(f"{kind}:")
    return f"{kind} {actor}" if actor and actor != kind else kind


ENV.filters["when"] = when
ENV.filters["started_by"] = started_by


def prefix(settings: Settings) -> str:
    """The path the proxy serves the hub under (``/goosuke`` for ``https://example.org/goosuke``), or ``""``."""
    if not settings.public_url:
        return ""
    return urlsplit(settings.public_url).path.rstrip("/")


def secure(settings: Settings) -> bool:
    """Whether cookies get ``Secure``: the browser reaches the hub over https."""
    return (settings.public_url or "").startswith("https://")


def cookie_path(settings: Settings) -> str:
    return f"{prefix(settings)}/ui"


@dataclass
class View:
    """One request to the console: who (``signed``), in which language, and the helpers pages use."""

    request: Request
    app: AppContext
    signed: Signed | None = None
    lang: str = "en"
    t: i18n.Translate = field(default=i18n.translator("en"))
    form: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request, app: AppContext, signed: Signed | None = None) -> View:
        lang = i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
        return cls(request, app, signed, lang, i18n.translator(lang))

    @property
    def base(self) -> str:
        return f"{prefix(self.app.settings)}/ui"

    def url(self, path: str = "", **query: Any) -> str:
        """The browser's URL of console page ``path`` (``"/executions"``), with a query of the non-empty values."""
        shown = {k: v for k, v in query.items() if v not in (None, "")}
        return self.base + path + (f"?{urlencode(shown)}" if shown else "")

    def here(self) -> str:
        """The browser's URL of this page (for a return after sign-in)."""
        path = self.request.url.path
        query = self.request.url.query
        return prefix(self.app.settings) + path + (f"?{query}" if query else "")

    def call(self) -> Call:
        assert self.signed is not None
        return Call(principal=self.signed.principal, app=self.app, via="console")

    async def tool(self, name: str, /, **arguments: Any) -> dict[str, Any]:
        """Call tool ``name`` as the signed-in user, exactly as MCP would; its result as JSON-ready data."""
        result = await self.app.registry.call_tool(name, arguments, self.call())
        dumped: dict[str, Any] = result.model_dump(mode="json")
        return dumped

    def may(self, name: str) -> bool:
        """Whether the signed-in user may call tool ``name`` at all (what the navigation shows)."""
        if self.signed is None or name not in self.app.registry.tools:
            return False
        return self.app.registry.denial(self.app.registry.tools[name], self.signed.principal) is None

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("nav", "")
        html = ENV.get_template(template).render(view=self, t=self.t, lang=self.lang, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def fragment(self, template: str, **context: Any) -> str:
        return ENV.get_template(template).render(view=self, t=self.t, lang=self.lang, **context)

    def redirect(self, path: str = "", **query: Any) -> Response:
        return RedirectResponse(self.url(path, **query), status_code=303, headers={"Cache-Control": "no-store"})

    def to_sign_in(self, back: str | None = None, reason: str | None = None) -> Response:
        """Send the browser to sign in, and from there back to ``back`` (default: this page)."""
        return self.redirect("/signin", next=back or self.here(), reason=reason)

    def error(self, exc: GoosukeError) -> HTMLResponse:
        """The whole page for a refused or failed request: 403, 404 (hidden objects too) or the error's status."""
        if isinstance(exc, PermissionDenied):
            status, title = 403, self.t("error.403")
        elif isinstance(exc, NotFound):
            status, title = 404, self.t("error.404")
        else:
            status, title = exc.status, self.t("error.other")
        return self.render("error.html", status=status, title=title, detail=exc.message)

    def safe_next(self, value: str | None) -> str:
        """A return address after sign-in that stays inside the console (never another site)."""
        if not value or not value.startswith(self.base) or value.startswith("//") or "\\" in value:
            return self.base
        if not value.isprintable():
            return self.base
        return quote(value, safe="/?&=%#:@!$'()*+,;~-._")  # a Location header is ASCII: the rest percent-encoded


def field_errors(exc: GoosukeError) -> dict[str, str]:
    """An error's messages by field name (the first part of its location), for a form to show."""
    found: dict[str, str] = {}
    for item in exc.errors:
        name = str(item.get("field", "")).split(".", 1)[0]
        found.setdefault(name, str(item.get("message", "")))
    return found
