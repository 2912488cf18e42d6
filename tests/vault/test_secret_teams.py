"""Secrets are team objects: a team lists, replaces and deletes only its own, private ones stay their
setter's, none is public, and an extension or runner gets only secrets of the team that owns it."""

from __future__ import annotations

from typing import Any

import pytest

from hub.db.models import RunnerRow
from hub.errors import NotFound
from hub.extensions.store import ExtensionStore
from hub.vault.ownership import runner_secret
from hub.vault.service import Vault
from tests.conftest import LiveHub
from tests.extension_support import call, call_error, stdio_test_server
from tests.teams_support import client, make_team, make_user

pytestmark = pytest.mark.anyio


async def setup(hub: LiveHub) -> dict[str, str]:
    db = hub.context.db
    red, blue = await make_team(db, "red"), await make_team(db, "blue")
    return {
        "alice": await make_user(db, "alice", teams={red: "admin"}),
        "bob": await make_user(db, "bob", teams={blue: "admin"}),
        "erin": await make_user(db, "erin", teams={red: "admin"}),
        "red": red,
        "blue": blue,
    }


def names(listed: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {s["name"]: (s["team"], s["visibility"]) for s in listed["secrets"]}


async def test_two_teams_share_no_secrets(live_hub: LiveHub) -> None:
    ids = await setup(live_hub)
    vault: Vault = live_hub.context.services.get(Vault)
    async with client(live_hub, ids["alice"]) as alice, client(live_hub, ids["bob"]) as bob:
        stored = await call(alice, "secret_set", {"name": "RED_TOKEN", "value": "red-value-123", "team": "red"})
        assert stored["secret"]["team"] == "red" and stored["secret"]["visibility"] == "team"
        await call(bob, "secret_set", {"name": "BLUE_TOKEN", "value": "blue-value-123", "team": "blue"})
        assert names(await call(alice, "secret_list")) == {"RED_TOKEN": ("red", "team")}
        assert names(await call(bob, "secret_list")) == {"BLUE_TOKEN": ("blue", "team")}

        assert "No secret named 'BLUE_TOKEN'" in await call_error(alice, "secret_delete", {"name": "BLUE_TOKEN"})
        # names are unique across the hub: another team's name is refused, its value untouched
        taken = await call_error(alice, "secret_set", {"name": "BLUE_TOKEN", "value": "overwrite-123", "team": "red"})
        assert "taken by a secret of another team" in taken
        assert await vault.get("BLUE_TOKEN") == "blue-value-123"
        assert names(await call(bob, "secret_list")) == {"BLUE_TOKEN": ("blue", "team")}

        # setting one's own secret again keeps its team; moving it is team_transfer's
        moved = await call_error(alice, "secret_set", {"name": "RED_TOKEN", "value": "red-value-456", "team": "@alice"})
        assert "belongs to another team" in moved and "team_transfer" in moved
        assert await vault.get("RED_TOKEN") == "red-value-123"
        await call(alice, "secret_set", {"name": "RED_TOKEN", "value": "red-value-789"})
        assert await vault.get("RED_TOKEN") == "red-value-789"

    async with client(live_hub, live_hub.admin_token) as admin:  # the platform admin sees every team's
        assert set(names(await call(admin, "secret_list"))) == {"RED_TOKEN", "BLUE_TOKEN"}
        assert (await call(admin, "secret_reveal", {"name": "BLUE_TOKEN"}))["value"] == "blue-value-123"


async def test_private_secrets_and_bad_input(live_hub: LiveHub) -> None:
    ids = await setup(live_hub)
    vault: Vault = live_hub.context.services.get(Vault)
    async with client(live_hub, ids["alice"]) as alice, client(live_hub, ids["erin"]) as erin:
        args = {"name": "ALICE_KEY", "value": "alice-private-1", "team": "red", "visibility": "private"}
        assert (await call(alice, "secret_set", args))["secret"]["visibility"] == "private"
        assert "ALICE_KEY" not in names(await call(erin, "secret_list"))  # a team-mate does not see it
        assert "No secret named" in await call_error(erin, "secret_delete", {"name": "ALICE_KEY"})

        public = await call_error(alice, "secret_set", {**args, "name": "OPEN", "visibility": "public"})
        assert "cannot be public" in public
        assert "Unknown visibility" in await call_error(alice, "secret_set", {**args, "name": "ODD", "visibility": "x"})
        assert "No team named 'nope'" in await call_error(alice, "secret_set", {**args, "name": "LOST", "team": "nope"})
        assert "No team named 'blue'" in await call_error(alice, "secret_set", {**args, "name": "LOST", "team": "blue"})
        for name in ("OPEN", "ODD", "LOST"):
            assert not await vault.exists(name)


async def test_an_extension_or_runner_gets_only_its_own_teams_secrets(live_hub: LiveHub) -> None:
    ids = await setup(live_hub)
    app = live_hub.context
    store: ExtensionStore = app.services.get(ExtensionStore)
    vault: Vault = app.services.get(Vault)
    async with client(live_hub, ids["alice"]) as alice, client(live_hub, ids["bob"]) as bob:
        await call(alice, "secret_set", {"name": "RED_TOKEN", "value": "red-value-123", "team": "red"})
        await call(bob, "secret_set", {"name": "BLUE_TOKEN", "value": "blue-value-123", "team": "blue"})
        entry = stdio_test_server("red srv", env_keys=["RED_TOKEN", "BLUE_TOKEN"])
        added = await call(alice, "extension_add", {"extension": entry, "team": "red"})
        error = added["start_error"]
        assert "BLUE_TOKEN" in error and "team 'red'" in error and "RED_TOKEN" not in error
        assert "blue-value-123" not in error
        report = await call(alice, "extension_check", {"name": "redsrv"})
        assert not report["ok"] and "BLUE_TOKEN" in report["error"]
        with pytest.raises(NotFound, match="BLUE_TOKEN are not usable by team 'red'"):
            await store.launch_spec("redsrv")

        await call(alice, "extension_update", {"name": "redsrv", "changes": {"env_keys": ["RED_TOKEN"]}})
        _, env = await store.launch_spec("redsrv")
        assert env == {"RED_TOKEN": "red-value-123"}
        # the value reaches the process; the hub masks it in what comes back
        assert await call(alice, "redsrv__env", {"name": "RED_TOKEN"}) == "[secret RED_TOKEN]"
        assert await call(alice, "redsrv__env", {"name": "BLUE_TOKEN"}) == "<unset>"

        # a private secret reaches only its setter's extensions
        await call(
            alice, "secret_set", {"name": "MINE", "value": "mine-value-1", "team": "red", "visibility": "private"}
        )
        assert (await vault.resolve(["MINE"], team=ids["red"], creator="alice")) == {"MINE": "mine-value-1"}
        with pytest.raises(NotFound, match="MINE are not usable"):
            await vault.resolve(["MINE"], team=ids["red"], creator="erin")

    # a runner's api_key_secret: only a secret of the runner's team
    async with app.db.session() as session:
        session.add(RunnerRow(name="red-runner", agent="openai", team_id=ids["red"], created_by="alice"))
    assert await runner_secret(app, vault, "red-runner", "RED_TOKEN") == "red-value-123"
    with pytest.raises(NotFound, match="BLUE_TOKEN are not usable by team 'red', which owns this runner"):
        await runner_secret(app, vault, "red-runner", "BLUE_TOKEN")
