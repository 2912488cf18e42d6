"""Template history: every saved version is kept whole (create, change, library seeding), listed by
template_history and read by template_version_get with template_get's visibility; a dry run writes nothing
(no version, no audit row); migration 0016 keeps each existing template's current version as its first."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from hub.db import Database
from hub.db.models import AuditEvent, TaskTemplate, TemplateVersion, new_id
from tests.conftest import LiveHub
from tests.teams_support import make_team, make_user
from tests.templates.test_template_teams import NOTE, caller

pytestmark = pytest.mark.anyio


async def _counts(hub: LiveHub) -> tuple[int, int, int]:
    """Templates, stored versions and audit rows (but refusals'): what a dry run must leave as it was."""
    async with hub.context.db.session() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(TaskTemplate)) or 0),
            int(await session.scalar(select(func.count()).select_from(TemplateVersion)) or 0),
            int(await session.scalar(select(func.count()).where(AuditEvent.action != "denied")) or 0),
        )


async def test_versions_accumulate_and_each_reads_back_whole(live_hub: LiveHub) -> None:
    async with caller(live_hub, live_hub.admin_token) as admin:
        await admin.ok("template_create", name="note", **NOTE)
        await admin.ok("template_update", name="note", title="Note 2")
        await admin.ok("template_update", name="note", title="Note 2")  # nothing changed: no new version
        await admin.ok("template_update", name="note", prompt="Write briefly about {{ topic }}.", expected_version=2)
        history = await admin.ok("template_history", name="note")
        assert (history["current"], history["total"], history["next_offset"]) == (3, 3, None)
        assert [v["version"] for v in history["versions"]] == [3, 2, 1]
        assert [v["summary"] for v in history["versions"]] == ["changed prompt", "changed title", "created"]
        assert {v["saved_by"] for v in history["versions"]} == {"admin"}
        page = await admin.ok("template_history", name="note", limit=2)
        assert [v["version"] for v in page["versions"]] == [3, 2] and page["next_offset"] == 2

        first = await admin.ok("template_version_get", name="note", version=1)
        assert first["definition"]["title"] == "Note" and first["definition"]["prompt"] == "Write about {{ topic }}."
        assert first["definition"]["parameters"][0]["key"] == "topic"
        third = await admin.ok("template_version_get", name="note", version=3)
        current = await admin.ok("template_get", name="note")
        assert third["definition"] == {k: current[k] for k in third["definition"]}
        assert "no stored version 9" in await admin.refused("template_version_get", name="note", version=9)

        # the built-in library's seeding is a version too
        builtin = await admin.ok("template_history", name="meeting-summary")
        assert [(v["version"], v["saved_by"]) for v in builtin["versions"]] == [(1, "library")]

        # deleted with its template: a new one of that name starts again at 1
        await admin.ok("template_delete", name="note")
        await admin.ok("template_create", name="note", **NOTE)
        assert [v["version"] for v in (await admin.ok("template_history", name="note"))["versions"]] == [1]


