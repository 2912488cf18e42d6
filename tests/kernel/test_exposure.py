"""Exposure through the real `goosuke serve`: with GOOSUKE_AUTH=none no other web page may drive the hub
(Host/Origin on /api as on /mcp, JSON-only tool calls), hostile bodies get a 4xx, sessions per principal
are capped, and a non-loopback address is either warned about or refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2
import pytest

from harness.processes import GOOSUKE, hub_env, serving

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def test_auth_none_refuses_cross_site_calls_on_the_facade(tmp_path: Path, database_url: str, port: int) -> None:
    env = hub_env(tmp_path / "data", database_url, GOOSUKE_AUTH="none")
    with serving(env, port):
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            # the form post a hostile page can send: text/plain, its own Origin
            form = await http.post(
                "/api/tools/whoami",
                content=b'{"x": "y"}',
                headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
            )
            assert form.status_code == 403, form.text
            assert form.json()["errors"][0]["field"] == "Origin"
            # a DNS-rebinding page reaches 127.0.0.1 under its own name
            rebound = await http.post("/api/tools/whoami", json={}, headers={"Host": "evil.example:8765"})
            assert rebound.status_code == 421 and "GOOSUKE_ALLOWED_HOSTS" in rebound.json()["detail"]
            listing = await http.get("/api/resources?uri=goosuke://hub/info", headers={"Host": "evil.example"})
            assert listing.status_code == 421
            # no Origin (curl, scripts), but not JSON: refused, naming the header
            plain = await http.post("/api/tools/whoami", content=b"{}", headers={"Content-Type": "text/plain"})
            assert plain.status_code == 415, plain.text
            assert plain.json()["errors"][0]["field"] == "Content-Type"
            assert "application/json" in plain.json()["detail"]
            urlencoded = await http.post("/api/tools/whoami", data={"a": "b"})
            assert urlencoded.status_code == 415
            # the hub's own origin and JSON: served
            ok = await http.post("/api/tools/whoami", json={}, headers={"Origin": f"http://127.0.0.1:{port}"})
            assert ok.status_code == 200 and ok.json()["via"] == "anonymous"
            assert (await http.post("/api/tools/whoami")).status_code == 200  # an empty body is {}
            # /mcp keeps refusing the same
            mcp = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "https://evil.example"})
            assert mcp.status_code == 403
            # the console too: a rebinding page could otherwise read a page, take its CSRF token and post
            console = await http.get("/ui/executions", headers={"Host": "evil.example:8765"})
            assert console.status_code == 421, console.text
            posted = await http.post(
                "/ui/admin/users",
                data={"csrf": "x", "username": "mallory"},
                headers={"Host": "evil.example:8765", "Origin": "http://evil.example:8765"},
            )
            assert posted.status_code == 421
            assert (await http.get("/ui/executions")).status_code == 200  # at the hub's own address: served
            # probes answer whatever Host a load balancer sends
            assert (await http.get("/healthz", headers={"Host": "10.0.0.7:8765"})).status_code == 200


async def test_hostile_bodies_and_arguments_get_a_4xx_naming_the_field(
    tmp_path: Path, database_url: str, port: int
) -> None:
    env = hub_env(tmp_path / "data", database_url, GOOSUKE_AUTH="none")
    with serving(env, port):
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            deep = b"[" * 100_000 + b"]" * 100_000
            nested = await http.post("/api/tools/whoami", content=deep, headers={"Content-Type": "application/json"})
            assert nested.status_code == 400, nested.text
            assert nested.json()["errors"][0]["field"] == "(body)"
            for tool in ("template_list", "execution_list"):
                huge = await http.post(f"/api/tools/{tool}", json={"offset": 2**63})
                assert huge.status_code == 422, huge.text
                assert huge.json()["errors"][0]["field"] == "offset"
            limit = await http.post("/api/tools/execution_list", json={"limit": 2**63})
            assert limit.status_code == 422 and limit.json()["errors"][0]["field"] == "limit"
            logs = await http.post("/api/tools/execution_logs", json={"id": "x", "offset": 2**64})
            assert logs.status_code == 422 and logs.json()["errors"][0]["field"] == "offset"
            never = await http.post(
                "/api/tools/schedule_create", json={"name": "never", "template": "nothing", "cron": "0 0 31 2 *"}
            )
            assert never.status_code == 422, never.text
            assert never.json()["errors"][0]["field"] == "cron" and "never fires" in never.json()["detail"]
            assert (await http.get("/healthz")).status_code == 200


async def _open_session(http: httpx2.AsyncClient) -> httpx2.Response:
    return await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)


async def test_sessions_per_principal_are_capped(tmp_path: Path, database_url: str, port: int) -> None:
    data = tmp_path / "data"
    env = hub_env(data, database_url, GOOSUKE_MAX_SESSIONS_PER_PRINCIPAL="2")
    with serving(env, port):
        admin = (data / "admin.token").read_text().strip()
        url = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as http:
            user = await http.post(
                "/api/tools/user_create", json={"username": "vera", "password": "long-enough-pw", "role": "viewer"}
            )
            assert user.status_code == 200, user.text
            created = await http.post(
                "/api/tools/token_create",
                json={"name": "viewer", "role": "viewer", "username": "vera", "expires_in_days": 1},
            )
            assert created.status_code == 200, created.text
            viewer = created.json()["token"]
            first, second = await _open_session(http), await _open_session(http)
            assert first.status_code == second.status_code == 200
            third = await _open_session(http)
            assert third.status_code == 429, third.text
            assert "GOOSUKE_MAX_SESSIONS_PER_PRINCIPAL" in third.json()["detail"]
            # an open session keeps working; ending one makes room
            session_id = first.headers["mcp-session-id"]
            ended = await http.delete("/mcp", headers={"mcp-session-id": session_id})
            assert ended.status_code in (200, 204)
            assert (await _open_session(http)).status_code == 200
            # legacy SSE streams count too
            async with http.stream("GET", "/sse") as stream:
                assert stream.status_code == 429
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {viewer}"}) as other:
            assert (await _open_session(other)).status_code == 200  # the cap is per principal (user)


def _serve_once(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*GOOSUKE, "serve", *args], env=env, capture_output=True, timeout=60)


def test_auth_none_refuses_a_public_url_off_loopback(tmp_path: Path, port: int) -> None:
    env = hub_env(tmp_path, GOOSUKE_AUTH="none", GOOSUKE_PUBLIC_URL="https://hub.example.com")
    done = _serve_once(env, "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert b"GOOSUKE_PUBLIC_URL" in done.stderr and b"GOOSUKE_AUTH=token" in done.stderr
    assert b"Traceback" not in done.stderr


async def test_a_non_loopback_bind_warns_about_plain_http(tmp_path: Path, database_url: str, port: int) -> None:
    log = tmp_path / "serve.log"
    with serving(hub_env(tmp_path / "data", database_url), port, "--host", "0.0.0.0", log=log):
        pass
    text = log.read_text()
    assert "plain HTTP" in text and "GOOSUKE_PUBLIC_URL" in text and "TLS" in text
