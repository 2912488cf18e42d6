"""Strict input: every tool refuses unknown fields and names the closest valid one, over MCP and the
facade alike; tokens always belong to a user; Goose's own `enabled` may come with a pasted entry."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from hub import Arguments, Call, ConfigError, Plugin, Role
from hub.plugin import ToolSpec
from hub.registry import Registry
from hub.settings import Settings
from tests.conftest import LiveHub
from tests.extension_support import call, call_error, local_hub, stdio_test_server

pytestmark = pytest.mark.anyio

# The misspellings users reported: (tool, arguments, the message that names the fix).
MISSPELLINGS = [
    (
        "template_run",
        {"name": "meeting-summary", "parameters": {"transcript": "hi"}},
        "Invalid arguments for 'template_run': unknown field `parameters`; did you mean `params`?",
        {"field": "parameters", "message": "unknown field `parameters`; did you mean `params`?"},
    ),
    (
        "token_create",
        {"name": "ci", "role": "admin", "user": "ada"},
        "Invalid arguments for 'token_create': unknown field `user`; did you mean `username`?",
        {"field": "user", "message": "unknown field `user`; did you mean `username`?"},
    ),
    (
        "webhook_create",
        {"name": "gh", "template": "meeting-summary", "maping": {"transcript": "/body"}},
        "Invalid arguments for 'webhook_create': unknown field `maping`; did you mean `mapping`?",
        {"field": "maping", "message": "unknown field `maping`; did you mean `mapping`?"},
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "message", "error"), MISSPELLINGS, ids=[m[0] for m in MISSPELLINGS])
async def test_a_misspelled_field_is_named_with_its_fix_over_mcp(
    settings: Settings, tool: str, arguments: dict[str, Any], message: str, error: dict[str, str]
) -> None:
    async with local_hub(settings) as (_, mcp):
        text = await call_error(mcp, tool, arguments)
    assert text.startswith(message), text


@pytest.mark.parametrize(("tool", "arguments", "message", "error"), MISSPELLINGS, ids=[m[0] for m in MISSPELLINGS])
async def test_a_misspelled_field_is_named_with_its_fix_over_the_facade(
    live_hub: LiveHub, tool: str, arguments: dict[str, Any], message: str, error: dict[str, str]
) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        response = await http.post(f"/api/tools/{tool}", json=arguments)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"].startswith(message), problem
    assert {**error, "type": "extra_forbidden"} in problem["errors"]
    assert problem["errors"][0]["type"] == "extra_forbidden"  # the unknown field explains the rest


async def test_every_tool_refuses_an_unknown_top_level_field(settings: Settings) -> None:
    tools = Registry.discover().tools  # every tool, so a new one is covered without a new test
    async with local_hub(settings) as (app, mcp):
        assert set(app.registry.tools) == set(tools)
        for name, spec in sorted(tools.items()):
            assert spec.input_schema.get("additionalProperties") is False, name
            text = await call_error(mcp, name, {"zz_not_a_field": 1})
            assert text.startswith(f"Invalid arguments for {name!r}: unknown field `zz_not_a_field`"), text


async def test_nested_unknown_fields_are_named_by_their_path(settings: Settings) -> None:
    async with local_hub(settings) as (_, mcp):
        hook = await call_error(
            mcp, "webhook_create", {"name": "gh", "template": "meeting-summary", "idempotency": {"headr": "X-Id"}}
        )
        entry = {**stdio_test_server(), "cmdd": "x"}
        extension = await call_error(mcp, "extension_add", {"extension": entry, "start": False})
        parameter = await call_error(
            mcp, "template_update", {"name": "meeting-summary", "parameters": [{"key": "x", "requirment": "optional"}]}
        )
    assert "unknown field `idempotency.headr`; did you mean `idempotency.header`?" in hook
    assert "unknown field `extension.cmdd`; did you mean `extension.cmd`?" in extension  # no union tag
    assert "unknown field `parameters.0.requirment`; did you mean `parameters.0.requirement`?" in parameter


async def test_a_token_needs_an_existing_user(settings: Settings) -> None:
    async with local_hub(settings) as (_, mcp):
        missing = await call_error(mcp, "token_create", {"name": "ci", "role": "admin"})
        unknown = await call_error(mcp, "token_create", {"name": "ci", "role": "admin", "username": "ghost"})
        await call(mcp, "user_create", {"username": "ada", "password": "lovelace-1843", "role": "operator"})
        made = await call(mcp, "token_create", {"name": "ci", "role": "operator", "username": "ada"})
        tokens = (await call(mcp, "token_list"))["tokens"]
    assert missing.startswith("Invalid arguments for 'token_create': username: Field required"), missing
    assert unknown.startswith("No user named 'ghost': an API token belongs to an existing user"), unknown
    assert made["info"]["user_id"] and [t["user_id"] for t in tokens] == [made["info"]["user_id"]]


async def test_the_first_start_token_belongs_to_the_admin_user_and_userless_tokens_still_work(
    live_hub: LiveHub,
) -> None:
    old = await live_hub.token(Role.operator, "from-before")  # a token made before tokens needed a user
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(old) as before:
        users = (await admin.post("/api/tools/user_list", json={})).json()["users"]
        tokens = (await admin.post("/api/tools/token_list", json={})).json()["tokens"]
        me = (await before.post("/api/tools/whoami", json={})).json()
    assert [(u["username"], u["role"]) for u in users] == [("admin", "admin")]
    bootstrap = next(t for t in tokens if t["name"] == "bootstrap-admin")
    assert bootstrap["user_id"] == users[0]["id"] and bootstrap["role"] == "admin"
    assert me["name"] == "from-before" and me["role"] == "operator"


async def test_extension_add_takes_an_entry_pasted_from_goose_with_its_enabled_key(settings: Settings) -> None:
    async with local_hub(settings) as (_, mcp):
        off = await call(mcp, "extension_add", {"extension": {**stdio_test_server("Off"), "enabled": False}})
        on = await call(
            mcp, "extension_add", {"extension": {**stdio_test_server("On"), "enabled": True}, "start": False}
        )
        clash = await call_error(
            mcp, "extension_add", {"extension": {**stdio_test_server("Both"), "enabled": False}, "enabled": True}
        )
        listed = await call(mcp, "extension_list")
    assert off["extension"]["enabled"] is False and off["extension"]["config"]["enabled"] is False  # as Goose has it
    assert on["extension"]["enabled"] is True
    assert "extension.enabled (False) and enabled (True) differ" in clash
    assert sorted(e["key"] for e in listed["extensions"]) == ["off", "on"]


class Inner(BaseModel):
    x: int


class Loose(BaseModel):
    x: int


class Nesting(Arguments):
    inner: list[Inner]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class WithOpen(Arguments):
    extra: Open | None = None


class Out(BaseModel):
    y: int


def test_a_tool_whose_input_ignores_unknown_fields_is_refused_when_declared() -> None:
    plugin = Plugin("p")
    with pytest.raises(ConfigError, match=r"input model Loose ignores unknown fields.*Inherit from hub.Arguments"):

        @plugin.tool()
        async def loose(call: Call, args: Loose) -> Out:
            """Doc."""
            return Out(y=args.x)

    with pytest.raises(ConfigError, match=r"input model Inner \(at `args.inner\[\]`\) ignores unknown fields"):

        @plugin.tool()
        async def nesting(call: Call, args: Nesting) -> Out:
            """Doc."""
            return Out(y=1)

    @plugin.tool()  # a deliberately open model says so with extra="allow"
    async def opened(call: Call, args: WithOpen) -> Out:
        """Doc."""
        return Out(y=len(args.extra.model_extra or {}) if args.extra else 0)

    assert [t.name for t in plugin.tools] == ["opened"]


def test_the_registry_refuses_a_loose_tool_spec_added_by_hand() -> None:
    plugin = Plugin("by-hand")

    async def loose(call: Call, args: Loose) -> Out:
        """Doc."""
        return Out(y=args.x)

    plugin.tools.append(ToolSpec("loose", loose, Loose, Out, "Doc.", Role.viewer, None, False, False, "by-hand"))
    with pytest.raises(ConfigError, match="Tool 'loose': its input model Loose ignores unknown fields"):
        Registry().add(plugin)
