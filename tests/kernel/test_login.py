"""Password login and credential changes: back-off, the same work for unknown users, JWTs that stop
working after a password, role or status change, and revocation that reaches a running hub in time."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from harness import REPO
from harness.processes import GOOSUKE, hub_env, serving
from hub import accounts
from hub.app import create_app
from hub.principal import Role
from hub.settings import Settings
from tests.conftest import LiveHub, serve

pytestmark = pytest.mark.anyio

PASSWORD = "the-right-password"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"login_backoff": 600.0})  # a back-off that outlasts any test


async def _user(hub: LiveHub, username: str, role: Role = Role.operator) -> None:
    async with hub.context.db.session() as session:
        await accounts.create_user(session, username, PASSWORD, role)


async def _login(http: httpx2.AsyncClient, username: str, password: str = PASSWORD) -> httpx2.Response:
    return await http.post("/api/auth/token", json={"username": username, "password": password})


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


async def _mcp_works(url: str, token: str) -> bool:
    """The real SDK client gets through with ``token``; or ``/mcp`` answers it 401."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        probe = await http.post(
            f"{url}/mcp", json=INITIALIZE, headers={"Accept": "application/json, text/event-stream"}
        )
        if probe.status_code == 401:
            assert probe.json()["error"] == "invalid_token"
            return False
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            return (await client.call_tool("whoami", {})).structured_content is not None


async def test_many_failures_per_address_back_off_every_username(live_hub: LiveHub) -> None:
    await _user(live_hub, "carol")
    async with live_hub.http() as http:
        statuses = [(await _login(http, f"nobody-{i}", "wrong-password")).status_code for i in range(20)]
        blocked = await _login(http, "carol")
    assert statuses == [401] * 20  # unknown users, one by one, never locked as users
    assert blocked.status_code == 429
    assert "this address" in blocked.json()["detail"]
    assert int(blocked.headers["retry-after"]) >= 1


async def test_the_back_off_doubles_with_each_further_failure(settings: Settings) -> None:
    quick = settings.model_copy(update={"login_backoff": 1.0, "login_max_failures": 2})
    app = create_app(quick)
    async with serve(app, quick.port) as url, httpx2.AsyncClient(base_url=url, timeout=30) as http:
        async with app.state.goosuke.db.session() as session:
            await accounts.create_user(session, "hana", PASSWORD, Role.viewer)
        assert [(await _login(http, "hana", "wrong-password")).status_code for _ in range(2)] == [401, 401]
        first = await _login(http, "hana")
        assert first.status_code == 429 and first.headers["retry-after"] == "1"
        with anyio.fail_after(10):  # wait the first back-off out (no timing is asserted)
            while (again := await _login(http, "hana", "wrong-password")).status_code == 429:
                await anyio.sleep(0.1)
        assert again.status_code == 401
        second = await _login(http, "hana")
    assert second.status_code == 429 and second.headers["retry-after"] == "2"


async def test_unknown_and_disabled_users_get_the_same_password_check(live_hub: LiveHub) -> None:
    await _user(live_hub, "dave")
    async with live_hub.context.db.session() as session:
        await accounts.set_disabled(session, "dave", True)
    guard = live_hub.context.verifier.logins
    async with live_hub.http() as http:
        unknown = await _login(http, "nobody", PASSWORD)
        assert guard._dummy is not None  # the unknown user's password was hashed against a dummy
        disabled = await _login(http, "dave", PASSWORD)
    assert unknown.status_code == disabled.status_code == 401
    assert unknown.json()["detail"] == disabled.json()["detail"]


@pytest.mark.parametrize("change", ["password", "role", "disabled"])
async def test_an_access_token_stops_working_after_a_credential_change(live_hub: LiveHub, change: str) -> None:
    await _user(live_hub, "erin")
    async with live_hub.http() as http:
        access = (await _login(http, "erin")).json()["access_token"]
    async with live_hub.http(access) as http:
        assert (await http.post("/api/tools/whoami", json={})).status_code == 200
    assert await _mcp_works(live_hub.url, access)
    tool, args = {
        "password": ("user_passwd", {"username": "erin", "password": "a-new-password"}),
        "role": ("user_update", {"username": "erin", "role": "viewer"}),
        "disabled": ("user_update", {"username": "erin", "disabled": True}),
    }[change]
    async with live_hub.http(live_hub.admin_token) as http:
        assert (await http.post(f"/api/tools/{tool}", json=args)).status_code == 200
    async with live_hub.http(access) as http:
        refused = await http.post("/api/tools/whoami", json={})
    assert refused.status_code == 401
    assert not await _mcp_works(live_hub.url, access)
    if change != "disabled":
        assert "log in again" in refused.json()["detail"]
        async with live_hub.http() as http:
            password = "a-new-password" if change == "password" else PASSWORD
            fresh = (await _login(http, "erin", password)).json()["access_token"]
        async with live_hub.http(fresh) as http:
            assert (await http.post("/api/tools/whoami", json={})).status_code == 200


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*GOOSUKE, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done


def _refused_within(url: str, token: str, deadline: float) -> bool:
    """Whether the hub refuses ``token`` before ``deadline`` (monotonic seconds)."""
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        status = httpx2.post(f"{url}/api/tools/whoami", json={}, headers=headers, timeout=5).status_code
        if status == 401:
            return True
        assert status == 200
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


async def test_goosuke_serve_backs_off_a_guessed_password(tmp_path: Path, database_url: str, port: int) -> None:
    env = hub_env(tmp_path / "data", database_url, GOOSUKE_LOGIN_BACKOFF="600")
    _cli(env, "migrate")
    _cli(env, "user", "add", "frank", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    with serving(env, port, log=tmp_path / "serve.log"):
        url = f"http://127.0.0.1:{port}/api/auth/token"
        answers = [httpx2.post(url, json={"username": "frank", "password": f"guess-{i}"}) for i in range(25)]
        right = httpx2.post(url, json={"username": "frank", "password": PASSWORD})
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 20
    assert right.status_code == 429  # the right password does not get through while backed off
    assert int(right.headers["retry-after"]) >= 1
    assert "this username" in right.json()["detail"]
    assert right.headers["content-type"] == "application/problem+json"


async def test_cli_revocation_and_password_change_reach_goosuke_serve_within_a_second(
    tmp_path: Path, database_url: str, port: int
) -> None:
    env = hub_env(tmp_path / "data", database_url)
    _cli(env, "migrate")
    _cli(env, "user", "add", "gina", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    created = _cli(env, "token", "create", "ci", "--role", "operator", "--user", "gina")
    api_token = created.stdout.strip()
    token_id = created.stderr.split()[1]
    with serving(env, port, log=tmp_path / "serve.log"):
        url = f"http://127.0.0.1:{port}"
        login = httpx2.post(f"{url}/api/auth/token", json={"username": "gina", "password": PASSWORD})
        access = login.json()["access_token"]
        for token in (api_token, access):  # both work, and their verdicts are now cached
            for _ in range(3):
                response = httpx2.post(f"{url}/api/tools/whoami", json={}, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, response.text
        _cli(env, "token", "revoke", token_id)
        assert _refused_within(url, api_token, time.monotonic() + 1.0)
        _cli(env, "user", "passwd", "gina", "--password-stdin", stdin="a-new-password\n")
        assert _refused_within(url, access, time.monotonic() + 1.0)
