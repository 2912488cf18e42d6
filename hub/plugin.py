"""Declarations: what a plugin module offers, on one ``plugin = Plugin("name")``.

- tools: ``@plugin.tool(role=Role.operator)`` on ``async def fn(call: Call, args: InModel) -> OutModel``;
- resources: ``@plugin.resource("goosuke://things/{name}")`` on ``async def fn(call: Call, name: str)``;
- server hooks: ``@plugin.on_server`` on ``def fn(server)`` to add raw MCP features;
- start-up hooks: ``@plugin.on_startup`` on ``async def fn(app)`` (seed data);
- HTTP routes: ``@plugin.route("/hooks/{slug}", methods=["POST"], public=True)`` on
  ``async def fn(request, app) -> Response`` (``public`` routes skip the bearer check);
- services: ``@plugin.service(Engine, needs=[Vault])`` on ``fn(app)`` returning the service (or an
  awaitable of it, or an async context manager yielding it); see ``hub/services.py``;
- providers: ``plugin.provide("agent", "goose", GooseAgent)``, a named object of a kind that a
  hub service looks up (agents for the engine, prompt sources for the MCP server, ...).

Every declaration is checked when it is made: a mistake fails at start-up with a ``ConfigError``
that says the fix. ``hub/registry.py`` loads plugins and serves what they declare.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from hub.errors import ConfigError, PermissionDenied
from hub.principal import Principal, Role
from hub.services import ServiceFactory, ServiceSpec

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context
    from starlette.responses import Response

    from hub.context import AppContext

TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

ToolFn = Callable[["Call", Any], Coroutine[Any, Any, BaseModel]]
"""An ``async def`` tool (a coroutine function: ``inspect.iscoroutinefunction`` then keeps its type)."""
ToolFnT = TypeVar("ToolFnT", bound=ToolFn)
ResourceFnT = TypeVar("ResourceFnT", bound="ResourceFn")
FactoryT = TypeVar("FactoryT", bound=ServiceFactory)
ResourceFn = Callable[..., Awaitable[BaseModel | str | bytes]]
ServerHook = Callable[[Any], None]
StartupHook = Callable[["AppContext"], AbstractAsyncContextManager[None] | Awaitable[None]]
RouteFn = Callable[[Any, "AppContext"], Awaitable["Response"]]


class NoArguments(BaseModel):
    """This tool takes no arguments."""


@dataclass(frozen=True)
class RouteSpec:
    path: str
    fn: RouteFn
    methods: tuple[str, ...]
    public: bool
    plugin: str


@dataclass
class Call:
    """What a tool function gets besides its arguments: who calls, the app, the MCP context."""

    principal: Principal
    app: AppContext
    via: str = "mcp"
    mcp: Context[Any, Any] | None = None

    async def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        """Send an MCP progress notification when the caller asked for them; no-op otherwise."""
        if self.mcp is not None:
            try:
                await self.mcp.report_progress(done, total, message)
            except Exception:  # the client may have gone; progress is best effort
                pass

    def require(self, role: Role) -> None:
        if not self.principal.role.allows(role):
            raise PermissionDenied(
                f"This needs the {role.value} role; you are {self.principal.role.value}. Ask an admin."
            )


@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: ToolFn
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    description: str
    role: Role
    title: str | None
    read_only: bool
    destructive: bool
    plugin: str
    input_schema: dict[str, Any] = field(default_factory=dict, compare=False)
    output_schema: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # Generated once: schema generation costs far more than a whole tool call.
        object.__setattr__(self, "input_schema", self.input_model.model_json_schema())
        object.__setattr__(self, "output_schema", self.output_model.model_json_schema(mode="serialization"))


@dataclass(frozen=True)
class ResourceSpec:
    uri: str
    fn: ResourceFn
    name: str
    description: str
    mime_type: str
    role: Role
    plugin: str

    @property
    def is_template(self) -> bool:
        return "{" in self.uri

    def match(self, uri: str) -> dict[str, str] | None:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.uri)) + "$"
        found = re.match(pattern, uri)
        return found.groupdict() if found else None


def _models_of(fn: Callable[..., Any], name: str) -> tuple[type[BaseModel], type[BaseModel]]:
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters)
    if len(params) != 2:
        raise ConfigError(f"Tool {name!r} must take exactly (call: Call, args: InputModel); it takes {params}.")

    def model_of(label: str, model: object) -> type[BaseModel]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"Tool {name!r}: the {label} type must be a pydantic model, not {model!r}.")
        return model

    return model_of("argument", hints.get(params[1])), model_of("return", hints.get("return"))


class Plugin:
    """A set of declarations from one module. See the module docstring."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tools: list[ToolSpec] = []
        self.resources: list[ResourceSpec] = []
        self.server_hooks: list[ServerHook] = []
        self.startup_hooks: list[StartupHook] = []
        self.routes: list[RouteSpec] = []
        self.providers: list[tuple[str, str, Any]] = []
        self.services: list[ServiceSpec] = []

    def tool(
        self,
        name: str | None = None,
        *,
        role: Role = Role.viewer,
        title: str | None = None,
        read_only: bool = False,
        destructive: bool = False,
    ) -> Callable[[ToolFnT], ToolFnT]:
        """Declare a tool. Its docstring is the description clients show to the model."""
        if callable(name):
            raise ConfigError("Use @plugin.tool() with parentheses: the decorator was not called.")

        def decorator(fn: ToolFnT) -> ToolFnT:
            tool_name = name or fn.__name__
            if not TOOL_NAME.match(tool_name):
                raise ConfigError(f"Tool name {tool_name!r} must be lowercase snake_case, at most 64 characters.")
            if not inspect.iscoroutinefunction(fn):
                raise ConfigError(f"Tool {tool_name!r} must be an async function.")
            description = inspect.cleandoc(fn.__doc__ or "")
            if not description:
                raise ConfigError(f"Tool {tool_name!r} needs a docstring: it is the description clients see.")
            input_model, output_model = _models_of(fn, tool_name)
            self.tools.append(
                ToolSpec(
                    tool_name,
                    fn,
                    input_model,
                    output_model,
                    description,
                    role,
                    title,
                    read_only,
                    destructive,
                    self.name,
                )
            )
            return fn

        return decorator

    def resource(
        self, uri: str, *, name: str | None = None, mime_type: str = "application/json", role: Role = Role.viewer
    ) -> Callable[[ResourceFnT], ResourceFnT]:
        """Declare a resource or resource template (``{var}`` in the URI become keyword arguments)."""

        def decorator(fn: ResourceFnT) -> ResourceFnT:
            description = inspect.cleandoc(fn.__doc__ or "")
            self.resources.append(ResourceSpec(uri, fn, name or fn.__name__, description, mime_type, role, self.name))
            return fn

        return decorator

    def on_server(self, fn: ServerHook) -> ServerHook:
        """Register ``fn(server)``, called with the MCPServer right after the hub built it."""
        self.server_hooks.append(fn)
        return fn

    def on_startup(self, fn: StartupHook) -> StartupHook:
        """Register ``fn(app)``, awaited (or entered, if it is a context manager) in the app lifespan."""
        self.startup_hooks.append(fn)
        return fn

    def route(
        self, path: str, *, methods: Iterable[str] = ("GET",), public: bool = False
    ) -> Callable[[RouteFn], RouteFn]:
        """Declare an HTTP route of ``goosuke serve``; ``public`` routes authenticate themselves."""

        def decorator(fn: RouteFn) -> RouteFn:
            self.routes.append(RouteSpec(path, fn, tuple(methods), public, self.name))
            return fn

        return decorator

    def service(self, kind: type[Any], *, needs: Iterable[type[Any]] = ()) -> Callable[[FactoryT], FactoryT]:
        """Declare the service ``kind``, made by ``fn(app)`` once the services in ``needs`` run.

        The factory returns the service, an awaitable of it, or an async context manager yielding
        it (entered for the hub's lifetime). Look it up with ``app.services.get(kind)``.
        """
        if not isinstance(kind, type):
            raise ConfigError("Use @plugin.service(ServiceClass, needs=[...]): the first argument must be a class.")

        def decorator(fn: FactoryT) -> FactoryT:
            self.services.append(ServiceSpec(kind, fn, tuple(needs), self.name))
            return fn

        return decorator

    def provide(self, kind: str, name: str, obj: Any) -> Any:
        """Offer ``obj`` as the ``name`` of ``kind`` (e.g. an agent backend); returns ``obj``."""
        self.providers.append((kind, name, obj))
        return obj
