"""Federation with real servers: the npm reference servers over stdio and a Python server over Streamable
HTTP, added, checked and called through the hub by the SDK client and the Inspector CLI; lazy start, idle
shutdown, crash restart, per-extension timeouts, re-initialisation after a lost session, roles, bad
servers, and no process left behind after many cycles."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from harness.processes import descendants, free_port, npm_server
from harness.tools import tool_path
from hub import procfs
from hub.federation.processes import INSTANCE_VAR
from hub.federation.service import Federation
from hub.principal import Role
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.extension_support import call, call_error, http_test_server, local_hub, stdio_test_server, wait_for

pytestmark = pytest.mark.anyio


def marked_processes() -> set[int]:
    """Every live process that this test's hub (this process) started as an extension, or that such a
    process forked: the marker in their environment names the hub's pid. Other hubs on the machine (a CI
    run beside this one) have markers of their own and are not counted."""
    needle = f"{INSTANCE_VAR}={os.getpid()}-".encode()
    found = set()
    for pid in procfs.pids():
        stat, env = procfs.stat(pid), procfs.environ(pid)
        alive = stat is not None and not stat.zombie and env is not None
        if alive and env is not None and any(item.startswith(needle) for item in env.split(b"\0")):
            found.add(pid)
    return found


@pytest.fixture
def fast(settings: Settings) -> Settings:
    settings.extension_restart_backoff = 0.05
    settings.extension_max_backoff = 0.5
    settings.extension_start_timeout = 20
    return settings


async def hub_client(live_hub: LiveHub, token: str | None = None) -> Any:
    http = live_hub.http(token or live_hub.admin_token)
    return http, Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http), mode="legacy", cache=None)


async def test_npm_reference_servers_are_added_checked_and_called_through_the_hub(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    http, client = await hub_client(live_hub)
    async with http, client as mcp:
        extensions = [
            {"type": "stdio", "name": "everything", "cmd": npm_server("everything"), "args": [], "timeout": 60},
            {"type": "stdio", "name": "memory", "cmd": npm_server("memory"), "args": [], "timeout": 60,
             "envs": {"MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")}},
            {"type": "stdio", "name": "filesystem", "cmd": npm_server("filesystem"), "args": [str(files)],
             "timeout": 60},
        ]  # fmt: skip
        for extension in extensions:
            added = await call(mcp, "extension_add", {"extension": extension})
            assert added["start_error"] is None, added
            check = await call(mcp, "extension_check", {"name": extension["name"]})
            assert check["ok"] is True and check["error"] is None and check["tools"], check
            assert check["start_ms"] > 0 and check["list_ms"] >= 0
        names = {t.name for t in (await mcp.list_tools()).tools}
        assert {"everything__echo", "memory__create_entities", "filesystem__write_file", "whoami"} <= names
        echoed = await call(mcp, "everything__echo", {"message": "through the hub"})
        assert "through the hub" in json.dumps(echoed)
        await call(mcp, "memory__create_entities", {"entities": [
            {"name": "Goosuke", "entityType": "hub", "observations": ["federates MCP servers"]}]})  # fmt: skip
        graph = await call(mcp, "memory__read_graph")
        assert "federates MCP servers" in json.dumps(graph)
        await call(mcp, "filesystem__write_file", {"path": str(files / "note.txt"), "content": "hello file"})
        assert (files / "note.txt").read_text() == "hello file"
        read = await call(mcp, "filesystem__read_text_file", {"path": str(files / "note.txt")})
        assert "hello file" in json.dumps(read)
        outside = await mcp.call_tool("filesystem__read_text_file", {"path": "/etc/hostname"})
        assert outside.is_error  # the server's own sandbox still applies
        resources = {r.uri for r in (await mcp.list_resources()).resources}
        static = "goosuke-ext://everything/demo://resource/static/document/architecture.md"
        assert static in resources
        assert (await mcp.read_resource(static)).contents[0].text
        templates = {t.uri_template for t in (await mcp.list_resource_templates()).resource_templates}
        assert "goosuke-ext://everything/demo://resource/dynamic/text/{resourceId}" in templates
        dynamic = await mcp.read_resource("goosuke-ext://everything/demo://resource/dynamic/text/3")
        assert dynamic.contents
        prompts = {p.name for p in (await mcp.list_prompts()).prompts}
        assert "everything__simple-prompt" in prompts
        prompt = await mcp.get_prompt("everything__args-prompt", {"city": "Kyoto"})
        assert "Kyoto" in json.dumps(prompt.model_dump(mode="json"))


@pytest.mark.parametrize("json_response", [False, True])
async def test_a_python_server_over_streamable_http_is_federated(live_hub: LiveHub, json_response: bool) -> None:
    port = free_port()
    with http_test_server(port, json_response=json_response):
        http, client = await hub_client(live_hub)
        async with http, client as mcp:
            entry = {"type": "streamable_http", "name": "py", "uri": f"http://127.0.0.1:{port}/mcp", "timeout": 30}
            added = await call(mcp, "extension_add", {"extension": entry})
            assert added["start_error"] is None and "py__add" in added["extension"]["tools"]
            assert (await call(mcp, "py__add", {"a": 2, "b": 3})) == {"result": 5.0}
            assert (await mcp.read_resource("goosuke-ext://py/test://hello")).contents[0].text == (
                "hello from the python server"
            )
            assert (await mcp.read_resource("goosuke-ext://py/test://items/42")).contents[0].text == "item 42"
            prompt = await mcp.get_prompt("py__greet", {"name": "Ada"})
            assert "greet Ada" in prompt.messages[0].content.text
            check = await call(mcp, "extension_check", {"name": "py"})
            assert check["ok"] and check["server"]["name"] == "python-http-test-server"


async def test_a_lost_upstream_session_is_reinitialised(live_hub: LiveHub) -> None:
    """The upstream restarts and forgets our Mcp-Session-Id: it answers 404 and the hub re-initialises."""
    port = free_port()
    http, client = await hub_client(live_hub)
    async with http, client as mcp:
        with http_test_server(port):
            entry = {"type": "streamable_http", "name": "py", "uri": f"http://127.0.0.1:{port}/mcp", "timeout": 30}
            await call(mcp, "extension_add", {"extension": entry})
            assert await call(mcp, "py__echo", {"text": "one"}) == {"result": "one"}
        with http_test_server(port):
            assert await call(mcp, "py__echo", {"text": "two"}) == {"result": "two"}
        federation: Federation = live_hub.context.services.get(Federation)
        assert federation.upstreams["py"].crashes == 0  # a re-initialisation, not a crash


async def test_the_inspector_cli_lists_and_calls_federated_tools(live_hub: LiveHub) -> None:
    inspector = str(tool_path("GOOSUKE_INSPECTOR_CLI"))
    http, client = await hub_client(live_hub)
    async with http, client as mcp:
        await call(mcp, "extension_add", {"extension": stdio_test_server("inspected")})
    base = ["node", inspector, "--cli", f"{live_hub.url}/mcp", "--transport", "http",
            "--header", f"Authorization: Bearer {live_hub.admin_token}"]  # fmt: skip
    listed = await anyio.run_process([*base, "--method", "tools/list"], check=False)
    assert listed.returncode == 0, listed.stderr.decode()[-2000:]
    assert "inspected__echo" in listed.stdout.decode()
    called = await anyio.run_process(
        [*base, "--method", "tools/call", "--tool-name", "inspected__echo", "--tool-arg", "text=from inspector"],
        check=False,
    )
    assert called.returncode == 0, called.stderr.decode()[-2000:]
    assert "from inspector" in called.stdout.decode()


async def test_the_role_needed_for_an_extension_is_set_per_extension(live_hub: LiveHub) -> None:
    viewer = await live_hub.token(Role.viewer)
    http, client = await hub_client(live_hub)
    async with http, client as mcp:
        await call(mcp, "extension_add", {"extension": stdio_test_server("guarded")})
        vhttp, vclient = await hub_client(live_hub, viewer)
        async with vhttp, vclient as as_viewer:
            tools = {t.name: t for t in (await mcp.list_tools()).tools}
            assert tools["guarded__echo"].meta["goosuke/role"] == "operator"
            assert "guarded__echo" not in {t.name for t in (await as_viewer.list_tools()).tools}  # only callable ones
            error = await call_error(as_viewer, "guarded__echo", {"text": "x"})
            assert "needs the operator role" in error and "templates.run" in error
            await call(mcp, "extension_update", {"name": "guarded", "role": "viewer"})
            assert "guarded__echo" in {t.name for t in (await as_viewer.list_tools()).tools}
            assert await call(as_viewer, "guarded__echo", {"text": "ok"}) == "ok"


async def test_servers_start_lazily_stop_when_idle_and_restart_after_a_crash(fast: Settings) -> None:
    fast.extension_idle_timeout = 0.5
    async with local_hub(fast) as (app, mcp):
        federation: Federation = app.services.get(Federation)
        await call(mcp, "extension_add", {"extension": stdio_test_server("lazy"), "start": False})
        await call(mcp, "extension_check", {"name": "lazy"})  # discovers on a connection of its own
        assert "lazy__echo" in {t.name for t in (await mcp.list_tools()).tools}
        await wait_for(lambda: federation.status("lazy")["state"] == "stopped", timeout=10)
        await wait_for(lambda: not marked_processes() & descendants(), timeout=10)
        started = federation.status("lazy")["starts"]
        assert await call(mcp, "lazy__echo", {"text": "first"}) == "first"  # a call starts it
        upstream = federation.upstreams["lazy"]
        assert upstream.state == "ready" and upstream.starts == started + 1
        await wait_for(lambda: upstream.state == "stopped", timeout=10)  # idle shutdown
        await wait_for(lambda: not marked_processes() & descendants(), timeout=10)
        fast.extension_idle_timeout = 600
        assert await call(mcp, "lazy__echo", {"text": "again"}) == "again"
        assert "crashed" in await call_error(mcp, "lazy__crash")
        await wait_for(lambda: upstream.state == "ready" and upstream.crashes == 1, timeout=10)  # restarted
        assert await call(mcp, "lazy__echo", {"text": "after crash"}) == "after crash"
        pid = next(iter(marked_processes() & descendants()))
        os.kill(pid, signal.SIGKILL)  # killed from outside
        await wait_for(lambda: upstream.crashes == 2 and upstream.state == "ready", timeout=10)
        assert await call(mcp, "lazy__echo", {"text": "after kill"}) == "after kill"
        assert upstream.starts == started + 4


async def test_each_extension_has_its_own_timeout(fast: Settings) -> None:
    async with local_hub(fast) as (_, mcp):
        await call(mcp, "extension_add", {"extension": stdio_test_server("slow", timeout=1)})
        await call(mcp, "extension_add", {"extension": stdio_test_server("patient", timeout=30)})
        with anyio.fail_after(20):
            error = await call_error(mcp, "slow__sleep", {"seconds": 5})
        assert "did not answer tools/call 'sleep' within its timeout of 1 s" in error
        assert await call(mcp, "patient__sleep", {"seconds": 1.5}) == "slept"
        assert (await call(mcp, "whoami"))["role"] == "admin"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"type": "stdio", "name": "missing", "cmd": "/nonexistent/mcp-server", "args": []},
            "not found: /nonexistent/mcp-server",
        ),
        (stdio_test_server("crasher", "--crash-on-init"), "boom: crashing during initialize"),
        (stdio_test_server("bad cwd", cwd="/nonexistent/dir"), "not found: /nonexistent/dir"),
        (stdio_test_server("hanger", "--hang-on-init", timeout=1), "in time"),
        (stdio_test_server("garbage", "--garbage", timeout=2), "in time"),
        ({"type": "streamable_http", "name": "refused", "uri": "http://127.0.0.1:9/mcp", "timeout": 5}, "refused"),
        ({"type": "stdio", "name": "noargs", "cmd": "true", "args": []}, "connection closed"),
    ],
)
async def test_bad_servers_give_clear_errors_and_the_hub_keeps_serving(
    fast: Settings, entry: dict[str, Any], expected: str
) -> None:
    async with local_hub(fast) as (_, mcp):
        added = await call(mcp, "extension_add", {"extension": entry})
        assert added["start_error"] and expected in added["start_error"].lower(), added
        check = await call(mcp, "extension_check", {"name": entry["name"]})
        assert check["ok"] is False and expected in f"{check['error']} {check['stderr']}".lower(), check
        assert (await call(mcp, "whoami"))["role"] == "admin"
    assert not marked_processes() & descendants()


async def test_a_missing_secret_stops_the_start_with_the_secret_name(fast: Settings) -> None:
    async with local_hub(fast) as (_, mcp):
        added = await call(mcp, "extension_add", {"extension": stdio_test_server("needs", env_keys=["NEEDED_TOKEN"])})
        assert "NEEDED_TOKEN are not in the vault" in added["start_error"]
        await call(mcp, "secret_set", {"name": "NEEDED_TOKEN", "value": "the-needed-value"})
        await call(mcp, "extension_check", {"name": "needs"})
        result = await call(mcp, "needs__env", {"name": "NEEDED_TOKEN"})
        assert result == "[secret NEEDED_TOKEN]"  # it reached the process, and the output is scrubbed
        assert await call(mcp, "needs__env", {"name": "GOOSUKE_VAULT_KEY"}) == "<unset>"
        assert await call(mcp, "needs__env", {"name": "PATH"}) != "<unset>"


async def test_a_hundred_start_stop_crash_cycles_leave_no_process(fast: Settings) -> None:
    fast.extension_idle_timeout = 600
    before = descendants()
    async with local_hub(fast) as (app, mcp):
        federation: Federation = app.services.get(Federation)
        await call(mcp, "extension_add", {"extension": stdio_test_server("cycler")})
        for i in range(100):
            upstream = federation.upstreams["cycler"]
            kind = i % 4
            if kind == 0:  # start, then stop
                assert await call(mcp, "cycler__echo", {"text": str(i)}) == str(i)
                await upstream.stop()
            elif kind == 1:  # crash inside a call; the hub restarts it
                await call_error(mcp, "cycler__crash")
                await wait_for(lambda u=upstream: u.state in ("ready", "backoff", "starting"), timeout=10)
            elif kind == 2:  # a forked grandchild the server never reaps, then stop
                await call(mcp, "cycler__spawn_child")
                await upstream.stop()
            else:  # killed from outside, then disabled and enabled again
                await call(mcp, "cycler__echo", {"text": "x"})
                for pid in marked_processes() & descendants():
                    os.kill(pid, signal.SIGKILL)
                await call(mcp, "extension_disable", {"name": "cycler"})
                await call(mcp, "extension_enable", {"name": "cycler"})
        assert await call(mcp, "cycler__echo", {"text": "last"}) == "last"
    await wait_for(lambda: descendants() <= before, timeout=15)
    assert not marked_processes(), "an extension process (or a grandchild of one) outlived the hub"


async def test_a_crashing_extension_shows_when_it_is_retried_and_its_last_stderr_line(
    live_hub: LiveHub, settings: Settings
) -> None:
    settings.extension_restart_backoff = settings.extension_max_backoff = 120  # it stays in backoff for the test
    crash = (
        "import sys; print('starting up', file=sys.stderr); print('boom: FOO is not set', file=sys.stderr); sys.exit(3)"
    )
    http, client = await hub_client(live_hub)
    async with http, client as mcp:
        entry = {"type": "stdio", "name": "crashy", "cmd": sys.executable, "args": ["-c", crash], "timeout": 10}
        added = await call(mcp, "extension_add", {"extension": entry})
        assert added["start_error"] is not None, added
        federation = live_hub.context.services.get(Federation)
        await wait_for(lambda: federation.status("crashy")["state"] == "backoff", timeout=20)
        [view] = [e for e in (await call(mcp, "extension_list"))["extensions"] if e["name"] == "crashy"]
    assert view["state"] == "backoff" and view["stderr_last_line"] == "boom: FOO is not set"
    retry_at = datetime.fromisoformat(view["retry_at"])
    assert retry_at.tzinfo is not None and retry_at > datetime.now(UTC) + timedelta(seconds=60)
