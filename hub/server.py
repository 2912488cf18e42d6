"""The one MCPServer: registry tools and resources, subscriptions, and the stdio runner."""

from __future__ import annotations

import contextlib
import json
import logging
import weakref
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    EmptyResult,
    InputRequiredResult,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from mcp_types import Prompt as MCPPrompt
from mcp_types import Resource as MCPResource
from mcp_types import ResourceTemplate as MCPResourceTemplate
from mcp_types import Tool as MCPTool

from hub._version import __version__
from hub.auth import PRINCIPAL_SCOPE_KEY, principal_from_access_token
from hub.context import AppContext
from hub.errors import GoosukeError, NotFound
from hub.plugin import Call
from hub.principal import Principal
from hub.protocols import CapabilitySource, PromptSource

logger = logging.getLogger("goosuke.server")

INSTRUCTIONS = (
    "Goosuke is an automation hub: everything is a tool. Call hub_info for what this hub offers, "
    "whoami for your role. Templates, executions, extensions, secrets, Discord and triggers are "
    "managed through tools whose names start with their domain."
)


class CountingBus(InMemorySubscriptionBus):
    """The SDK's in-memory bus, counting its listeners so a publisher can skip work nobody receives."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners = 0

    def subscribe(self, listener: Any) -> Any:
        unsubscribe = super().subscribe(listener)
        self.listeners += 1
        done = False

        def once() -> None:
            nonlocal done
            if not done:
                done = True
                self.listeners -= 1
            unsubscribe()

        return once


class HubServer(MCPServer[Any]):
    """An MCPServer whose tools and resources come from the registry (plus raw plugin additions)."""

    def __init__(self, app: AppContext, default_principal: Principal) -> None:
        self.bus = CountingBus()
        super().__init__(
            "goosuke",
            version=__version__,
            instructions=INSTRUCTIONS,
            subscriptions=self.bus,
            log_level=app.settings.log_level,
        )
        self.app = app
        self.default_principal = default_principal
        # resources/subscribe on the 2025 protocol: uri -> sessions (weak, so closed sessions vanish)
        self._legacy_subscribers: dict[str, weakref.WeakSet[Any]] = {}
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()
        low = self._lowlevel_server
        low.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe)
        low.add_request_handler("logging/setLevel", SetLevelRequestParams, self._set_level)
        low.middleware.append(self._remember_session)
        for hook in app.registry.server_hooks:
            hook(self)

    # -- who is calling -----------------------------------------------------------------

    def principal_of(self, context: Context[Any, Any] | None) -> Principal:
        request = None
        if context is not None:
            try:
                request = context.request_context.request
            except (ValueError, AttributeError):
                request = None
        return self._principal_of_request(request)

    def _principal_of_request(self, request: Any) -> Principal:
        scope = getattr(request, "scope", None)
        if isinstance(scope, dict) and PRINCIPAL_SCOPE_KEY in scope:
            principal: Principal = scope[PRINCIPAL_SCOPE_KEY]  # the bearer middleware puts it there
            return principal
        token = get_access_token()
        if token is not None:
            return principal_from_access_token(token)
        return self.default_principal

    def _sources(self) -> list[CapabilitySource]:
        """Running services whose tools, resources and prompts are served beside the registry's."""
        # mypy refuses a Protocol where type[T] is expected (python/mypy#4717); isinstance accepts it.
        return self.app.services.implementing(CapabilitySource)  # type: ignore[type-abstract]  # Protocol

    def _owner(self, name: str) -> CapabilitySource | None:
        if name in self.app.registry.tools:
            return None
        return next((source for source in self._sources() if source.owns(name)), None)

    # -- tools -------------------------------------------------------------------------

    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        principal = self.principal_of(None)
        for spec in self.app.registry.callable_tools(principal):  # a caller sees what it may call
            tools.append(
                MCPTool(
                    name=spec.name,
                    title=spec.title,
                    description=spec.description,
                    input_schema=spec.input_schema,
                    output_schema=spec.output_schema,
                    annotations=ToolAnnotations(read_only_hint=spec.read_only, destructive_hint=spec.destructive),
                    meta={"goosuke/role": spec.role.value, "goosuke/permission": spec.permission},
                )
            )
        for source in self._sources():
            tools.extend(await source.list_tools(principal))
        return tools

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        spec = self.app.registry.tools.get(name)
        if spec is not None:
            return spec.input_schema
        source = self._owner(name)
        if source is not None:
            return source.tool_input_schema(name)
        return super()._tool_input_schema(name)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> Any:
        registry = self.app.registry
        if name not in registry.tools:
            source = self._owner(name)
            if source is not None:
                return await source.call_tool(name, arguments, self.principal_of(context))
            if self._tool_manager.get_tool(name) is None:
                raise MCPError(
                    code=INVALID_PARAMS,
                    message=f"Unknown tool {name!r}. Call tools/list to see the tools this hub offers.",
                    data={"tool": name},
                )
            return await super().call_tool(name, arguments, context)
        call = Call(principal=self.principal_of(context), app=self.app, via="mcp", mcp=context)
        try:
            result = await registry.call_tool(name, arguments, call)
        except GoosukeError as exc:
            return CallToolResult(content=[TextContent(type="text", text=exc.message)], is_error=True)
        except Exception:
            logger.exception("Tool %r crashed", name)
            return CallToolResult(
                content=[TextContent(type="text", text=f"Tool {name!r} failed unexpectedly; the hub log has details.")],
                is_error=True,
            )
        if isinstance(result, InputRequiredResult):  # the tool needs the client's answer first (2026 protocol)
            return result
        data = result.model_dump(mode="json")
        return CallToolResult(content=[TextContent(type="text", text=json.dumps(data))], structured_content=data)

    # -- resources ---------------------------------------------------------------------

    async def list_resources(self) -> list[MCPResource]:
        resources = await super().list_resources()
        for spec in self.app.registry.resources:
            if not spec.is_template:
                resources.append(
                    MCPResource(uri=spec.uri, name=spec.name, description=spec.description, mime_type=spec.mime_type)
                )
        for source in self._sources():
            resources.extend(await source.list_resources(self.principal_of(None)))
        return resources

    async def list_resource_templates(self) -> list[MCPResourceTemplate]:
        templates = await super().list_resource_templates()
        for spec in self.app.registry.resources:
            if spec.is_template:
                templates.append(
                    MCPResourceTemplate(
                        uri_template=spec.uri, name=spec.name, description=spec.description, mime_type=spec.mime_type
                    )
                )
        for source in self._sources():
            templates.extend(await source.list_resource_templates(self.principal_of(None)))
        return templates

    async def read_resource(self, uri: Any, context: Context[Any, Any] | None = None) -> Any:
        registry = self.app.registry
        try:
            registry.find_resource(str(uri))
        except NotFound:
            source = next((s for s in self._sources() if s.serves_uri(str(uri))), None)
            if source is not None:
                try:
                    return await source.read_resource(str(uri), self.principal_of(context))
                except NotFound as exc:
                    raise ResourceNotFoundError(exc.message) from None
                except GoosukeError as exc:
                    raise ResourceError(exc.message) from None
            return await super().read_resource(uri, context)
        call = Call(principal=self.principal_of(context), app=self.app, via="mcp", mcp=context)
        try:
            spec, content = await registry.read_resource(str(uri), call)
        except NotFound as exc:
            raise ResourceNotFoundError(exc.message) from None
        except GoosukeError as exc:
            raise ResourceError(exc.message) from None
        return [ReadResourceContents(content=content, mime_type=spec.mime_type)]

    # -- prompts ---------------------------------------------------------------------------

    def _prompt_sources(self) -> list[PromptSource]:
        return list(self.app.registry.provided("prompts").values())

    async def list_prompts(self) -> list[MCPPrompt]:
        prompts = await super().list_prompts()
        principal = self.principal_of(None)  # a caller sees the prompts it may see
        for source in self._prompt_sources():
            prompts.extend(await source.list_prompts(self.app, principal))
        for capabilities in self._sources():
            prompts.extend(await capabilities.list_prompts(self.principal_of(None)))
        return prompts

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> Any:
        principal = self.principal_of(context)
        for source in self._prompt_sources():
            try:
                result = await source.get_prompt(self.app, principal, name, dict(arguments or {}))
            except GoosukeError as exc:
                raise MCPError(code=INVALID_PARAMS, message=exc.message, data={"prompt": name}) from None
            if result is not None:
                return result
        owner = self._owner(name)
        if owner is not None:
            try:
                found = await owner.get_prompt(name, dict(arguments or {}), principal)
            except GoosukeError as exc:
                raise MCPError(code=INVALID_PARAMS, message=exc.message, data={"prompt": name}) from None
            if found is not None:
                return found
        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as exc:  # the SDK's unknown prompt: a clear error, the same for one the caller may not see
            if str(exc) != f"Unknown prompt: {name}":
                raise
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"No prompt named {name!r}. List the prompts you may use with prompts/list.",
                data={"prompt": name},
            ) from None

    # -- notifications -------------------------------------------------------------------

    async def _remember_session(self, ctx: Any, call_next: Any) -> Any:
        session = getattr(ctx, "session", None)
        if session is not None:
            with contextlib.suppress(TypeError):  # the connection, not the per-request proxy (see _connection_of)
                self._sessions.add(_connection_of(session))
        return await call_next(ctx)

    async def _subscribe(self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        await self._may_read(str(params.uri), ctx)
        self._legacy_subscribers.setdefault(str(params.uri), weakref.WeakSet()).add(_connection_of(ctx.session))
        return EmptyResult()

    async def _may_read(self, uri: str, ctx: ServerRequestContext[Any]) -> None:
        """One policy: subscribing to a resource needs exactly what reading it needs (role and visibility),
        so the subscription is refused with the error a read would get. Reading it is the check."""
        principal = self._principal_of_request(getattr(ctx, "request", None))
        try:
            self.app.registry.find_resource(uri)
        except NotFound:
            source = next((s for s in self._sources() if s.serves_uri(uri)), None)
            if source is None and not uri.startswith("goosuke://"):
                return  # outside every namespace the hub serves: nothing will ever notify, accepted as the spec allows
            try:
                if source is None:
                    raise
                await source.read_resource(uri, principal)
            except GoosukeError as exc:
                raise MCPError(code=INVALID_PARAMS, message=exc.message, data={"uri": uri}) from None
            return
        try:
            await self.app.registry.read_resource(uri, Call(principal=principal, app=self.app, via="mcp"))
        except GoosukeError as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message, data={"uri": uri}) from None

    async def _unsubscribe(self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        subscribers = self._legacy_subscribers.get(str(params.uri))
        if subscribers is not None:
            subscribers.discard(_connection_of(ctx.session))
        return EmptyResult()

    async def _set_level(self, ctx: ServerRequestContext[Any], params: SetLevelRequestParams) -> EmptyResult:
        return EmptyResult()

    def watched(self, uri: str) -> bool:
        """Whether anyone may receive an update of ``uri`` (a 2026-era listener, or a 2025 subscriber)."""
        return self.bus.listeners > 0 or bool(self._legacy_subscribers.get(uri))

    async def notify_resource_updated(self, uri: str) -> None:
        """Tell every subscriber of ``uri`` that it changed, on both protocol eras."""
        await self.bus.publish(ResourceUpdated(uri=uri))
        for connection in list(self._legacy_subscribers.get(uri, ())):
            try:
                await connection.outbound.notify("notifications/resources/updated", {"uri": uri})
            except Exception:  # a closed session: forget it
                self._legacy_subscribers[uri].discard(connection)

    async def _broadcast(self, method: str) -> None:
        """A list-changed notification to every 2025-era connection (2026 clients get it from the bus)."""
        for connection in list(self._sessions):
            try:
                await connection.outbound.notify(method, None)
            except Exception:  # a closed connection: forget it
                self._sessions.discard(connection)

    async def notify_tools_changed(self) -> None:
        await self.bus.publish(ToolsListChanged())
        await self._broadcast("notifications/tools/list_changed")

    async def notify_resources_changed(self) -> None:
        await self.bus.publish(ResourcesListChanged())
        await self._broadcast("notifications/resources/list_changed")

    async def notify_prompts_changed(self) -> None:
        await self.bus.publish(PromptsListChanged())
        await self._broadcast("notifications/prompts/list_changed")


def _connection_of(session: Any) -> Any:
    """The client connection behind a request's session. ``ctx.session`` is a per-request proxy that is
    dropped when the request ends, so a subscription must hold the connection (weakly) instead."""
    return getattr(session, "_connection", session)
