"""`goosuke setup` gets a model working in one step: one real check request, the key in the vault, a default
runner the built-in templates run on (issue 12, finding 2 "No model works out of the box")."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from harness.doubles.llm import LLMDouble, Say
from harness.processes import GOOSUKE, REPO, hub_env
from harness.tools import tool_path
from hub.db import Database
from hub.db.models import AuditEvent, RunnerRow, Secret
from hub.principal import Role
from hub.runners import store
from hub.runners.model import RunnerDefinition
from hub.settings import Settings
from hub.templates.preview import prepare
from hub.vault.service import Vault
from tests.conftest import LiveHub
from tests.runners.test_runners import call, client_for
from tests.teams_support import make_team

pytestmark = pytest.mark.anyio

KEY = "sk-setup-test-key-0123456789"
GOOSE = {"GOOSUKE_GOOSE_BIN": str(tool_path("GOOSUKE_GOOSE_BIN"))}  # the real Goose (.ci/tools.sh)
TRANSCRIPT = "12:01 ana: we ship on Friday\n12:02 bo: I write the notes"


async def setup_cli(
    settings: Settings, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `goosuke setup` on the test's data folder and database (in a thread: the double shares our loop),
    with ``env`` added to its environment."""
    env = hub_env(settings.data_dir, settings.database_url, **(env or {}))
    return await asyncio.to_thread(
        subprocess.run,
        [*GOOSUKE, "setup", *args],
        input=stdin,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files_with(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


async def runners(hub: LiveHub) -> dict[str, Any]:
    async with hub.context.db.session() as session:
        return {r.name: r for r in await session.scalars(select(RunnerRow))}


async def test_setup_with_flags_then_answers_makes_the_default_runner_the_builtins_run_on(
    live_hub: LiveHub, settings: Settings, tmp_path: Path
) -> None:
    async with LLMDouble([Say("OK"), Say("## Summary\nWe ship on Friday.")], api_key=KEY) as llm:
        flags = ("--provider", "compatible", "--base-url", llm.base_url, "--model", "fake-model", "--api-key-stdin")
        done = await setup_cli(settings, *flags, stdin=KEY + "\n")  # while the hub runs, on its data folder
        assert done.returncode == 0, done.stderr
        assert "RUNNER_DEFAULT_API_KEY" in done.stdout and "default runner" in done.stdout
        assert "goosuke serve" in done.stdout  # the next step
        assert KEY not in done.stdout + done.stderr
        assert llm.authorizations == [f"Bearer {KEY}"]  # exactly one check request
        # the key is in the vault, sealed: in no file of the data folder (nor the SQLite file) in plain text
        assert files_with(tmp_path, KEY) == []
        async with live_hub.context.db.session() as session:
            secret = await session.scalar(select(Secret).where(Secret.name == "RUNNER_DEFAULT_API_KEY"))
            assert secret is not None and KEY not in secret.ciphertext
            actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.target == "default")))
        assert actions == ["runner.create", "runner.default"]
        row = (await runners(live_hub))["default"]
        assert row.is_default and row.agent == "openai" and row.config["api_key_secret"] == "RUNNER_DEFAULT_API_KEY"
        # the hub's own: the default team's, visibility team (as migration 0013 left everything before teams)
        assert (row.team_id, row.visibility) == ("default", "team")
        assert (secret.team_id, secret.visibility) == ("default", "team")

        async with client_for(live_hub, Role.operator) as op:
            listed = {r["name"]: r for r in (await call(op, "runner_list"))["runners"]}
            assert listed["default"]["default"] is True and listed["goose"]["default"] is False
            summary = await call(op, "template_run", name="meeting-summary", params={"transcript": TRANSCRIPT}, wait=30)
        assert summary["status"] == "succeeded", summary["error"]
        assert "We ship on Friday." in summary["output"]
        assert llm.authorizations[-1] == f"Bearer {KEY}"
        assert llm.turns[-1].body["model"] == "fake-model" and "ana: we ship" in str(llm.turns[-1].messages)

    # interactive, with piped answers: a second runner becomes the default, the first is unmarked
    async with LLMDouble([Say("OK")]) as local:
        answers = f"vllm\n{local.base_url}\nlocal-model\n\n"  # provider, URL, model, no key
        done = await setup_cli(settings, "--name", "local", stdin=answers)
        assert done.returncode == 0, done.stderr
        assert "Provider" in done.stdout and "Model" in done.stdout
        assert local.authorizations == [None]
    rows = await runners(live_hub)
    assert rows["local"].is_default and not rows["default"].is_default
    assert rows["local"].config["api_key_secret"] is None and rows["local"].config["models"] == ["local-model"]
    preview = await prepare(live_hub.context.db.read, "daily-digest", {"content": "a"})
    assert preview.agent == "openai" and preview.options.runner == "local"
    assert preview.options.base_url == local.base_url


