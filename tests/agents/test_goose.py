"""The goose agent with the real Goose binary, driven by the OpenAI-compatible double over a socket.

Goose connects to the hub's Streamable HTTP /mcp with the run's short-lived token, calls a hub tool,
and the execution holds the final text, the token usage and the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select

from harness.doubles.llm import CallTool, Fail, Hang, LLMDouble, Say
from harness.tools import tool_path
from hub.db.models import ApiToken
from hub.engine.process import group_members
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.engine_support import engine_of, finished, pid_of

pytestmark = pytest.mark.anyio


@pytest.fixture
async def llm() -> AsyncIterator[LLMDouble]:
    async with LLMDouble() as double:
        yield double


@pytest.fixture
def goose_settings(settings: Settings, llm: LLMDouble) -> Settings:
    """Point the hub's goose agent at the real binary and the double (before the hub starts)."""
    settings.goose_bin = str(tool_path("GOOSUKE_GOOSE_BIN"))
    settings.goose_provider = "openai"
    settings.goose_model = "fake-model"
    settings.goose_env = {
        "OPENAI_HOST": llm.url,
        "OPENAI_BASE_PATH": "v1/chat/completions",
        "OPENAI_API_KEY": "test-key",
    }
    settings.execution_kill_grace = 1.0
    return settings


async def admin(live_hub: LiveHub) -> Any:
    return live_hub.http(live_hub.admin_token)


WHO = {
    "name": "who-am-i",
    "title": "Who am I",
    "prompt": "Call the whoami tool of the hub, then tell me who I am. {{ hint }}",
    "parameters": [{"key": "hint", "requirement": "optional", "default": "Be brief."}],
    "extensions": ["goosuke"],
    "agent": "goose",
    "agent_settings": {"max_turns": 5, "timeout": 120},
}


async def test_goose_calls_a_hub_tool_with_the_run_token_and_the_run_keeps_text_usage_and_log(
    goose_settings: Settings, llm: LLMDouble, live_hub: LiveHub
) -> None:
    llm.script = [CallTool("whoami"), Say("You are the run token of this execution.")]
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
    ):
        created = await client.call_tool("template_create", WHO)
        assert not created.is_error, created.content[0].text
        result = await client.call_tool("template_run", {"name": "who-am-i", "wait": 60}, progress_callback=on_progress)
        assert not result.is_error, result.content[0].text
        run = result.structured_content
        assert run["status"] == "succeeded", run["error"]
        assert run["output"] == "You are the run token of this execution."
        usage = {"input_tokens": 240, "output_tokens": 60, "total_tokens": 300, "cost_usd": None, "model": "fake-model"}
        assert run["usage"] == usage
        assert run["exit_code"] == 0 and run["template_version"] == 1
        logs = (await client.call_tool("execution_logs", {"id": run["id"]})).structured_content
    # Goose offered the hub's tools under the extension name, called whoami, and got the run's identity back.
    assert "goosuke__whoami" in llm.turns[0].tool_names
    tool_result = llm.turns[1].tool_results[0]
    assert f'"name": "run:{run["id"]}"' in tool_result and '"role": "operator"' in tool_result
    assert all(auth == "Bearer test-key" for auth in llm.authorizations)
    texts = [f"{line['stream']}: {line['text']}" for line in logs["lines"]]
    assert any(t.startswith("agent: tool call goosuke__whoami") for t in texts)
    assert any(t.startswith("agent: tool result (ok)") and f"run:{run['id']}" in t for t in texts)
    assert "assistant: You are the run token of this execution." in texts
    assert progress and progress[-1].startswith("succeeded")
    async with live_hub.context.db.session() as session:
        tokens = list(await session.scalars(select(ApiToken).where(ApiToken.name == f"run:{run['id']}")))
    assert tokens == [], "the run's token is revoked when the run ends"


async def test_a_response_schema_reaches_goose_and_its_final_output_is_checked(
    goose_settings: Settings, llm: LLMDouble, live_hub: LiveHub
) -> None:
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}
    llm.script = [CallTool("final_output", {"summary": "all quiet"})]
    template = {
        **WHO,
        "name": "shaped",
        "prompt": "Summarize the day.",
        "parameters": [],
        "extensions": [],
        "agent_settings": {"max_turns": 5, "timeout": 120, "response_schema": schema},
    }
    async with live_hub.http(live_hub.admin_token) as http:
        assert (await http.post("/api/tools/template_create", json=template)).status_code == 200
        run = (await http.post("/api/tools/template_run", json={"name": "shaped", "wait": 60})).json()
    assert run["status"] == "succeeded", run["error"]
    assert run["structured_output"] == {"summary": "all quiet"}
    # Goose got the schema from the recipe the hub wrote: it offered its final_output tool for the answer.
    assert "recipe__final_output" in llm.turns[0].tool_names


async def test_a_provider_failure_goose_reports_with_exit_0_marks_the_run_failed(
    goose_settings: Settings, llm: LLMDouble, live_hub: LiveHub
) -> None:
    llm.script = [Fail(500, "model overloaded")] * 10
    app = live_hub.context
    async with live_hub.http(live_hub.admin_token) as http:
        assert (await http.post("/api/tools/template_create", json={**WHO, "extensions": []})).status_code == 200
        run = (await http.post("/api/tools/template_run", json={"name": "who-am-i"})).json()
    info = await finished(app, run["id"], timeout=90)
    assert info.status == "failed"
    assert info.exit_code == 0
    assert "Goose exited 0 but its provider failed" in (info.error or "")
    assert "model overloaded" in (info.error or "")
    assert info.trigger.kind == "api"


async def test_a_missing_goose_binary_is_a_clear_error(goose_settings: Settings, live_hub: LiveHub) -> None:
    live_hub.context.settings.goose_bin = "/nowhere/goose"
    async with live_hub.http(live_hub.admin_token) as http:
        await http.post("/api/tools/template_create", json=WHO)
        run = (await http.post("/api/tools/template_run", json={"name": "who-am-i"})).json()
    info = await finished(live_hub.context, run["id"])
    assert info.status == "failed"
    assert info.error is not None and info.error.startswith("The Goose binary was not found ('/nowhere/goose').")
    assert "GOOSUKE_GOOSE_BIN" in info.error


async def test_goose_without_a_provider_is_a_clear_error(goose_settings: Settings, live_hub: LiveHub) -> None:
    settings = live_hub.context.settings
    settings.goose_provider = None
    async with live_hub.http(live_hub.admin_token) as http:
        await http.post("/api/tools/template_create", json=WHO)
        run = (await http.post("/api/tools/template_run", json={"name": "who-am-i"})).json()
    info = await finished(live_hub.context, run["id"])
    assert info.status == "failed"
    assert "Set GOOSUKE_GOOSE_PROVIDER and GOOSUKE_GOOSE_MODEL" in (info.error or "")


async def test_a_hanging_model_times_out_and_goose_is_killed(
    goose_settings: Settings, llm: LLMDouble, live_hub: LiveHub
) -> None:
    llm.script = [Hang()]
    app = live_hub.context
    definition = {**WHO, "agent_settings": {"timeout": 3, "max_turns": 2}}
    async with live_hub.http(live_hub.admin_token) as http:
        await http.post("/api/tools/template_create", json=definition)
        run = (await http.post("/api/tools/template_run", json={"name": "who-am-i"})).json()
    pid = await pid_of(app, run["id"])
    info = await finished(app, run["id"], timeout=60)
    assert info.status == "timed_out"
    assert group_members(pid) == []
    assert engine_of(app).active == {}
