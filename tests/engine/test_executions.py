"""The execution tools through real clients: run (at once, or waiting with progress), get, list with
filters, logs, cancel, retry; resource subscriptions on a legacy session; the HTTP facade."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import ResourceUpdatedNotification

from hub.principal import Role
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.engine_support import finished, hub_running, python_argv, until

pytestmark = pytest.mark.anyio

SLOW = python_argv("import sys, time\nfor i in range(3):\n    print('step', i, flush=True)\n    time.sleep(0.2)")
GATED = "import os, sys, time\nprint('waiting', flush=True)\nwhile not os.path.exists({gate!r}): time.sleep(0.02)"


def template(name: str, argv: list[str], **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "prompt": "{{ text }}",
        "parameters": [{"key": "text", "requirement": "optional", "default": "hello"}],
        "agent": "command",
        "agent_settings": {"argv": argv, **settings},
    }


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content  # type: ignore[return-value]


async def test_template_run_returns_at_once_or_waits_with_progress(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        await call(client, "template_create", **template("slow", SLOW))
        at_once = await call(client, "template_run", name="slow")
        assert at_once["status"] in ("queued", "running") and at_once["trigger"]["kind"] == "mcp"
        progress: list[tuple[float, str]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, message or ""))

        waited = await client.call_tool("template_run", {"name": "slow", "wait": 30}, progress_callback=on_progress)
        info = waited.structured_content
        assert info["status"] == "succeeded" and info["output"] == "step 0\nstep 1\nstep 2"
        # a free slot starts the run at once; otherwise the first report is "queued"
        assert progress[0] in ((0, "queued"), (0, "running")) and progress[-1][1].startswith("succeeded")
        assert any("step" in message for _, message in progress), progress
        assert [done for done, _ in progress] == sorted(done for done, _ in progress)
        first = await finished(app, at_once["id"])
        assert first.status == "succeeded"
        too_long = await client.call_tool("template_run", {"name": "slow", "wait": 10_000})
        assert too_long.is_error and "wait may be at most 300 s" in too_long.content[0].text


async def test_execution_list_filters_and_pages(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        await call(client, "template_create", **template("ok", ["true"]))
        await call(client, "template_create", **template("bad", ["false"]))
        started = datetime.now(UTC)
        ids = [(await call(client, "template_run", name=name, wait=30))["id"] for name in ("ok", "bad", "ok", "ok")]
        everything = await call(client, "execution_list")
        assert everything["total"] == 4 and [e["id"] for e in everything["executions"]] == ids[::-1]
        assert (await call(client, "execution_list", template="ok"))["total"] == 3
        failed = await call(client, "execution_list", status="failed")
        assert [e["id"] for e in failed["executions"]] == [ids[1]] and failed["executions"][0]["error"]
        assert (await call(client, "execution_list", trigger="mcp"))["total"] == 4
        assert (await call(client, "execution_list", trigger="discord"))["total"] == 0
        later = (started + timedelta(hours=1)).isoformat()
        assert (await call(client, "execution_list", since=started.isoformat()))["total"] == 4
        east = started.astimezone(timezone(timedelta(hours=5))).isoformat()  # the same moment, another offset
        assert (await call(client, "execution_list", since=east))["total"] == 4
        assert (await call(client, "execution_list", since=later))["total"] == 0
        assert (await call(client, "execution_list", until=started.isoformat()))["total"] == 0
        page = await call(client, "execution_list", limit=3)
        assert page["next_offset"] == 3 and len(page["executions"]) == 3
        rest = await call(client, "execution_list", limit=3, offset=3)
        assert rest["next_offset"] is None and [e["id"] for e in rest["executions"]] == [ids[0]]
        assert rest["executions"][0]["trigger"] == "mcp:local-owner"
        bad = await client.call_tool("execution_list", {"status": "exploded"})
        assert bad.is_error and "status" in bad.content[0].text


async def test_logs_follow_with_offset_or_tail(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        count = python_argv("for i in range(50): print('line', i)")
        await call(client, "template_create", **template("count", count))
        run = await call(client, "template_run", name="count", wait=30)
        first = await call(client, "execution_logs", id=run["id"], limit=10)
        assert [line["seq"] for line in first["lines"]] == list(range(1, 11))
        assert first["total_lines"] == 52 and first["next_offset"] == 10
        following = await call(client, "execution_logs", id=run["id"], offset=first["next_offset"], limit=5)
        assert following["lines"][0]["text"] == "line 9"
        tail = await call(client, "execution_logs", id=run["id"], tail=2)
        assert [line["text"] for line in tail["lines"]] == ["line 49", "succeeded"]
        assert tail["next_offset"] == 52
        caught_up = await call(client, "execution_logs", id=run["id"], offset=52)
        assert caught_up["lines"] == [] and caught_up["next_offset"] == 52


async def test_cancel_and_retry_through_the_tools(settings: Settings, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    async with hub_running(settings) as app, Client(app.server) as client:
        await call(client, "template_create", **template("gated", python_argv(GATED.format(gate=str(gate)))))
        run = await call(client, "template_run", name="gated")
        await until(lambda: has_line(client, run["id"], "waiting"))
        cancelled = await call(client, "execution_cancel", id=run["id"])
        assert cancelled["status"] == "cancelled"
        again = await client.call_tool("execution_cancel", {"id": run["id"]})
        assert again.is_error
        assert again.content[0].text == (
            f"Execution {run['id']} already finished (cancelled); there is nothing to cancel. "
            "Use execution_retry to run it again."
        )
        gate.touch()
        retried = await call(client, "execution_retry", id=run["id"])
        assert retried["retry_of"] == run["id"] and retried["id"] != run["id"]
        assert (await finished(app, retried["id"])).status == "succeeded"
        missing = await client.call_tool("execution_get", {"id": "nope"})
        assert missing.is_error and "No execution with id 'nope'" in missing.content[0].text


async def has_line(client: Client, execution_id: str, text: str) -> bool:
    logs = await call(client, "execution_logs", id=execution_id)
    return any(line["text"] == text for line in logs["lines"])


async def test_idempotent_runs_return_the_first_execution(settings: Settings) -> None:
    async with hub_running(settings) as app, Client(app.server) as client:
        await call(client, "template_create", **template("ok", ["true"]))
        first = await call(client, "template_run", name="ok", idempotency_key="webhook:delivery-7")
        second = await call(client, "template_run", name="ok", idempotency_key="webhook:delivery-7", wait=10)
        assert second["id"] == first["id"] and second["status"] == "succeeded"
        assert (await call(client, "execution_list"))["total"] == 1


async def test_subscribers_of_an_execution_hear_about_its_progress(live_hub: LiveHub) -> None:
    updates: list[str] = []
    seen = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification) and str(message.params.uri).startswith("goosuke://"):
            updates.append(str(message.params.uri))
            seen.set()

    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(
            streamable_http_client(f"{live_hub.url}/mcp", http_client=http), mode="legacy", message_handler=on_message
        ) as client,
    ):
        await call(client, "template_create", **template("slow", SLOW))
        run = await call(client, "template_run", name="slow")
        uri = f"goosuke://executions/{run['id']}"
        with warnings.catch_warnings():  # resources/subscribe is the 2025 protocol's way; it still works there
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.subscribe_resource(uri)
        with anyio.fail_after(20):
            await seen.wait()
        await finished(live_hub.context, run["id"])
        with anyio.fail_after(10):
            while True:
                content = (await client.read_resource(uri)).contents[0].text  # type: ignore[union-attr]
                if '"status": "succeeded"' in content:
                    break
                await anyio.sleep(0.05)
        assert '"log_tail"' in content and "step 2" in content
    assert set(updates) == {uri} and len(updates) >= 2


async def test_listeners_on_the_2026_protocol_hear_about_an_execution(live_hub: LiveHub) -> None:
    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
    ):
        await call(client, "template_create", **template("slow", SLOW))
        run = await call(client, "template_run", name="slow")
        uri = f"goosuke://executions/{run['id']}"
        events = []
        with anyio.fail_after(20):
            async with client.listen(resource_subscriptions=[uri]) as subscription:
                async for event in subscription:
                    events.append(event)
                    content = (await client.read_resource(uri)).contents[0].text  # type: ignore[union-attr]
                    if '"status": "succeeded"' in content:
                        break
    assert events and all(uri in repr(event) for event in events)


async def test_the_http_facade_runs_templates_as_api_triggers(live_hub: LiveHub) -> None:
    operator = await live_hub.token(Role.operator, "ops")
    viewer = await live_hub.token(Role.viewer, "watcher")
    async with live_hub.http(live_hub.admin_token) as http:  # an admin grants the program, as a runner
        granted = await http.post(
            "/api/tools/runner_create", json={"name": "true", "agent": "command", "argv": ["true"]}
        )
        assert granted.status_code == 200, granted.text
    async with live_hub.http(operator) as http:
        created = {"name": "ok", "title": "ok", "prompt": "Say hi", "runner": "true"}
        assert (await http.post("/api/tools/template_create", json=created)).status_code == 200
        response = await http.post("/api/tools/template_run", json={"name": "ok", "wait": 30})
        assert response.status_code == 200
        run = response.json()
        assert run["status"] == "succeeded" and run["trigger"] == {
            "kind": "api",
            "actor": "ops",
            "ref": None,
            "role": "operator",
        }
    async with live_hub.http(viewer) as http:
        denied = await http.post("/api/tools/template_run", json={"name": "ok"})
        assert denied.status_code == 403
        hidden = await http.post("/api/tools/execution_get", json={"id": run["id"]})
        assert hidden.status_code == 404  # another principal's run (see tests/kernel/test_visibility.py)
        cancel = await http.post("/api/tools/execution_cancel", json={"id": run["id"]})
        assert cancel.status_code == 403
    async with live_hub.http(operator) as http:
        conflict = await http.post("/api/tools/execution_cancel", json={"id": run["id"]})
        assert conflict.status_code == 409 and "nothing to cancel" in conflict.json()["detail"]
