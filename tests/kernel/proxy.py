"""A reverse proxy that adds `Authorization: Bearer <token>` to every request, for clients that cannot send
one (the conformance suite). It streams both ways and keeps the client's Host and Origin headers, so the
hub's DNS-rebinding checks still see what the client sent."""

from __future__ import annotations

from typing import Any

import httpx2
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"content-length"}


class TokenProxy:
    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token
        self.client = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=None))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers: list[tuple[bytes, bytes]] = [
            (k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP and k != b"authorization"
        ]
        headers.append((b"authorization", f"Bearer {self.token}".encode()))
        url = self.upstream + scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
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
