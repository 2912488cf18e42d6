"""The registry: every capability is declared once and served by MCP and the HTTP facade alike.

A module (built-in or plugin) exposes ``plugin = Plugin("name")`` and declares on it:

- tools: ``@plugin.tool(role=Role.operator)`` on ``async def fn(call: Call, args: InModel) -> OutModel``;
- resources: ``@plugin.resource("goosuke://things/{name}")`` on ``async def fn(call: Call, name: str)``;
- server hooks: ``@plugin.on_server`` on ``def fn(server)`` to add raw MCP features;
- start-up hooks: ``@plugin.on_startup`` on ``async def fn(app)`` (seed data, start services);
- HTTP routes: ``@plugin.route("/hooks/{slug}", methods=["POST"], public=True)`` on
  ``async def fn(request, app) -> Response`` (``public`` routes skip the bearer check);
- services: ``@plugin.service(Engine, needs=[Vault])`` on ``fn(app)`` returning the service (or an
  awaitable of it, or an async context manager yielding it); see ``hub/services.py``;
- providers: ``plugin.provide("agent", "goose", GooseAgent)``, a named object of a kind that a
  hub service looks up (agents for the engine, prompt sources for the MCP server, ...).

``Registry.discover`` loads the built-in plugins listed in :data:`DEFAULT_PLUGINS` (the domains'
services) and in each built-in package's ``PLUGINS`` (tools, resources, agents), then the modules
named in ``GOOSUKE_PLUGINS``, all through the same door, so a plugin is as capable as a built-in.
"""

from __future__ import annotations

import importlib
import inspect
import re
import time
import typing
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from hub.errors import ConfigError, InvalidArguments, NotFound, PermissionDenied, describe_validation_errors
from hub.principal import Principal, Role
from hub.services import ServiceFactory, ServiceSpec

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from hub.context import AppContext

# The domains' service plugins, by module name (the kernel never imports a domain; Datasette's
# DEFAULT_PLUGINS idea). Start-up order comes from the services' needs, not from this list.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "hub.vault.plugin",
    "hub.extensions.plugin",
    "hub.federation.plugin",
    "hub.templates.plugin",
    "hub.engine.plugin",
    "hub.triggers.plugin",
    "hub.discord.plugin",
)
# Built-in surface packages: each lists its plugin modules in ``PLUGINS``.
BUILTIN_PACKAGES: tuple[str, ...] = ("tools", "resources", "agents")
TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

ToolFn = Callable[["Call", Any], Awaitable[BaseModel]]
ToolFnT = TypeVar("ToolFnT", bound=ToolFn)
ResourceFnT = TypeVar("ResourceFnT", bound="ResourceFn")
FactoryT = TypeVar("FactoryT", bound=ServiceFactory)
ResourceFn = Callable[..., Awaitable[BaseModel | str | bytes]]
ServerHook = Callable[[Any], None]
StartupHook = Callable[["AppContext"], AbstractAsyncContextManager[None] | Awaitable[None]]
RouteFn = Callable[[Any, "AppContext"], Awaitable[Any]]


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
    input_model = hints.get(params[1])
    output_model = hints.get("return")
    for label, model in (("argument", input_model), ("return", output_model)):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"Tool {name!r}: the {label} type must be a pydantic model, not {model!r}.")
    return input_model, output_model  # type: ignore[return-value]


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