async def test_history_has_template_gets_visibility(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    a, b = await make_team(db, "A"), await make_team(db, "B")
    alice = await make_user(db, "alice", teams={a: "operator"})
    bob = await make_user(db, "bob", teams={b: "operator"})
    carol = await make_user(db, "carol", teams={b: "operator"})
    async with caller(live_hub, bob) as caller_bob:
        await caller_bob.ok("template_create", name="b-team", team="B", **NOTE)
        await caller_bob.ok("template_create", name="b-private", team="B", visibility="private", **NOTE)
        await caller_bob.ok("template_create", name="b-public", team="B", visibility="public", **NOTE)
        assert (await caller_bob.ok("template_history", name="b-private"))["total"] == 1
    async with caller(live_hub, alice) as caller_alice:
        for hidden in ("b-team", "b-private", "no-such"):  # as if absent, on both tools and both surfaces
            for tool, extra in (("template_history", {}), ("template_version_get", {"version": 1})):
                assert f"No template named {hidden!r}" in await caller_alice.refused(tool, name=hidden, **extra)
                assert (await caller_alice.api(tool, name=hidden, **extra)).status_code == 404
        assert (await caller_alice.ok("template_history", name="b-public"))["total"] == 1
        got = await caller_alice.ok("template_version_get", name="b-public", version=1)
        assert got["definition"]["title"] == "Note"
    async with caller(live_hub, carol) as caller_carol:  # her team's, not her private one
        assert (await caller_carol.ok("template_history", name="b-team"))["total"] == 1
        assert "No template named 'b-private'" in await caller_carol.refused(
            "template_version_get", name="b-private", version=1
        )


async def test_a_dry_run_checks_everything_and_writes_nothing(live_hub: LiveHub) -> None:
    async with caller(live_hub, live_hub.admin_token) as admin:
        await admin.ok("template_create", name="note", **NOTE)
        before = await _counts(live_hub)
        would = await admin.ok("template_create", name="fresh", dry_run=True, **NOTE)
        assert (would["name"], would["version"], would["title"], would["created_by"]) == ("fresh", 1, "Note", "admin")
        changed = await admin.ok("template_update", name="note", title="Other", dry_run=True)
        assert (changed["version"], changed["title"]) == (2, "Other")
        same = await admin.ok("template_update", name="note", title="Note", dry_run=True)
        assert same["version"] == 1
        # the same checks as a save: recipe rules, name taken, a stale version, a built-in
        assert "never used" in await admin.refused(
            "template_create", name="bad", title="B", prompt="Hi.", parameters=[{"key": "who"}], dry_run=True
        )
        assert "exists already" in await admin.refused("template_create", name="note", dry_run=True, **NOTE)
        assert "not 7" in await admin.refused(
            "template_update", name="note", title="X", expected_version=7, dry_run=True
        )
        assert "read-only" in await admin.refused("template_update", name="meeting-summary", title="X", dry_run=True)
        # an admin's inline host settings would make a runner: a dry run makes none
        host = {"agent": "command", "agent_settings": {"argv": ["/bin/echo"]}}
        runners = (await admin.ok("runner_list"))["runners"]
        assert (await admin.ok("template_create", name="cmd", title="C", prompt="Hi.", dry_run=True, **host))[
            "agent"
        ] == "command"
        assert (await admin.ok("runner_list"))["runners"] == runners
        response = await admin.api("template_create", name="fresh", dry_run=True, **NOTE)
        assert response.status_code == 200 and response.json()["version"] == 1
        assert await _counts(live_hub) == before
        assert (await admin.ok("template_get", name="note"))["title"] == "Note"
        assert "No template named 'fresh'" in await admin.refused("template_get", name="fresh")


async def test_migration_keeps_each_templates_current_version_as_its_first(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        await db.migrate("0015")
        async with db.engine.begin() as conn:
            await conn.execute(
                sa.insert(TaskTemplate).values(
                    id=new_id(),
                    name="old-note",
                    title="Old",
                    description="",
                    prompt="Write about {{ topic }}.",
                    instructions=None,
                    parameters=[{"key": "topic", "input_type": "string", "requirement": "required"}],
                    extensions=["developer"],
                    agent="goose",
                    agent_settings={
                        "max_turns": 3,
                        "argv": ["sh", "-c", "x"],
                        "base_url": "http://h",
                    },  # pre-runner host keys
                    tags=["a"],
                    tag_index=",a,",
                    delivery={"deliver_to": [{"channel": "123"}]},
                    builtin=False,
                    version=4,
                    content_hash="x",
                    created_at=sa.func.now(),
                    updated_at=sa.func.now(),
                    created_by="ana",
                    updated_by="ben",
                    team_id=None,
                    visibility="team",
                )
            )
        await db.migrate()
        async with db.session() as session:
            (stored,) = await session.scalars(select(TemplateVersion))
            template_id = await session.scalar(select(TaskTemplate.id).where(TaskTemplate.name == "old-note"))
        assert (stored.template_id, stored.version, stored.saved_by) == (template_id, 4, "ben")
        definition = stored.definition
        assert (definition["name"], definition["title"], definition["extensions"]) == ("old-note", "Old", ["developer"])
        # the host keys belong to the runner the Runners service makes at start-up, never to history
        assert definition["agent_settings"] == {"max_turns": 3} and definition["tags"] == ["a"]
        assert definition["deliver_to"] == [{"channel": "123"}] and definition["announce_failures_to"] is None
        await db.downgrade("0015")
        await db.migrate()  # up again: backfilled once more, no duplicate
        async with db.session() as session:
            assert len(list(await session.scalars(select(TemplateVersion)))) == 1
    finally:
        await db.dispose()
