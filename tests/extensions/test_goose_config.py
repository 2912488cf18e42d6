"""Two-way sync with Goose's config.yaml: round-trip edits that keep comments and foreign keys, atomic
writes with a backup, three-way conflict detection, secrets kept out of config.yaml, the watcher, and
the real Goose binary reading what the hub wrote and the hub reading what Goose wrote."""

from __future__ import annotations

import os
import pty
import re
import select
import stat
import time
from pathlib import Path

import anyio
import pytest
import yaml
from sqlalchemy import select as sql_select

from harness.tools import tool_path
from hub.db.models import AuditEvent
from hub.settings import Settings
from tests.extension_support import call, call_error, local_hub, stdio_test_server, wait_for

pytestmark = pytest.mark.anyio

GOOSE_WRITTEN = """\
# my team's goose config: keep this comment
GOOSE_PROVIDER: openai   # inline comment too
GOOSE_MODEL: gpt-4o
extensions:
  # the developer extension comes with goose
  developer:
    enabled: true
    type: builtin
    name: developer
    display_name: Developer
    timeout: 300
    bundled: true
  github:
    enabled: true
    type: stdio
    name: github
    description: GitHub tools
    cmd: npx
    args:
    - -y
    - '@modelcontextprotocol/server-github'
    envs: {}
    env_keys:
    - GITHUB_PERSONAL_ACCESS_TOKEN
    timeout: 300
    cwd: null
    bundled: null
    x-team-note: keep me   # a key the hub does not know
  broken:
    enabled: true
    type: stdio
    name: Broken
    description: missing cmd
    args: []
providers:
  openai: {enabled: true, model: gpt-4o, configured: true}
"""


@pytest.fixture
def goose_home(tmp_path: Path, settings: Settings) -> Path:
    home = tmp_path / "home"
    settings.goose_config_path = home / ".config" / "goose" / "config.yaml"
    settings.goose_config_path.parent.mkdir(parents=True)
    return home


def goose_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GOOSE_DISABLE_KEYRING": "1",
        "GOOSE_TELEMETRY_ENABLED": "false",
        "TERM": "xterm",
    }