@dataclass
class Registry:
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    resources: list[ResourceSpec] = field(default_factory=list)
    server_hooks: list[ServerHook] = field(default_factory=list)
    startup_hooks: list[StartupHook] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: list[ServiceSpec] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    _loaded: list[Plugin] = field(default_factory=list, repr=False)

    @classmethod
    def discover(cls, extra_modules: Iterable[str] = ()) -> Registry:
        """Load the built-in plugins, then the named plugin modules.

        Raises:
            ConfigError: a module cannot be loaded, a built-in package is not the hub's own, or the
                declarations clash (see :meth:`add`).
        """
        registry = cls()
        for module in (*DEFAULT_PLUGINS, *(m for package in BUILTIN_PACKAGES for m in builtin_modules(package))):
            registry.load(module)
        for module in extra_modules:
            registry.load(module)
        return registry

    def load(self, module_name: str) -> None:
        """Import a module and add its ``plugin``.

        Raises:
            ConfigError: the module cannot be imported or has no ``plugin = Plugin(...)``.
        """
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"Cannot import plugin module {module_name!r} ({exc}). Check GOOSUKE_PLUGINS and that the "
                "module is on the Python path."
            ) from exc
        plugin = getattr(module, "plugin", None)
        if not isinstance(plugin, Plugin):
            raise ConfigError(f"Module {module_name!r} must define `plugin = Plugin(...)` to be loaded.")
        self.add(plugin)

    def add(self, plugin: Plugin) -> None:
        if plugin.name in self.plugins:
            if any(p is plugin for p in self._loaded):
                return  # the same module listed twice
            raise ConfigError(f"Two plugins are named {plugin.name!r}; give each Plugin(...) its own name.")
        self._loaded.append(plugin)
        for spec in plugin.tools:
            if spec.name in self.tools:
                other = self.tools[spec.name].plugin
                raise ConfigError(f"Tool {spec.name!r} is declared by both {other!r} and {plugin.name!r}.")
            self.tools[spec.name] = spec
        self.resources.extend(plugin.resources)
        self.server_hooks.extend(plugin.server_hooks)
        self.startup_hooks.extend(plugin.startup_hooks)
        self.routes.extend(plugin.routes)
        for service in plugin.services:
            other = next((s for s in self.services if s.kind is service.kind), None)
            if other is not None:
                raise ConfigError(
                    f"Service {service.kind.__name__} is declared by both plugin {other.plugin!r} and plugin "
                    f"{plugin.name!r}; load only one of them."
                )
            self.services.append(service)
        for kind, name, obj in plugin.providers:
            named = self.providers.setdefault(kind, {})
            if name in named:
                raise ConfigError(f"Two plugins provide {kind} {name!r}; the second is {plugin.name!r}.")
            named[name] = obj
        self.plugins.append(plugin.name)

    def provided(self, kind: str) -> dict[str, Any]:
        """Everything provided under ``kind``, by name (empty when nothing is)."""
        return self.providers.get(kind, {})

    # -- calling ------------------------------------------------------------------

    def tool(self, name: str) -> ToolSpec:
        spec = self.tools.get(name)
        if spec is None:
            raise NotFound(f"Unknown tool {name!r}. List the tools with tools/list or GET /api/tools.")
        return spec

    async def call_tool(self, name: str, arguments: Any, call: Call) -> BaseModel:
        """Check the role, validate the arguments, run the tool and record metrics.

        Raises:
            NotFound: unknown tool.
            PermissionDenied: the caller's role is too low.
            InvalidArguments: the arguments do not fit the input model.
            GoosukeError: whatever the tool raises on purpose.
        """
        spec = self.tool(name)
        metrics = call.app.metrics
        started = time.perf_counter()
        outcome = "error"
        try:
            if not call.principal.role.allows(spec.role):
                outcome = "denied"
                raise PermissionDenied(
                    f"Tool {name!r} needs the {spec.role.value} role; you are {call.principal.role.value}. "
                    "Ask an admin for a token with that role."
                )
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, dict):
                outcome = "invalid"
                raise InvalidArguments(
                    f"Arguments of {name!r} must be a JSON object, not {type(arguments).__name__}.",
                    errors=[{"field": "(body)", "message": "expected an object", "type": "dict_type"}],
                )
            try:
                args = spec.input_model.model_validate(arguments)
            except ValidationError as exc:
                outcome = "invalid"
                details = describe_validation_errors(exc.errors())
                fields = "; ".join(f"{d['field']}: {d['message']}" for d in details)
                raise InvalidArguments(
                    f"Invalid arguments for {name!r}: {fields}. See the tool's input schema.", errors=details
                ) from None
            result = await spec.fn(call, args)
            outcome = "ok"
            return result
        finally:
            metrics.tool_calls.labels(tool=name, outcome=outcome, via=call.via).inc()
            metrics.tool_seconds.labels(tool=name).observe(time.perf_counter() - started)

    def find_resource(self, uri: str) -> tuple[ResourceSpec, dict[str, str]]:
        for spec in self.resources:
            params = {} if spec.uri == uri else spec.match(uri) if spec.is_template else None
            if params is not None:
                return spec, params
        raise NotFound(f"Unknown resource {uri!r}. List resources with resources/list or GET /api/resources.")

    async def read_resource(self, uri: str, call: Call) -> tuple[ResourceSpec, str | bytes]:
        spec, params = self.find_resource(uri)
        call.require(spec.role)
        value = await spec.fn(call, **params)
        if isinstance(value, BaseModel):
            return spec, value.model_dump_json(indent=2)
        return spec, value


HUB_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds hub/, tools/, resources/, agents/


def builtin_modules(package: str) -> tuple[str, ...]:
    """The plugin modules a built-in package lists in ``PLUGINS``.

    Raises:
        ConfigError: the package that imports under that name is not the hub's own (a folder of
            that name earlier on ``sys.path`` shadows it), or it lists no ``PLUGINS``.
    """
    expected = HUB_ROOT / package
    try:
        pkg = importlib.import_module(package)
    except ImportError as exc:
        raise ConfigError(f"Cannot import the built-in package {package!r} ({exc}); reinstall Goosuke.") from exc
    found = [Path(p).resolve() for p in getattr(pkg, "__path__", [])]
    modules = getattr(pkg, "PLUGINS", None)
    if found != [expected] or not isinstance(modules, tuple):
        where = ", ".join(str(p) for p in found) or getattr(pkg, "__file__", "?")
        raise ConfigError(
            f"The package {package!r} imported from {where} is not Goosuke's own (expected {expected}): a folder "
            f"or module named {package!r} earlier on the Python path shadows the hub's. Rename it, or start "
            "goosuke from another directory with a clean PYTHONPATH."
        )
    return modules
