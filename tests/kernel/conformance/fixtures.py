"""Fixtures for the MCP conformance suite (`@modelcontextprotocol/conformance@0.2.0-alpha.11`).

A Goosuke plugin module: the hub calls :func:`install` (registered with
``@plugin.on_server``) with its ``MCPServer`` right after creating it, so the
suite exercises the hub's real transport, middleware and auth stack.

The fixtures follow the SDK's reference server
``examples/servers/everything-server/mcp_everything_server/server.py`` in
modelcontextprotocol/python-sdk (MIT), adapted to register on a given server, with
these deliberate differences (each keeps every scenario passing and makes a pass
mean something):

* ``test_sampling`` / ``test_elicitation*`` get their answer through
  ``Annotated[..., Resolve(fn)]`` (``Sample`` / ``Elicit``) instead of
  ``ctx.session.create_message()`` / ``ctx.elicit()``: the same mid-call request on
  legacy sessions, and an ``InputRequiredResult`` round trip on 2026-07-28 (where the
  legacy calls fail with "no back-channel");
* ``test_elicitation`` asks for ``{username, email}``, the schema the
  ``tools-call-elicitation`` scenario documents and answers with (the reference
  server's ``{response}`` makes the SDK reject the answer, and the scenario passes
  on the tool's "Elicitation not supported or error" text);
* ``test_error_handling`` raises ``ToolError`` so the documented message reaches the
  client (a plain exception is reported as a generic "Error executing tool");
* two diagnostic tools the 2026-07-28 ``server-stateless`` scenario calls and the
  reference server lacks (there those checks pass on "Unknown tool"):
  ``test_logging_tool`` and ``test_streaming_elicitation``.

Division of labour: this module registers tools, resources, prompts and the
``completion/complete`` handler only. The hub core itself provides what the suite
needs beyond that:

* ``resources/subscribe``, ``resources/unsubscribe`` and ``logging/setLevel``
  handlers on the low-level server;
* the Streamable HTTP app at ``/mcp`` with an event store and a retry interval
  (``server-sse-polling`` / ``test_reconnection``), and DNS-rebinding protection.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve, Sample
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import Prompt, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)
from pydantic import BaseModel, Field

try:
    from hub.plugin import Plugin
except ImportError:  # while the hub core is being written
    Plugin = None  # type: ignore[assignment,misc]

__all__ = ["FIXTURE_PROMPTS", "FIXTURE_RESOURCES", "FIXTURE_TOOLS", "install", "plugin"]

# Test data (same bytes as the reference server: a 1x1 PNG and a tiny WAV).
TEST_IMAGE_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
WATCHED_RESOURCE_CONTENT = "Watched resource content"

NAME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}
CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}

# SEP-1613 / SEP-2106: an inputSchema carrying the JSON Schema 2020-12 keywords the scenario asserts on.
JSON_SCHEMA_2020_12_INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

FIXTURE_TOOLS = (
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "test_error_handling",
    "test_x_mcp_header",
    "test_missing_capability",
    "test_input_required_result_elicitation",
    "test_input_required_result_sampling",
    "test_input_required_result_list_roots",
    "test_input_required_result_request_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
    "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities",
    "json_schema_2020_12_tool",
    "test_reconnection",
    "test_trigger_tool_change",
    "test_trigger_prompt_change",
    # Diagnostic tools the 2026-07-28 `server-stateless` scenario calls; not in the SDK
    # reference server (there those checks pass vacuously on "Unknown tool").
    "test_logging_tool",
    "test_streaming_elicitation",
)
FIXTURE_PROMPTS = (
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
    "test_input_required_result_prompt",
)
FIXTURE_RESOURCES = (
    "test://static-text",
    "test://static-binary",
    "test://template/{id}/data",
    "test://watched-resource",
)


# Elicitation schemas
class UserResponse(BaseModel):
    """The schema the `tools-call-elicitation` scenario specifies (and answers with).

    The SDK reference server uses a single `response` field; the harness then answers
    `{username, email}`, the SDK rejects the accepted content as not matching the schema
    and the tool reports "Elicitation not supported or error" -- a pass that proves
    little. Matching the scenario's documented schema makes the round trip real.
    """

    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


class SEP1034DefaultsSchema(BaseModel):
    """Schema for testing SEP-1034 elicitation with default values for all primitive types"""

    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active",
        description="User status",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    verified: bool = Field(default=True, description="Verification status")


class EnumSchemasTestSchema(BaseModel):
    """Schema for testing enum schema variations (SEP-1330)"""

    untitledSingle: str = Field(
        description="Simple enum without titles",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    titledSingle: str = Field(
        description="Enum with titled options (oneOf)",
        json_schema_extra={
            "oneOf": [
                {"const": "low", "title": "Low Priority"},
                {"const": "medium", "title": "Medium Priority"},
                {"const": "high", "title": "High Priority"},
            ]
        },
    )
    untitledMulti: list[str] = Field(
        description="Multi-select without titles",
        json_schema_extra={"items": {"type": "string", "enum": ["read", "write", "execute"]}},
    )
    titledMulti: list[str] = Field(
        description="Multi-select with titled options",
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"const": "feature", "title": "New Feature"},
                    {"const": "bug", "title": "Bug Fix"},
                    {"const": "docs", "title": "Documentation"},
                ]
            }
        },
    )
    legacyEnum: str = Field(
        description="Legacy enum with enumNames",
        json_schema_extra={
            "enum": ["small", "medium", "large"],
            "enumNames": ["Small Size", "Medium Size", "Large Size"],
        },
    )


# Resolvers (run by the SDK before the tool body; tool arguments are passed by name).
def _sample_prompt(prompt: str) -> Sample:
    return Sample(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        max_tokens=100,
    )


def _ask_user(message: str) -> Elicit[UserResponse]:
    return Elicit(message, UserResponse)


def _ask_sep1034_defaults() -> Elicit[SEP1034DefaultsSchema]:
    return Elicit("Please provide user information", SEP1034DefaultsSchema)


def _ask_sep1330_enums() -> Elicit[EnumSchemasTestSchema]:
    return Elicit("Please select values using different enum schema types", EnumSchemasTestSchema)


class StreamingAnswer(BaseModel):
    name: str = Field(description="Your name")


def _ask_streaming_name() -> Elicit[StreamingAnswer]:
    return Elicit("What is your name?", StreamingAnswer)


def _name_elicitation(message: str = "What is your name?") -> ElicitRequest:
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=NAME_SCHEMA))


def _sampling_request(text: str, max_tokens: int) -> CreateMessageRequest:
    return CreateMessageRequest(
        params=CreateMessageRequestParams(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=text))],
            max_tokens=max_tokens,
        )
    )


def _dynamic_tool() -> str:
    """A tool registered and removed by test_trigger_tool_change."""
    return "dynamic"


def _dynamic_prompt() -> str:
    """A prompt registered and removed by test_trigger_prompt_change."""
    return "dynamic"


def install(server: MCPServer) -> None:
    """Register every conformance fixture (tools, resources, prompts, completion) on ``server``."""
    _install_tools(server)
    _install_input_required_tools(server)
    _install_resources(server)
    _install_prompts(server)
    _install_completion(server)


def _install_tools(server: MCPServer) -> None:
    @server.tool()
    def test_simple_text() -> str:
        """Tests simple text content response"""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> list[ImageContent]:
        """Tests image content response"""
        return [ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")]

    @server.tool()
    def test_audio_content() -> list[AudioContent]:
        """Tests audio content response"""
        return [AudioContent(type="audio", data=TEST_AUDIO_BASE64, mime_type="audio/wav")]

    @server.tool()
    def test_embedded_resource() -> list[EmbeddedResource]:
        """Tests embedded resource content response"""
        return [
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri="test://embedded-resource",
                    mime_type="text/plain",
                    text="This is an embedded resource content.",
                ),
            )
        ]

    @server.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Tests response with multiple content types (text, image, resource)"""
        return [
            TextContent(type="text", text="Multiple content types test:"),
            ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png"),
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri="test://mixed-content-resource",
                    mime_type="application/json",
                    text='{"test": "data", "value": 123}',
                ),
            ),
        ]

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Tests tool that emits log messages during execution"""
        await ctx.info("Tool execution started")  # pyright: ignore[reportDeprecated]
        await asyncio.sleep(0.05)
        await ctx.info("Tool processing data")  # pyright: ignore[reportDeprecated]
        await asyncio.sleep(0.05)
        await ctx.info("Tool execution completed")  # pyright: ignore[reportDeprecated]
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Tests tool that reports progress notifications"""
        await ctx.report_progress(progress=0, total=100, message="Completed step 0 of 100")
        await asyncio.sleep(0.05)
        await ctx.report_progress(progress=50, total=100, message="Completed step 50 of 100")
        await asyncio.sleep(0.05)
        await ctx.report_progress(progress=100, total=100, message="Completed step 100 of 100")
        meta = ctx.request_context.meta
        progress_token = meta.get("progress_token") if meta else 0
        return str(progress_token)

    # Sampling / elicitation fixtures resolve their client request through `Resolve(...)`
    # instead of the reference server's ctx.session.create_message() / ctx.elicit(): the
    # same wire request on legacy sessions (a mid-call elicitation/create or
    # sampling/createMessage tied to this request), and an InputRequiredResult round trip
    # on 2026-07-28, where the legacy calls fail with NoBackChannelError.

    @server.tool()
    async def test_sampling(
        prompt: str,
        result: Annotated[CreateMessageResult, Resolve(_sample_prompt)],
    ) -> str:
        """Tests server-initiated sampling (LLM completion request)"""
        model_response = result.content.text if result.content.type == "text" else "No response"
        return f"LLM response: {model_response}"

    @server.tool()
    async def test_elicitation(
        message: str,
        result: Annotated[ElicitationResult[UserResponse], Resolve(_ask_user)],
    ) -> str:
        """Tests server-initiated elicitation (user input request)"""
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"User response: action={result.action}, content={content}"

    @server.tool()
    async def test_elicitation_sep1034_defaults(
        result: Annotated[ElicitationResult[SEP1034DefaultsSchema], Resolve(_ask_sep1034_defaults)],
    ) -> str:
        """Tests elicitation with default values for all primitive types (SEP-1034)"""
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation result: action={result.action}, content={content}"

    @server.tool()
    async def test_elicitation_sep1330_enums(
        result: Annotated[ElicitationResult[EnumSchemasTestSchema], Resolve(_ask_sep1330_enums)],
    ) -> str:
        """Tests elicitation with enum schema variations per SEP-1330"""
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation completed: action={result.action}, content={content}"

    @server.tool()
    def test_error_handling() -> str:
        """Tests error response handling"""
        # ToolError (a deliberate failure) rather than the reference server's RuntimeError:
        # the message the scenario documents reaches the client, and the server does not log
        # a crash traceback. Either way the result is `isError: true`.
        raise ToolError("This tool intentionally returns an error for testing")

    @server.tool()
    def test_x_mcp_header(
        region: Annotated[
            str,
            Field(
                description="Mirrored into the Mcp-Param-Region header",
                json_schema_extra={"x-mcp-header": "Region"},
            ),
        ] = "<none>",
    ) -> str:
        """Tests SEP-2243 Mcp-Param-* server-side validation.

        Arms the http-custom-header-server-validation scenario, which skips when no
        tool with an `x-mcp-header` annotation is found.
        """
        return f"region={region}"

    @server.tool()
    async def test_missing_capability(ctx: Context) -> str:
        """Tests that a handler-raised MISSING_REQUIRED_CLIENT_CAPABILITY surfaces as a JSON-RPC error.

        MCPError is re-raised by the tool dispatch (not wrapped in CallToolResult.isError),
        so the client sees a protocol-level error carrying data.requiredCapabilities.
        """
        capabilities = ctx.session.client_capabilities
        if capabilities is None or capabilities.sampling is None:
            raise MCPError(
                code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                message="This tool requires the client 'sampling' capability",
                data={"requiredCapabilities": {"sampling": {}}},
            )
        return "Client declared sampling capability; proceeding."

    @server.tool(name="json_schema_2020_12_tool")
    def json_schema_2020_12_tool() -> str:
        """Tests JSON Schema 2020-12 keyword preservation in tools/list."""
        return "json_schema_2020_12_tool"

    # MCPServer.tool() has no input_schema= override (SDK 2.3): install the schema on the
    # registered Tool, as the reference server does.
    tool = server._tool_manager.get_tool("json_schema_2020_12_tool")  # pyright: ignore[reportPrivateUsage]
    assert tool is not None
    tool.parameters = JSON_SCHEMA_2020_12_INPUT_SCHEMA

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Tests SSE polling by closing the stream mid-call (SEP-1699).

        Needs the transport's event store + retry interval (hub core); without an
        event store close_sse_stream() is a no-op.
        """
        await ctx.info("Before disconnect")  # pyright: ignore[reportDeprecated]
        await ctx.close_sse_stream()
        await asyncio.sleep(0.2)  # wait for the client to reconnect
        await ctx.info("After reconnect")  # pyright: ignore[reportDeprecated]
        return "Reconnection test completed"

    @server.tool()
    async def test_trigger_tool_change(ctx: Context) -> str:
        """Mutates the tool list and announces it to subscriptions/listen streams (SEP-2575)"""
        server.add_tool(_dynamic_tool, name="test_dynamic_tool")
        server.remove_tool("test_dynamic_tool")
        await ctx.notify_tools_changed()
        return "tool list changed"

    @server.tool()
    async def test_trigger_prompt_change(ctx: Context) -> str:
        """Mutates the prompt list and announces it to subscriptions/listen streams (SEP-2575)"""
        server.add_prompt(Prompt.from_function(_dynamic_prompt, name="test_dynamic_prompt", description="dynamic"))
        server.remove_prompt("test_dynamic_prompt")
        await ctx.notify_prompts_changed()
        return "prompt list changed"

    # --- diagnostic tools for `server-stateless` (SEP-2575), beyond the reference server ---

    @server.tool()
    async def test_logging_tool(ctx: Context) -> str:
        """Emits log notifications (dropped on 2026-07-28 unless the request opted in with a log level)"""
        await ctx.info("Diagnostic trace logging activated")  # pyright: ignore[reportDeprecated]
        await ctx.warning("Diagnostic warning")  # pyright: ignore[reportDeprecated]
        return "Logging evaluated"

    @server.tool()
    async def test_streaming_elicitation(
        ctx: Context,
        answer: Annotated[ElicitationResult[StreamingAnswer], Resolve(_ask_streaming_name)],
    ) -> str:
        """Asks for input mid-call (InputRequiredResult on 2026-07-28, elicitation/create on legacy)"""
        await ctx.report_progress(progress=50, total=100, message="Answer received")
        if answer.action == "accept":
            return f"Streaming complete: hello {answer.data.name}"
        return f"Streaming complete: action={answer.action}"


def _install_input_required_tools(server: MCPServer) -> None:
    """SEP-2322 InputRequiredResult fixtures (2026-07-28 multi-round-trip flow)."""

    @server.tool()
    async def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
        """Tests InputRequiredResult with a single elicitation request"""
        responses = ctx.input_responses
        if responses and "user_name" in responses:
            answer = responses["user_name"]
            name = (
                answer.content.get("name", "stranger") if isinstance(answer, ElicitResult) and answer.content else "?"
            )
            return f"Hello, {name}!"
        return InputRequiredResult(input_requests={"user_name": _name_elicitation()})

    @server.tool()
    async def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
        """Tests InputRequiredResult with a single sampling request"""
        responses = ctx.input_responses
        if responses and "capital_question" in responses:
            answer = responses["capital_question"]
            text = (
                answer.content.text
                if isinstance(answer, CreateMessageResult) and answer.content.type == "text"
                else "?"
            )
            return f"Model said: {text}"
        return InputRequiredResult(
            input_requests={"capital_question": _sampling_request("What is the capital of France?", 100)}
        )

    @server.tool()
    async def test_input_required_result_list_roots(ctx: Context) -> str | InputRequiredResult:
        """Tests InputRequiredResult with a single roots/list request"""
        responses = ctx.input_responses
        if responses and "client_roots" in responses:
            answer = responses["client_roots"]
            count = len(answer.roots) if isinstance(answer, ListRootsResult) else 0
            return f"Client exposed {count} root(s)."
        return InputRequiredResult(input_requests={"client_roots": ListRootsRequest()})

    @server.tool()
    async def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
        """Tests requestState round-tripping in the InputRequiredResult flow"""
        responses = ctx.input_responses
        if responses and "confirm" in responses and ctx.request_state == "request-state-nonce":
            return "state-ok: confirmation received"
        confirm = ElicitRequest(
            params=ElicitRequestFormParams(message="Please confirm", requested_schema=CONFIRM_SCHEMA)
        )
        return InputRequiredResult(input_requests={"confirm": confirm}, request_state="request-state-nonce")

    @server.tool()
    async def test_input_required_result_multiple_inputs(ctx: Context) -> str | InputRequiredResult:
        """Tests InputRequiredResult carrying elicitation, sampling and roots requests together"""
        responses = ctx.input_responses
        if responses and {"user_name", "greeting", "client_roots"} <= responses.keys():
            return "All inputs received."
        return InputRequiredResult(
            input_requests={
                "user_name": _name_elicitation(),
                "greeting": _sampling_request("Generate a greeting", 50),
                "client_roots": ListRootsRequest(),
            },
            request_state="multiple-inputs",
        )

    @server.tool()
    async def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
        """Tests a three-round InputRequiredResult flow with evolving requestState"""
        state = json.loads(ctx.request_state) if ctx.request_state else {"round": 0}
        responses = ctx.input_responses or {}

        if state["round"] == 1 and "step1" in responses:
            step1 = responses["step1"]
            name = step1.content.get("name") if isinstance(step1, ElicitResult) and step1.content else None
            color_schema = {
                "type": "object",
                "properties": {"color": {"type": "string"}},
                "required": ["color"],
            }
            return InputRequiredResult(
                input_requests={
                    "step2": ElicitRequest(
                        params=ElicitRequestFormParams(
                            message="Step 2: What is your favorite color?", requested_schema=color_schema
                        )
                    )
                },
                request_state=json.dumps({"round": 2, "name": name}),
            )

        if state["round"] == 2 and "step2" in responses:
            step2 = responses["step2"]
            color = step2.content.get("color") if isinstance(step2, ElicitResult) and step2.content else None
            return f"{state.get('name')} likes {color}."

        # Round 0, or a missing / out-of-order response: (re)start from step 1.
        return InputRequiredResult(
            input_requests={"step1": _name_elicitation("Step 1: What is your name?")},
            request_state=json.dumps({"round": 1}),
        )

    @server.tool()
    async def test_input_required_result_tampered_state(ctx: Context) -> str | InputRequiredResult:
        """Tests that the server rejects a tampered requestState echo.

        The handler stays plaintext: the SDK's RequestStateBoundary middleware seals the
        state and rejects a modified echo before this function runs.
        """
        if ctx.request_state is None:
            confirm = ElicitRequest(
                params=ElicitRequestFormParams(message="Please confirm", requested_schema=CONFIRM_SCHEMA)
            )
            return InputRequiredResult(input_requests={"confirm": confirm}, request_state="round-1")
        return f"state-ok: {ctx.request_state}"

    @server.tool()
    async def test_input_required_result_capabilities(ctx: Context) -> InputRequiredResult:
        """Tests that inputRequests only include methods the client declared support for"""
        caps = ctx.client_capabilities
        requests: dict[str, InputRequest] = {}
        if caps is None or caps.sampling is not None:
            requests["sample"] = _sampling_request("Say hello", 50)
        if caps is None or caps.elicitation is not None:
            requests["ask"] = _name_elicitation()
        return InputRequiredResult(input_requests=requests, request_state="capability-gated")


def _install_resources(server: MCPServer) -> None:
    @server.resource("test://static-text")
    def static_text_resource() -> str:
        """A static text resource for testing"""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary")
    def static_binary_resource() -> bytes:
        """A static binary resource (image) for testing"""
        return base64.b64decode(TEST_IMAGE_BASE64)

    @server.resource("test://template/{id}/data")
    def template_resource(id: str) -> str:
        """A resource template with parameter substitution"""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource")
    def watched_resource() -> str:
        """A resource that can be subscribed to for updates"""
        return WATCHED_RESOURCE_CONTENT


def _install_prompts(server: MCPServer) -> None:
    @server.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """A simple prompt without arguments"""
        return [UserMessage(role="user", content=TextContent(type="text", text="This is a simple prompt for testing."))]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        """A prompt with required arguments"""
        return [
            UserMessage(
                role="user",
                content=TextContent(type="text", text=f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
            )
        ]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
        """A prompt that includes an embedded resource"""
        return [
            UserMessage(
                role="user",
                content=EmbeddedResource(
                    type="resource",
                    resource=TextResourceContents(
                        uri=resourceUri,
                        mime_type="text/plain",
                        text="Embedded resource content for testing.",
                    ),
                ),
            ),
            UserMessage(
                role="user",
                content=TextContent(type="text", text="Please process the embedded resource above."),
            ),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt that includes image content"""
        return [
            UserMessage(role="user", content=ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")),
            UserMessage(role="user", content=TextContent(type="text", text="Please analyze the image above.")),
        ]

    @server.prompt()
    async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
        """Tests InputRequiredResult from prompts/get (SEP-2322 non-tool request)"""
        responses = ctx.input_responses
        if responses and "user_context" in responses:
            answer = responses["user_context"]
            text = answer.content.get("context", "?") if isinstance(answer, ElicitResult) and answer.content else "?"
            return [
                UserMessage(role="user", content=TextContent(type="text", text=f"Use the following context: {text}"))
            ]
        return InputRequiredResult(
            input_requests={
                "user_context": ElicitRequest(
                    params=ElicitRequestFormParams(
                        message="What context should the prompt use?",
                        requested_schema={
                            "type": "object",
                            "properties": {"context": {"type": "string"}},
                            "required": ["context"],
                        },
                    )
                )
            }
        )


def _install_completion(server: MCPServer) -> None:
    # NOTE: MCPServer.completion() owns the single low-level "completion/complete" handler;
    # a later @server.completion() (e.g. by the hub) replaces this one.
    @server.completion()
    async def conformance_completion(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        """Empty completion for every argument (what the conformance scenario expects)."""
        return Completion(values=[], total=0, has_more=False)


plugin = Plugin("conformance") if Plugin else None
if plugin:
    plugin.on_server(install)
