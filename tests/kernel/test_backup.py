"""`goosuke backup` and `goosuke restore`: every file of the data folder (the vault key above all), the
SQLite database copied online while the hub runs, secrets 0600, no restore under a running hub."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from hub.backup import sqlite_path
from hub.cli import main
from hub.settings import Settings
from tests.extension_support import call, local_hub

pytestmark = pytest.mark.anyio

VALUE = "the-value-that-must-survive-a-restore"


def _own_folder(settings: Settings) -> Settings:
    """The settings with SQLite inside the data folder (the default), PostgreSQL kept as it is."""
    if settings.database_kind == "sqlite":
        return settings.model_copy(update={"database_url": None})
    return settings


def _args(settings: Settings) -> list[str]:
    args = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    return args


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


async def test_a_backup_taken_while_the_hub_runs_restores_a_working_vault(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _own_folder(settings)
    dest = tmp_path / "backup"
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "secret_set", {"name": "API_TOKEN", "value": VALUE})
        (settings.data_dir / "admin.token").write_text("a-token\n")  # what a first start over HTTP leaves
        code, out, notes = _cli(capsys, "backup", str(dest), *_args(settings))  # while the hub runs
        assert code == 0, notes
        # a running hub's folder is not restored over, even with --force
        code, _, err = _cli(capsys, "restore", str(dest), "--force", *_args(settings))
        assert code == 2 and "A hub is running" in err
    manifest = json.loads((dest / "manifest.json").read_text())
    listed = {entry["path"] for entry in manifest["files"]}
    assert {"vault.key", "admin.token"} <= listed
    assert "goosuke.lock" not in listed
    for path in [dest / "manifest.json", *(dest / p for p in listed)]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    if settings.database_kind == "sqlite":
        assert manifest["database_file"] == "goosuke.db" and "SQLite database" in out
        assert stat.S_IMODE((dest / "goosuke.db").stat().st_mode) == 0o600
    else:
        assert manifest["database_file"] is None and "pg_dump" in notes

    shutil.rmtree(settings.data_dir)  # the disaster: the data folder is gone
    code, out, err = _cli(capsys, "restore", str(dest), *_args(settings))
    assert code == 0, err
    assert stat.S_IMODE((settings.data_dir / "vault.key").stat().st_mode) == 0o600
    if settings.database_kind == "sqlite":
        database = sqlite_path(settings)
        assert database is not None and database.exists()
    else:
        assert "pg_restore" in err
    async with local_hub(settings) as (_, mcp):
        assert (await call(mcp, "secret_reveal", {"name": "API_TOKEN"}))["value"] == VALUE
        assert (await call(mcp, "hub_info"))["ready"] is True


async def test_restore_refuses_a_folder_that_is_not_empty_without_force(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _own_folder(settings)
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "secret_set", {"name": "API_TOKEN", "value": VALUE})
    dest = tmp_path / "backup"
    assert _cli(capsys, "backup", str(dest), *_args(settings))[0] == 0
    code, _, err = _cli(capsys, "backup", str(dest), *_args(settings))
    assert code == 2 and "not empty" in err  # a backup is not overwritten by accident either
    key = (settings.data_dir / "vault.key").read_text()
    (settings.data_dir / "vault.key").write_text("something else\n")
    code, _, err = _cli(capsys, "restore", str(dest), *_args(settings))
    assert code == 2 and "not empty" in err and "--force" in err
    assert (settings.data_dir / "vault.key").read_text() == "something else\n"  # nothing was touched
    code, _, err = _cli(capsys, "restore", str(dest), "--force", *_args(settings))
    assert code == 0, err
    assert (settings.data_dir / "vault.key").read_text() == key
    async with local_hub(settings) as (_, mcp):
        assert (await call(mcp, "secret_reveal", {"name": "API_TOKEN"}))["value"] == VALUE
    (dest / "vault.key").write_text("tampered\n")
    code, _, err = _cli(capsys, "restore", str(dest), "--force", *_args(settings))
    assert code == 2 and "changed since the backup" in err
    code, _, err = _cli(capsys, "restore", str(tmp_path), *_args(settings))
    assert code == 2 and "not a Goosuke backup" in err