async def test_a_wrong_key_saves_nothing_and_says_what_to_fix(live_hub: LiveHub, settings: Settings) -> None:
    wrong = "sk-wrong-key-9876543210"
    async with LLMDouble([Say("OK")], api_key=KEY) as llm:
        done = await setup_cli(
            settings, "--provider", "openai", "--base-url", llm.base_url, "--api-key-stdin", stdin=wrong + "\n"
        )
    assert done.returncode == 1
    assert "401" in done.stderr and "nothing was saved" in done.stderr and "API key" in done.stderr
    assert wrong not in done.stderr + done.stdout  # the provider echoes the key: masked
    assert await runners(live_hub) == {}
    async with live_hub.context.db.session() as session:
        assert await session.scalar(select(sa.func.count()).select_from(Secret)) == 0
    preview = await prepare(live_hub.context.db.read, "meeting-summary", {"transcript": "x"})
    assert preview.agent == "goose" and preview.options.runner == "goose"  # no default: the built-in goose


async def test_another_teams_runner_or_secret_is_refused_before_the_check(
    live_hub: LiveHub, settings: Settings
) -> None:
    db = live_hub.context.db
    red = await make_team(db, "red")
    async with db.session() as session:
        await store.create(session, RunnerDefinition(name="shared", agent="openai"), "alice", team_id=red)
    vault = live_hub.context.services.get(Vault)
    await vault.put("RUNNER_MINE_API_KEY", "sk-red-team-key-000", actor="alice", team_id=red, visibility="private")
    async with LLMDouble([Say("OK")], api_key=KEY) as llm:
        flags = ("--provider", "compatible", "--base-url", llm.base_url, "--model", "m", "--yes")
        taken = await setup_cli(settings, *flags, "--name", "shared")
        assert taken.returncode == 2 and "runner 'shared' belongs to team 'red'" in taken.stderr
        keyed = await setup_cli(settings, *flags, "--name", "mine", "--api-key-stdin", stdin=KEY + "\n")
        assert keyed.returncode == 2 and "secret 'RUNNER_MINE_API_KEY' belongs to team 'red'" in keyed.stderr
        assert "Nothing was saved" in keyed.stderr and KEY not in keyed.stderr
        assert llm.authorizations == []  # refused before the check request
    rows = await runners(live_hub)
    assert set(rows) == {"shared"} and rows["shared"].team_id == red and not rows["shared"].is_default
    assert await vault.get("RUNNER_MINE_API_KEY") == "sk-red-team-key-000"  # untouched


