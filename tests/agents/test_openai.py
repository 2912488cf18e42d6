"""The openai agent against the OpenAI-compatible double: streaming into the log, usage, keys, errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest
from mcp import Client
from pydantic import SecretStr

from harness.doubles.llm import Fail, LLMDouble, Say
from harness.processes import free_port
from hub.settings import Settings
from tests.engine_support import API, add_template, engine_of, finished, hub_running, log_text

pytestmark = pytest.mark.anyio


@pytest.fixture
async def llm() -> AsyncIterator[LLMDouble]:
    async with LLMDouble() as double:
        yield double


@pytest.fixture
def openai_settings(settings: Settings, llm: LLMDouble) -> Settings:
    settings.openai_base_url = llm.base_url
    settings.openai_model = "fake-model"
    settings.openai_api_key = SecretStr("sk-test-key")
    return settings


async def test_tokens_stream_into_the_log_and_the_answer_usage_and_key_are_kept(
    openai_settings: Settings, llm: LLMDouble
) -> None:
    llm.script = [Say("First line of the answer.\nSecond line.\nThird, the end.", 90, 25)]
    async with hub_running(openai_settings) as app:
        await add_template(
            app,
            "ask",
            agent="openai",
            prompt="Question: {{ text }}",
            instructions="Be terse.",
            temperature=0.2,
            max_tokens=300,
        )
        info = await finished(app, (await engine_of(app).submit("ask", {"text": "why?"}, trigger=API)).id)
        assert info.status == "succeeded", info.error
        assert info.output == "First line of the answer.\nSecond line.\nThird, the end."
        assert info.usage is not None
        assert (info.usage.input_tokens, info.usage.output_tokens, info.usage.total_tokens) == (90, 25, 115)
        assert info.usage.model == "fake-model"
        text = await log_text(app, info.id)
    for line in ("First line of the answer.", "Second line.", "Third, the end."):
        assert f"assistant: {line}" in text
    body = llm.turns[0].body
    assert body["stream"] is True and body["model"] == "fake-model"
    assert body["temperature"] == 0.2 and body["max_tokens"] == 300
    assert body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Question: why?"},
    ]
    assert llm.authorizations == ["Bearer sk-test-key"]


async def test_a_template_can_take_its_key_from_a_vault_secret(openai_settings: Settings, llm: LLMDouble) -> None:
    llm.script = [Say("ok")]
    async with hub_running(openai_settings) as app, Client(app.server) as client:
        stored = await client.call_tool("secret_set", {"name": "TEAM_OPENAI_KEY", "value": "sk-from-the-vault"})
        assert not stored.is_error, stored.content[0].text
        await add_template(app, "ask", agent="openai", api_key_secret="TEAM_OPENAI_KEY")
        info = await finished(app, (await engine_of(app).submit("ask", trigger=API)).id)
        assert info.status == "succeeded", info.error
    assert llm.authorizations == ["Bearer sk-from-the-vault"]


async def test_an_error_answer_fails_the_run_with_the_servers_message(
    openai_settings: Settings, llm: LLMDouble
) -> None:
    llm.script = [Fail(404, "model 'nope' not found")]
    async with hub_running(openai_settings) as app:
        await add_template(app, "ask", agent="openai", model="nope")
        info = await finished(app, (await engine_of(app).submit("ask", trigger=API)).id)
    assert info.status == "failed"
    assert f"The model server at {llm.base_url} answered 404: model 'nope' not found." in (info.error or "")


async def test_an_unreachable_server_is_a_clear_error(settings: Settings) -> None:
    settings.openai_base_url = f"http://127.0.0.1:{free_port()}/v1"
    async with hub_running(settings) as app:
        await add_template(app, "ask", agent="openai")
        info = await finished(app, (await engine_of(app).submit("ask", trigger=API)).id)
    assert info.status == "failed"
    assert "Cannot reach the model server at http://127.0.0.1:" in (info.error or "")
    assert "GOOSUKE_OPENAI_BASE_URL" in (info.error or "")


async def test_a_non_streaming_server_is_understood_too(openai_settings: Settings, llm: LLMDouble) -> None:
    llm.script = [Say("whole answer")]
    llm.force_json = True
    async with hub_running(openai_settings) as app:
        await add_template(app, "ask", agent="openai")
        info = await finished(app, (await engine_of(app).submit("ask", trigger=API)).id)
    assert info.status == "succeeded" and info.output == "whole answer"


async def test_an_endless_error_body_is_read_only_up_to_a_bounded_prefix(settings: Settings) -> None:
    """A server answering 500 with a body that never ends: the run fails with the body's start, instead of
    reading (and holding) it whole until the run's timeout."""

    async def endless(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                await stream.receive()
                await stream.send(
                    b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                chunk = b"x" * 65536
                while True:
                    await stream.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    settings.openai_base_url = f"http://127.0.0.1:{port}/v1"
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, endless)
        async with hub_running(settings) as app:
            await add_template(app, "ask", agent="openai", timeout=60)
            info = await finished(app, (await engine_of(app).submit("ask", trigger=API)).id, timeout=90)
        tg.cancel_scope.cancel()
    assert info.status == "failed", (info.status, (info.error or "")[:200])
    assert "answered 500: xxxx" in (info.error or "")
