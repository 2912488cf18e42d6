"""The sampling agent asks the calling client's model, on both protocol eras (SDK client sampling_callback)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CreateMessageRequestParams, CreateMessageResult, TextContent

from tests.conftest import LiveHub
from tests.engine_support import finished

pytestmark = pytest.mark.anyio

TEMPLATE = {
    "name": "ask-my-model",
    "title": "Ask the caller's model",
    "instructions": "Answer in {{ language }}.",
    "prompt": "Summarise: {{ text }}",
    "parameters": [
        {"key": "text", "requirement": "required"},
        {"key": "language", "requirement": "optional", "default": "English"},
    ],
    "agent": "sampling",
    "agent_settings": {"max_tokens": 400},
}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_run_asks_the_calling_clients_model(live_hub: LiveHub, mode: str) -> None:
    asked: list[CreateMessageRequestParams] = []

    async def sampling(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        asked.append(params)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="A short summary.\nIn English."), model="client-llm"
        )

    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(
            streamable_http_client(f"{live_hub.url}/mcp", http_client=http), mode=mode, sampling_callback=sampling
        ) as client,
    ):
        assert not (await client.call_tool("template_create", TEMPLATE)).is_error
        result = await client.call_tool("template_run", {"name": "ask-my-model", "params": {"text": "the notes"}})
        assert not result.is_error, result.content[0].text
        run = result.structured_content
    info = await finished(live_hub.context, run["id"])
    assert info.status == "succeeded", info.error
    assert info.output == "A short summary.\nIn English."
    assert info.usage is not None and info.usage.model == "client-llm"
    assert info.prompt == "Summarise: the notes" and info.instructions == "Answer in English."
    assert len(asked) == 1
    assert asked[0].system_prompt == "Answer in English." and asked[0].max_tokens == 400
    assert asked[0].messages[0].content.text == "Summarise: the notes"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_without_sampling_gets_a_clear_error(live_hub: LiveHub, mode: str) -> None:
    async with (
        live_hub.http(live_hub.admin_token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http), mode=mode) as client,
    ):
        await client.call_tool("template_create", TEMPLATE)
        result = await client.call_tool("template_run", {"name": "ask-my-model", "params": {"text": "x"}})
    assert result.is_error
    assert "did not declare sampling support" in result.content[0].text


async def test_the_http_api_cannot_run_a_sampling_template(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        await http.post("/api/tools/template_create", json=TEMPLATE)
        response = await http.post("/api/tools/template_run", json={"name": "ask-my-model", "params": {"text": "x"}})
    assert response.status_code == 400
    assert "call template_run over MCP from a client that supports sampling" in response.json()["detail"]


async def test_a_sampling_run_without_a_caller_fails_clearly(live_hub: LiveHub) -> None:
    from tests.engine_support import API, engine_of

    async with live_hub.http(live_hub.admin_token) as http:
        await http.post("/api/tools/template_create", json=TEMPLATE)
    engine = engine_of(live_hub.context)
    info = await finished(live_hub.context, (await engine.submit("ask-my-model", {"text": "x"}, trigger=API)).id)
    assert info.status == "failed"
    assert "this run has no such caller" in (info.error or "")
