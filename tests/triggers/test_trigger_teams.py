"""Schedules, webhooks and reaction bindings belong to a team: another team's members neither see nor change
them (list, get, update, delete, enable, disable, history, deliveries, firings, runs); a trigger's team must
be able to run its template; its runs belong to its team with the visibility it names."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from hub.db.models import Action
from tests.conftest import LiveHub
from tests.triggers.team_world import World, two_teams

pytestmark = pytest.mark.anyio

HOOK = {"auth": "token", "mapping": {}}
BINDING = {"emojis": ["📌"]}


async def _team_a_triggers(world: World) -> None:
    await world.template("ta", world.a)
    await world.template("tb", world.b)
    await world.ok("alice", "schedule_create", name="sa", template="ta", cron="0 3 * * *", run_visibility="team")
    await world.ok("alice", "webhook_create", name="wa", template="ta", **HOOK)
    await world.ok("alice", "discord_reaction_create", name="ra", template="ta", **BINDING)
    await world.ok("bob", "schedule_create", name="sb", template="tb", cron="0 3 * * *")


async def _names(world: World, who: str, tool: str, key: str, **args: Any) -> set[str]:
    return {item["name"] for item in (await world.ok(who, tool, **args))[key]}


async def test_another_teams_triggers_are_neither_seen_nor_changed(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    await _team_a_triggers(world)
    created = await world.ok("alice", "schedule_get", name="sa")
    assert (created["team"], created["visibility"], created["run_visibility"]) == ("team-a", "team", "team")

    assert await _names(world, "bob", "schedule_list", "schedules") == {"sb"}
    assert await _names(world, "bob", "webhook_list", "webhooks") == set()
    assert await _names(world, "bob", "discord_reaction_list", "bindings") == set()
    assert await _names(world, "bob", "action_list", "actions") == {"sb"}
    assert await _names(world, "carol", "schedule_list", "schedules") == {"sa"}
    assert await _names(world, "carol", "action_list", "actions") == {"sa", "wa", "ra"}
    assert await _names(world, "admin", "action_list", "actions") >= {"sa", "wa", "ra", "sb"}

    hidden: list[tuple[str, dict[str, Any]]] = [
        ("schedule_get", {"name": "sa"}),
        ("schedule_history", {"name": "sa"}),
        ("schedule_update", {"name": "sa", "cron": "0 4 * * *"}),
        ("schedule_run_now", {"name": "sa"}),
        ("schedule_delete", {"name": "sa"}),
        ("webhook_update", {"name": "wa", "params": {}}),
        ("webhook_deliveries", {"name": "wa"}),
        ("webhook_rotate_secret", {"name": "wa"}),
        ("webhook_delete", {"name": "wa"}),
        ("discord_reaction_update", {"name": "ra", "emojis": ["🔥"]}),
        ("discord_reaction_delete", {"name": "ra"}),
        ("action_enable", {"name": "sa"}),
        ("action_disable", {"name": "wa"}),
        ("action_firings", {"name": "ra"}),
    ]
    for tool, args in hidden:
        status, body = await world.call("bob", tool, **args)
        assert status == 404, (tool, body)
    status, _ = await world.call("carol", "schedule_update", name="sa", cron="0 4 * * *")
    assert status == 403  # a viewer of the team sees it but does not manage triggers
    assert await _names(world, "alice", "action_list", "actions") == {"sa", "wa", "ra"}  # nothing changed
    assert (await world.ok("alice", "schedule_get", name="sa"))["cron"] == "0 3 * * *"

    fired = (await world.ok("alice", "schedule_run_now", name="sa"))["execution"]
    assert (fired["team_id"], fired["visibility"], fired["created_by"]) == (world.a, "team", "alice")
    assert (await world.call("carol", "execution_get", id=fired["id"]))[0] == 200
    assert (await world.call("bob", "execution_get", id=fired["id"]))[0] == 404
    assert [f["action"] for f in (await world.ok("alice", "action_firings"))["firings"]] == ["sa"]
    assert (await world.ok("bob", "action_firings"))["firings"] == []
    assert (await world.ok("bob", "discord_reaction_runs"))["runs"] == []

    assert (await world.ok("erin", "action_disable", name="sa"))["enabled"] is False  # a team operator may
    assert (await world.ok("erin", "webhook_update", name="wa", visibility="public"))["visibility"] == "public"
    assert await _names(world, "bob", "webhook_list", "webhooks") == {"wa"}  # public: seen, not changed
    status, body = await world.call("bob", "webhook_update", name="wa", params={})
    assert status == 403 and "owning team" in body["detail"], body


async def test_private_triggers_are_their_creators(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    await world.template("ta", world.a)
    await world.ok("alice", "schedule_create", name="mine", template="ta", cron="0 3 * * *", visibility="private")
    assert await _names(world, "erin", "schedule_list", "schedules") == set()
    assert (await world.call("erin", "schedule_delete", name="mine"))[0] == 404
    assert await _names(world, "alice", "schedule_list", "schedules") == {"mine"}
    fired = (await world.ok("alice", "schedule_run_now", name="mine"))["execution"]
    assert fired["visibility"] == "private"  # the default for a trigger's runs
    assert (await world.call("erin", "execution_get", id=fired["id"]))[0] == 404
    assert (await world.call("alice", "execution_get", id=fired["id"]))[0] == 200


async def test_a_trigger_binds_only_a_template_its_team_may_run(live_hub: LiveHub) -> None:
    world = await two_teams(live_hub)
    await world.template("ta", world.a)
    await world.template("shared", world.a, visibility="public")
    await world.template("secret", world.a, visibility="private")

    status, body = await world.call("bob", "schedule_create", name="s1", template="ta", cron="0 3 * * *")
    assert status == 404 and "No template" in body["detail"], body  # not disclosed to another team
    status, body = await world.call("frank", "webhook_create", name="w1", template="ta", team="team-b", **HOOK)
    assert status == 422 and "team cannot run template" in body["detail"], body
    made = await world.ok("bob", "schedule_create", name="s2", template="shared", cron="0 3 * * *")
    assert made["team"] == "team-b"  # a public template may be bound from another team
    status, body = await world.call("bob", "discord_reaction_create", name="r1", template="secret", **BINDING)
    assert status == 404, body

    status, body = await world.call("alice", "schedule_create", name="s3", template="ta", cron="@daily", team="nope")
    assert status == 404 and "No team named" in body["detail"], body
    status, body = await world.call("alice", "schedule_create", name="s4", template="ta", cron="@daily", team="team-b")
    assert status == 404, body  # a team alice is not in is not disclosed either
    status, body = await world.call("alice", "schedule_create", name="s5", template="ta", cron="@daily", visibility="x")
    assert status == 422 and "visibility" in str(body), body
    status, body = await world.call("alice", "schedule_update", name="s2", visibility="public")
    assert status == 404, body
    async with live_hub.context.db.session() as session:
        names = set(await session.scalars(select(Action.name).where(Action.kind != "reaction")))
        assert names == {"s2"}
        assert await session.scalar(select(func.count()).select_from(Action).where(Action.name == "r1")) == 0