async def goose_info(home: Path) -> str:
    goose = str(tool_path("GOOSUKE_GOOSE_BIN"))
    done = await anyio.run_process([goose, "info", "-v"], env=goose_env(home), check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


async def test_pull_then_push_keeps_comments_foreign_keys_and_malformed_entries(
    settings: Settings, goose_home: Path
) -> None:
    path = settings.goose_config_path
    path.write_text(GOOSE_WRITTEN)
    async with local_hub(settings) as (_, mcp):
        dry = await call(mcp, "goose_config_sync", {"mode": "pull", "dry_run": True})
        assert dry["pulled"] == ["github"] and dry["written"] is False
        assert await call(mcp, "extension_list") == {"extensions": []}
        pulled = await call(mcp, "goose_config_sync", {"mode": "pull"})
        assert pulled["pulled"] == ["github"]
        skipped = {s["key"]: s["reason"] for s in pulled["skipped"]}
        assert "cmd: Field required" in skipped["broken"] and "bundled" in skipped["developer"]
        github = await call(mcp, "extension_get", {"name": "github"})
        assert github["source"] == "goose" and github["config"]["env_keys"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]
        assert path.read_text() == GOOSE_WRITTEN  # a pull never writes the file
        # change the hub side, then push
        await call(mcp, "extension_update", {"name": "github", "changes": {"timeout": 120}})
        await call(mcp, "extension_add", {"extension": stdio_test_server("Team Tool"), "start": False})
        dry = await call(mcp, "goose_config_sync", {"mode": "push", "dry_run": True})
        assert (
            "-    timeout: 300" in dry["diff"] and "+    timeout: 120" in dry["diff"] and "+  teamtool:" in dry["diff"]
        )
        assert path.read_text() == GOOSE_WRITTEN
        pushed = await call(mcp, "goose_config_sync", {"mode": "push"})
        assert sorted(pushed["pushed"]) == ["github", "teamtool"] and pushed["written"] is True
        assert Path(pushed["backup"]).read_text() == GOOSE_WRITTEN
        again = await call(mcp, "goose_config_sync", {"mode": "both"})
        assert again["pushed"] == again["pulled"] == [] and again["conflicts"] == [] and not again["written"]
    text = path.read_text()
    for kept in ("# my team's goose config: keep this comment", "GOOSE_PROVIDER: openai   # inline comment too",
                 "# the developer extension comes with goose", "x-team-note: keep me   # a key the hub does not know",
                 "description: missing cmd", "providers:"):  # fmt: skip
        assert kept in text, kept
    data = yaml.safe_load(text)
    assert data["extensions"]["github"]["timeout"] == 120
    assert data["extensions"]["teamtool"]["cmd"] and data["extensions"]["teamtool"]["enabled"] is True
    assert list(data["extensions"]) == ["developer", "github", "broken", "teamtool"]  # order kept, new at the end


async def test_conflicts_are_reported_with_both_versions_and_resolved_by_the_rule(
    settings: Settings, goose_home: Path
) -> None:
    path = settings.goose_config_path
    async with local_hub(settings) as (app, mcp):
        await call(mcp, "extension_add", {"extension": stdio_test_server("shared"), "start": False})
        await call(mcp, "goose_config_sync", {"mode": "push"})
        await call(mcp, "extension_update", {"name": "shared", "changes": {"timeout": 11}})  # hub side changes
        path.write_text(path.read_text().replace("timeout: 10", "timeout: 22"))  # Goose side changes
        report = await call(mcp, "goose_config_sync", {"mode": "both", "dry_run": True})
        (conflict,) = report["conflicts"]
        assert conflict["hub"]["timeout"] == 11 and conflict["goose"]["timeout"] == 22 and conflict["kept"] == "hub"
        pushed = await call(mcp, "goose_config_sync", {"mode": "both"})
        assert pushed["conflicts"][0]["kept"] == "hub" and "timeout: 11" in path.read_text()
        assert "timeout: 22" in Path(pushed["backup"]).read_text()  # the losing side is kept
        # both change again; this time Goose's version wins and the hub's goes to the audit log
        await call(mcp, "extension_update", {"name": "shared", "changes": {"timeout": 33}})
        path.write_text(path.read_text().replace("timeout: 11", "timeout: 44"))
        pulled = await call(mcp, "goose_config_sync", {"mode": "both", "prefer": "goose"})
        assert pulled["conflicts"][0]["kept"] == "goose" and pulled["pulled"] == ["shared"]
        assert (await call(mcp, "extension_get", {"name": "shared"}))["config"]["timeout"] == 44
        async with app.db.session() as session:
            events = [e for e in await session.scalars(sql_select(AuditEvent)) if e.action == "goose.sync"]
        assert events[-1].detail["lost_hub_versions"][0]["hub"]["timeout"] == 33


async def test_deletions_travel_both_ways_only_for_entries_synced_before(settings: Settings, goose_home: Path) -> None:
    path = settings.goose_config_path
    async with local_hub(settings) as (_, mcp):
        for name in ("one", "two"):
            await call(mcp, "extension_add", {"extension": stdio_test_server(name), "start": False})
        await call(mcp, "goose_config_sync", {"mode": "push"})
        await call(mcp, "extension_remove", {"name": "one"})
        data = yaml.safe_load(path.read_text())
        del data["extensions"]["two"]
        data["extensions"]["hand_added"] = {"enabled": False, "type": "streamable_http", "name": "hand_added",
                                            "uri": "http://127.0.0.1:9/mcp"}  # fmt: skip
        path.write_text(yaml.safe_dump(data))
        report = await call(mcp, "goose_config_sync", {"mode": "both"})
        assert report["removed_from_goose"] == ["one"] and report["removed_from_hub"] == ["two"]
        assert report["pulled"] == ["hand_added"]
        assert [e["key"] for e in (await call(mcp, "extension_list"))["extensions"]] == ["hand_added"]
        assert list(yaml.safe_load(path.read_text())["extensions"]) == ["hand_added"]


async def test_a_corrupt_or_hand_broken_file_gives_a_clear_error_and_nothing_is_written(
    settings: Settings, goose_home: Path
) -> None:
    path = settings.goose_config_path
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "extension_add", {"extension": stdio_test_server("keep"), "start": False})
        path.write_text("extensions:\n  a: [unclosed\n  token: ghp_should_not_be_echoed\n")
        error = await call_error(mcp, "goose_config_sync", {"mode": "push"})
        assert "is not valid YAML at line" in error and "nothing was written" in error
        assert "ghp_should_not_be_echoed" not in error
        assert path.read_text().startswith("extensions:\n  a: [unclosed")
        path.write_text("extensions: [1, 2]\n")
        assert "must be a mapping" in await call_error(mcp, "goose_config_sync", {"mode": "both"})
        path.write_text("- just\n- a list\n")
        assert "YAML mapping at the top" in await call_error(mcp, "goose_config_sync", {})
        assert not list(path.parent.glob("*.bak")) and not list(path.parent.glob(".*.tmp"))


