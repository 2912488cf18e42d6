"""The registry: every capability is declared once and served by MCP and the HTTP facade alike.

``Registry.discover`` loads the built-in plugins listed in :data:`DEFAULT_PLUGINS` (the domains'
services) and in each built-in package's ``PLUGINS`` (tools, resources, agents), then the modules
named in ``GOOSUKE_PLUGINS``, all through the same door, so a plugin is as capable as a built-in.
What a plugin may declare is in ``hub/plugin.py``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.errors import (
    ConfigError,
    Hidden,
    InvalidArguments,
    NotFound,
    PermissionDenied,
    describe_validation_errors,
    summarize_validation_errors,
)
from hub.plugin import (
    Call,
    CommandSpec,
    Plugin,
    ResourceSpec,
    RouteSpec,
    ServerHook,
    StartupHook,
    ToolSpec,
    check_strict_input,
)
from hub.principal import Principal
from hub.services import ServiceSpec
from hub.teams.audit import record_denial
from hub.teams.policy import watching_hidden

# The domains' service plugins, by module name (the kernel never imports a domain; Datasette's
# DEFAULT_PLUGINS idea). Start-up order comes from the services' needs, not from this list.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "hub.vault.plugin",
    "hub.extensions.plugin",
    "hub.federation.plugin",
    "hub.templates.plugin",
    "hub.runners.plugin",
    "hub.engine.plugin",
    "hub.triggers.plugin",
    "hub.deliveries.plugin",
    "hub.teams.plugin",
    "hub.discord.plugin",
    "hub.console.plugin",
)
# Built-in surface packages: each lists its plugin modules in ``PLUGINS``.
BUILTIN_PACKAGES: tuple[str, ...] = ("tools", "resources", "agents")


@dataclass
class Registry:
    """Everything the loaded plugins declared, checked for clashes, and the calls that serve it."""

    tools: dict[str, ToolSpec] = field(default_factory=dict)
    resources: list[ResourceSpec] = field(default_factory=list)
    server_hooks: list[ServerHook] = field(default_factory=list)
    startup_hooks: list[StartupHook] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    commands: dict[str, CommandSpec] = field(default_factory=dict)
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
            check_strict_input(spec.name, spec.input_model)  # also for a ToolSpec added by hand
            if spec.name in self.tools:
                other = self.tools[spec.name].plugin
                raise ConfigError(f"Tool {spec.name!r} is declared by both {other!r} and {plugin.name!r}.")
            self.tools[spec.name] = spec
        self.resources.extend(plugin.resources)
        self.server_hooks.extend(plugin.server_hooks)
        self.startup_hooks.extend(plugin.startup_hooks)
        self.routes.extend(plugin.routes)
        for command in plugin.commands:
            if command.name in self.commands:
                first = self.commands[command.name].plugin
                raise ConfigError(f"Command {command.name!r} is declared by both {first!r} and {plugin.name!r}.")
            self.commands[command.name] = command
        for service in plugin.services:
            declared = next((s for s in self.services if s.kind is service.kind), None)
            if declared is not None:
                raise ConfigError(
                    f"Service {service.kind.__name__} is declared by both plugin {declared.plugin!r} and plugin "
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
            denial = self.denial(spec, call.principal)
            if denial is not None:
                outcome = "denied"
                await record_denial(call, f"tool:{name}", denial)
                raise PermissionDenied(denial)
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, dict):
                outcome = "invalid"
                raise InvalidArguments(
                    f"Arguments of {name!r} must be a JSON object, not {type(arguments).__name__}.",
                    errors=[{"field": "(body)", "message": "expected an object", "type": "dict_type"}],
                )
            nul = nul_path(arguments)
            if nul is not None:
                outcome = "invalid"
                raise InvalidArguments(
                    f"Invalid arguments for {name!r}: {nul} contains a NUL character (\\u0000), which the hub "
                    "cannot store or search for. Remove it.",
                    errors=[{"field": nul, "message": "contains a NUL character", "type": "string_nul"}],
                )
            try:
                args = spec.input_model.model_validate(arguments)
            except ValidationError as exc:
                outcome = "invalid"
                details = describe_validation_errors(exc.errors(), spec.input_model)
                raise InvalidArguments(
                    f"Invalid arguments for {name!r}: {summarize_validation_errors(details)} "
                    "See the tool's input schema.",
                    errors=details,
                ) from None
            with watching_hidden() as hidden:
                try:
                    result = await spec.fn(call, args)
                except (PermissionDenied, Hidden) as exc:  # an object-level refusal: the same audit row as the gate's
                    outcome = "denied"
                    await record_denial(call, f"tool:{name}", exc.message)
                    raise
                except NotFound as exc:
                    if hidden:  # "not found" because the policy hid it: a denial all the same
                        outcome = "denied"
                        await record_denial(call, f"tool:{name}", exc.message)
                    raise
            outcome = "ok"
            return result
        finally:
            metrics.tool_calls.labels(tool=name, outcome=outcome, via=call.via).inc()
            metrics.tool_seconds.labels(tool=name).observe(time.perf_counter() - started)

    @staticmethod
    def denial(spec: ToolSpec, principal: Principal) -> str | None:
        """Why ``principal`` may not call ``spec`` at all, or ``None`` when it may (the one tool gate)."""
        if not principal.grants.may_call(spec.name):
            return (
                f"Tool {spec.name!r} is outside this token's tool patterns "
                f"({', '.join(principal.grants.tool_patterns or ())}). Use a token made for it."
            )
        if not principal.may(spec.permission):
            return (
                f"Tool {spec.name!r} needs the {spec.permission} permission (the {spec.role.value} role has it); "
                f"you ({principal.name}) do not have it, globally or in any team. Ask an admin or a team owner."
            )
        return None

    def callable_tools(self, principal: Principal) -> list[ToolSpec]:
        """The tools ``principal`` may call: what ``tools/list`` and ``GET /api/tools`` show it."""
        grants = principal.grants
        return [spec for spec in self.tools.values() if grants.may(spec.permission) and grants.may_call(spec.name)]

    def find_resource(self, uri: str) -> tuple[ResourceSpec, dict[str, str]]:
        for spec in self.resources:
            params = {} if spec.uri == uri else spec.match(uri) if spec.is_template else None
            if params is not None:
                return spec, params
        raise NotFound(f"Unknown resource {uri!r}. List resources with resources/list or GET /api/resources.")

    async def read_resource(self, uri: str, call: Call) -> tuple[ResourceSpec, str | bytes]:
        spec, params = self.find_resource(uri)
        if not call.principal.may(spec.permission):
            reason = f"Reading {uri!r} needs the {spec.permission} permission; you ({call.principal.name}) lack it."
            await record_denial(call, f"resource:{uri}", reason)
            raise PermissionDenied(reason)
        with watching_hidden() as hidden:
            try:
                value = await spec.fn(call, **params)
            except (PermissionDenied, Hidden) as exc:
                await record_denial(call, f"resource:{uri}", exc.message)
                raise
            except NotFound as exc:
                if hidden:
                    await record_denial(call, f"resource:{uri}", exc.message)
                raise
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


def nul_path(value: Any) -> str | None:
    """The dotted path of the first key or string inside ``value`` that holds a NUL character, if any.

    PostgreSQL refuses NUL in text and JSON columns, so such input is refused up front on every database.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "(body)"
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and "\x00" in key:
                    return where
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None
