"""The ``openai`` agent: one streamed chat completion from any OpenAI-compatible server.

Works with OpenAI, Ollama (``http://127.0.0.1:11434/v1``), vLLM, llama.cpp's server and the like.
Settings: ``GOOSUKE_OPENAI_BASE_URL``, ``GOOSUKE_OPENAI_MODEL``, ``GOOSUKE_OPENAI_API_KEY``; a
template's runner (an admin's) may set ``base_url`` and ``api_key_secret`` (the name of a vault secret
holding the key, looked up through the :class:`~hub.vault.service.Vault`) and the models; the
template sets ``model`` (among the runner's), ``temperature`` and ``max_tokens``.
Tokens stream into the log line by line as they arrive.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from hub import AgentRunError, Plugin
from hub.engine import AgentResult, AgentRun, Usage
from hub.engine.process import MAX_LINE
from hub.vault.ownership import runner_secret
from hub.vault.service import Vault

plugin = Plugin("agent-openai")

CONNECT_TIMEOUT = 10.0  # seconds to open a connection to the model server
READ_TIMEOUT = 300.0  # seconds without a byte from the model server before the call fails


class _Answer:
    """The streamed answer: bounded text, and log lines as each newline arrives."""

    def __init__(self, run: AgentRun) -> None:
        self.run = run
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False
        self.pending = ""

    def add(self, piece: str) -> None:
        room = self.run.output_limit - self.size
        if room > 0:
            self.parts.append(piece[:room])
            self.size += min(room, len(piece))
        self.truncated = self.truncated or len(piece) > room
        self.pending += piece
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.run.log("assistant", line)
        while len(self.pending) > MAX_LINE:  # a line that never ends is logged in pieces
            self.run.log("assistant", self.pending[:MAX_LINE])
            self.pending = self.pending[MAX_LINE:]

    def close(self) -> str:
        if self.pending:
            self.run.log("assistant", self.pending)
            self.pending = ""
        text = "".join(self.parts)
        if self.truncated:
            text += f"\n[goosuke] output truncated at {self.run.output_limit} characters"
        return text


def _usage(data: dict[str, Any] | None, model: str) -> Usage | None:
    if not data:
        return None
    return Usage(
        input_tokens=data.get("prompt_tokens"),
        output_tokens=data.get("completion_tokens"),
        total_tokens=data.get("total_tokens"),
        model=model,
    )


MAX_ERROR_BODY = 64 * 1024  # bytes of an error answer read (the rest is dropped unread)
MAX_JSON_BODY = 16 * 1024 * 1024  # bytes of a non-streamed answer (a server that ignores `stream`)


async def _read_prefix(response: httpx2.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more (not read)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body[:500].decode("utf-8", "replace") or "no details"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or data)[:500]


class OpenAIAgent:
    """Sends the rendered instructions (system) and prompt (user) to ``{base_url}/chat/completions``."""

    async def api_key(self, run: AgentRun) -> str | None:
        name = run.options.api_key_secret
        if name:
            vault = run.app.services.find(Vault)
            if vault is None:
                raise AgentRunError(
                    f"Runner {run.options.runner!r} names the secret {name!r} for its API key, but this hub has no "
                    "secrets vault. Set GOOSUKE_OPENAI_API_KEY instead, or clear the runner's api_key_secret."
                )
            return await runner_secret(run.app, vault, run.options.runner, name)
        key = run.settings.openai_api_key
        return key.get_secret_value() if key is not None else None

    async def run(self, run: AgentRun) -> AgentResult:
        base_url = (run.options.base_url or run.settings.openai_base_url).rstrip("/")
        model = run.options.model or run.settings.openai_model
        messages = [{"role": "user", "content": run.prompt}]
        if run.instructions:
            messages.insert(0, {"role": "system", "content": run.instructions})
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if run.options.temperature is not None:
            body["temperature"] = run.options.temperature
        if run.options.max_tokens is not None:
            body["max_tokens"] = run.options.max_tokens
        headers = {"Accept": "text/event-stream"}
        key = await self.api_key(run)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = f"{base_url}/chat/completions"
        run.log("goosuke", f"POST {url} model={model}")
        answer = _Answer(run)
        usage: dict[str, Any] | None = None
        finish: str | None = None
        timeout = httpx2.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        try:
            async with (
                httpx2.AsyncClient(timeout=timeout, trust_env=False) as client,
                client.stream("POST", url, json=body, headers=headers) as response,
            ):
                if response.status_code >= 400:
                    detail = _error_message((await _read_prefix(response, MAX_ERROR_BODY))[0])
                    raise AgentRunError(
                        f"The model server at {base_url} answered {response.status_code}: {detail}. Check the "
                        "model name, the API key and GOOSUKE_OPENAI_BASE_URL."
                    )
                if "json" in response.headers.get("content-type", ""):  # a server that ignores `stream`
                    raw, cut = await _read_prefix(response, MAX_JSON_BODY)
                    if cut:
                        raise AgentRunError(
                            f"The model server at {base_url} sent an answer larger than {MAX_JSON_BODY} bytes."
                        )
                    data = json.loads(raw)
                    choice = (data.get("choices") or [{}])[0]
                    answer.add((choice.get("message") or {}).get("content") or "")
                    usage, finish = data.get("usage"), choice.get("finish_reason")
                else:
                    async for line in response.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        payload = line[5:].strip()
                        if payload == "[DONE]":
                            break
                        chunk = json.loads(payload)
                        usage = chunk.get("usage") or usage
                        for choice in chunk.get("choices") or []:
                            piece = (choice.get("delta") or {}).get("content")
                            if piece:
                                answer.add(piece)
                            finish = choice.get("finish_reason") or finish
        except httpx2.ConnectError:
            raise AgentRunError(
                f"Cannot reach the model server at {base_url} (connection refused or no route). Is it running? "
                "Check GOOSUKE_OPENAI_BASE_URL or the template's agent_settings.base_url."
            ) from None
        except httpx2.TimeoutException:
            raise AgentRunError(f"The model server at {base_url} stopped answering (timeout).") from None
        except (httpx2.HTTPError, json.JSONDecodeError) as exc:
            raise AgentRunError(f"The model server at {base_url} sent a broken answer ({exc}).") from None
        text = answer.close()
        run.log("goosuke", f"finish_reason={finish}")
        return AgentResult(output=text, usage=_usage(usage, model))


plugin.provide("agent", "openai", OpenAIAgent())
