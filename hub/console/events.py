"""``GET /ui/events``: server-sent events that keep a live page current without a reload.

Every ``console_refresh_interval`` seconds the stream re-reads, through the same tools and as the
same user, what the page shows, re-renders that part of the page and sends it when it changed
(``event: update``, the HTML in ``data``). A comment line every tick keeps proxies from closing an
idle stream. The session is re-checked at every tick: when it ends the stream sends
``event: signin`` (the page goes to sign-in) and closes. A stream closes itself after
``console_stream_seconds``; the browser's ``EventSource`` reconnects on its own (``retry`` tells it
how soon), as it does when a proxy or the network drops the stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anyio
from starlette.responses import Response, StreamingResponse

from hub.console import pages, pages_triggers
from hub.console.render import SESSION_COOKIE, View
from hub.console.sessions import resolve
from hub.errors import GoosukeError

RETRY_MS = 2000


def _event(name: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {name}\n{lines}\n"


async def _part(view: View, execution_id: str | None) -> str:
    webhook = view.request.query_params.get("webhook")
    if webhook:  # a webhook's page (``?webhook=NAME``): its recent deliveries and their executions
        return view.fragment("_webhook_live.html", **await pages_triggers.webhook_data(view, webhook))
    if execution_id:
        return view.fragment("_execution_live.html", **await pages.execution_data(view, execution_id))
    return view.fragment("_dashboard_live.html", data=await pages.dashboard_data(view))


def ended(view: View) -> Response:
    """The stream of a browser whose session is gone: one ``signin`` event, then the end."""
    body = f"retry: {RETRY_MS}\n\n" + _event("signin", json.dumps({"to": view.url("/signin", reason="expired")}))
    return Response(body, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def stream(view: View) -> Response:
    """The event stream of the dashboard, of one execution (``?execution=ID``) or of a webhook (``?webhook=NAME``)."""
    execution_id = view.request.query_params.get("execution") or None
    settings = view.app.settings
    cookie = view.request.cookies.get(SESSION_COOKIE)

    async def events() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        last = ""
        closes = time.monotonic() + settings.console_stream_seconds
        while time.monotonic() < closes:
            if view.signed is not None and view.signed.id != "anonymous":  # GOOSUKE_AUTH=none: nothing ends
                signed = await resolve(view.app, cookie, touch=False)
                if signed is None:
                    yield _event("signin", json.dumps({"to": view.url("/signin", reason="expired")}))
                    return
                view.signed = signed
            try:
                part = await _part(view, execution_id)
            except GoosukeError as exc:  # the execution became invisible, a permission was taken away
                yield _event("gone", json.dumps({"detail": exc.message}))
                return
            if part != last:
                last = part
                yield _event("update", part)
            else:
                yield ": tick\n\n"
            await anyio.sleep(settings.console_refresh_interval)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx: do not buffer the stream
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
