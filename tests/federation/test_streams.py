"""Federated tool calls to a Streamable HTTP extension, against the SDK's own server in a process of its own:
JSON and SSE answers, what a server sends on a call's own stream (a list_changed, a ping, a stream closed
before the answer and resumed with Last-Event-ID), the extension's timeout, a restarted server, a redirect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client

from harness.processes import free_port
from hub.federation.service import Federation
from hub.settings import Settings
from tests.extension_support import call, call_error, http_test_server, local_hub, wait_for

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def federating(
    settings: Settings, path: str = "/mcp", timeout: float = 30, **server: Any
) -> AsyncIterator[tuple[Federation, Client, int]]:
    """The in-process hub with the Python test server federated as `py` (the server runs in its own process)."""
    port = free_port()
    with http_test_server(port, **server):
        async with local_hub(settings) as (app, mcp):
            uri = f"http://127.0.0.1:{port}{path}"
            entry = {"type": "streamable_http", "name": "py", "uri": uri, "timeout": timeout}
            added = await call(mcp, "extension_add", {"extension": entry})
            assert added["start_error"] is None, added
            yield app.services.get(Federation), mcp, port


@pytest.mark.parametrize("json_response", [False, True])
async def test_json_and_sse_answers_reach_the_caller_on_one_session(settings: Settings, json_response: bool) -> None:
    async with federating(settings, json_response=json_response) as (federation, mcp, _):
        for i in range(5):
            assert await call(mcp, "py__echo", {"text": f"hello {i}"}) == {"result": f"hello {i}"}
        assert await call(mcp, "py__add", {"a": 2, "b": 3}) == {"result": 5.0}
        assert (await mcp.read_resource("goosuke-ext://py/test://hello")).contents[0].text.startswith("hello")
        assert federation.upstreams["py"].starts == 1  # one session served them all


async def test_a_list_changed_on_a_calls_own_stream_makes_the_hub_list_again(settings: Settings) -> None:
    async with federating(settings) as (_, mcp, _port):
        assert await call(mcp, "py__grow", {"name": "sprout"}) == {"result": "grown"}

        async def listed() -> bool:
            return "py__sprout" in {t.name for t in (await mcp.list_tools()).tools}

        await wait_for(listed, timeout=10)
        assert await call(mcp, "py__sprout") == {"result": "grown"}


async def test_a_ping_on_a_calls_own_stream_is_answered(settings: Settings) -> None:
    async with federating(settings) as (_, mcp, _port):
        with anyio.fail_after(20):
            assert await call(mcp, "py__ping_client") == {"result": "pong"}


async def test_a_stream_closed_before_the_answer_is_resumed_with_last_event_id(settings: Settings) -> None:
    async with federating(settings, resumable=True) as (federation, mcp, _):
        assert await call(mcp, "py__interrupted") == {"result": "resumed"}
        assert await call(mcp, "py__echo", {"text": "after"}) == {"result": "after"}
        assert federation.upstreams["py"].starts == 1


async def test_the_extensions_timeout_bounds_a_call_and_the_session_stays_usable(settings: Settings) -> None:
    async with federating(settings, timeout=1) as (federation, mcp, _):
        with anyio.fail_after(20):
            error = await call_error(mcp, "py__slow", {"seconds": 5})
        assert "did not answer tools/call 'slow' within its timeout of 1 s" in error
        assert await call(mcp, "py__echo", {"text": "still here"}) == {"result": "still here"}
        assert federation.upstreams["py"].starts == 1  # no reconnect was needed


async def test_a_restarted_server_is_reinitialised_and_called_again(settings: Settings) -> None:
    port = free_port()
    async with local_hub(settings) as (app, mcp):
        federation: Federation = app.services.get(Federation)
        with http_test_server(port):
            entry = {"type": "streamable_http", "name": "py", "uri": f"http://127.0.0.1:{port}/mcp", "timeout": 30}
            await call(mcp, "extension_add", {"extension": entry})
            assert await call(mcp, "py__echo", {"text": "one"}) == {"result": "one"}
            first = federation.upstreams["py"].connection
        with http_test_server(port):
            assert await call(mcp, "py__echo", {"text": "two"}) == {"result": "two"}  # a 404, then a new session
            second = federation.upstreams["py"].connection
        assert second is not None and second is not first
        assert federation.upstreams["py"].crashes == 0


async def test_a_redirected_endpoint_is_followed(settings: Settings) -> None:
    """`/mcp/` answers 307 to `/mcp`: the SDK's client follows same-origin redirects."""
    async with federating(settings, path="/mcp/") as (_, mcp, _port):
        for text in ("one", "two"):
            assert await call(mcp, "py__echo", {"text": text}) == {"result": text}
