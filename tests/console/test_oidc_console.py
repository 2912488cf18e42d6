"""Signing in to the console through an identity provider: a real OpenID provider (oidc-provider-mock) on a
socket, a real hub on another, a browser played by an HTTP client that follows redirects.

The sign-in page's "Sign in with" button starts ``/auth/oidc/login?return_to=console``; the callback then
opens a console session and sends the browser to the dashboard instead of answering a token as JSON.
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
        assert button == "/auth/oidc/login?return_to=console"
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


async def test_a_console_sign_in_with_a_crossed_state_is_refused(hub: LiveHub, idp: str) -> None:  # noqa: F811
    await set_user(idp, "mallory", [])
    async with hub.http() as browser:
        login = await browser.get("/auth/oidc/login?return_to=console")
        assert login.status_code == 302
        parts = urlsplit(login.headers["location"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": "forged-state"}
        signed = await browser.post(urlunsplit(parts._replace(query=urlencode(query))), data={"sub": "mallory"})
        assert signed.status_code == 302
        refused = await browser.get(signed.headers["location"])
        assert refused.status_code == 400 and refused.json()["reason"] == "state_mismatch"
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
        console = await browser.get("/ui")
    assert console.status_code == 303 and console.headers["location"].startswith("/ui/signin")


async def test_a_sign_in_without_return_to_still_answers_a_token(hub: LiveHub, idp: str) -> None:  # noqa: F811
    await set_user(idp, "bob", [])
    async with hub.http() as browser:
        login = await browser.get("/auth/oidc/login")
        signed = await browser.post(login.headers["location"], data={"sub": "bob"})
        answer = await browser.get(signed.headers["location"])
    assert answer.status_code == 200 and answer.json()["user"]["username"] == "bob"
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
