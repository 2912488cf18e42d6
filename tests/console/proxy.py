"""A path-prefixing reverse proxy: the hub at ``http://proxy/goosuke/...`` as ``https://example.org/goosuke/`` would
serve it. It strips the prefix, forwards the rest to the hub (keeping Host, Origin and cookies), streams both ways
(server-sent events included) and rewrites nothing in the answer: every link, asset, redirect and event stream URL
must already carry the prefix. A path outside the prefix is a 404, so a link that forgets it fails visibly."""

from __future__ import annotations

from typing import Any

import httpx2
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"content-length"}


class PrefixProxy:
    def __init__(self, upstream: str, prefix: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.prefix = prefix.rstrip("/")
        self.client = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=None), follow_redirects=False)
        self.outside: list[str] = []  # paths asked for without the prefix (a page that forgot it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope["path"]
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            self.outside.append(path)
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"outside the proxied prefix"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        rest = path[len(self.prefix) :] or "/"
        query = scope["query_string"].decode()
        request = self.client.build_request(
            scope["method"], self.upstream + rest + (f"?{query}" if query else ""), headers=headers, content=body
        )
        response = await self.client.send(request, stream=True)
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
