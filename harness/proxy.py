"""A streaming reverse proxy for tests, as an ASGI app: a subclass says where each request goes.

It reads the request body, forwards method, path and headers (hop-by-hop ones dropped; Host, Origin
and cookies kept, so the hub's own checks see what the client sent) and streams the answer back
unchanged, server-sent events included.
"""

from __future__ import annotations

from typing import Any

import httpx2
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"content-length"}


class ForwardingProxy:
    def __init__(self, upstream: str, **client: Any) -> None:
        self.upstream = upstream.rstrip("/")
        self.client = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=None), **client)

    def target(self, scope: Scope) -> tuple[str, list[tuple[bytes, bytes]]] | None:
        """The upstream URL and headers for this request, or None to answer 404 without forwarding."""
        query = scope["query_string"].decode()
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        return self.upstream + scope["path"] + (f"?{query}" if query else ""), headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        target = self.target(scope)
        if target is None:
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"not proxied"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        url, headers = target
        response = await self.client.send(
            self.client.build_request(scope["method"], url, headers=headers, content=body), stream=True
        )
        try:
            out: list[Any] = [
                (k.encode(), v.encode())
                for k, v in response.headers.multi_items()
                if k.encode().lower() not in HOP_BY_HOP
            ]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()
