"""Executions belong to their template's team: who sees a run (list, get, logs, the resource over the facade
and over MCP) and who may cancel it, by its visibility — private (who started it), team (who reads
executions in the run's team), public (everyone who reads executions) — for users whose permissions come
only from their team roles."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlalchemy import func, select

from hub.db.models import Execution
from tests.conftest import LiveHub
from tests.engine_support import PYTHON
from tests.triggers.team_world import World, two_teams

pytestmark = pytest.mark.anyio

SLEEP = [PYTHON, "-c", "import time; time.sleep(60)"]


async def _runs(world: World) -> dict[str, dict[str, Any]]:
    await world.template("ta", world.a)
    await world.template("tb", world.b)
    await world.template("slow", world.a, argv=SLEEP)
    runs = {
        "a-private": await world.ok("alice", "template_run", name="ta", wait=30),
        "a-team": await world.ok("alice", "template_run", name="ta", wait=30, visibility="team"),
        "a-public": await world.ok("alice", "template_run", name="slow", visibility="public"),
        "b-private": await world.ok("bob", "template_run", name="tb", wait=30),
        "b-team": await world.ok("bob", "template_run", name="tb", wait=30, visibility="team"),
    }
    return runs


async def _listed(world: World, who: str) -> set[str]:
    body = await world.ok(who, "execution_list")
    assert body["total"] == len(body["executions"])
    return {e["id"] for e in body["executions"]}


async def test_each_run_is_seen_by_its_starter_its_team_or_everyone_by_its_visibility(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    runs = await _runs(world)
    ids = {label: run["id"] for label, run in runs.items()}
    by_id = {v: k for k, v in ids.items()}
    team_run = runs["a-team"]
    assert team_run["team_id"] == world.a and team_run["created_by"] == "alice" and team_run["visibility"] == "team"
    assert runs["a-private"]["visibility"] == "private" and runs["b-team"]["team_id"] == world.b

    expected = {
        "alice": {"a-private", "a-team", "a-public"},
        "erin": {"a-team", "a-public"},
        "carol": {"a-team", "a-public"},
        "bob": {"b-private", "b-team", "a-public"},
        "frank": {"a-team", "a-public", "b-team"},
    }
    for who, labels in expected.items():
        assert {by_id[i] for i in await _listed(world, who) if i in by_id} == labels, who
        for label, execution_id in ids.items():
            got, body = await world.call(who, "execution_get", id=execution_id)
            logs, _ = await world.call(who, "execution_logs", id=execution_id)
            async with live_hub.http(world.tokens[who]) as http:
                resource = await http.get("/api/resources", params={"uri": f"goosuke://executions/{execution_id}"})
            want = 200 if label in labels else 404
            assert (got, logs, resource.status_code) == (want, want, want), (who, label, body)
    assert await _listed(world, "admin") >= set(ids.values())

    async with (
        live_hub.http(world.tokens["bob"]) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
    ):
        with pytest.raises(MCPError, match="No execution"):
            await client.read_resource(f"goosuke://executions/{ids['a-team']}")
        shown = await client.read_resource(f"goosuke://executions/{ids['a-public']}")
        assert ids["a-public"] in shown.contents[0].text  # type: ignore[union-attr]


async def test_cancelling_needs_the_permission_in_the_runs_team_or_having_started_it(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    await world.template("slow", world.a, argv=SLEEP)
    public = await world.ok("alice", "template_run", name="slow", visibility="public")
    status, body = await world.call("bob", "execution_cancel", id=public["id"])  # sees it, may not act on it
    assert status == 403 and "executions.cancel" in body["detail"], body
    status, body = await world.call("carol", "execution_cancel", id=public["id"])  # a viewer: no cancel at all
    assert status == 403, body
    cancelled = await world.ok("erin", "execution_cancel", id=public["id"])  # an operator of team A
    assert cancelled["status"] == "cancelled"

    private = await world.ok("alice", "template_run", name="slow")
    status, _ = await world.call("erin", "execution_cancel", id=private["id"])
    assert status == 404  # a private run is not even shown to the rest of its team
    assert (await world.ok("alice", "execution_cancel", id=private["id"]))["status"] == "cancelled"


async def test_a_bad_visibility_starts_no_run(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    await world.template("ta", world.a)
    status, body = await world.call("alice", "template_run", name="ta", visibility="everyone")
    assert status == 422 and "visibility" in str(body), body
    async with live_hub.context.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Execution)) == 0


async def test_a_retry_keeps_the_runs_team_and_visibility(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    await world.template("ta", world.a)
    first = await world.ok("alice", "template_run", name="ta", wait=30, visibility="team")
    again = await world.ok("erin", "execution_retry", id=first["id"])
    assert (again["team_id"], again["visibility"], again["created_by"]) == (world.a, "team", "erin")
    assert again["id"] in await _listed(world, "carol")
    status, _ = await world.call("bob", "execution_retry", id=first["id"])
    assert status == 404