async def test_secret_values_go_to_secrets_yaml_only_on_request(settings: Settings, goose_home: Path) -> None:
    path = settings.goose_config_path
    value = "ghp_secret-value-not-for-config"
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "secret_set", {"name": "GH_TOKEN", "value": value})
        await call(mcp, "extension_add", {"extension": stdio_test_server("gh", env_keys=["GH_TOKEN"]), "start": False})
        report = await call(mcp, "goose_config_sync", {"mode": "push"})
        assert value not in path.read_text() and "GH_TOKEN" in path.read_text()
        assert report["secrets"] == [] and not path.with_name("secrets.yaml").exists()
        exported = await call(mcp, "goose_config_sync", {"mode": "push", "secrets": "export"})
        assert exported["secrets"] == ["GH_TOKEN"] and value not in str(exported)
        secrets_file = path.with_name("secrets.yaml")
        assert yaml.safe_load(secrets_file.read_text()) == {"GH_TOKEN": value}
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        # import: a secret Goose holds that the vault lacks
        secrets_file.write_text(f"GH_TOKEN: {value}\nOTHER_TOKEN: other-goose-value\n")
        path.write_text(path.read_text().replace("- GH_TOKEN", "- GH_TOKEN\n    - OTHER_TOKEN"))
        imported = await call(mcp, "goose_config_sync", {"mode": "pull", "secrets": "import"})
        assert imported["secrets"] == ["OTHER_TOKEN"]
        assert (await call(mcp, "secret_reveal", {"name": "OTHER_TOKEN"}))["value"] == "other-goose-value"


async def test_the_watcher_pulls_when_goose_changes_the_file(settings: Settings, goose_home: Path) -> None:
    settings.goose_config_watch = True
    settings.goose_config_watch_interval = 0.05
    path = settings.goose_config_path
    async with local_hub(settings) as (_, mcp):
        entry = {"enabled": True, "type": "stdio", "name": "watched", "cmd": "true", "args": []}
        path.write_text(yaml.safe_dump({"extensions": {"watched": entry}}))

        async def pulled() -> bool:
            return bool((await call(mcp, "extension_list"))["extensions"])

        await wait_for(pulled, timeout=10)
        assert (await call(mcp, "extension_get", {"name": "watched"}))["source"] == "goose"


async def test_goose_reads_a_config_the_hub_pushed_and_a_rendered_fragment(
    settings: Settings, goose_home: Path, tmp_path: Path
) -> None:
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "extension_add", {"extension": stdio_test_server("Team Tool", env_keys=["TEAM_TOKEN"]),
                                          "start": False})  # fmt: skip
        await call(mcp, "extension_add", {"extension": {"type": "streamable_http", "name": "remote api",
                   "uri": "http://127.0.0.1:9/mcp", "env_keys": ["API_TOKEN"],
                   "headers": {"Authorization": "Bearer ${API_TOKEN}"}, "timeout": 60}, "start": False})  # fmt: skip
        await call(mcp, "goose_config_sync", {"mode": "push"})
        rendered = await call(mcp, "goose_config_render", {})
    info = await goose_info(goose_home)
    assert "teamtool:" in info and "remoteapi:" in info and "name: Team Tool" in info
    assert "Bearer ${API_TOKEN}" in info
    fresh = tmp_path / "fresh-home"
    (fresh / ".config" / "goose").mkdir(parents=True)
    (fresh / ".config" / "goose" / "config.yaml").write_text(rendered["yaml"])
    info = await goose_info(fresh)
    assert "teamtool:" in info and "goosuke:" in info and f"uri: {settings.base_url}/mcp" in info
    assert rendered["secrets_needed"] == ["API_TOKEN", "GOOSUKE_TOKEN", "TEAM_TOKEN"]


