"""Signing in to the console through an identity provider: a real OpenID provider (oidc-provider-mock) on a
socket, a real hub on another, a browser played by an HTTP client that follows redirects.

The sign-in page's "Sign in with" button starts ``/auth/oidc/login?return_to=console&next=<page>``; the
callback then opens a console session and sends the browser back to the page that asked it to sign in,
instead of answering a token as JSON. A console sign-in that fails comes back to the sign-in page, which
says why.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from hub.console.render import SESSION_COOKIE
from tests.conftest import LiveHub
from tests.teams.test_oidc import hub, idp, set_user  # noqa: F401  (fixtures)

pytestmark = pytest.mark.anyio


def _button(html: str) -> str:
    found = re.search(r'<a class="button oidc" id="signin-oidc" href="([^"]+)">Sign in with ([^<]+)</a>', html)
    assert found, "the sign-in page has no OIDC button"
    return found.group(1).replace("&amp;", "&")


async def test_the_console_signs_in_through_the_provider_and_lands_on_the_dashboard(hub: LiveHub, idp: str) -> None:  # noqa: F811
    await set_user(idp, "alice", ["eng"])
    async with hub.http(follow_redirects=True) as browser:
        page = await browser.get("/ui/signin")
        assert f"Sign in with {urlsplit(idp).netloc}" in page.text
        button = _button(page.text)
        assert button == "/auth/oidc/login?return_to=console&next=%2Fui"
        form = await browser.get(button)  # the hub, then the provider's sign-in form
        assert str(form.url).startswith(idp)
        landed = await browser.post(str(form.url), data={"sub": "alice"})  # provider -> callback -> /ui
        assert landed.status_code == 200, landed.text
        assert landed.url.path == "/ui" and "text/html" in landed.headers["content-type"]
        assert "Signed in as alice (" in landed.text and 'id="calls-spark"' in landed.text
        assert landed.history[-1].status_code == 303 and landed.history[-1].url.path == "/auth/oidc/callback"
        assert browser.cookies.get(SESSION_COOKIE)
        executions = await browser.get("/ui/executions")  # the session is a real one
    assert executions.status_code == 200 and executions.url.path == "/ui/executions"


async def test_a_console_sign_in_lands_on_the_page_that_sent_the_browser_to_sign_in(hub: LiveHub, idp: str) -> None:  # noqa: F811
    await set_user(idp, "carol", ["eng"])
    async with hub.http(follow_redirects=True) as browser:
        asked = await browser.get("/ui/executions?status=failed")  # no session: to the sign-in page, and back
        assert asked.url.path == "/ui/signin"
        button = _button(asked.text)
        assert "next=%2Fui%2Fexecutions%3Fstatus%3Dfailed" in button
        form = await browser.get(button)
        landed = await browser.post(str(form.url), data={"sub": "carol"})
    assert landed.status_code == 200, landed.text
    assert landed.url.path == "/ui/executions" and landed.url.params["status"] == "failed"
    assert "Signed in as carol (" in landed.text


async def test_a_console_sign_in_cannot_be_sent_to_another_site(hub: LiveHub, idp: str) -> None:  # noqa: F811
    await set_user(idp, "dave", [])
    async with hub.http(follow_redirects=True) as browser:
        form = await browser.get("/auth/oidc/login?return_to=console&next=https://evil.example/ui")
        landed = await browser.post(str(form.url), data={"sub": "dave"})
    assert landed.url.host == urlsplit(hub.url).hostname and landed.url.path == "/ui"


async def test_a_console_sign_in_with_a_crossed_state_comes_back_to_the_sign_in_page(hub: LiveHub, idp: str) -> None:  # noqa: F811
    await set_user(idp, "mallory", [])
    async with hub.http() as browser:
        login = await browser.get("/auth/oidc/login?return_to=console&next=/ui/triggers")
        assert login.status_code == 302
        parts = urlsplit(login.headers["location"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": "forged-state"}
        signed = await browser.post(urlunsplit(parts._replace(query=urlencode(query))), data={"sub": "mallory"})
        assert signed.status_code == 302
        refused = await browser.get(signed.headers["location"])
        assert refused.status_code == 303, refused.text
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
        back = urlsplit(refused.headers["location"])
        assert back.path == "/ui/signin"
        assert parse_qs(back.query) == {"oidc": ["state_mismatch"], "next": ["/ui/triggers"]}
        page = await browser.get(refused.headers["location"])
        assert page.status_code == 200
        assert "not for this browser&#39;s sign-in" in page.text and 'id="oidc-failed"' in page.text
        assert 'name="next" value="/ui/triggers"' in page.text  # the password form returns there too
        japanese = await browser.get(refused.headers["location"], headers={"Accept-Language": "ja"})
        assert "ID プロバイダーでのサインインに失敗しました" in japanese.text
        console = await browser.get("/ui")
    assert console.status_code == 303 and console.headers["location"].startswith("/ui/signin")


async def test_a_sign_in_the_provider_refuses_comes_back_to_the_console(hub: LiveHub, idp: str) -> None:  # noqa: F811
    async with hub.http() as browser:
        login = await browser.get("/auth/oidc/login?return_to=console")
        state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
        refused = await browser.get(f"/auth/oidc/callback?error=access_denied&state={state}")
        assert refused.status_code == 303
        assert parse_qs(urlsplit(refused.headers["location"]).query)["oidc"] == ["provider_denied"]
        page = await browser.get(refused.headers["location"])
    assert "the provider refused the sign-in." in page.text


async def test_a_failed_sign_in_without_return_to_still_answers_a_problem(hub: LiveHub, idp: str) -> None:  # noqa: F811
    async with hub.http() as browser:
        login = await browser.get("/auth/oidc/login")
        state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
        refused = await browser.get(f"/auth/oidc/callback?error=access_denied&state={state}")
    assert refused.status_code == 401 and refused.json()["reason"] == "provider_denied"


async def test_a_sign_in_without_return_to_still_answers_a_token(hub: LiveHub, idp: str) -> None:  # noqa: F811
    await set_user(idp, "bob", [])
    async with hub.http() as browser:
        login = await browser.get("/auth/oidc/login")
        signed = await browser.post(login.headers["location"], data={"sub": "bob"})
        answer = await browser.get(signed.headers["location"])
    assert answer.status_code == 200 and answer.json()["user"]["username"] == "bob"
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
