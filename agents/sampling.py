"""The ``sampling`` agent: the hub asks the model of the MCP client that started the run.

No model, key or binary on the hub: the rendered instructions and prompt go to the caller as an MCP
``sampling/createMessage`` request, and its answer is the output. How the question travels
depends on the protocol era of the ``template_run`` call:

- 2025-11-25 and older: the execution is queued and run like any other; the request rides the
  ``template_run`` call's own stream, so that call waits for the run to finish.
- 2026-07-28: the call returns an ``InputRequiredResult`` carrying the question; the client
  answers and calls again; then the execution is written and finishes with that answer.

Runs started any other way (Discord, schedules, webhooks, a hub restart) have no caller to ask
and fail with a message saying so.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, Resolve, Sample
from mcp.server.mcpserver.resolve import build_resolver_plans, resolve_arguments
from mcp.shared.message import ServerMessageMetadata
from mcp_types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    InputRequiredResult,
    SamplingMessage,
    TextContent,
)
from mcp_types.version import is_version_at_least

from hub import AgentRunError, Call, Plugin, ToolError
from hub.engine import AgentResult, AgentRun, RunPreview, Usage

plugin = Plugin("agent-sampling")

DEFAULT_MAX_TOKENS = 2000
SAMPLING_ARG = "goosuke_sampling"  # how the question reaches the resolver (a stable, worker-independent key)
INPUT_REQUIRED_VERSION = "2026-07-28"


def sampling_params(prompt: str, instructions: str | None, max_tokens: int | None, temperature: float | None) -> Any:
    return CreateMessageRequestParams(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        system_prompt=instructions,
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        temperature=temperature,
    )


def ask_client(goosuke_sampling: dict[str, Any]) -> Sample:
    """Resolver: the sampling question for an ``InputRequiredResult`` round trip (2026 protocol)."""
    params = CreateMessageRequestParams.model_validate(goosuke_sampling)
    return Sample(
        params.messages,
        max_tokens=params.max_tokens,
        system_prompt=params.system_prompt,
        temperature=params.temperature,
    )


class LiveSampler:
    """Asks over the back-channel of a running 2025-era ``template_run`` call."""

    hold_request = True  # the call must stay open until the run ends: the question rides its stream

    def __init__(self, context: Context[Any, Any], params: CreateMessageRequestParams) -> None:
        self.context = context
        self.params = params

    async def sample(self) -> CreateMessageResult:
        result: CreateMessageResult = await self.context.session.send_request(  # Context.session is untyped
            CreateMessageRequest(params=self.params),
            CreateMessageResult,
            metadata=ServerMessageMetadata(related_request_id=self.context.request_id),
        )
        return result


class AnsweredSampler:
    """The client's answer, already received through an ``InputRequiredResult`` round trip."""

    hold_request = False

    def __init__(self, result: CreateMessageResult) -> None:
        self.result = result

    async def sample(self) -> CreateMessageResult:
        return self.result


def _text_of(result: CreateMessageResult) -> str:
    content = result.content
    items = content if isinstance(content, list) else [content]
    return "".join(getattr(item, "text", "") for item in items)


class SamplingAgent:
    """Sends the run to the calling MCP client's model."""

    async def bind(self, call: Call, preview: RunPreview) -> LiveSampler | AnsweredSampler | InputRequiredResult:
        ctx = call.mcp
        if ctx is None:
            raise ToolError(
                "The sampling agent asks the model of the MCP client that starts the run; call template_run over "
                "MCP from a client that supports sampling (the HTTP API cannot answer sampling requests)."
            )
        capabilities = ctx.client_capabilities
        if capabilities is None or capabilities.sampling is None:
            raise ToolError(
                "Your MCP client did not declare sampling support, so the sampling agent cannot ask its model. "
                "Use a client with sampling, or switch the template to the goose or openai agent."
            )
        options = preview.options
        params = sampling_params(preview.prompt, preview.instructions, options.max_tokens, options.temperature)
        version = ctx.protocol_version
        if version is not None and is_version_at_least(version, INPUT_REQUIRED_VERSION):
            resolved_params = {"answer": (Resolve(ask_client), False)}
            plans = build_resolver_plans(resolved_params, {SAMPLING_ARG})
            args = {SAMPLING_ARG: params.model_dump(mode="json", by_alias=True, exclude_none=True)}
            outcome = await resolve_arguments(resolved_params, plans, args, ctx)
            if isinstance(outcome, InputRequiredResult):
                return outcome
            return AnsweredSampler(outcome["answer"])
        if not ctx.session.can_send_request:
            raise ToolError(
                "This MCP connection has no back-channel for sampling requests (JSON responses or stateless "
                "mode). Connect with SSE streaming, or use the 2026-07-28 protocol."
            )
        return LiveSampler(ctx, params)

    async def run(self, run: AgentRun) -> AgentResult:
        sampler = run.attachment
        if sampler is None:
            raise AgentRunError(
                "The sampling agent asks the model of the MCP client that started the run, and this run has no "
                "such caller (it was started by a trigger or retry, or the hub restarted). Start it with "
                "template_run from an MCP client that supports sampling, or use the goose or openai agent."
            )
        run.log("goosuke", "asking the calling client's model (MCP sampling)")
        try:
            result = await sampler.sample()
        except AgentRunError:
            raise
        except Exception as exc:
            raise AgentRunError(f"The client did not answer the sampling request: {exc}") from None
        text = _text_of(result)
        for line in text.splitlines():
            run.log("assistant", line)
        if len(text) > run.output_limit:
            text = text[: run.output_limit] + f"\n[goosuke] output truncated at {run.output_limit} characters"
        return AgentResult(output=text, usage=Usage(model=result.model))


plugin.provide("agent", "sampling", SamplingAgent())
