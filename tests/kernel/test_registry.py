"""The registry: declarations fail loudly at start-up, plugins load through the same door as built-ins."""

from __future__ import annotations

import sys
import types

import pytest
from pydantic import BaseModel

from hub import Arguments, Call, ConfigError, Plugin, Role
from hub.registry import Registry


class In(Arguments):
    x: int


class Out(BaseModel):
    y: int


def test_decorator_without_parentheses_says_how_to_fix_it() -> None:
    plugin = Plugin("p")
    with pytest.raises(ConfigError, match=r"Use @plugin.tool\(\) with parentheses"):

        @plugin.tool  # type: ignore[arg-type]
        async def broken(call: Call, args: In) -> Out:
            """Doc."""
            return Out(y=args.x)


def test_a_tool_needs_a_docstring_models_and_async() -> None:
    plugin = Plugin("p")
    with pytest.raises(ConfigError, match="needs a docstring"):

        @plugin.tool()
        async def undocumented(call: Call, args: In) -> Out:
            return Out(y=1)

    with pytest.raises(ConfigError, match="must be a pydantic model"):

        @plugin.tool()
        async def untyped(call: Call, args: dict) -> Out:  # type: ignore[type-arg]
            """Doc."""
            return Out(y=1)

    with pytest.raises(ConfigError, match="must be an async function"):

        @plugin.tool()
        def sync(call: Call, args: In) -> Out:  # type: ignore[arg-type]
            """Doc."""
            return Out(y=1)

    with pytest.raises(ConfigError, match="lowercase snake_case"):

        @plugin.tool("Bad-Name")
        async def named(call: Call, args: In) -> Out:
            """Doc."""
            return Out(y=1)


def test_duplicate_tool_names_across_plugins_are_refused() -> None:
    first, second = Plugin("first"), Plugin("second")
    for plugin in (first, second):

        @plugin.tool(role=Role.operator)
        async def same(call: Call, args: In) -> Out:
            """Doc."""
            return Out(y=args.x)

    registry = Registry()
    registry.add(first)
    with pytest.raises(ConfigError, match="declared by both 'first' and 'second'"):
        registry.add(second)


def test_builtins_are_discovered_and_plugins_load_by_module_name(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("goosuke_test_plugin")
    plugin = Plugin("test-plugin")

    @plugin.tool(role=Role.operator)
    async def double(call: Call, args: In) -> Out:
        """Double a number."""
        return Out(y=args.x * 2)

    module.plugin = plugin  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "goosuke_test_plugin", module)
    registry = Registry.discover(["goosuke_test_plugin"])
    assert {"whoami", "hub_info", "user_create", "double"} <= set(registry.tools)
    assert registry.tools["double"].role is Role.operator
    assert "test-plugin" in registry.plugins


def test_a_missing_plugin_module_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="Check GOOSUKE_PLUGINS"):
        Registry.discover(["no.such.module"])


def test_a_module_without_a_plugin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "empty_mod", types.ModuleType("empty_mod"))
    with pytest.raises(ConfigError, match="must define `plugin = Plugin"):
        Registry.discover(["empty_mod"])


def test_providers_of_a_kind_are_unique_by_name() -> None:
    a, b = Plugin("a"), Plugin("b")
    a.provide("agent", "goose", object())
    b.provide("agent", "goose", object())
    registry = Registry()
    registry.add(a)
    with pytest.raises(ConfigError, match="Two plugins provide agent 'goose'"):
        registry.add(b)


def test_resource_templates_match_uris() -> None:
    plugin = Plugin("r")

    @plugin.resource("goosuke://things/{name}")
    async def thing(call: Call, name: str) -> Out:
        """A thing."""
        return Out(y=len(name))

    registry = Registry()
    registry.add(plugin)
    spec, params = registry.find_resource("goosuke://things/abc")
    assert params == {"name": "abc"}
    assert spec.is_template


def test_two_plugins_with_one_name_are_refused() -> None:
    registry = Registry()
    registry.add(Plugin("same"))
    registry.add(registry._loaded[0])  # the same module listed twice is harmless
    with pytest.raises(ConfigError, match="Two plugins are named 'same'"):
        registry.add(Plugin("same"))
