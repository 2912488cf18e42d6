"""Teams and memberships through the real hub: create, see, change, delete, members, last owner, transfers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db.models import Action, AuditEvent, Execution, TaskTemplate, Team, TeamMember
from tests.conftest import LiveHub
from tests.engine_support import execution_row
from tests.teams.support import count, ok, refused, tool, user_token

pytestmark = pytest.mark.anyio


async def test_a_team_is_made_seen_changed_and_its_members_managed(live_hub: LiveHub) -> None:
    alice = await user_token(live_hub, "alice")  # platform role member: hub.read, the rest from team roles
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(alice) as as_alice:
        made = await ok(admin, "team_create", name="sales", description="Sales people")
        assert made["name"] == "sales" and made["personal_of"] is None
        assert [(m["username"], m["role"]) for m in made["members"]] == [("admin", "owner")]  # the creator
        assert "personal teams" in await refused(admin, "team_create", 422, name="@sales")
        assert "lowercase letters" in await refused(admin, "team_create", 422, name="Big Sales")
        assert "exists already" in await refused(admin, "team_create", 409, name="sales")
        assert "teams.read" in await refused(as_alice, "team_list", 403)  # no team grants her anything yet
        # bad member input: unknown team, user, role; each names what is wrong
        assert "No team named 'nope'" in await refused(admin, "team_member_add", 404, team="nope", username="alice")
        assert "No user named 'ghost'" in await refused(admin, "team_member_add", 404, team="sales", username="ghost")
        unknown_role = await refused(admin, "team_member_add", 422, team="sales", username="alice", role="boss")
        assert "Unknown role 'boss'" in unknown_role and "operator" in unknown_role
        assert await count(live_hub, TeamMember) == 3  # admin in @admin and sales, alice in @alice: nothing added
        added = await ok(admin, "team_member_add", team="sales", username="alice", role="viewer")
        assert added == {"team": "sales", "username": "alice", "role": "viewer", "source": "hub"}
        assert "already" in await refused(admin, "team_member_add", 409, team="sales", username="alice")
        # at once (next call) alice sees the team, and may read there, not change it; other teams stay hidden
        assert [t["name"] for t in (await ok(as_alice, "team_list"))["teams"]] == ["@alice", "sales"]
        seen = await ok(as_alice, "team_get", team="sales")
        assert {m["username"]: m["role"] for m in seen["members"]} == {"admin": "owner", "alice": "viewer"}
        assert "No team named 'default'" in await refused(as_alice, "team_get", 404, team="default")
        assert "teams.manage" in await refused(as_alice, "team_update", 403, team="sales", description="x")
        await ok(admin, "team_member_update", team="sales", username="alice", role="owner")
        changed = await ok(as_alice, "team_update", team="sales", name="sales-eu", description="EU sales")
        assert changed["name"] == "sales-eu" and changed["member_count"] == 2
        assert "hub-wide" in await refused(as_alice, "team_create", 403, name="mine")  # owner of a team only
        assert "personal team" in await refused(admin, "team_update", 409, team="@alice", name="alice2")
        assert (await ok(admin, "team_get", team=changed["id"]))["name"] == "sales-eu"  # by id too
        me = await ok(as_alice, "whoami")
        sales = next(t for t in me["teams"] if t["name"] == "sales-eu")
        assert sales["role"] == "owner" and "teams.manage" in sales["permissions"]
        await ok(as_alice, "team_member_remove", team="sales-eu", username="admin")
        listed = [t["name"] for t in (await ok(admin, "team_list"))["teams"]]
        assert listed == ["@admin", "@alice", "default", "sales-eu"]
    async with live_hub.context.db.session() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.target.like("team:%"))))
    assert actions.count("team.member.add") == 1 and "team.member.update" in actions and "team.update" in actions


async def test_a_team_keeps_its_last_owner(live_hub: LiveHub) -> None:
    await user_token(live_hub, "bob")
    async with live_hub.http(live_hub.admin_token) as admin:
        await ok(admin, "team_create", name="ops")
        demote = await refused(admin, "team_member_update", 409, team="ops", username="admin", role="operator")
        assert "last owner of team 'ops'" in demote and "team_member_update role=owner" in demote
        assert "last owner" in await refused(admin, "team_member_remove", 409, team="ops", username="admin")
        assert "last owner" in await refused(admin, "team_member_remove", 409, team="@bob", username="bob")
        members = {m["username"]: m["role"] for m in (await ok(admin, "team_get", team="ops"))["members"]}
        assert members == {"admin": "owner"}  # nothing half-changed
        await ok(admin, "team_member_add", team="ops", username="bob", role="owner")
        await ok(admin, "team_member_update", team="ops", username="admin", role="member")
        assert "last owner" in await refused(admin, "team_member_remove", 409, team="ops", username="bob")
        assert "not a member" in await refused(admin, "team_member_remove", 404, team="@admin", username="bob")
        assert "personal team" in await refused(admin, "team_member_add", 409, team="@bob", username="admin")


async def test_a_team_is_deleted_only_when_it_owns_nothing(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as admin:
        sales = (await ok(admin, "team_create", name="sales"))["id"]
        ops = (await ok(admin, "team_create", name="ops"))["id"]
        async with live_hub.context.db.session() as session:
            for name in ("nightly", "weekly"):
                session.add(
                    Action(name=name, kind="schedule", template="report", config={}, enabled=False, team_id=sales)
                )
            session.add(TaskTemplate(name="report", title="Report", prompt="p", content_hash="x", team_id=sales))
            session.add(execution_row("report", team_id=sales))
            session.add(execution_row("other", team_id=sales))
        refusal = await refused(admin, "team_delete", 409, team="sales")
        assert "actions (2): nightly, weekly" in refusal and "templates (1): report" in refusal
        assert "executions (2)" in refusal and "team_transfer" in refusal
        assert (await ok(admin, "team_get", team="sales"))["objects"] == {"actions": 2, "executions": 2, "templates": 1}
        # one missing name: nothing moves
        missing = await refused(
            admin, "team_transfer", 404, from_team="sales", to_team="ops", kind="action", names=["nightly", "nope"]
        )
        assert "no action named nope" in missing
        assert (await ok(admin, "team_get", team="ops"))["objects"] == {}
        bad = await tool(admin, "team_transfer", from_team="sales", to_team="ops", all=True, kind="action")
        assert bad.status_code == 422
        moved = await ok(admin, "team_transfer", from_team="sales", to_team="ops", kind="template", names=["report"])
        assert moved == {"from_team": "sales", "to_team": "ops", "moved": {"templates": 1, "executions": 1}}
        rest = await ok(admin, "team_transfer", from_team="sales", to_team="ops", all=True)
        assert rest["moved"] == {"actions": 2, "executions": 1}
        assert (await ok(admin, "team_delete", team="sales"))["name"] == "sales"
        assert "No team named 'sales'" in await refused(admin, "team_get", 404, team="sales")
        assert "personal team" in await refused(admin, "team_delete", 409, team="@admin")
        assert "default team" in await refused(admin, "team_delete", 409, team="default")
    async with live_hub.context.db.session() as session:
        owners = set(await session.scalars(select(Execution.team_id)))
        assert owners == {ops}
        assert await session.get(Team, sales) is None
        transfer = await session.scalar(select(AuditEvent).where(AuditEvent.action == "team.transfer"))
        assert transfer is not None and transfer.surface == "api" and transfer.detail["to"] == "ops"


async def test_transfers_need_teams_manage_in_both_teams(live_hub: LiveHub) -> None:
    carol = await user_token(live_hub, "carol")
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(carol) as as_carol:
        await ok(admin, "team_create", name="sales")
        await ok(admin, "team_create", name="ops")
        await ok(admin, "team_member_add", team="sales", username="carol", role="owner")
        await ok(admin, "team_member_add", team="ops", username="carol", role="operator")
        async with live_hub.context.db.session() as session:
            sales = await session.scalar(select(Team.id).where(Team.name == "sales"))
            session.add(Action(name="nightly", kind="schedule", template="t", config={}, enabled=False, team_id=sales))
        # carol owns sales but is only an operator in ops: she may not move out of sales into it
        into = await refused(as_carol, "team_transfer", 403, from_team="sales", to_team="ops", all=True)
        assert "needs the teams.manage permission in it" in into
        hidden = await refused(as_carol, "team_transfer", 404, from_team="sales", to_team="default", all=True)
        assert "No team named 'default'" in hidden
    async with live_hub.context.db.session() as session:
        assert await session.scalar(select(Action.team_id).where(Action.name == "nightly")) == sales
