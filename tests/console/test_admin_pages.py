"""The console's admin pages over HTTP in process: 403 for a viewer, form errors, values shown once."""

from __future__ import annotations

import re

import httpx2
import pytest

from hub.principal import Role
from tests.conftest import LiveHub
from tests.console.support import add_user, csrf_of, set_password, sign_in

pytestmark = pytest.mark.anyio

ADMIN_PAGES = ("/ui/admin", "/ui/admin/roles", "/ui/admin/tokens", "/ui/admin/audit")


async def _admin(live_hub: LiveHub, http: httpx2.AsyncClient) -> str:
    await set_password(live_hub.context.db, "admin")
    return await sign_in(http, "admin")


async def test_a_viewer_sees_no_admin_link_and_gets_403_for_every_admin_page_and_form(live_hub: LiveHub) -> None:
    await add_user(live_hub.context.db, "vic", Role.viewer)
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "vic")
        assert 'href="/ui/admin"' not in dashboard and 'class="admin"' not in dashboard
        for path in ADMIN_PAGES:
            page = await http.get(path)
            assert page.status_code == 403, path
            assert "You may not open this page" in page.text and "<table" not in page.text, path
        csrf = csrf_of(dashboard)
        token = await http.post("/ui/admin/tokens", data={"csrf": csrf, "name": "sneaky", "username": "vic"})
        secret = await http.post("/ui/admin/secrets", data={"csrf": csrf, "name": "SNEAKY", "value": "x"})
        rotate = await http.post("/ui/admin/secrets/rotate", data={"csrf": csrf})
        teams = await http.get("/ui/admin/teams")  # team_list is a viewer's tool over MCP too
    assert token.status_code == 403 and "users.manage" in token.text
    assert secret.status_code == 403 and rotate.status_code == 403
    assert teams.status_code == 200 and "default" in teams.text
    async with live_hub.http(live_hub.admin_token) as api:
        tokens = (await api.post("/api/tools/token_list", json={})).json()["tokens"]
        secrets = (await api.post("/api/tools/secret_list", json={})).json()["secrets"]
    assert "sneaky" not in {t["name"] for t in tokens} and secrets == []


async def test_a_new_token_s_value_is_shown_once_and_revoke_ends_it(live_hub: LiveHub) -> None:
    await add_user(live_hub.context.db, "ci-bot", Role.operator)
    async with live_hub.http() as http:
        dashboard = await _admin(live_hub, http)
        assert 'href="/ui/admin"' in dashboard
        made = await http.post(
            "/ui/admin/tokens",
            data={"csrf": csrf_of(dashboard), "name": "ci", "username": "ci-bot", "role": "viewer", "note": "for CI"},
        )
        assert made.status_code == 200, made.text
        found = re.search(r'<pre id="new-token">(gsk_[^<]+)</pre>', made.text)
        assert found, made.text
        value = found.group(1)
        again = await http.get("/ui/admin/tokens")
        assert value not in again.text and 'id="new-token"' not in again.text
        assert "ci-bot" in again.text and value[:8] in again.text  # listed by owner and prefix, never by value
        async with live_hub.http(value) as as_token:
            assert (await as_token.post("/api/tools/execution_list", json={})).status_code == 200
        token_id = re.search(r'data-token="([^"]+)"[^<]*<td>ci<', again.text.replace("\n", ""))
        assert token_id, again.text
        revoked = await http.post(f"/ui/admin/tokens/{token_id.group(1)}/revoke", data={"csrf": csrf_of(again.text)})
        assert revoked.status_code == 303 and revoked.headers["location"] == "/ui/admin/tokens"
        async with live_hub.http(value) as as_token:
            assert (await as_token.post("/api/tools/execution_list", json={})).status_code == 401


