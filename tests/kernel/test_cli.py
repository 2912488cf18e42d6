"""The `goosuke` command: migrate, users, tokens, docs — as a user types them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness import REPO
from harness.processes import GOOSUKE, hub_env
from hub.db import Database
from hub.db.models import ApiToken, AuditEvent, Team, User
from tests.teams_support import make_role

pytestmark = pytest.mark.anyio

CLI_TIMEOUT = 60


def goosuke(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOOSUKE, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        cwd=REPO,
    )


async def test_migrate_up_and_down(tmp_path: Path, database_url: str) -> None:
    env = hub_env(tmp_path, database_url)
    up = goosuke(env, "migrate")
    assert up.returncode == 0, up.stderr
    assert "database at revision" in up.stdout
    down = goosuke(env, "migrate", "--down", "base")
    assert down.returncode == 0, down.stderr
    assert "database at revision None" in down.stdout


async def test_users_and_tokens_are_managed_from_the_command_line(tmp_path: Path, database_url: str) -> None:
    env = hub_env(tmp_path, database_url)
    added = goosuke(env, "user", "add", "ada", "--role", "operator", "--password-stdin", stdin="lovelace-1843\n")
    assert added.returncode == 0, added.stderr
    again = goosuke(env, "user", "add", "ada", "--password-stdin", stdin="lovelace-1843\n")
    assert again.returncode == 2
    assert "exists already" in again.stderr
    assert "Traceback" not in again.stderr
    short = goosuke(env, "user", "passwd", "ada", "--password-stdin", stdin="short\n")
    assert short.returncode == 2
    assert "too short" in short.stderr
    listed = goosuke(env, "user", "list")
    assert "ada\toperator" in listed.stdout
    userless = goosuke(env, "token", "create", "ci", "--role", "operator")
    assert userless.returncode == 2 and "--user" in userless.stderr  # every token belongs to a user
    ghost = goosuke(env, "token", "create", "ci", "--role", "operator", "--user", "ghost")
    assert ghost.returncode == 2 and "No user named 'ghost'" in ghost.stderr, ghost.stderr
    created = goosuke(env, "token", "create", "ci", "--role", "operator", "--user", "ada")
    value = created.stdout.strip()
    assert value.startswith("gsk_")
    tokens = goosuke(env, "token", "list").stdout
    token_id = next(line.split("\t")[0] for line in tokens.splitlines() if "\tci\t" in line)
    assert value not in tokens
    assert goosuke(env, "token", "revoke", token_id).returncode == 0
    assert f"{token_id}\tci\toperator" in goosuke(env, "token", "list").stdout
    assert "revoked" in goosuke(env, "token", "list").stdout
    missing = goosuke(env, "token", "revoke", "nope")
    assert missing.returncode == 2
    assert "No API token with id 'nope'" in missing.stderr


async def test_roles_are_built_in_or_custom_and_tokens_are_scoped_like_token_create(
    tmp_path: Path, database_url: str
) -> None:
    env = hub_env(tmp_path, database_url)
    assert goosuke(env, "migrate").returncode == 0
    db = Database(database_url)
    try:
        await make_role(db, "auditor", ["hub.read", "audit.read", "templates.read"])
        for name, role in (("mia", "member"), ("ada", "operator"), ("aud", "auditor")):
            done = goosuke(env, "user", "add", name, "--role", role, "--password-stdin", stdin="correct-horse-1\n")
            assert done.returncode == 0 and f"({role})" in done.stdout, done.stderr
        for role, says in (("wizard", "Unknown role 'wizard'"), ("owner", "owner is a team role")):
            done = goosuke(env, "user", "add", "eve", "--role", role, "--password-stdin", stdin="correct-horse-1\n")
            assert done.returncode == 2 and says in done.stderr and "auditor" in done.stderr, done.stderr
        listed = goosuke(env, "user", "list").stdout
        assert "mia\tmember" in listed and "aud\tauditor" in listed and "eve" not in listed

        scoped = goosuke(
            env,
            *("token", "create", "ci", "--user", "ada", "--team", "@ada", "--permission", "templates.run"),
            *("--permission", "templates.read", "--tool", "template_*", "--tool", "whoami", "--note", "the CI job"),
        )
        assert scoped.returncode == 0, scoped.stderr
        assert scoped.stdout.strip().startswith("gsk_") and "limited to teams @ada" in scoped.stderr
        custom = goosuke(env, "token", "create", "audit", "--user", "aud", "--role", "auditor")
        assert custom.returncode == 0 and "(auditor)" in custom.stderr, custom.stderr

        refusals = [
            (("--user", "ada", "--permission", "users.manage"), "does not hold users.manage"),
            (("--user", "ada", "--permission", "no.such"), "Unknown permission(s): no.such"),
            (("--user", "ada", "--role", "viewer", "--permission", "templates.run"), "does not hold templates.run"),
            (("--user", "ada", "--role", "wizard"), "Unknown role 'wizard'"),
            (("--user", "ada", "--team", "nowhere"), "nowhere"),
            (("--user", "mia", "--team", "@ada"), "not a member of team '@ada'"),
            (("--user", "ada", "--team", "@ada", "--permission", "users.manage"), "users.manage"),
            (("--user", "ada", "--tool", "bad pattern!"), "Bad tool pattern"),
            (("--user", "ada", "--note", "x" * 1001), "--note"),
        ]
        for flags, says in refusals:
            done = goosuke(env, "token", "create", "refused", *flags)
            assert done.returncode == 2 and says in done.stderr, (flags, done.stderr)
            assert "Traceback" not in done.stderr and "gsk_" not in done.stdout

        async with db.session() as session:
            tokens = {t.name: t for t in await session.scalars(select(ApiToken))}
            personal = await session.scalar(
                select(Team.id).join(User, User.id == Team.personal_of).where(User.username == "ada")
            )
            created = await session.scalar(select(func.count()).where(AuditEvent.action == "token.create"))
        assert set(tokens) == {"ci", "audit"}  # nothing written for any refusal
        ci = tokens["ci"]
        assert (ci.role, ci.team_ids, ci.note) == ("admin", [personal], "the CI job")  # scoped by permissions alone
        assert (ci.permissions, ci.tool_patterns) == (["templates.read", "templates.run"], ["template_*", "whoami"])
        assert tokens["audit"].role == "auditor" and tokens["audit"].permissions is None and created == 2
    finally:
        await db.dispose()

    teams = goosuke(env, "team", "list")
    assert teams.returncode == 0, teams.stderr
    names = [line.split("\t")[0] for line in teams.stdout.splitlines()]
    assert {"default", "@ada", "@mia", "@aud"} <= set(names) and "@ada\t" in teams.stdout
    assert "1 member(s)" in teams.stdout


def test_bad_settings_are_reported_by_name(tmp_path: Path) -> None:
    done = goosuke(hub_env(tmp_path, GOOSUKE_PORT="not-a-port"), "migrate")
    assert done.returncode == 2
    assert "GOOSUKE_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_tool_reference_is_current(repo: Path, tmp_path: Path) -> None:
    """docs/reference/tools.md is generated by `goosuke docs`; regenerate it when this fails."""
    done = goosuke(hub_env(tmp_path), "docs", "--check", "--output", str(repo / "docs/reference/tools.md"))
    assert done.returncode == 0, done.stderr


async def test_data_dir_flag_reaches_every_subcommand(tmp_path: Path) -> None:
    env = hub_env(tmp_path / "default")
    flag = ["--data-dir", str(tmp_path / "chosen")]
    user = goosuke(env, "user", "add", "ada", "--password-stdin", *flag, stdin="lovelace-1843\n")
    assert user.returncode == 0, user.stderr
    created = goosuke(env, "token", "create", "x", "--role", "admin", "--user", "ada", "--expires-days", "3", *flag)
    assert created.returncode == 0, created.stderr
    assert "\tx\tadmin" in goosuke(env, "token", "list", *flag).stdout
    assert "ada\tviewer" in goosuke(env, "user", "list", *flag).stdout
    assert (tmp_path / "chosen" / "goosuke.db").exists()
    assert not (tmp_path / "default" / "goosuke.db").exists()
    assert oct((tmp_path / "chosen" / "goosuke.db").stat().st_mode & 0o777) == "0o600"


async def test_unexpected_failures_are_one_clear_line(tmp_path: Path) -> None:
    done = goosuke(hub_env(tmp_path), "migrate", "--revision", "no-such-revision")
    assert done.returncode == 1
    assert "goosuke: " in done.stderr and "no-such-revision" in done.stderr
    assert "Traceback" not in done.stderr