def goose_configure_add_extension(home: Path, name: str, command: str, env: tuple[str, str]) -> str:
    """Drive `goose configure` in a pseudo-terminal: Add Extension > Command-line Extension. Every wait
    is bounded by a deadline; returns the screen text."""
    goose = str(tool_path("GOOSUKE_GOOSE_BIN"))
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs goose
        os.execve(goose, [goose, "configure"], goose_env(home))
    screen = ""

    def expect(text: str, timeout: float = 30.0) -> None:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while text not in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen):
            left = deadline - time.monotonic()
            assert left > 0, f"goose configure never showed {text!r}; screen ends: {screen[-500:]!r}"
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                try:
                    screen += os.read(fd, 65536).decode(errors="replace")
                except OSError:
                    break

    def send(keys: str) -> None:
        os.write(fd, keys.encode())

    try:
        expect("What would you like to configure?")
        send("\x1b[B\x1b[B")
        expect("> Add Extension")
        send("\r")
        expect("What type of extension would you like to add?")
        send("\x1b[B")
        expect("> Command-line Extension")
        send("\r")
        expect("What would you like to call this extension?")
        send(name + "\r")
        expect("What command should be run?")
        send(command + "\r")
        expect("Please set the timeout for this tool")
        send("120\r")
        expect("Enter a description for this extension")
        send("Added by goose configure\r")
        expect("Would you like to add environment variables?")
        send("\x1b[D\r")  # Yes
        expect("Environment variable name")
        send(env[0] + "\r")
        expect("Environment variable value")
        send(env[1] + "\r")
        expect("Add another environment variable?")
        send("\r")  # No
        expect("Configuration saved successfully")
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return screen


async def test_the_hub_pulls_a_config_that_goose_itself_wrote(settings: Settings, goose_home: Path) -> None:
    path = settings.goose_config_path
    path.write_text("# written before goose configure\nGOOSE_PROVIDER: openai\nGOOSE_MODEL: gpt-4o\n")
    server = f"{os.sys.executable} -m tests.servers.stdio_server"  # type: ignore[attr-defined]
    await anyio.to_thread.run_sync(
        goose_configure_add_extension, goose_home, "Goose Made", server, ("GOOSE_MADE_TOKEN", "made-by-goose-1")
    )
    written = yaml.safe_load(path.read_text())["extensions"]["goosemade"]
    assert written["env_keys"] == ["GOOSE_MADE_TOKEN"] and written["timeout"] == 120
    async with local_hub(settings) as (_, mcp):
        report = await call(mcp, "goose_config_sync", {"mode": "pull", "secrets": "import"})
        assert report["pulled"] == ["goosemade"] and report["secrets"] == ["GOOSE_MADE_TOKEN"]
        extension = await call(mcp, "extension_get", {"name": "Goose Made"})
        assert extension["config"]["cmd"] == os.sys.executable  # type: ignore[attr-defined]
        assert extension["config"]["args"] == ["-m", "tests.servers.stdio_server"]
        await call(mcp, "extension_update", {"name": "goosemade", "changes": {"cwd": str(Path.cwd())}})
        assert await call(mcp, "goosemade__env", {"name": "GOOSE_MADE_TOKEN"}) == "[secret GOOSE_MADE_TOKEN]"
        await call(mcp, "goose_config_sync", {"mode": "push"})
    info = await goose_info(goose_home)
    assert "goosemade:" in info and f"cwd: {Path.cwd()}" in info
