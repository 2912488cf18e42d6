"""Every secret name the hub suggests in an error is one `secret_set` accepts, and a setting that names a vault
secret (GOOSUKE_DISCORD_TOKEN_SECRET) is checked against the vault's name rule when the settings load (issue 12,
finding 6: "an error that advises a secret name `secret_set` refuses")."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness import REPO
from harness.processes import GOOSUKE, hub_env
from hub.errors import GoosukeError
from hub.settings import Settings
from hub.teams.policy import DEFAULT_TEAM_ID
from hub.vault.service import SECRET_NAME, Vault
from tests.conftest import LiveHub
from tests.teams_support import make_team

pytestmark = pytest.mark.anyio

SUGGESTION = re.compile(r"secret_set \(name='([^']*)'\)")
# names a setting, an extension's env_keys or a runner may carry to the vault; some no secret can have
NAMES = [
    "GITHUB_TOKEN",
    "discord.bot_token",
    "my-api-key",
    "9LIVES",
    "x" * 200,
    "clé_secrète",
    "has space",
    "",
]


async def _message(lookup: object) -> str:
    try:
        await lookup  # type: ignore[misc]
    except GoosukeError as exc:
        return exc.message
    raise AssertionError("the lookup found a secret")


async def test_every_name_the_hub_suggests_in_an_error_is_one_secret_set_accepts(live_hub: LiveHub) -> None:
    vault = live_hub.context.services.get(Vault)
    red = await make_team(live_hub.context.db, "red")
    await vault.put("RED_ONLY_KEY", "a-red-team-value", actor="test", team_id=red, visibility="team")
    messages = []
    for name in NAMES:
        messages.append(await _message(vault.get(name)))  # a Discord token secret, an OIDC client secret...
        messages.append(await _message(vault.get(name, team=DEFAULT_TEAM_ID)))  # a runner's api_key_secret
    messages.append(await _message(vault.resolve(NAMES)))  # an extension's env_keys
    foreign = await _message(vault.resolve(["RED_ONLY_KEY", "MISSING_TOO"], team=DEFAULT_TEAM_ID))
    messages.append(foreign)
    suggested: set[str] = set()
    for message in messages:
        names = SUGGESTION.findall(message)
        # every mention of secret_set carries a name, and that name is valid
        assert names and message.count("secret_set") == len(names), message
        suggested.update(names)
    assert {"GITHUB_TOKEN", "DISCORD_BOT_TOKEN", "MY_API_KEY", "SECRET_9LIVES", "MISSING_TOO"} <= suggested
    assert "discord.bot_token" not in suggested and "" not in suggested
    # another team's name is not one to set again here: it is moved, or another name is used
    assert "RED_ONLY_KEY" not in suggested and "team_transfer" in foreign
    async with live_hub.http(live_hub.admin_token) as http:
        for name in sorted(suggested):
            stored = await http.post("/api/tools/secret_set", json={"name": name, "value": "a-value-to-store"})
            assert stored.status_code == 200, (name, stored.text)
    # a secret the hub keeps itself (a webhook's signing secret) is never pointed at secret_set
    webhook = await _message(vault.get("0123456789abcdef", scope="webhook"))
    assert "secret_set" not in webhook and "webhook_rotate_secret" in webhook


def test_the_discord_token_secret_setting_is_checked_when_the_settings_load() -> None:
    assert Settings(discord_token_secret="DISCORD_BOT_TOKEN").discord_token_secret == "DISCORD_BOT_TOKEN"
    assert Settings(discord_token_secret="").discord_token_secret is None  # empty: unset
    for bad in ("discord.bot_token", "9TOKEN", "x" * 129, "has space"):
        assert not SECRET_NAME.match(bad)
        with pytest.raises(ValidationError) as caught:
            Settings(discord_token_secret=bad)
        text = str(caught.value)
        assert "letters, digits and _" in text and "secret_set" in text, text
    with pytest.raises(ValidationError, match=r"secret_set \(name='DISCORD_BOT_TOKEN'\)"):
        Settings(discord_token_secret="discord.bot_token")
    with pytest.raises(ValidationError, match="not a vault secret name"):  # the OIDC client secret's name too
        Settings(oidc_client_secret_name="oidc-client")


def test_a_bad_discord_token_secret_stops_the_hub_with_the_fix(tmp_path: Path) -> None:
    env = hub_env(tmp_path / "data", GOOSUKE_DISCORD_TOKEN_SECRET="discord.bot_token")
    done = subprocess.run(
        [*GOOSUKE, "serve", "--port", "0"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "GOOSUKE_DISCORD_TOKEN_SECRET" in done.stderr and "'DISCORD_BOT_TOKEN'" in done.stderr
    assert "Traceback" not in done.stderr
