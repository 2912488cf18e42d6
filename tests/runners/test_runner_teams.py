"""Runners are team objects: a team's runner is seen, named and changed within the team; a public one is
used by every team and changed only by its own; a template names only a runner its team may use, and a
run reaches only such a runner (checked again at every run). Over MCP and the facade, on both databases."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import func, select

from hub.db.models import Execution
from hub.principal import Role
from tests.conftest import LiveHub
from tests.teams_support import make_team, make_user
from tests.templates.test_template_teams import caller

pytestmark = pytest.mark.anyio

BUILTIN_RUNNERS = {"goose", "openai", "sampling"}


def echo(text: str) -> dict[str, object]:
    return {"agent": "command", "argv": [sys.executable, "-c", f"print({text!r})"]}


async def test_a_team_uses_its_own_runners_and_the_public_ones(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    a, b = await make_team(db, "A"), await make_team(db, "B")
    erin = await make_user(db, "erin", teams={b: "admin"})  # runners.manage in B only
    frank = await make_user(db, "frank", teams={a: "admin"})  # runners.manage in A only
    alice = await make_user(db, "alice", teams={a: "operator"})
    bob = await make_user(db, "bob", teams={b: "operator"})

    async with caller(live_hub, erin) as owner:
        made = await owner.ok("runner_create", name="b-echo", **echo("b"))
        assert (made["team"], made["visibility"], made["created_by"]) == ("B", "team", "erin")
        await owner.ok("runner_create", name="b-shared", team="B", visibility="public", **echo("shared"))
        response = await owner.api("runner_create", name="b-mine", team="B", visibility="private", **echo("mine"))
        assert response.status_code == 200 and response.json()["visibility"] == "private"
        # bad input: nothing is created
        assert "hub-wide" in await owner.refused("runner_create", name="b-default", default=True, **echo("x"))
        assert "No team named 'nope'" in await owner.refused("runner_create", name="b-x", team="nope", **echo("x"))
        assert "No team named 'A'" in await owner.refused("runner_create", name="b-x", team="A", **echo("x"))
        response = await owner.api("runner_create", name="b-x", visibility="everyone", **echo("x"))
        assert response.status_code == 422 and "visibility" in {e["field"] for e in response.json()["errors"]}
        listed = {r["name"] for r in (await owner.ok("runner_list"))["runners"]}
        assert listed == BUILTIN_RUNNERS | {"b-echo", "b-shared", "b-mine"}

    async with caller(live_hub, alice) as member_a:
        shown = {r["name"]: r for r in (await member_a.ok("runner_list"))["runners"]}
        assert set(shown) == BUILTIN_RUNNERS | {"b-shared"}
        assert (shown["goose"]["team"], shown["goose"]["visibility"]) == ("default", "public")
        assert (shown["b-shared"]["team"], shown["b-shared"]["visibility"]) == ("B", "public")
        assert "No runner named 'b-echo'" in await member_a.refused("runner_get", name="b-echo")
        assert (await member_a.api("runner_get", name="b-mine")).status_code == 404
        # a template names only a runner its team may use
        text = await member_a.refused("template_create", name="a-echo", title="T", prompt="p", runner="b-echo")
        assert "No runner named 'b-echo'" in text
        made = await member_a.ok("template_create", name="a-shared", title="T", prompt="p", runner="b-shared")
        assert made["team"] == "A"
        ran = await member_a.ok("template_run", name="a-shared", wait=30)
        assert ran["status"] == "succeeded" and ran["output"] == "shared"

    async with caller(live_hub, bob) as member_b:
        assert {r["name"] for r in (await member_b.ok("runner_list"))["runners"]} >= {"b-echo", "b-shared"}
        assert "No runner named 'b-mine'" in await member_b.refused("runner_get", name="b-mine")  # erin's own
        text = await member_b.refused("template_create", name="b-mine-t", title="T", prompt="p", runner="b-mine")
        assert "No runner named 'b-mine'" in text
        await member_b.ok("template_create", name="b-run", title="T", prompt="p", runner="b-echo")
        ran = await member_b.ok("template_run", name="b-run", wait=30)
        assert ran["status"] == "succeeded" and ran["output"] == "b"
        assert (await member_b.ok("runner_get", name="b-echo"))["templates"] == ["b-run"]

    async with caller(live_hub, frank) as owner_a:  # runners.manage, but in another team
        assert "not change it" in await owner_a.refused("runner_update", name="b-shared", **echo("evil"))
        assert (await owner_a.api("runner_update", name="b-shared", **echo("evil"))).status_code == 403
        assert "No runner named 'b-echo'" in await owner_a.refused("runner_delete", name="b-echo")
        assert (await owner_a.api("runner_update", name="b-echo", **echo("evil"))).status_code == 404

    async with caller(live_hub, erin) as owner:  # B withdraws its shared runner: A's template no longer reaches it
        withdrawn = await owner.ok("runner_update", name="b-shared", visibility="team", **echo("shared"))
        assert (withdrawn["team"], withdrawn["visibility"]) == ("B", "team")
        text = await owner.refused("runner_delete", name="b-shared")  # A's template is not named to B
        assert "1 of other teams" in text and "a-shared" not in text
        assert "No team named 'A'" in await owner.refused("runner_update", name="b-echo", team="A", **echo("b"))
        assert (await owner.ok("runner_get", name="b-echo"))["team"] == "B"
    async with db.session() as session:
        runs = await session.scalar(select(func.count()).select_from(Execution))
    async with caller(live_hub, alice) as member_a:
        assert "No runner named 'b-shared'" in await member_a.refused("template_run", name="a-shared", wait=5)
        response = await member_a.api("template_run", name="a-shared")
        assert response.status_code == 422 and "b-shared" in response.text
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Execution)) == runs  # no run was queued

    operator = await live_hub.token(Role.operator)  # a platform role sees every team's shared runners, as before
    async with caller(live_hub, operator) as op:
        assert {r["name"] for r in (await op.ok("runner_list"))["runners"]} == BUILTIN_RUNNERS | {"b-echo", "b-shared"}
