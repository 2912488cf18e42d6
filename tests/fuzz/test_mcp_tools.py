"""Hypothesis over MCP tools/call, through the real SDK client on Streamable HTTP: every tool of tools/list
gets arguments drawn from its input schema and broken ones. A call ends in a result or a tool error with a
message, never in a crash ("failed unexpectedly", JSON-RPC -32603), and the hub answers afterwards.

The hub runs with GOOSUKE_AUTH=none (the anonymous local admin), so no tool can take the fuzzer's access
away: disabling users or revoking tokens is fuzzed too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from harness.processes import free_port
from hub.app import create_app
from hub.registry import Registry
from hub.settings import Settings
from tests.conftest import BACKENDS, postgres_database, serve
from tests.fuzz.strategies import edge_cases, tool_arguments

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

INTERNAL_ERROR = -32603
EXAMPLES = 8  # per tool
# Tools left out, each with the reason. With GOOSUKE_AUTH=none nothing here can lock the fuzzer out.
EXCLUDED: dict[str, str] = {}
TOOLS = sorted(set(Registry.discover([]).tools) - set(EXCLUDED))


@dataclass
class McpHub:
    portal: BlockingPortal
    client: Client
    schemas: dict[str, dict[str, Any]]

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.portal.call(self.client.call_tool, name, arguments)

    def assert_alive(self) -> None:
        """The hub still answers tools/list (uncached) and a tool call."""
        listed = self.portal.call(partial(self.client.list_tools, cache_mode="bypass"))
        assert set(self.schemas) <= {tool.name for tool in listed.tools}
        me = self.call("whoami", {})
        assert not me.is_error and me.structured_content["role"] == "admin", me


@pytest.fixture(scope="module", params=BACKENDS)
def mcp_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpHub]:
    data: Path = tmp_path_factory.mktemp("fuzz-mcp")
    with start_blocking_portal() as portal:
        database = None
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{data / 'goosuke.db'}"
        else:
            database = portal.wrap_async_context_manager(postgres_database())
            url = database.__enter__()
        try:
            settings = Settings(
                data_dir=data / "data",
                database_url=url,
                port=free_port(),
                auth="none",
                goose_bin=str(data / "no-goose-here"),
                goose_config_path=data / "goose" / "config.yaml",
                execution_wait_limit=2,
                extension_start_timeout=5,
            )
            app = create_app(settings)
            with portal.wrap_async_context_manager(serve(app, settings.port)) as base:
                http = portal.wrap_async_context_manager(httpx2.AsyncClient(timeout=60))
                with http as client_http:
                    connect = Client(streamable_http_client(f"{base}/mcp", http_client=client_http))
                    with portal.wrap_async_context_manager(connect) as client:
                        tools = portal.call(client.list_tools).tools
                        yield McpHub(portal, client, {tool.name: tool.input_schema for tool in tools})
        finally:
            if database is not None:
                database.__exit__(None, None, None)


def test_tools_list_is_what_the_fuzzer_covers(mcp_hub: McpHub) -> None:
    assert set(TOOLS) | set(EXCLUDED) <= set(mcp_hub.schemas)


def crash(hub: McpHub, tool: str, arguments: dict[str, Any]) -> str | None:
    """What went wrong, or None when the call ended in a result or in an error that says why."""
    try:
        result = hub.call(tool, arguments)
    except MCPError as exc:  # a JSON-RPC error is fine when it is not an internal one and says why
        if exc.code == INTERNAL_ERROR or not exc.message or "Traceback" in exc.message:
            return f"JSON-RPC error {exc.code}: {exc.message[:300]}"
        return None
    text = " ".join(getattr(block, "text", "") for block in result.content)
    if "failed unexpectedly" in text or "Traceback" in text:
        return text[:300]
    if result.is_error and not text.strip():
        return "a tool error without a message"
    return None


@pytest.mark.parametrize("tool", TOOLS)
def test_random_arguments_never_crash_a_tool(mcp_hub: McpHub, tool: str) -> None:
    schema = mcp_hub.schemas[tool]

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(arguments=tool_arguments(schema))
    def one_call(arguments: dict[str, Any]) -> None:
        problem = crash(mcp_hub, tool, arguments)
        assert problem is None, problem

    one_call()
    mcp_hub.assert_alive()


@pytest.mark.parametrize("tool", TOOLS)
def test_edge_values_in_every_field_never_crash_a_tool(mcp_hub: McpHub, tool: str) -> None:
    failures = []  # every failing field, not just the first
    for description, arguments in edge_cases(mcp_hub.schemas[tool]):
        problem = crash(mcp_hub, tool, arguments)
        if problem is not None:
            failures.append(f"{tool}({description}): {problem}")
    mcp_hub.assert_alive()
    assert not failures, "\n".join(failures)
