"""Pure-ASGI middleware: request metrics, the body-size limit, open-SSE-stream accounting, Host/Origin checks."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.auth import PRINCIPAL_SCOPE_KEY
from hub.errors import PayloadTooLarge
from hub.metrics import Metrics
from hub.problems import problem

ROUTE_LABELS = (
    "/mcp",
    "/sse",
    "/messages",
    "/api/tools",
    "/api/resources",
    "/api/auth",
    "/api/openapi.json",
    "/api/docs",
    "/hooks",
    "/healthz",
    "/readyz",
    "/metrics",
    "/.well-known",
)


def route_label(path: str) -> str:
    for prefix in ROUTE_LABELS:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
            return prefix
    return "other"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        label = route_label(scope["path"])
        status = 500
        started = time.perf_counter()
        sse = label == "/sse" and scope["method"] == "GET"
        opened = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, opened
            # The SDK's /sse handler may send a second response start when the stream ends: count the first.
            if message["type"] == "http.response.start" and status == 500 and not opened:
                status = message["status"]
                if sse and status == 200:
                    opened = True
                    self.metrics.sse_sessions.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:  # the client left before its body arrived: nobody to answer, not an error
            status = 499
        finally:
            if opened:
                self.metrics.sse_sessions.dec()
            self.metrics.http_requests.labels(method=scope["method"], route=label, status=str(status)).inc()
            if not sse:
                self.metrics.http_seconds.labels(route=label).observe(time.perf_counter() - started)


class BodyLimitMiddleware:
    """Refuses bodies over ``limit`` bytes with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = 0
                if announced > self.limit:
                    await self._refuse(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise PayloadTooLarge(self._detail())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    def _detail(self) -> str:
        return f"The request body exceeds {self.limit} bytes (GOOSUKE_MAX_BODY_BYTES). Send less."

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, "Payload too large", self._detail())(scope, receive, send)


# /mcp, /sse and /messages/ are checked by the SDK's transports (same settings); probes come from load
# balancers and orchestrators that send whatever Host they like, and answer nothing a caller could misuse.
UNGUARDED_PREFIXES = ("/mcp", "/sse", "/messages", "/healthz", "/readyz", "/metrics")


def _matches(value: str, allowed: Sequence[str]) -> bool:
    """The SDK's rule: an exact value, or ``base:*`` for any port of ``base``."""
    return any(value == item or (item.endswith(":*") and value.startswith(item[:-2] + ":")) for item in allowed)


class HostOriginMiddleware:
    """DNS-rebinding and cross-site protection for every route the SDK does not guard itself (``/api``,
    plugin routes that need a token): the ``Host`` must be one of the hub's, and an ``Origin``, when sent, too.

    Public plugin routes (``/hooks/...``) are exempt: their senders are elsewhere by design.
    """

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings, exempt: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.security = security
        self.exempt = list(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.security.enable_dns_rebinding_protection or self._unguarded(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        origin = headers.get("origin")
        if not _matches(host, self.security.allowed_hosts):
            detail = (
                f"The Host header {host[:100]!r} is not one of this hub's names (DNS-rebinding protection). "
                "Add it to GOOSUKE_ALLOWED_HOSTS, or set GOOSUKE_PUBLIC_URL to the address clients use."
            )
            await problem(421, "Misdirected request", detail, _header_error("Host"))(scope, receive, send)
            return
        if origin is not None and not _matches(origin, self.security.allowed_origins):
            detail = (
                f"The Origin {origin[:100]!r} may not call this hub (cross-site protection). If that page is "
                "yours, add its origin to GOOSUKE_ALLOWED_ORIGINS."
            )
            await problem(403, "Forbidden origin", detail, _header_error("Origin"))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _unguarded(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if any(path == prefix or path.startswith(prefix + "/") for prefix in UNGUARDED_PREFIXES):
            return True
        return any(route.matches(scope)[0] != Match.NONE for route in self.exempt)


def _header_error(name: str) -> list[dict[str, str]]:
    return [{"field": name, "message": f"{name} header not allowed", "type": "header_not_allowed"}]


class SessionCapMiddleware:
    """At most ``limit`` MCP sessions per principal (its ``subject``): Streamable HTTP sessions that the SDK's
    manager still holds (``live_ids``), plus open legacy ``/sse`` streams. The request that would open one more
    is refused with 429; the sessions already open are never touched. Runs inside the auth middleware."""

    def __init__(self, app: ASGIApp, limit: int, live_ids: Callable[[], Collection[str]]) -> None:
        self.app = app
        self.limit = limit
        self.live_ids = live_ids
        self._streamable: dict[str, set[str]] = defaultdict(set)  # subject -> session ids it opened
        self._opening: dict[str, int] = defaultdict(int)  # subject -> openings not yet answered (or SSE streams)

    def count(self, subject: str) -> int:
        live = self.live_ids()
        ids = self._streamable[subject]
        ids.intersection_update(live)  # ended, deleted or idled-out sessions stop counting
        return len(ids) + self._opening[subject]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = self._opening_kind(scope)
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        if kind is None or principal is None:
            await self.app(scope, receive, send)
            return
        subject: str = principal.subject
        if self.count(subject) >= self.limit:
            detail = (
                f"{principal.name!r} already holds {self.limit} open MCP sessions "
                "(GOOSUKE_MAX_SESSIONS_PER_PRINCIPAL). Close one (DELETE /mcp with its Mcp-Session-Id, or close "
                "the SSE stream) or wait until an idle one expires (GOOSUKE_SESSION_IDLE_TIMEOUT)."
            )
            await problem(429, "Too many sessions", detail)(scope, receive, send)
            return
        self._opening[subject] += 1
        pending = True

        async def remember(message: Message) -> None:
            nonlocal pending
            if kind == "streamable" and message["type"] == "http.response.start" and pending:
                pending = False
                self._opening[subject] -= 1
                for name, value in message.get("headers", []):
                    if name.lower() == b"mcp-session-id":
                        self._streamable[subject].add(value.decode("latin-1"))
            await send(message)

        try:
            await self.app(scope, receive, remember)
        finally:
            if pending:
                self._opening[subject] -= 1

    @staticmethod
    def _opening_kind(scope: Scope) -> str | None:
        """``streamable`` for a POST /mcp without a session id, ``sse`` for GET /sse; else None."""
        if scope["type"] != "http":
            return None
        path, method = scope["path"], scope["method"]
        if path == "/mcp" and method == "POST":
            if any(name == b"mcp-session-id" for name, _ in scope.get("headers", [])):
                return None
            return "streamable"
        if path == "/sse" and method == "GET":
            return "sse"
        return None
