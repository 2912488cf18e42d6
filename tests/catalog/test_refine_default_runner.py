"""extension_recommend refines on the default runner, whatever it is: the one `goosuke setup` makes, or one an
admin marks with the runner tools; without either (and without the legacy GOOSUKE_OPENAI_* settings) it says
how to get one (issue 12, finding 2 "No model works out of the box")."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from harness.doubles.llm import LLMDouble, Say
from hub.db.models import TemplateSeed
from hub.principal import Role
from hub.settings import Settings
from hub.templates import store
from hub.templates.library import library
from tests.conftest import LiveHub
from tests.engine_support import python_argv
from tests.runners.test_runners import call, client_for
from tests.runners.test_setup import KEY, setup_cli

pytestmark = pytest.mark.anyio

TASK = "Keep our meeting notes in the team wiki and remember decisions between meetings"
PICKS = [
    {"name": "memory", "why": "Remembers decisions from one meeting to the next."},
    {"name": "notion", "why": "The team wiki lives in Notion pages."},
]


async def test_after_goosuke_setup_extension_recommend_refines_on_the_default_runner(
    live_hub: LiveHub, settings: Settings
) -> None:
    assert settings.openai_api_key is None  # no legacy GOOSUKE_OPENAI_* endpoint: only what setup makes
    async with LLMDouble([Say("OK"), Say(json.dumps({"recommendations": PICKS}))], api_key=KEY) as llm:
        async with client_for(live_hub, Role.operator) as op:
            before = await call(op, "extension_recommend", prompt=TASK)
            assert before["execution_id"] is None and "goosuke setup" in before["method"], before["method"]
            assert llm.turns == []  # nothing configured: no model is asked

        flags = ("--provider", "compatible", "--base-url", llm.base_url, "--model", "fake-model", "--api-key-stdin")
        done = await setup_cli(settings, *flags, stdin=KEY + "\n")
        assert done.returncode == 0, done.stderr

        async with client_for(live_hub, Role.operator) as op:
            refined = await call(op, "extension_recommend", prompt=TASK)
            assert [r["short_name"] for r in refined["recommendations"]] == ["memory", "notion"], refined["method"]
            assert refined["method"] == f"re-ranked by fake-model (execution {refined['execution_id']})"
            run = await call(op, "execution_get", id=refined["execution_id"])
        assert run["template"] == "recommend-extensions" and run["status"] == "succeeded"
        assert run["agent"] == "openai" and run["structured_output"]["recommendations"] == PICKS
        # through the runner setup made: its URL, its model, its key from the vault
        assert len(llm.turns) == 2 and llm.turns[-1].body["model"] == "fake-model"
        assert llm.authorizations[-1] == f"Bearer {KEY}"
        assert TASK in json.dumps(llm.turns[-1].body["messages"])


async def test_a_default_runner_marked_with_the_runner_tools_refines_too(live_hub: LiveHub) -> None:
    answer = json.dumps({"recommendations": PICKS[1:]})
    argv = python_argv(f"import sys; sys.stdin.read(); print({answer!r})")
    async with client_for(live_hub, Role.admin) as admin:
        await call(admin, "runner_create", name="scripted", agent="command", argv=argv, default=True)
        refined = await call(admin, "extension_recommend", prompt=TASK)
        assert [r["short_name"] for r in refined["recommendations"]] == ["notion"], refined["method"]
        run = await call(admin, "execution_get", id=refined["execution_id"])
        assert run["agent"] == "command" and run["status"] == "succeeded"
        offline = await call(admin, "extension_recommend", prompt=TASK, refine=False)
        assert offline["execution_id"] is None


async def test_a_hub_with_the_old_openai_builtin_gets_the_default_runner_one_on_upgrade(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    (shipped,) = [d for d in library() if d.name == "recommend-extensions"]
    assert shipped.agent is None  # the built-in follows the default runner like the others
    old = shipped.model_copy(update={"agent": "openai"})  # what earlier releases shipped
    async with db.session() as session:  # a hub seeded by an earlier release
        row = await store.get_row(session, "recommend-extensions")
        await store.replace(session, row, old, "library", library=True)
        seed = await session.scalar(select(TemplateSeed).where(TemplateSeed.name == "recommend-extensions"))
        assert seed is not None
        seed.content_hash = old.content_hash()
    assert await store.seed_library(db, library()) == ["recommend-extensions"]
    async with db.session() as session:
        row = await store.get_row(session, "recommend-extensions")
        assert row.builtin and row.agent is None and row.updated_by == "library"
