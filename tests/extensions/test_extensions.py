"""The extension store in Goose's schema: name_to_key exactly as Goose, validation with clear errors, the
tools, the resource, and the launch API other domains use."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp.client.session import IncomingMessage
from mcp_types import ServerNotification

from hub.errors import InvalidArguments, NotFound
from hub.extensions.schema import config_hash, goose_fields, name_to_key, parse_config, substitute_env_vars
from hub.extensions.store import ExtensionStore
from hub.settings import Settings
from hub.vault.service import Vault
from tests.extension_support import call, call_error, local_hub, stdio_test_server, wait_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("developer", "developer"),
        ("Extension Manager", "extensionmanager"),  # Goose's own platform extension
        ("memo ry", "memory"),  # what `goose configure` wrote for this name
        ("My Tool", "mytool"),
        ("new extension", "newextension"),
        ("Git-Hub_2", "git-hub_2"),
        ("a.b/c:d", "a_b_c_d"),
        ("tab\tand\u00a0nbsp\u3000ideographic", "tabandnbspideographic"),
        ("café", "caf_"),  # non-ASCII letters become _
        ("ÄRGER", "_rger"),
        ("\x1cfile-sep", "_file-sep"),  # not Unicode White_Space: Rust keeps it as _, unlike str.isspace
    ],
)
def test_name_to_key_matches_goose(name: str, key: str) -> None:
    assert name_to_key(name) == key


@given(st.text(max_size=40))
def test_name_to_key_gives_only_key_characters_and_is_idempotent(name: str) -> None:
    key = name_to_key(name)
    assert set(key) <= set(string.ascii_lowercase + string.digits + "_-")
    assert name_to_key(key) == key
    assert len(key) <= len(name)


@given(st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), st.text(max_size=10), max_size=4))
def test_substitution_follows_goose_for_braced_and_bare_variables(env: dict[str, str]) -> None:
    for var, value in env.items():
        assert substitute_env_vars("${" + var + "}", env) == value
        assert substitute_env_vars(f"x ${var}", env) == f"x {value}" or any(v != var and var.startswith(v) for v in env)
    assert substitute_env_vars("${UNSET_VARIABLE_X}", env) == "${UNSET_VARIABLE_X}"


def test_every_goose_type_parses_and_round_trips() -> None:
    entries = [
        {"type": "stdio", "name": "fs", "cmd": "npx", "args": ["-y", "pkg"], "envs": {}, "env_keys": ["T"]},
        {
            "type": "streamable_http",
            "name": "hub",
            "uri": "http://127.0.0.1:8765/mcp",
            "headers": {"A": "${T}"},
            "env_keys": ["T"],
            "timeout": 120,
        },
        {"type": "builtin", "name": "developer", "display_name": "Developer", "timeout": 300, "bundled": True},
        {"type": "platform", "name": "todo", "description": "x", "display_name": "Todo", "bundled": True},
        {"type": "frontend", "name": "ui", "tools": [{"name": "t", "inputSchema": {}}], "instructions": "use it"},
        {"type": "inline_python", "name": "py", "code": "print(1)", "dependencies": ["requests"], "timeout": 10},
        {"type": "sse", "name": "old", "uri": "http://127.0.0.1:9/sse"},
    ]
    for entry in entries:
        config = parse_config(entry)
        again = parse_config(goose_fields(config))
        assert again == config and config_hash(again, True) == config_hash(config, True)
    # Goose's lenient reading: `env` alias, null description, unknown keys ignored
    lenient = parse_config(
        {"type": "stdio", "name": "x", "cmd": "c", "args": [], "env": {"A": "1"}, "description": None, "future": 1},
        lenient=True,
    )
    assert lenient.envs == {"A": "1"} and lenient.description == ""


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "nope", "name": "x"}, "use one of: stdio, streamable_http"),
        ({"type": "stdio", "name": "x"}, "cmd: Field required"),
        ({"type": "stdio", "name": "x", "cmd": "c", "command": "c"}, "unknown field `command`; did you mean `cmd`"),
        ({"type": "stdio", "name": "x", "cmd": "c", "timeout": 0}, "timeout: Input should be greater than or equal"),
        ({"type": "streamable_http", "name": "x"}, "uri: Field required"),
        ({"type": "inline_python", "name": "x"}, "code: Field required"),
        ("not a mapping", "must be a mapping"),
    ],
)
def test_invalid_entries_name_the_field(entry: object, message: str) -> None:
    with pytest.raises(InvalidArguments, match=message):
        parse_config(entry)


async def test_extension_tools_add_get_list_update_disable_enable_remove(settings: Settings) -> None:
    async with local_hub(settings) as (app, mcp):
        added = await call(mcp, "extension_add", {"extension": stdio_test_server("Test Server"), "start": False})
        view = added["extension"]
        assert view["key"] == "testserver" and view["role"] == "operator" and view["enabled"] is True
        assert view["config"]["cmd"] and view["config"]["args"][-1] == "tests.servers.stdio_server"
        assert "Conflict" not in str(added) and added["warnings"] == []
        error = await call_error(mcp, "extension_add", {"extension": stdio_test_server("test server")})
        assert "key 'testserver' exists already" in error
        got = await call(mcp, "extension_get", {"name": "Test Server"})  # by name, then by key
        by_key = await call(mcp, "extension_get", {"name": "testserver"})

        def stable(view: dict[str, object]) -> dict[str, object]:  # discovery may land between the two reads
            return {k: v for k, v in view.items() if k not in ("discovered_at", "tools", "state", "last_error")}

        assert got["key"] == "testserver" and stable(by_key) == stable(got)
        listed = await call(mcp, "extension_list")
        assert [e["key"] for e in listed["extensions"]] == ["testserver"]
        updated = await call(
            mcp, "extension_update", {"name": "testserver", "changes": {"timeout": 20, "cwd": None}, "role": "admin"}
        )
        assert updated["extension"]["config"]["timeout"] == 20 and "cwd" not in updated["extension"]["config"]
        assert updated["extension"]["role"] == "admin"
        assert "remove the extension and add it" in await call_error(
            mcp, "extension_update", {"name": "testserver", "changes": {"name": "Other"}}
        )
        assert "type cannot change" in await call_error(
            mcp, "extension_update", {"name": "testserver", "changes": {"type": "sse"}}
        )
        assert (await call(mcp, "extension_disable", {"name": "testserver"}))["extension"]["enabled"] is False
        assert (await call(mcp, "extension_enable", {"name": "testserver"}))["extension"]["enabled"] is True
        resource = await mcp.read_resource("goosuke://extensions/testserver")
        assert '"key": "testserver"' in resource.contents[0].text
        removed = await call(mcp, "extension_remove", {"name": "testserver"})
        assert removed["key"] == "testserver"
        assert "No extension named" in await call_error(mcp, "extension_get", {"name": "testserver"})
        from hub.db.models import AuditEvent

        async with app.db.session() as session:
            from sqlalchemy import select

            actions = [e.action for e in await session.scalars(select(AuditEvent)) if e.target == "testserver"]
        assert actions == [
            "extension.add", "extension.update", "extension.disable", "extension.enable", "extension.remove"
        ]  # fmt: skip


async def test_hard_errors_and_warnings_about_plain_secrets_and_goose_only_types(settings: Settings) -> None:
    async with local_hub(settings) as (_, mcp):
        assert "may not set PATH" in await call_error(
            mcp, "extension_add", {"extension": stdio_test_server("x", envs={"PATH": "/evil"})}
        )
        assert "must be an http:// or https:// URL" in await call_error(
            mcp, "extension_add", {"extension": {"type": "streamable_http", "name": "u", "uri": "ftp://x"}}
        )
        added = await call(
            mcp,
            "extension_add",
            {"extension": stdio_test_server("plain", envs={"API_TOKEN": "abcd1234"}), "start": False},
        )
        assert "looks like a secret" in added["warnings"][0] and "env_keys" in added["warnings"][0]
        http = await call(
            mcp,
            "extension_add",
            {"extension": {"type": "streamable_http", "name": "remote", "uri": "http://127.0.0.1:9/mcp",
                           "headers": {"Authorization": "Bearer ${MISSING}"}}, "start": False},
        )  # fmt: skip
        assert "$" + "{MISSING} is used but is neither in envs nor in env_keys" in http["warnings"][0]
        legacy = await call(
            mcp, "extension_add", {"extension": {"type": "sse", "name": "old", "uri": "http://127.0.0.1:9/sse"},
                                   "start": False},
        )  # fmt: skip
        assert any("SSE is unsupported by current Goose" in w for w in legacy["warnings"])
        builtin = await call(mcp, "extension_add", {"extension": {"type": "builtin", "name": "developer"}})
        assert any("runs inside Goose" in w for w in builtin["warnings"])
        # a vault value typed in plain envs or headers is refused
        await call(mcp, "secret_set", {"name": "REAL_TOKEN", "value": "vault-value-1234"})
        assert "holds the value of a vault secret" in await call_error(
            mcp, "extension_add", {"extension": stdio_test_server("leaky", envs={"X": "vault-value-1234"})}
        )


async def test_launch_spec_resolves_env_keys_from_the_vault_for_other_domains(settings: Settings) -> None:
    async with local_hub(settings) as (app, mcp):
        store: ExtensionStore = app.services.get(ExtensionStore)
        entry = stdio_test_server("agent tool", envs={"MODE": "fast", "SHADOW": "inline"}, env_keys=["TOKEN", "SHADOW"])
        await call(mcp, "extension_add", {"extension": entry, "start": False})
        with pytest.raises(NotFound, match="TOKEN are not in the vault"):
            await store.launch_spec("agent tool")
        await call(mcp, "secret_set", {"name": "TOKEN", "value": "token-value-1"})
        config, env = await store.launch_spec("agenttool")
        assert config.cmd == entry["cmd"]
        assert env == {"MODE": "fast", "SHADOW": "inline", "TOKEN": "token-value-1"}  # inline envs shadow secrets
        assert await app.services.get(Vault).known_values() == ["token-value-1"]


async def test_adding_and_removing_extensions_sends_tools_list_changed(settings: Settings) -> None:
    notices: list[str] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ServerNotification):
            notices.append(message.method)

    async with local_hub(settings, message_handler=on_message) as (_, mcp):
        await call(mcp, "whoami")  # the hub now knows this session
        await call(mcp, "extension_add", {"extension": stdio_test_server("notify me")})
        await wait_for(lambda: "notifications/tools/list_changed" in notices)
        tools = {t.name for t in (await mcp.list_tools()).tools}
        assert "notifyme__echo" in tools
        notices.clear()
        await call(mcp, "extension_disable", {"name": "notifyme"})
        await wait_for(lambda: "notifications/tools/list_changed" in notices)
        assert not any(t.name.startswith("notifyme__") for t in (await mcp.list_tools()).tools)
