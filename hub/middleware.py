"""Pure-ASGI middleware: request metrics, the body-size limit, open-SSE-stream accounting."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
