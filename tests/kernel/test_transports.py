"""The SDK client reaches every transport: Streamable HTTP (both protocol eras), legacy SSE, in process."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from hub.app import build_context, running
from hub.settings import Settings
from tests.conftest import LiveHub

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_lists_and_calls_tools_with_a_token(live_hub: LiveHub, mode: str) -> None:
    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http), mode=mode) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"whoami", "hub_info", "user_create", "token_revoke", "settings_get"} <= names
        result = await client.call_tool("whoami", {})
        assert not result.is_error
        me = result.structured_content
        assert (me["name"], me["role"], me["via"]) == ("admin", "admin", "api_token")  # the first-start user
        assert me["platform_role"] == "admin" and "users.manage" in me["permissions"]
        info = await client.call_tool("hub_info", {})
        assert info.structured_content["transport"] == "http"
        assert info.structured_content["counts"]["api_tokens"] == 1


async def test_legacy_sse_lists_and_calls_tools_with_a_token(live_hub: LiveHub) -> None:
    headers = {"Authorization": f"Bearer {live_hub.admin_token}"}
    async with Client(sse_client(f"{live_hub.url}/sse", headers=headers)) as client:
        assert "whoami" in {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("whoami", {})
        assert result.structured_content["role"] == "admin"


async def test_an_idle_sse_session_survives_many_ping_intervals(live_hub: LiveHub) -> None:
    """The test hub pings every 0.2 s; a read timeout of 2 s would drop the stream without pings.

    The timeout is ten ping intervals so a loaded CI machine that stalls the loop for a
    second does not drop a stream the pings did keep alive.
    """
    headers = {"Authorization": f"Bearer {live_hub.admin_token}"}
    async with Client(sse_client(f"{live_hub.url}/sse", headers=headers, sse_read_timeout=2.0)) as client:
        await anyio.sleep(5.0)  # 25 ping intervals, 2.5 read timeouts
        result = await client.call_tool("whoami", {})
        assert not result.is_error
        assert result.structured_content["name"] == "admin"  # the first-start user


async def test_open_sse_sessions_are_counted_and_uncounted(live_hub: LiveHub) -> None:
    headers = {"Authorization": f"Bearer {live_hub.admin_token}"}
    gauge = live_hub.context.metrics.sse_sessions
    async with Client(sse_client(f"{live_hub.url}/sse", headers=headers)) as client:
        await client.call_tool("whoami", {})
        assert gauge._value.get() == 1
    with anyio.fail_after(5):
        while gauge._value.get() != 0:
            await anyio.sleep(0.02)


async def test_sse_stream_carries_ping_comments(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http, http.stream("GET", "/sse") as response:
        assert response.status_code == 200
        seen = ""
        with anyio.fail_after(5):
            async for chunk in response.aiter_text():
                seen += chunk
                if seen.count(": ping") >= 2:
                    break
        assert "event: endpoint" in seen


async def test_in_process_client_is_the_local_owner(settings: Settings) -> None:
    app = build_context(settings, transport="stdio")
    async with running(app), Client(app.server) as client:
        result = await client.call_tool("whoami", {})
        me = result.structured_content
        assert {k: me[k] for k in ("subject", "name", "role", "via")} == {
            "subject": "local",
            "name": "local-owner",
            "role": "admin",
            "via": "local",
        }
        resource = await client.read_resource("goosuke://hub/info")
        assert '"transport": "stdio"' in resource.contents[0].text


async def test_unknown_tool_is_a_json_rpc_error_naming_the_tool(live_hub: LiveHub) -> None:
    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
    ):
        with pytest.raises(Exception, match="Unknown tool 'no_such_tool'"):
            await client.call_tool("no_such_tool", {})


async def test_wrong_argument_types_name_the_field(live_hub: LiveHub) -> None:
    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http), mode="legacy") as client,
    ):
        result = await client.call_tool("user_create", {"username": 42})
        assert result.is_error
        text = result.content[0].text
        assert "username: Input should be a valid string" in text
        assert "password: Field required" in text


async def test_streamable_http_json_without_accept_gets_a_clear_error(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        response = await http.post(
            "/mcp",
            content=b"{not json",
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
        )
    assert response.status_code == 400
    assert "error" in response.json()


async def test_dns_rebinding_protection_refuses_foreign_hosts(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        response = await http.post("/mcp", json={}, headers={"Host": "evil.example", "Accept": "application/json"})
    assert response.status_code == 421


async def test_allowed_hosts_setting_admits_a_reverse_proxy_host(settings: Settings) -> None:
    from hub.app import create_app
    from tests.conftest import serve

    settings.allowed_hosts = ["hub.example.com"]
    app = create_app(settings)
    async with serve(app, settings.port) as url:
        token = (settings.data_dir / "admin.token").read_text().strip()
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            response = await http.post(
                "/mcp",
                headers={"Host": "hub.example.com", "Accept": "application/json, text/event-stream"},
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"},
                    },
                },
            )
    assert response.status_code == 200


async def test_legacy_sessions_hear_list_changed_notifications(live_hub: LiveHub) -> None:
    from mcp.client.session import IncomingMessage
    from mcp_types import ServerNotification

    heard: list[str] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ServerNotification):
            heard.append(message.method)

    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(
            streamable_http_client(f"{live_hub.url}/mcp", http_client=http), mode="legacy", message_handler=on_message
        ) as client,
    ):
        await client.call_tool("whoami", {})  # the hub now knows this connection
        await live_hub.context.server.notify_tools_changed()
        with anyio.fail_after(5):
            while "notifications/tools/list_changed" not in heard:
                await anyio.sleep(0.02)
