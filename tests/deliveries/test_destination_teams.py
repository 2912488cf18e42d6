"""Destinations belong to a team: another team neither sees nor changes nor routes results to them, and
does not see the deliveries sent there."""

from __future__ import annotations

import pytest

from hub.db.models import Delivery
from tests.conftest import LiveHub
from tests.engine_support import execution_row
from tests.triggers.team_world import two_teams

pytestmark = pytest.mark.anyio

TARGET = {"channel_id": "333333333333333333"}


async def test_a_teams_destinations_and_their_deliveries_are_its_own(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    made = await world.ok("alice", "destination_create", name="a-digest", discord=TARGET)
    assert (made["team"], made["visibility"]) == ("team-a", "team")
    async with live_hub.context.db.session() as session:
        run = execution_row("t")
        session.add(run)
        session.add(Delivery(execution_id=run.id, destination="a-digest", purpose="result", status="failed"))
    delivery = (await world.ok("alice", "delivery_list"))["deliveries"][0]["id"]

    assert (await world.ok("bob", "destination_list"))["destinations"] == []
    assert (await world.ok("bob", "delivery_list"))["deliveries"] == []
    for tool, args in (
        ("destination_get", {"name": "a-digest"}),
        ("destination_update", {"name": "a-digest", "description": "mine now"}),
        ("destination_delete", {"name": "a-digest"}),
        ("delivery_get", {"id": delivery}),
        ("delivery_retry", {"id": delivery}),
    ):
        status, body = await world.call("bob", tool, **args)
        assert status == 404, (tool, body)
    await world.template("tb", world.b)
    status, body = await world.call(
        "bob", "schedule_create", name="sb", template="tb", cron="@daily", deliver_to=["a-digest"]
    )
    assert status == 422 and "a-digest" in body["detail"], body  # as if it did not exist
    assert (await world.ok("carol", "destination_get", name="a-digest"))["name"] == "a-digest"

    status, body = await world.call("alice", "destination_create", name="x", discord=TARGET, visibility="secret")
    assert status == 422, body
    status, body = await world.call("alice", "destination_create", name="y", discord=TARGET, team="nope")
    assert status == 404, body
    assert [d["name"] for d in (await world.ok("alice", "destination_list"))["destinations"]] == ["a-digest"]

    await world.ok("erin", "destination_update", name="a-digest", visibility="public")
    assert [d["name"] for d in (await world.ok("bob", "destination_list"))["destinations"]] == ["a-digest"]
    status, body = await world.call("bob", "destination_update", name="a-digest", description="mine now")
    assert status == 403, body
    assert (await world.ok("alice", "destination_get", name="a-digest"))["description"] == ""
