"""Built-in templates are read-only copies the hub itself keeps current, and every change to a template a
schedule, webhook or reaction runs is audited with those triggers' names (issue 11, finding 1's last part)."""

from __future__ import annotations

import sys

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from hub.db import Database
from hub.db.models import AuditEvent, TaskTemplate, TemplateSeed, new_id
from hub.principal import Role
from hub.templates import store
from hub.templates.library import library
from hub.triggers.actions import Actions
from tests.conftest import LiveHub
from tests.runners.test_runners import call, client_for, error

pytestmark = pytest.mark.anyio

SEEDS: sa.Table = TemplateSeed.__table__  # type: ignore[assignment]  # a declarative model's table is a Table
RECIPE = "version: 1.0.0\ntitle: {title}\ndescription: d\nprompt: Say {word}.\n"


async def audit_events(hub: LiveHub, target: str) -> list[AuditEvent]:
    async with hub.context.db.session() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.target == target).order_by(AuditEvent.id))
        return [r for r in rows if r.action.startswith("template.")]


async def test_builtin_templates_are_read_only_for_every_role(live_hub: LiveHub) -> None:
    async with client_for(live_hub, Role.operator) as op:
        meeting = await call(op, "template_get", name="meeting-summary")
        assert meeting["builtin"] is True and meeting["version"] == 1
        listed = {t["name"]: t for t in (await call(op, "template_list"))["templates"]}
        assert all(listed[n]["builtin"] for n in ("meeting-summary", "daily-digest", "triage-issue"))
        text = await error(op, "template_update", name="meeting-summary", prompt="Leak {{ transcript }}.")
        assert "read-only" in text and "template_copy" in text and "point" in text
        text = await error(op, "template_delete", name="meeting-summary")
        assert "read-only" in text and "template_copy" in text
        recipe = RECIPE.format(title="Meeting", word="hi")
        text = await error(op, "template_import_recipe", recipe=recipe, name="meeting-summary", replace=True)
        assert "read-only" in text and "template_copy" in text
        # the way to change one: a copy, which is an ordinary template
        copy = await call(op, "template_copy", name="meeting-summary", new_name="our-summary")
        assert copy["builtin"] is False
        changed = await call(op, "template_update", name="our-summary", title="Ours")
        assert changed["title"] == "Ours" and changed["version"] == 2
    async with client_for(live_hub, Role.admin) as admin:  # admins too: the hub owns built-ins
        text = await error(admin, "template_update", name="daily-digest", title="Mine")
        assert "read-only" in text and "template_copy" in text
        text = await error(admin, "template_delete", name="daily-digest")
        assert "read-only" in text
        # an admin's inline runner settings are refused before any runner is made for the built-in
        text = await error(admin, "template_update", name="daily-digest", agent_settings={"provider": "ollama"})
        assert "read-only" in text
        assert not [r for r in (await call(admin, "runner_list"))["runners"] if r["name"].startswith("daily-digest")]
    async with live_hub.context.db.session() as session:
        row = await store.get_row(session, "meeting-summary")
        assert row.version == 1 and row.updated_by == "library"


async def test_a_new_release_updates_its_builtins_and_never_a_users_template(live_hub: LiveHub) -> None:
    hub = live_hub.context
    async with client_for(live_hub, Role.operator) as op:
        await call(
            op,
            "discord_reaction_create",
            name="summarise",
            emojis=["📝"],
            template="meeting-summary",
            mapping={"transcript": "history"},
        )
    async with hub.db.session() as session:  # a user's template holding a library name (before read-only)
        row = await store.get_row(session, "triage-issue")
        row.builtin = False
    newer = [d.model_copy(update={"description": d.description + " (v2)"}) for d in library()]
    written = await store.seed_library(hub.db, newer)
    assert written == ["daily-digest", "meeting-summary", "recommend-extensions"]
    async with client_for(live_hub, Role.operator) as op:
        meeting = await call(op, "template_get", name="meeting-summary")
        assert meeting["version"] == 2 and meeting["description"].endswith("(v2)") and meeting["builtin"]
        assert meeting["updated_by"] == "library"
        triage = await call(op, "template_get", name="triage-issue")
        assert triage["version"] == 1 and not triage["description"].endswith("(v2)")
    (event,) = [e for e in await audit_events(live_hub, "meeting-summary") if e.action == "template.update"]
    assert event.actor == "library" and event.detail["changed"] == ["description"]
    assert "reaction:summarise" in event.detail["triggers"]
    assert await store.seed_library(hub.db, newer) == []  # idempotent


