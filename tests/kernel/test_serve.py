"""`goosuke serve` and `goosuke stdio` as real processes, driven by the real SDK client."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from harness import REPO
from harness.processes import hub_env, serving

pytestmark = pytest.mark.anyio


async def test_first_start_prints_an_admin_token_once_and_keeps_keys_private(
    tmp_path: Path, database_url: str, port: int
) -> None:
    data = tmp_path / "data"
    env = hub_env(data, database_url)
    log = tmp_path / "serve.log"
    with serving(env, port, log=log):
        token_file = data / "admin.token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "jwt.key").stat().st_mode) == 0o600
        url = f"http://127.0.0.1:{port}"
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            result = await client.call_tool("whoami", {})
            assert result.structured_content["role"] == "admin"
        async with Client(sse_client(f"{url}/sse", headers={"Authorization": f"Bearer {token}"})) as client:
            assert (await client.call_tool("hub_info", {})).structured_content["auth"] == "token"
    assert log.read_text().count(token) == 1
    # a second start finds the token and creates no other
    with serving(env, port, log=tmp_path / "second.log"):
        pass
    assert token not in (tmp_path / "second.log").read_text()
    assert token_file.read_text().strip() == token


async def test_auth_none_serves_on_loopback_with_a_warning(tmp_path: Path, port: int) -> None:
    log = tmp_path / "serve.log"
    with serving(hub_env(tmp_path / "data", GOOSUKE_AUTH="none"), port, log=log):
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            result = await client.call_tool("whoami", {})
    assert result.structured_content["via"] == "anonymous"
    assert "GOOSUKE_AUTH=none" in log.read_text()


def test_auth_none_refuses_to_serve_off_loopback(tmp_path: Path, port: int) -> None:
    import subprocess

    from harness.processes import GOOSUKE

    done = subprocess.run(
        [*GOOSUKE, "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=hub_env(tmp_path, GOOSUKE_AUTH="none"),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"only allowed on a loopback address" in done.stderr
    assert b"Traceback" not in done.stderr


async def test_stdio_serves_the_local_owner(tmp_path: Path, database_url: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "hub.cli", "stdio"],
        env=hub_env(tmp_path / "data", database_url),
        cwd=str(REPO),
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"whoami", "hub_info", "user_create"} <= names
        me = await client.call_tool("whoami", {})
        info = await client.call_tool("hub_info", {})
        created = await client.call_tool("user_create", {"username": "eve", "password": "eve-password"})
    assert {k: me.structured_content[k] for k in ("subject", "name", "role", "via")} == {
        "subject": "local",
        "name": "local-owner",
        "role": "admin",
        "via": "local",
    }
    assert info.structured_content["transports"] == ["stdio"]
    assert not created.is_error
