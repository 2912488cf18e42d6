"""The console's trigger pages over HTTP in process: the webhook form, its secret shown once, rotation, schedules."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from hub.app import create_app
from hub.principal import Role
from hub.settings import Settings
from hub.templates.definition import Parameter
from hub.triggers.webhooks import sign_github
from tests.conftest import LiveHub, serve
from tests.console.support import add_user, csrf_of, set_password, sign_in
from tests.console.test_sessions import cookie_of, secure_sign_in
from tests.engine_support import add_template

pytestmark = pytest.mark.anyio


async def _template(live_hub: LiveHub) -> None:
    await add_template(
        live_hub.context, "triage", argv=["true"], prompt="{{ title }}", parameters=[Parameter(key="title")]
    )
    await set_password(live_hub.context.db, "admin")


async def _setup(live_hub: LiveHub, http: httpx2.AsyncClient) -> str:
    await _template(live_hub)
    return await sign_in(http, "admin")


def _secret(html: str) -> str:
    found = re.search(r'<pre id="secret">([^<]+)</pre>', html)
    assert found, html
    return found.group(1)


async def _deliver(http: httpx2.AsyncClient, secret: str, delivery: str) -> httpx2.Response:
    body = json.dumps({"issue": {"title": "Login fails"}}).encode()
    headers = {"X-Hub-Signature-256": sign_github(secret, body), "X-GitHub-Delivery": delivery}
    return await http.post("/hooks/gh", content=body, headers={**headers, "Content-Type": "application/json"})


async def test_the_webhook_form_shows_errors_by_their_field_and_keeps_the_input(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        dashboard = await _setup(live_hub, http)
        form = {"csrf": csrf_of(dashboard), "name": "gh", "template": "triage", "auth": "hmac"}
        bad_line = await http.post("/ui/triggers", data={**form, "mapping": "title /issue/title"})
        assert bad_line.status_code == 422 and 'id="err-mapping"' in bad_line.text and "Line 1" in bad_line.text
        assert 'value="gh"' in bad_line.text and "title /issue/title</textarea>" in bad_line.text
        assert '<option value="hmac" selected>' in bad_line.text
        unmapped = await http.post("/ui/triggers", data={**form, "csrf": csrf_of(bad_line.text), "mapping": ""})
        assert unmapped.status_code == 422 and "title" in unmapped.text and 'id="err-' in unmapped.text
        unknown = await http.post(
            "/ui/triggers", data={**form, "csrf": csrf_of(unmapped.text), "template": "nope", "mapping": ""}
        )
    assert unknown.status_code == 422 and 'id="err-template"' in unknown.text and 'value="nope"' in unknown.text
    async with live_hub.http(live_hub.admin_token) as api:
        assert (await api.post("/api/tools/webhook_list", json={})).json()["webhooks"] == []


async def test_a_webhook_s_secret_is_shown_once_and_rotation_shows_the_new_one_once(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        dashboard = await _setup(live_hub, http)
        made = await http.post(
            "/ui/triggers",
            data={"csrf": csrf_of(dashboard), "name": "gh", "template": "triage", "mapping": "title = /issue/title\n"},
        )
        assert made.status_code == 200 and "Created the webhook gh." in made.text
        first = _secret(made.text)
        assert f'<code id="hook-url">{live_hub.url}/hooks/gh</code>' in made.text
        assert 'data-live="/ui/events?webhook=gh"' in made.text
        page = await http.get("/ui/triggers/webhooks/gh")
        assert page.status_code == 200 and first not in page.text and 'id="secret"' not in page.text
        assert (await _deliver(http, first, "d-1")).status_code == 202
        rotated = await http.post("/ui/triggers/webhooks/gh/rotate", data={"csrf": csrf_of(page.text)})
        assert rotated.status_code == 200
        second = _secret(rotated.text)
        assert second != first and first not in rotated.text
        assert (await _deliver(http, first, "d-2")).status_code == 401  # the old secret stopped at once
        assert (await _deliver(http, second, "d-3")).status_code == 202
        listed = await http.get("/ui/triggers/webhooks/gh")
    assert second not in listed.text
    assert listed.text.count('<td><span class="outcome outcome-queued">queued</span>') == 2
    assert "outcome-rejected" in listed.text and "d-3" in listed.text
    missing_hook = await _get_as_admin(live_hub, "/ui/triggers/webhooks/nope")
    assert missing_hook.status_code == 404


async def _get_as_admin(live_hub: LiveHub, path: str) -> httpx2.Response:
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        return await http.get(path)


async def test_a_viewer_reads_triggers_but_gets_no_form_and_403_posting_one(live_hub: LiveHub) -> None:
    await add_user(live_hub.context.db, "vic", Role.viewer)
    async with live_hub.http() as admin:
        await _setup(live_hub, admin)
    async with live_hub.http(live_hub.admin_token) as api:
        body: dict[str, Any] = {"name": "gh", "template": "triage", "mapping": {"title": "/t"}, "visibility": "public"}
        assert (await api.post("/api/tools/webhook_create", json=body)).status_code == 200
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "vic")
        assert 'href="/ui/triggers"' in dashboard
        page = await http.get("/ui/triggers")
        assert page.status_code == 200 and "/hooks/gh" in page.text and 'id="add-webhook"' not in page.text
        hook = await http.get("/ui/triggers/webhooks/gh")
        assert hook.status_code == 200 and 'id="rotate"' not in hook.text
        csrf = csrf_of(page.text)
        made = await http.post("/ui/triggers", data={"csrf": csrf, "name": "mine", "template": "triage"})
        rotate = await http.post("/ui/triggers/webhooks/gh/rotate", data={"csrf": csrf})
    assert made.status_code == 403 and "triggers.manage" in made.text
    assert rotate.status_code == 403


async def test_a_schedule_page_shows_its_next_fires_and_history(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        await _setup(live_hub, http)
        async with live_hub.http(live_hub.admin_token) as api:
            body = {"name": "nightly", "template": "triage", "cron": "0 3 * * *", "params": {"title": "t"}}
            assert (await api.post("/api/tools/schedule_create", json=body)).status_code == 200
            ran = (await api.post("/api/tools/schedule_run_now", json={"name": "nightly"})).json()
        listing = await http.get("/ui/triggers")
        page = await http.get("/ui/triggers/schedules/nightly")
        missing = await http.get("/ui/triggers/schedules/nope")
    assert 'href="/ui/triggers/schedules/nightly"' in listing.text and "<code>0 3 * * *</code>" in listing.text
    assert page.status_code == 200 and page.text.count("03:00:00 UTC</li>") == 5  # the next five fires
    assert f'href="/ui/executions/{ran["execution"]["id"]}"' in page.text
    assert missing.status_code == 404


@pytest.fixture
async def proxied_hub(settings: Settings) -> AsyncIterator[LiveHub]:
    """A hub behind https://example.org/goosuke (the test talks to it directly, as the proxy would)."""
    behind = settings.model_copy(update={"public_url": "https://example.org/goosuke"})
    app = create_app(behind)
    async with serve(app, behind.port) as url:
        yield LiveHub(url, app, (behind.data_dir / "admin.token").read_text().strip())


async def test_behind_a_proxy_a_webhook_s_url_and_the_page_s_addresses_carry_the_public_url(
    proxied_hub: LiveHub,
) -> None:
    async with proxied_hub.http() as http:
        await _template(proxied_hub)
        cookies = {
            "goosuke_console": cookie_of(await secure_sign_in(http, await http.get("/ui/signin")), "goosuke_console")
        }
        page = await http.get("/ui/triggers", cookies=cookies)
        data = {"csrf": csrf_of(page.text), "name": "gh", "template": "triage", "mapping": "title = /t"}
        made = await http.post("/ui/triggers", data=data, cookies=cookies)
    assert 'action="/goosuke/ui/triggers"' in page.text
    assert made.status_code == 200
    assert '<code id="hook-url">https://example.org/goosuke/hooks/gh</code>' in made.text
    assert 'data-live="/goosuke/ui/events?webhook=gh"' in made.text
    assert 'action="/goosuke/ui/triggers/webhooks/gh/rotate"' in made.text