async def test_bad_flags_exit_2_with_the_fix(settings: Settings) -> None:
    for args, says in [
        (("--provider", "vllm"), "--model"),
        (("--provider", "compatible", "--model", "m"), "--base-url"),
        (("--provider", "openai"), "API key"),
        (("--provider", "ollama", "--name", "goose"), "--name"),
        (("--provider", "ollama", "--base-url", "ftp://x"), "--base-url"),
    ]:
        done = await setup_cli(settings, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr


async def test_an_explicit_agent_keeps_its_builtin_runner_and_goose_setup_reaches_goose(
    live_hub: LiveHub, settings: Settings
) -> None:
    async with LLMDouble([Say("OK")], api_key=KEY) as llm:
        flags = ("--provider", "goose", "--base-url", llm.base_url, "--model", "fake-model", "--name", "g")
        done = await setup_cli(settings, *flags)
        assert done.returncode == 2 and "API key" in done.stderr  # Goose's openai provider needs a key
        done = await setup_cli(settings, *flags, "--api-key-stdin", stdin=KEY + "\n", env=GOOSE)
        assert done.returncode == 0, done.stderr
    row = (await runners(live_hub))["g"]
    assert row.is_default and row.agent == "goose" and row.config["provider"] == "openai"
    async with client_for(live_hub, Role.operator) as op:
        await call(op, "template_create", name="mine", title="Mine", prompt="Say hi.", agent="openai")
        await call(op, "template_create", name="plain", title="Plain", prompt="Say hi.")
    mine = await prepare(live_hub.context.db.read, "mine")
    assert mine.agent == "openai" and mine.options.runner == "openai"  # agent given: its built-in runner
    plain = await prepare(live_hub.context.db.read, "plain")
    assert plain.agent == "goose" and plain.options.runner == "g" and plain.options.provider == "openai"
    # what Goose gets: the runner's endpoint as its provider's variables, the key from the vault
    from agents.goose import GooseAgent

    env = {"GOOSE_PROVIDER": "openai"}
    run = type("Run", (), {"options": plain.options, "app": live_hub.context})()
    await GooseAgent()._endpoint(run, env)  # type: ignore[arg-type]
    host, port = llm.url.removeprefix("http://").split(":")
    assert env["OPENAI_HOST"] == f"http://{host}:{port}" and env["OPENAI_BASE_PATH"] == "v1/chat/completions"
    assert env["OPENAI_API_KEY"] == KEY


async def test_goose_setup_without_a_working_goose_binary_says_how_to_get_one_and_saves_nothing(
    live_hub: LiveHub, settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "goose"
    broken.write_text("#!/bin/sh\necho 'goose: cannot load its libraries' >&2\nexit 3\n")
    broken.chmod(0o755)
    async with LLMDouble([Say("OK")]) as llm:
        flags = ("--provider", "goose", "--goose-provider", "ollama", "--base-url", llm.base_url, "--model", "m")
        missing = await setup_cli(settings, *flags, env={"GOOSUKE_GOOSE_BIN": str(tmp_path / "no-goose-here")})
        assert missing.returncode == 1, missing.stdout + missing.stderr
        text = missing.stderr
        assert "nothing was saved" in text and "Goose binary was not found" in text and "no-goose-here" in text
        assert "GOOSUKE_GOOSE_BIN" in text and "@aaif/goose-binary" in text and "Traceback" not in text
        failing = await setup_cli(settings, *flags, env={"GOOSUKE_GOOSE_BIN": str(broken)})
        assert failing.returncode == 1, failing.stdout + failing.stderr
        text = failing.stderr
        assert "nothing was saved" in text and "--version" in text and "status 3" in text
        assert "cannot load its libraries" in text and "GOOSUKE_GOOSE_BIN" in text
        assert llm.authorizations == []  # Goose is checked before the provider is asked
    assert await runners(live_hub) == {}


@pytest.fixture
def goose_hub_settings(settings: Settings) -> Settings:
    """The hub's goose agent on the real binary (before the hub starts); the provider comes from the runner."""
    settings.goose_bin = GOOSE["GOOSUKE_GOOSE_BIN"]
    settings.execution_kill_grace = 1.0
    return settings


async def test_goose_setup_with_the_real_goose_then_a_builtin_runs_on_the_default_runner_it_made(
    goose_hub_settings: Settings, live_hub: LiveHub
) -> None:
    settings = goose_hub_settings
    async with LLMDouble([Say("OK"), Say("## Summary\nWe ship on Friday.")], api_key=KEY) as llm:
        flags = ("--provider", "goose", "--goose-provider", "openai", "--base-url", llm.base_url)
        done = await setup_cli(
            settings, *flags, "--model", "fake-model", "--api-key-stdin", stdin=KEY + "\n", env=GOOSE
        )
        assert done.returncode == 0, done.stderr
        assert "1.52" in done.stdout and "default runner" in done.stdout  # the Goose it found, by its version
        assert llm.authorizations == [f"Bearer {KEY}"]  # one check request to the provider
        row = (await runners(live_hub))["default"]
        assert row.is_default and row.agent == "goose" and row.config["provider"] == "openai"
        async with client_for(live_hub, Role.operator) as op:
            run = await call(op, "template_run", name="meeting-summary", params={"transcript": TRANSCRIPT}, wait=120)
        assert run["status"] == "succeeded", run["error"]
        assert run["agent"] == "goose" and "We ship on Friday." in run["output"]
        # the real Goose asked the double, with the runner's model and the key setup put in the vault
        assert llm.turns[-1].body["model"] == "fake-model" and "ana: we ship" in str(llm.turns[-1].messages)
        assert set(llm.authorizations) == {f"Bearer {KEY}"}


async def test_migration_0011_drops_hub_settings_and_their_secrets(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        await db.migrate("0010")
        async with db.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO secrets (scope, name, description, ciphertext, key_id, created_at, created_by, "
                    "updated_at, updated_by) VALUES ('setting', 'openai.api_key', '', 'x', 'k', :t, 's', :t, 's')"
                ),
                {"t": datetime(2026, 1, 1, tzinfo=UTC)},
            )
        await db.migrate()
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
            left = (await conn.execute(sa.text("SELECT count(*) FROM secrets"))).scalar()
        assert "hub_settings" not in tables and left == 0
        await db.downgrade("0010")
        async with db.engine.connect() as conn:
            assert "hub_settings" in await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await db.dispose()
