"""Who sees which execution, through the real `goosuke serve`: admins see all; anyone else sees the runs
they started and those fired by the schedules and webhooks they created. One rule for execution_list,
execution_get, execution_logs, the execution resource (facade and MCP) and resources/subscribe. Also:
extension_check does not start an extension above the caller's role."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from harness.processes import hub_env, serving
from hub import accounts
from hub.db import Database
from hub.db.models import Action, ExecutionLogLine, new_id
from hub.principal import Role
from hub.settings import Settings
from tests.engine_support import execution_row

pytestmark = pytest.mark.anyio

RUNS = {  # label: (trigger kind, trigger actor)
    "alice-api": ("api", "alice"),
    "alice-mcp": ("mcp", "alice"),
    "alice-schedule": ("schedule", "nightly"),
    "bob-api": ("api", "bob"),
    "bob-webhook": ("webhook", "webhook:deploy"),
    "discord": ("discord", "someone#1234"),
}


async def _seed(database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Rows as the engine leaves them, the actions that fired them, and a token per principal."""
    db = Database(Settings(database_url=database_url).resolved_database_url)
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    try:
        await db.migrate()
        async with db.session() as session:
            for name, kind, owner in (("nightly", "schedule", "alice"), ("deploy", "webhook", "bob")):
                session.add(Action(name=name, kind=kind, template="t", config={}, enabled=False, created_by=owner))
            for label, (kind, actor) in RUNS.items():
                ids[label] = new_id()
                session.add(
                    execution_row(
                        "t",
                        id=ids[label],
                        trigger_kind=kind,
                        trigger_actor=actor,
                        output=f"output of {label}",
                        log_lines=1,
                        log_bytes=10,
                    )
                )
            await session.flush()
            for label, execution_id in ids.items():
                session.add(ExecutionLogLine(execution_id=execution_id, seq=1, stream="stdout", text=f"log {label}"))
            for name, role in (("root", Role.admin), ("alice", Role.viewer), ("bob", Role.operator)):
                _, tokens[name] = await accounts.create_token(session, name, role)
    finally:
        await db.dispose()
    return ids, tokens


def _client(url: str, token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


async def _tool(http: httpx2.AsyncClient, tool: str, **arguments: Any) -> httpx2.Response:
    return await http.post(f"/api/tools/{tool}", json=arguments)


async def test_each_principal_sees_only_its_executions(tmp_path: Path, database_url: str, port: int) -> None:
    ids, tokens = await _seed(database_url)
    by_id = {v: k for k, v in ids.items()}
    url = f"http://127.0.0.1:{port}"
    with serving(hub_env(tmp_path / "data", database_url), port):
        async with _client(url, tokens["alice"]) as alice, _client(url, tokens["bob"]) as bob:
            listed = (await _tool(alice, "execution_list")).json()
            assert {by_id[e["id"]] for e in listed["executions"]} == {"alice-api", "alice-mcp", "alice-schedule"}
            assert listed["total"] == 3
            listed = (await _tool(bob, "execution_list")).json()
            assert {by_id[e["id"]] for e in listed["executions"]} == {"bob-api", "bob-webhook"}
            for label in ("bob-api", "bob-webhook", "discord"):
                got = await _tool(alice, "execution_get", id=ids[label])
                assert got.status_code == 404 and "output of" not in got.text
                logs = await _tool(alice, "execution_logs", id=ids[label])
                assert logs.status_code == 404 and "log " not in logs.text
                resource = await alice.get("/api/resources", params={"uri": f"goosuke://executions/{ids[label]}"})
                assert resource.status_code == 404 and "output of" not in resource.text
            mine = await _tool(alice, "execution_get", id=ids["alice-schedule"])
            assert mine.status_code == 200 and mine.json()["output"] == "output of alice-schedule"
            assert (await _tool(bob, "execution_retry", id=ids["alice-api"])).status_code == 404
            assert (await _tool(bob, "execution_cancel", id=ids["discord"])).status_code == 404
        async with _client(url, tokens["root"]) as root:
            assert (await _tool(root, "execution_list")).json()["total"] == len(RUNS)
            assert (await _tool(root, "execution_get", id=ids["discord"])).status_code == 200


async def test_subscribing_needs_what_reading_needs(tmp_path: Path, database_url: str, port: int) -> None:
    ids, tokens = await _seed(database_url)
    url = f"http://127.0.0.1:{port}"
    with serving(hub_env(tmp_path / "data", database_url), port):
        async with (
            _client(url, tokens["alice"]) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client,
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.subscribe_resource(f"goosuke://executions/{ids['alice-api']}")
                with pytest.raises(MCPError, match="No execution"):
                    await client.subscribe_resource(f"goosuke://executions/{ids['bob-api']}")
                with pytest.raises(MCPError, match="Unknown resource"):
                    await client.subscribe_resource("goosuke://nothing/here")
            with pytest.raises(MCPError, match="No execution"):
                await client.read_resource(f"goosuke://executions/{ids['bob-api']}")


async def test_extension_check_needs_the_extensions_role(tmp_path: Path, database_url: str, port: int) -> None:
    _, tokens = await _seed(database_url)
    marker = tmp_path / "started"
    url = f"http://127.0.0.1:{port}"
    with serving(hub_env(tmp_path / "data", database_url), port):
        async with _client(url, tokens["root"]) as root, _client(url, tokens["bob"]) as bob:
            extension = {"type": "stdio", "name": "adminonly", "cmd": "touch", "args": [str(marker)]}
            added = await _tool(root, "extension_add", extension=extension, enabled=False, role="admin")
            assert added.status_code == 200, added.text
            name = added.json()["extension"]["name"]
            refused = await _tool(bob, "extension_check", name=name)
            assert refused.status_code == 403, refused.text
            assert "admin role" in refused.json()["detail"]
            assert not marker.exists()  # it never started
            assert (await _tool(root, "extension_check", name=name)).status_code == 200
            assert marker.exists()  # an admin's check does start it
