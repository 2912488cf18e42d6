"""Helpers for the delivery tests: a real HTTP receiver that checks signatures, tool calls over the facade."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hub.errors import AuthError
from hub.triggers.webhooks import verify
from tests.conftest import LiveHub
from tests.engine_support import execution_row

SECRET_NAME = "CALLBACK_KEY"
SECRET_VALUE = "callback-signing-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Receiver:
    """An HTTP server on a free port: answers the queued statuses (then 200), keeps what it accepted."""

    secret: str = SECRET_VALUE
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    bad_signatures: int = 0
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/results"

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/results", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        try:  # the hub's own incoming-webhook check: the same scheme both ways
            verify("hmac", self.secret, request.headers, body, now=time.time(), tolerance=300)
        except AuthError:
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.statuses:
            return web.Response(status=self.statuses.pop(0))
        self.received.append({"headers": dict(request.headers), "body": json.loads(body)})
        return web.Response(status=204)


async def call(hub: LiveHub, name: str, token: str | None = None, /, **args: Any) -> tuple[int, dict[str, Any]]:
    """A tool through the HTTP facade: its status code and its JSON body."""
    async with hub.http(token or hub.admin_token) as http:
        response = await http.post(f"/api/tools/{name}", json=args)
    return response.status_code, response.json()


async def ok(hub: LiveHub, name: str, /, **args: Any) -> dict[str, Any]:
    status, body = await call(hub, name, None, **args)
    assert status == 200, body
    return body


async def http_destination(hub: LiveHub, name: str, receiver: Receiver) -> None:
    await ok(hub, "secret_set", name=SECRET_NAME, value=receiver.secret)
    await ok(hub, "destination_create", name=name, http={"url": receiver.url, "secret": SECRET_NAME})


async def lost_run(hub: LiveHub, template: str, output: str, *, routes: list[dict[str, str]] | None = None) -> str:
    """A run as a hub that crashed (or stopped) leaves it when the execution row was final but its finished
    listener had not written the deliveries yet: succeeded, claimed by a gone engine, no delivery row."""
    from hub.db.models import new_id
    from hub.deliveries import store

    row = execution_row(template, exit_code=0, output=output, claimed_by=new_id())  # an engine no process has
    async with hub.context.db.session() as session:
        session.add(row)
    row_id = row.id
    if routes:
        await store.set_routes(hub.context.db, row_id, routes)
    return row_id
