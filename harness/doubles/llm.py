"""An OpenAI-compatible chat-completions double on a real socket, scripted turn by turn.

It speaks what Goose 1.52 and the hub's ``openai`` agent send (see ``docs/goose.md`` in the shared
briefs): ``GET /v1/models``; ``POST /v1/chat/completions`` with ``stream: true`` answered with SSE
``chat.completion.chunk`` events (role chunk, content or ``tool_calls`` deltas in fragments, a
finish chunk, a usage chunk, ``data: [DONE]``), or a plain JSON completion when ``stream`` is off.

Title-generation requests (no ``tools``, a system prompt about titles) are answered with plain
text and never consume the script. Every other request takes the next step of the script:

    async with LLMDouble([CallTool("whoami"), Say("All done.")]) as llm:
        ...  # point the client at llm.base_url ("http://127.0.0.1:PORT/v1")
        assert llm.turns[1].tool_results  # what the client sent back after the tool call
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from harness.processes import free_port

USAGE = {"prompt_tokens": 120, "completion_tokens": 30}


@dataclass
class Say:
    """Answer with this text (streamed in small fragments)."""

    text: str
    prompt_tokens: int = USAGE["prompt_tokens"]
    completion_tokens: int = USAGE["completion_tokens"]


@dataclass
class CallTool:
    """Call the offered tool whose name is ``name`` or ends with ``__name`` (Goose prefixes extensions)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int = USAGE["prompt_tokens"]
    completion_tokens: int = USAGE["completion_tokens"]


@dataclass
class Fail:
    """Answer with an HTTP error, the way a provider refuses a request."""

    status: int = 500
    message: str = "the double was told to fail"


@dataclass
class Hang:
    """Never answer (until the client gives up): for timeout tests."""


Step = Say | CallTool | Fail | Hang


@dataclass
class Turn:
    """One scripted request as the double received it, and the step that answered it."""

    body: dict[str, Any]
    step: Step

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools") or []]

    @property
    def tool_results(self) -> list[str]:
        return [_text(m.get("content")) for m in self.messages if m.get("role") == "tool"]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def is_title_request(body: dict[str, Any]) -> bool:
    if body.get("tools"):
        return False
    texts = " ".join(_text(m.get("content")) for m in body.get("messages", []) if m.get("role") == "system")
    return "title" in texts.lower()


class LLMDouble:
    """A scripted OpenAI-compatible server; use as ``async with LLMDouble(script) as llm``."""

    def __init__(
        self,
        script: list[Step] | None = None,
        *,
        model: str = "fake-model",
        title: str = "A title",
        api_key: str | None = None,
    ) -> None:
        self.script = list(script or [])
        self.api_key = api_key  # when set, other keys are refused with 401 (as OpenAI does)
        self.refused: list[dict[str, Any]] = []
        self.model = model
        self.title = title
        self.turns: list[Turn] = []
        self.title_requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.force_json = False  # answer with one JSON completion even when asked to stream
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )

    async def __aenter__(self) -> LLMDouble:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        self._server.force_exit = True
        await self._task

    # -- routes ----------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "double"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.authorizations.append(request.headers.get("authorization"))
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            self.refused.append(body)
            given = (request.headers.get("authorization") or "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {given}. You can find your API key at the provider."
            return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status_code=401)
        if is_title_request(body):
            self.title_requests.append(body)
            return self._answer(body, Say(self.title, 10, 3))
        step: Step = self.script.pop(0) if self.script else Say("(the double's script is exhausted)")
        self.turns.append(Turn(body, step))
        if isinstance(step, Fail):
            return JSONResponse({"error": {"message": step.message, "type": "server_error"}}, status_code=step.status)
        if isinstance(step, Hang):
            await asyncio.Event().wait()
        if isinstance(step, CallTool):
            names = [t["function"]["name"] for t in body.get("tools") or []]
            match = [n for n in names if n == step.name or n.endswith(f"__{step.name}")]
            if not match:
                message = f"the double was told to call {step.name!r} but was offered {names}"
                return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, 400)
            step = CallTool(match[0], step.arguments, step.prompt_tokens, step.completion_tokens)
        return self._answer(body, step)

    def _answer(self, body: dict[str, Any], step: Say | CallTool) -> Response:
        if body.get("stream") and not self.force_json:
            return StreamingResponse(self._chunks(body, step), media_type="text/event-stream")
        return JSONResponse(self._completion(step))

    # -- wire shapes ---------------------------------------------------------------------

    def _usage(self, step: Say | CallTool) -> dict[str, int]:
        return {
            "prompt_tokens": step.prompt_tokens,
            "completion_tokens": step.completion_tokens,
            "total_tokens": step.prompt_tokens + step.completion_tokens,
        }

    def _completion(self, step: Say | CallTool) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if isinstance(step, Say):
            message["content"] = step.text
            finish = "stop"
        else:
            message["tool_calls"] = [_tool_call(step)]
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self._usage(step),
        }

    async def _chunks(self, body: dict[str, Any], step: Say | CallTool) -> AsyncIterator[bytes]:
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
            data: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "choices": choices,
            }
            if usage is not None:
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        if isinstance(step, Say):
            for piece in _fragments(step.text, 6):
                yield chunk({"content": piece})
            finish = "stop"
        else:
            call = _tool_call(step)
            head = {"index": 0, "id": call["id"], "type": "function", "function": {"name": step.name, "arguments": ""}}
            yield chunk({"tool_calls": [head]})
            for piece in _fragments(call["function"]["arguments"], 5):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            finish = "tool_calls"
        yield chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage", True):
            yield chunk(None, usage=self._usage(step))
        yield b"data: [DONE]\n\n"


def _tool_call(step: CallTool) -> dict[str, Any]:
    return {
        "id": f"call_{uuid.uuid4().hex[:10]}",
        "type": "function",
        "function": {"name": step.name, "arguments": json.dumps(step.arguments)},
    }


def _fragments(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
