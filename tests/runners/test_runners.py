"""Runners: an operator cannot make the hub start a program, reach a URL, send a secret or hand a Goose run
an extension that an admin did not grant (issue 11, findings 1-3); admins' runners work end to end."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from harness.doubles.llm import LLMDouble, Say
from harness.processes import hub_env, serving
from hub.db.models import TaskTemplate
from hub.engine import Engine, Trigger
from hub.extensions.schema import parse_config
from hub.extensions.store import ExtensionStore
from hub.principal import Role
from hub.runners.migration import adopt_legacy
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.engine_support import hub_running

pytestmark = pytest.mark.anyio

NOTE = {"name": "t", "title": "T", "prompt": "Say hi."}


@pytest.fixture
def listener() -> Iterator[list[bytes]]:
    """A local TCP listener that records whatever reaches it (nothing should)."""
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    received.append(conn.recv(65536))
                except OSError:
                    received.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    received.append(str(server.getsockname()[1]).encode())  # first item: the port
    yield received
    stop.set()
    thread.join()
    server.close()


@asynccontextmanager
async def client_for(hub: LiveHub, role: Role) -> AsyncIterator[Client]:
    token = hub.admin_token if role is Role.admin else await hub.token(role)
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(f"{hub.url}/mcp", http_client=http)) as client,
    ):
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    return result.structured_content  # type: ignore[return-value]


async def error(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


async def test_an_operator_cannot_run_a_program_of_its_choice(live_hub: LiveHub, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]
    async with client_for(live_hub, Role.operator) as op:
        text = await error(op, "template_create", **NOTE, agent="command", agent_settings={"argv": argv})
        assert "agent_settings.argv" in text and "runner_create" in text
        text = await error(op, "template_create", **NOTE, agent="command")
        assert "runner" in text and "runner_create" in text
        text = await error(op, "runner_create", name="mine", agent="command", argv=argv)
        assert "admin" in text
        # a built-in library template that reactions run is read-only, and its copy takes no argv either
        text = await error(op, "template_update", name="meeting-summary", agent_settings={"argv": argv})
        assert "read-only" in text and "template_copy" in text
        await call(op, "template_copy", name="meeting-summary", new_name="my-summary")
        text = await error(op, "template_update", name="my-summary", agent_settings={"argv": argv})
        assert "runner_create" in text
    assert not marker.exists()


async def test_an_operator_cannot_send_a_secret_or_the_hub_key_to_its_url(
    live_hub: LiveHub, listener: list[bytes]
) -> None:
    url = f"http://127.0.0.1:{int(listener[0])}/v1"
    async with client_for(live_hub, Role.admin) as admin:
        await call(admin, "secret_set", name="OPENAI_KEY", value="sk-very-secret")
    async with client_for(live_hub, Role.operator) as op:
        for settings in ({"base_url": url}, {"api_key_secret": "OPENAI_KEY"}, {"provider": "evil"}):
            text = await error(op, "template_create", **NOTE, agent="openai", agent_settings=settings)
            assert "runner_create" in text and f"agent_settings.{next(iter(settings))}" in text
        text = await error(op, "template_create", **NOTE, agent="openai", agent_settings={"model": "x"})
        assert "agent_settings.model" in text
    assert listener[1:] == []


async def test_admin_runners_work_end_to_end_and_delete_is_refused_while_used(
    live_hub: LiveHub, settings: Settings
) -> None:
    hub = live_hub.context
    async with LLMDouble([Say("Hello from the runner.", 3, 4)]) as llm:
        async with client_for(live_hub, Role.admin) as admin:
            await call(admin, "secret_set", name="LLM_KEY", value="sk-runner-key")
            await call(
                admin,
                "runner_create",
                name="local-llm",
                agent="openai",
                base_url=llm.base_url,
                api_key_secret="LLM_KEY",
                models=["fake-model"],
                max_timeout=60,
            )
            code = "import sys; print('echo:' + sys.stdin.read())"
            await call(admin, "runner_create", name="echo", agent="command", argv=[sys.executable, "-c", code])
            shown = await call(admin, "runner_get", name="local-llm")
            assert shown["api_key_secret"] == "LLM_KEY" and "sk-runner-key" not in str(shown)
        async with client_for(live_hub, Role.operator) as op:
            await call(op, "template_create", **{**NOTE, "name": "ask"}, runner="local-llm")
            await call(op, "template_create", **{**NOTE, "name": "shout"}, runner="echo")
            text = await error(op, "template_update", name="ask", agent_settings={"timeout": 600})
            assert "agent_settings.timeout" in text and "max_timeout" in text
            asked = await call(op, "template_run", name="ask", wait=30)
            assert asked["status"] == "succeeded", asked["error"]
            assert asked["output"] == "Hello from the runner."
            shouted = await call(op, "template_run", name="shout", wait=30)
            assert shouted["status"] == "succeeded" and shouted["output"] == "echo:Say hi."
            text = await error(op, "runner_delete", name="echo")
            assert "admin" in text
            listed = await call(op, "runner_list")
            assert {"goose", "openai", "sampling", "echo", "local-llm"} <= {r["name"] for r in listed["runners"]}
        async with client_for(live_hub, Role.admin) as admin:
            text = await error(admin, "runner_delete", name="echo")
            assert "shout" in text
            await call(admin, "template_delete", name="shout")
            await call(admin, "runner_delete", name="echo")
    assert llm.turns[0].body["model"] == "fake-model"
    async with hub.db.session() as session:
        from sqlalchemy import select

        from hub.db.models import AuditEvent

        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.target == "echo")))
    assert actions == ["runner.create", "runner.delete"]


async def test_an_admins_inline_settings_become_a_runner(live_hub: LiveHub) -> None:
    argv = [sys.executable, "-c", "print('ok')"]
    async with client_for(live_hub, Role.admin) as admin:
        made = await call(admin, "template_create", **NOTE, agent="command", agent_settings={"argv": argv})
        assert made["runner"] == "t" and "argv" not in made["agent_settings"]
        again = await call(admin, "template_copy", name="t", new_name="t2")
        assert again["runner"] == "t"
        runner = await call(admin, "runner_get", name="t")
        assert runner["argv"] == argv and sorted(runner["templates"]) == ["t", "t2"]
        ran = await call(admin, "template_run", name="t", wait=30)
        assert ran["status"] == "succeeded" and ran["output"] == "ok"


async def test_goose_runs_get_no_admin_only_disabled_or_builtin_extension(live_hub: LiveHub) -> None:
    app = live_hub.context
    app.settings.goose_bin, app.settings.goose_provider, app.settings.goose_model = sys.executable, "openai", "m"
    store = app.services.get(ExtensionStore)
    stdio = {"type": "stdio", "cmd": sys.executable, "args": ["-c", "pass"]}
    await store.add(parse_config({**stdio, "name": "root-tools"}), role=Role.admin, actor="test")
    await store.add(parse_config({**stdio, "name": "off-tools"}), enabled=False, actor="test")
    async with client_for(live_hub, Role.operator) as op:
        for name in ("root-tools", "off-tools", "developer"):
            await call(op, "template_create", **{**NOTE, "name": f"g-{name}"}, extensions=[name])
            text = await error(op, "template_run", name=f"g-{name}", wait=5)
            assert name in text and "may not have" in text
    engine = app.services.get(Engine)
    async with app.db.session() as session:
        from sqlalchemy import func, select

        from hub.db.models import Execution

        assert await session.scalar(select(func.count()).select_from(Execution)) == 0
    # a schedule (or webhook, or reaction) runs as an operator: the run fails with the reason
    info = await engine.submit("g-root-tools", trigger=Trigger(kind="schedule", actor="nightly"))
    info = await engine.wait(info.id, 30)
    assert info.status == "failed" and "root-tools" in (info.error or "") and "admin role" in (info.error or "")


async def test_a_legacy_template_is_moved_onto_a_runner_when_the_hub_starts(settings: Settings) -> None:
    legacy = {"argv": [sys.executable, "-c", "print(1)"], "timeout": 30, "options": {}, "provider": None}
    async with hub_running(settings) as app, app.db.session() as session:  # rows as an older hub left them
        session.add(
            TaskTemplate(
                name="old-cmd", title="Old", prompt="x", agent="command", agent_settings=legacy, content_hash="0"
            )
        )
        session.add(
            TaskTemplate(
                name="old-llm",
                title="Old",
                prompt="x",
                agent="openai",
                agent_settings={"base_url": "http://10.0.0.1/v1", "api_key_secret": "K", "model": "m"},
                content_hash="0",
            )
        )
    async with hub_running(settings) as app:  # the Runners service adopts them as it starts
        assert await adopt_legacy(app.db) == []  # idempotent: nothing is left to adopt
        async with Client(app.server) as client:
            runner = (await client.call_tool("runner_get", {"name": "old-llm"})).structured_content or {}
            assert (runner["base_url"], runner["api_key_secret"], runner["models"]) == (
                "http://10.0.0.1/v1",
                "K",
                ["m"],
            )
            template = (await client.call_tool("template_get", {"name": "old-cmd"})).structured_content or {}
            assert template["runner"] == "old-cmd" and template["agent_settings"]["timeout"] == 30
            assert "argv" not in template["agent_settings"]
            history = (await client.call_tool("template_history", {"name": "old-cmd"})).structured_content or {}
            [latest] = [v for v in history["versions"] if v["version"] == template["version"]]
            assert latest["saved_by"] == "migration" and "runner 'old-cmd'" in latest["summary"]
            run = (await client.call_tool("template_run", {"name": "old-cmd", "wait": 30})).structured_content or {}
            assert run["status"] == "succeeded" and run["output"].strip() == "1"


async def test_over_goosuke_serve_an_operator_token_cannot_set_an_argv(
    tmp_path: Path, database_url: str, port: int
) -> None:
    data = tmp_path / "data"
    with serving(hub_env(data, database_url), port, log=tmp_path / "serve.log"):
        admin = (data / "admin.token").read_text().strip()
        url = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as http:
            user = {"username": "ops", "password": "a-long-password", "role": "operator"}
            assert (await http.post("/api/tools/user_create", json=user)).status_code == 200
            made = await http.post(
                "/api/tools/token_create", json={"name": "op", "role": "operator", "username": "ops"}
            )
            assert made.status_code == 200, made.text
            token = made.json()["token"]
        marker = tmp_path / "pwned"
        argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            text = await error(client, "template_create", **NOTE, agent="command", agent_settings={"argv": argv})
            assert "runner_create" in text
            # nor rewrite the built-in template the Discord reactions run: it is read-only
            text = await error(client, "template_update", name="meeting-summary", prompt="{{ transcript }}")
            assert "read-only" in text and "template_copy" in text
            async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
                refused = await api.post("/api/tools/template_delete", json={"name": "meeting-summary"})
            assert refused.status_code == 403 and "template_copy" in refused.text, refused.text
    assert not marker.exists()


async def test_a_runner_names_only_secrets_that_secret_set_accepts_and_only_real_agents(live_hub: LiveHub) -> None:
    # a name like "openai-key" used to be stored, then every run advised a secret_set that refuses it
    async with client_for(live_hub, Role.admin) as admin:
        text = await error(admin, "runner_create", name="llm", agent="openai", api_key_secret="openai-key")
        assert "api_key_secret" in text
        await call(admin, "secret_set", name="OPENAI_KEY", value="sk-test-value")
        made = await call(admin, "runner_create", name="llm", agent="openai", api_key_secret="OPENAI_KEY")
        assert made["api_key_secret"] == "OPENAI_KEY"
        text = await error(admin, "template_create", name="odd", title="Odd", prompt="hi", agent="Not An Agent")
        assert "No agent named 'Not An Agent'" in text