async def test_a_token_form_error_is_shown_by_its_field_and_keeps_the_input(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        dashboard = await _admin(live_hub, http)
        data = {"csrf": csrf_of(dashboard), "name": "ci", "username": "nobody", "role": "viewer", "note": "kept"}
        unknown = await http.post("/ui/admin/tokens", data=data)
        assert unknown.status_code == 422
        assert 'id="err-username"' in unknown.text and "nobody" in unknown.text
        assert 'value="ci"' in unknown.text and 'value="kept"' in unknown.text
        days = await http.post(
            "/ui/admin/tokens",
            data={**data, "csrf": csrf_of(unknown.text), "username": "admin", "expires_in_days": "x"},
        )
    assert days.status_code == 422 and 'id="err-expires_in_days"' in days.text
    assert 'value="x"' in days.text and 'id="new-token"' not in days.text


async def test_secrets_show_names_only_and_a_form_error_never_echoes_the_value(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        dashboard = await _admin(live_hub, http)
        bad = await http.post(
            "/ui/admin/secrets",
            data={"csrf": csrf_of(dashboard), "name": "not a name", "value": "hunter2-value", "description": "d1"},
        )
        assert bad.status_code == 422 and 'id="err-name"' in bad.text
        assert 'value="not a name"' in bad.text and 'value="d1"' in bad.text and "hunter2-value" not in bad.text
        good = await http.post(
            "/ui/admin/secrets",
            data={"csrf": csrf_of(bad.text), "name": "GITHUB_TOKEN", "value": "hunter2-value", "description": "gh"},
        )
        assert good.status_code == 200 and "Saved the secret GITHUB_TOKEN" in good.text
        assert "hunter2-value" not in good.text and "<code>GITHUB_TOKEN</code>" in good.text
        rotated = await http.post("/ui/admin/secrets/rotate", data={"csrf": csrf_of(good.text)})
    assert rotated.status_code == 200 and 'id="rotated"' in rotated.text and "1 values re-encrypted" in rotated.text
    async with live_hub.http(live_hub.admin_token) as api:
        revealed = await api.post("/api/tools/secret_reveal", json={"name": "GITHUB_TOKEN"})
    assert revealed.json()["value"] == "hunter2-value"  # still readable under the new key


async def test_the_audit_log_filters_and_shows_a_wrong_filter_by_its_field(live_hub: LiveHub) -> None:
    await add_user(live_hub.context.db, "vic", Role.viewer)
    async with live_hub.http() as viewer:
        await sign_in(viewer, "vic")
        assert (await viewer.get("/ui/admin/tokens")).status_code == 403  # a denial row
    async with live_hub.http() as http:
        await _admin(live_hub, http)
        denied = await http.get("/ui/admin/audit", params={"outcome": "denied", "actor": "vic"})
        assert denied.status_code == 200
        assert "token_list" in denied.text and '<option value="denied" selected>' in denied.text
        wrong = await http.get("/ui/admin/audit", params={"since": "last tuesday", "actor": "vic"})
    assert wrong.status_code == 422 and 'id="err-since"' in wrong.text
    assert 'value="last tuesday"' in wrong.text and 'value="vic"' in wrong.text


async def test_teams_roles_and_runners_are_listed(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        await _admin(live_hub, http)
        index = await http.get("/ui/admin")
        teams = await http.get("/ui/admin/teams")
        team = await http.get("/ui/admin/teams/default")
        roles = await http.get("/ui/admin/roles")
        runners = await http.get("/ui/admin/runners")
        missing = await http.get("/ui/admin/teams/no-such-team")
    for path in ("/ui/admin/teams", "/ui/admin/roles", "/ui/admin/tokens", "/ui/admin/secrets", "/ui/admin/audit"):
        assert f'href="{path}"' in index.text
    assert 'href="/ui/admin/teams/default"' in teams.text
    assert team.status_code == 200 and 'id="members"' in team.text and "admin" in team.text
    assert "users.manage" in roles.text and "<td>operator</td>" in roles.text
    assert "<td>goose</td>" in runners.text and "<td>openai</td>" in runners.text
    assert missing.status_code == 404