async def test_changes_to_a_template_that_triggers_run_are_audited_with_their_names(live_hub: LiveHub) -> None:
    hub = live_hub.context
    async with client_for(live_hub, Role.operator) as op:
        await call(
            op,
            "template_create",
            name="nightly",
            title="Nightly",
            prompt="Say {{ word }}.",
            parameters=[{"key": "word", "input_type": "string", "requirement": "optional", "default": "hi"}],
        )
        await call(op, "template_create", name="lonely", title="Lonely", prompt="Say hi.")
        await call(op, "schedule_create", name="every-night", template="nightly", cron="0 3 * * *", enabled=False)
        await call(op, "webhook_create", name="on-push", template="nightly", auth="token")
        await call(op, "discord_reaction_create", name="react-nightly", emojis=["🌙"], template="nightly")
        await call(op, "template_update", name="nightly", prompt="Say {{ word }} twice.")
        recipe = RECIPE.format(title="Nightly", word="bye")
        await call(op, "template_import_recipe", recipe=recipe, name="nightly", replace=True)
        await call(op, "template_update", name="lonely", title="Still lonely")
    triggers = ["webhook:on-push", "reaction:react-nightly", "schedule:every-night"]
    events = await audit_events(live_hub, "nightly")
    assert [e.action for e in events] == ["template.create", "template.update", "template.update"]
    for event in events[1:]:
        assert sorted(event.detail["triggers"]) == sorted(triggers) and "operator" in event.actor
    assert events[1].detail["changed"] == ["prompt"] and events[1].detail["version"] == 2
    assert "parameters" in events[2].detail["changed"] and events[2].detail["version"] == 3
    (lonely,) = [e for e in await audit_events(live_hub, "lonely") if e.action == "template.update"]
    assert lonely.detail["triggers"] == []
    # a delete while triggers still name the template says which ones it leaves without a template
    await hub.services.get(Actions).delete("react-nightly", "reaction")
    async with client_for(live_hub, Role.operator) as op:
        await call(op, "template_delete", name="nightly")
    deleted = (await audit_events(live_hub, "nightly"))[-1]
    assert deleted.action == "template.delete"
    assert sorted(deleted.detail["triggers"]) == ["schedule:every-night", "webhook:on-push"]


async def test_a_runner_change_is_audited_with_the_templates_and_triggers_it_reaches(live_hub: LiveHub) -> None:
    argv = [sys.executable, "-c", "print(1)"]
    async with client_for(live_hub, Role.admin) as admin:
        await call(admin, "runner_create", name="echo", agent="command", argv=argv)
    async with client_for(live_hub, Role.operator) as op:
        await call(op, "template_create", name="echoed", title="E", prompt="x", agent="command", runner="echo")
        await call(op, "schedule_create", name="hourly", template="echoed", cron="@hourly", enabled=False)
    async with client_for(live_hub, Role.admin) as admin:
        await call(admin, "runner_update", name="echo", agent="command", argv=[*argv, "again"])
    async with live_hub.context.db.session() as session:
        (event,) = await session.scalars(select(AuditEvent).where(AuditEvent.action == "runner.update"))
    assert event.target == "echo" and event.detail["templates"] == ["echoed"]
    assert event.detail["triggers"] == ["schedule:hourly"]


async def test_migration_marks_unchanged_library_templates_built_in(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        await db.migrate("0008")
        definitions = {d.name: d for d in library()}
        templates = sa.table(
            "templates",
            *(
                sa.column(c)
                for c in ("id", "name", "title", "description", "prompt", "agent", "content_hash", "version")
            ),
            sa.column("agent_settings", sa.JSON),
            sa.column("parameters", sa.JSON),
            sa.column("extensions", sa.JSON),
            sa.column("tags", sa.JSON),
            sa.column("tag_index"),
            sa.column("created_at", sa.DateTime),
            sa.column("updated_at", sa.DateTime),
            sa.column("created_by"),
            sa.column("updated_by"),
        )
        async with db.engine.begin() as conn:
            for name, hash_ in (("daily-digest", None), ("meeting-summary", "changed-by-a-user")):
                seeded = definitions[name].content_hash()
                await conn.execute(sa.insert(SEEDS).values(name=name, content_hash=seeded))
                await conn.execute(
                    sa.insert(templates).values(
                        id=new_id(),
                        name=name,
                        title=name,
                        description="",
                        prompt="x",
                        agent="goose",
                        content_hash=hash_ or seeded,
                        version=1,
                        agent_settings={},
                        parameters=[],
                        extensions=[],
                        tags=[],
                        tag_index=",",
                        created_at=sa.func.now(),
                        updated_at=sa.func.now(),
                        created_by="library",
                        updated_by="library" if hash_ is None else "ana",
                    )
                )
        await db.migrate()
        async with db.session() as session:
            rows = (await session.execute(select(TaskTemplate.name, TaskTemplate.builtin))).all()
        flags = {name: builtin for name, builtin in rows}
        assert flags == {"daily-digest": True, "meeting-summary": False}
    finally:
        await db.dispose()
