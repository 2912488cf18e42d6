"""audit_list through the real hub: changes and denials as rows, newest first, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import LiveHub
from tests.teams.support import ok, refused, user_token

pytestmark = pytest.mark.anyio


async def test_audit_list_filters_and_pages_newest_first(live_hub: LiveHub) -> None:
    viewer = await user_token(live_hub, "vera", role="viewer")
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(viewer) as as_vera:
        await ok(admin, "team_create", name="sales")
        await ok(admin, "team_member_add", team="sales", username="vera", role="operator")
        await refused(as_vera, "user_list", 403)
        assert "audit.read" in await refused(as_vera, "audit_list", 403)

        async def events(**filters: object) -> list[dict[str, object]]:
            return list((await ok(admin, "audit_list", **filters))["events"])

        teams = await events(action="team.")
        assert [e["action"] for e in teams] == ["team.member.add", "team.create"]  # newest first
        assert teams[0]["detail"] == {"user": "vera", "role": "operator"} and teams[0]["surface"] == "api"
        denied = await events(outcome="denied", actor="vera")
        assert [e["target"] for e in denied] == ["tool:audit_list", "tool:user_list"]
        assert all(e["action"] == "denied" and e["surface"] == "api" for e in denied)
        assert [e["action"] for e in await events(target_prefix="team:sales", surface="api")] == [
            "team.member.add",
            "team.create",
        ]
        assert await events(target_prefix="team:sales", surface="mcp") == []
        assert [e["action"] for e in await events(action="user.create")] == ["user.create", "user.create"]
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        assert await events(since=later) == []
        assert await events(until=earlier) == []
        assert len(await events(since=earlier, action="team.")) == 2
        first = await ok(admin, "audit_list", action="team.", limit=1)
        assert first["total"] == 2 and first["next_offset"] == 1
        second = await ok(admin, "audit_list", action="team.", limit=1, offset=1)
        assert second["events"][0]["action"] == "team.create" and second["next_offset"] is None
        assert "outcome" in await refused(admin, "audit_list", 422, outcome="maybe")
        assert "offset" in await refused(admin, "audit_list", 422, offset=-1)


async def test_audit_read_within_a_team_shows_only_your_own_rows(live_hub: LiveHub) -> None:
    ann = await user_token(live_hub, "ann")
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(ann) as as_ann:
        await ok(admin, "team_create", name="sales")
        await ok(admin, "team_member_add", team="sales", username="ann", role="admin")  # audit.read in sales only
        await refused(as_ann, "user_list", 403)
        mine = await ok(as_ann, "audit_list")
        everything = await ok(admin, "audit_list")
    assert {e["actor"] for e in mine["events"]} == {"ann"} and mine["total"] == 1
    assert mine["events"][0]["target"] == "tool:user_list"
    assert {"admin", "ann"} <= {e["actor"] for e in everything["events"]}


async def test_sharing_a_trigger_or_a_destination_is_audited(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as admin:
        template = {"name": "shared-t", "title": "T", "prompt": "Say hello"}
        assert (await admin.post("/api/tools/template_create", json=template)).status_code == 200
        schedule = {"name": "nightly", "template": "shared-t", "cron": "0 3 * * *"}
        assert (await admin.post("/api/tools/schedule_create", json=schedule)).status_code == 200
        changed = await admin.post("/api/tools/schedule_update", json={"name": "nightly", "visibility": "public"})
        assert changed.status_code == 200, changed.text
        unchanged = await admin.post("/api/tools/schedule_update", json={"name": "nightly", "visibility": "public"})
        assert unchanged.status_code == 200
        target = {"name": "digest", "discord": {"channel_id": "123456789012345678"}}
        assert (await admin.post("/api/tools/destination_create", json=target)).status_code == 200
        shared = await admin.post("/api/tools/destination_update", json={"name": "digest", "visibility": "private"})
        assert shared.status_code == 200, shared.text
        rows = (await admin.post("/api/tools/audit_list", json={"action": "schedule.share"})).json()["events"]
        dest = (await admin.post("/api/tools/audit_list", json={"action": "destination.share"})).json()["events"]
    assert len(rows) == 1  # the second update changed nothing: no row
    assert rows[0]["target"] == "nightly" and rows[0]["surface"] == "api"
    assert rows[0]["detail"]["before"]["visibility"] == "team" and rows[0]["detail"]["after"]["visibility"] == "public"
    assert [(e["target"], e["detail"]["after"]["visibility"]) for e in dest] == [("digest", "private")]
