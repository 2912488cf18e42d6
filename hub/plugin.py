"""Declarations: what a plugin module offers, on one ``plugin = Plugin("name")``.

- tools: ``@plugin.tool(role=Role.operator)`` on ``async def fn(call: Call, args: InModel) -> OutModel``;
- resources: ``@plugin.resource("goosuke://things/{name}")`` on ``async def fn(call: Call, name: str)``;
- server hooks: ``@plugin.on_server`` on ``def fn(server)`` to add raw MCP features;
- start-up hooks: ``@plugin.on_startup`` on ``async def fn(app)`` (seed data);
- commands: ``@plugin.command("name", help=..., configure=add_arguments)`` on ``def fn(args, settings)``,
  a ``goosuke name`` subcommand (``configure(parser)`` adds its flags);
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

import argparse
import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

from hub.errors import ConfigError, PermissionDenied
from hub.principal import Principal, Role
from hub.services import ServiceFactory, ServiceSpec
from hub.teams.permissions import BUILTIN_ROLES, LEGACY_ROLE_PERMISSION, PERMISSIONS

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context
    from starlette.responses import Response

    from hub.context import AppContext
    from hub.settings import Settings

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
CommandFn = Callable[[argparse.Namespace, "Settings"], None]


class Arguments(BaseModel):
    """The base of a tool's input model: unknown fields are refused, never silently dropped.

    A misspelled field (``"parameters"`` for ``params``) fails the call with "unknown field
    `parameters`; did you mean `params`?" instead of being ignored. Every model a tool's input
    reaches must refuse unknown fields like this; a model that is deliberately open says so with
    ``model_config = ConfigDict(extra="allow")`` (the tool then finds the extra fields in
    ``model_extra``). A free-form mapping is a field typed ``dict[str, Any]``, not an open model.
    """

    model_config = ConfigDict(extra="forbid")


class NoArguments(Arguments):
    """This tool takes no arguments."""


def open_models(model: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    """The models reachable from ``model`` (itself, its fields' types, theirs...) that would silently
    drop unknown fields: ``extra`` neither ``"forbid"`` nor a deliberate ``"allow"``. Each comes with
    where it is (``args``, ``args.idempotency``, ``args.parameters[]``)."""
    found: list[tuple[str, type[BaseModel]]] = []
    seen: set[type[BaseModel]] = set()

    def walk(tp: Any, where: str) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp in seen:
                return
            seen.add(tp)
            if tp.model_config.get("extra") not in ("forbid", "allow"):
                found.append((where, tp))
            for field_name, info in tp.model_fields.items():
                walk(info.annotation, f"{where}.{field_name}")
            return
        origin = typing.get_origin(tp)
        if origin is None:
            return
        inner = f"{where}[]" if isinstance(origin, type) and issubclass(origin, Iterable) else where
        for arg in typing.get_args(tp):
            walk(arg, inner)

    walk(model, "args")
    return found


def check_strict_input(name: str, model: type[BaseModel]) -> None:
    """Refuse a tool whose input model, or a model inside it, would silently drop unknown fields."""
    loose = open_models(model)
    if loose:
        where, culprit = loose[0]
        at = "" if where == "args" else f" (at `{where}`)"
        raise ConfigError(
            f"Tool {name!r}: its input model {culprit.__name__}{at} ignores unknown fields, so a misspelled "
            "field would be silently dropped. Inherit from hub.Arguments (or set model_config = "
            "ConfigDict(extra='forbid')); if the model is deliberately open, set extra='allow' explicitly."
        )


@dataclass(frozen=True)
class RouteSpec:
    path: str
    fn: RouteFn
    methods: tuple[str, ...]
    public: bool
    plugin: str
    browser: bool = False  # a page at the hub's own address: Host and Origin checked even when public


@dataclass(frozen=True)
class CommandSpec:
    """A ``goosuke NAME`` subcommand declared by a plugin."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: CommandFn
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
        """Refuse a caller without what ``role`` stands for (see ``permission`` on ``Plugin.tool``)."""
        self.require_permission(LEGACY_ROLE_PERMISSION[role.value])

    def require_permission(self, permission: str, team: str | None = None) -> None:
        """Refuse a caller without ``permission`` (in ``team``, or anywhere when ``team`` is None)."""
        if not self.principal.may(permission, team):
            where = "in that team" if team else "globally or in any of your teams"
            raise PermissionDenied(
                f"This needs the {permission} permission {where}; you ({self.principal.name}) do not have it. "
                "Ask an admin or the team's owner for a role that grants it."
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
    permission: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict, compare=False)
    output_schema: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.permission:
            object.__setattr__(self, "permission", _permission(self.name, None, self.role))
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
    permission: str = "hub.read"

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
        self.commands: list[CommandSpec] = []

    def tool(
        self,
        name: str | None = None,
        *,
        role: Role = Role.viewer,
        permission: str | None = None,
        title: str | None = None,
        read_only: bool = False,
        destructive: bool = False,
    ) -> Callable[[ToolFnT], ToolFnT]:
        """Declare a tool. Its docstring is the description clients show to the model.

        ``permission`` (``hub.teams.permissions``) is what a caller needs; a plugin that names only a
        ``role`` needs what sets that role apart from the ones below it.
        """
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
            check_strict_input(tool_name, input_model)
            self.tools.append(
                ToolSpec(
                    tool_name,
                    fn,
                    input_model,
                    output_model,
                    description,
                    lowest_role(permission) if permission else role,
                    title,
                    read_only,
                    destructive,
                    self.name,
                    permission=_permission(tool_name, permission, role),
                )
            )
            return fn

        return decorator

    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        mime_type: str = "application/json",
        role: Role = Role.viewer,
        permission: str | None = None,
    ) -> Callable[[ResourceFnT], ResourceFnT]:
        """Declare a resource or resource template (``{var}`` in the URI become keyword arguments)."""

        def decorator(fn: ResourceFnT) -> ResourceFnT:
            description = inspect.cleandoc(fn.__doc__ or "")
            needed = _permission(uri, permission, role)
            lowest = lowest_role(permission) if permission else role
            self.resources.append(
                ResourceSpec(uri, fn, name or fn.__name__, description, mime_type, lowest, self.name, needed)
            )
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
        self, path: str, *, methods: Iterable[str] = ("GET",), public: bool = False, browser: bool = False
    ) -> Callable[[RouteFn], RouteFn]:
        """Declare an HTTP route of ``goosuke serve``; ``public`` routes authenticate themselves. A public
        route is also open to other sites (a webhook's sender) unless it is a ``browser`` page, whose
        ``Host`` and ``Origin`` must be the hub's, as on ``/api`` (DNS-rebinding and cross-site protection)."""

        def decorator(fn: RouteFn) -> RouteFn:
            self.routes.append(RouteSpec(path, fn, tuple(methods), public, self.name, browser))
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

    def command(
        self, name: str, *, help: str, configure: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    ) -> Callable[[CommandFn], CommandFn]:
        """Declare the CLI subcommand ``goosuke NAME``: ``configure(parser)`` adds its flags (the CLI adds
        ``--data-dir`` and ``--database-url``), and ``fn(args, settings)`` runs it. A
        :class:`~hub.errors.GoosukeError` it raises is printed as one line with exit status 2."""

        def decorator(fn: CommandFn) -> CommandFn:
            self.commands.append(CommandSpec(name, help, configure, fn, self.name))
            return fn

        return decorator

    def provide(self, kind: str, name: str, obj: Any) -> Any:
        """Offer ``obj`` as the ``name`` of ``kind`` (e.g. an agent backend); returns ``obj``."""
        self.providers.append((kind, name, obj))
        return obj


def _permission(what: str, permission: str | None, role: Role) -> str:
    if permission is None:
        return LEGACY_ROLE_PERMISSION[role.value]
    if permission not in PERMISSIONS:
        raise ConfigError(f"{what!r} needs the unknown permission {permission!r}; use one of hub.teams.permissions.")
    return permission


def lowest_role(permission: str) -> Role:
    """The lowest built-in role that holds ``permission`` (what the reference docs show beside it)."""
    for role in Role:
        if permission in BUILTIN_ROLES[role.value]:
            return role
    return Role.admin
