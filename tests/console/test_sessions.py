"""The console over HTTP in process: sign-in, session cookies, expiry, CSRF, 403/404 pages and forms that keep input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import httpx2
import pytest
from sqlalchemy import delete, select, update

from hub import accounts
from hub.app import create_app
from hub.console.i18n import EN, JA
from hub.db.account_models import ConsoleSession, User
from hub.principal import Role
from hub.settings import Settings
from tests.conftest import LiveHub, serve
from tests.console.support import PASSWORD, add_user, csrf_of, set_password, sign_in

pytestmark = pytest.mark.anyio


async def test_every_message_is_in_both_languages() -> None:
    assert set(EN) == set(JA)


async def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        response = await http.get("/ui/executions?status=failed")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/signin?next=%2Fui%2Fexecutions%3Fstatus%3Dfailed"
        await set_password(live_hub.context.db, "admin")
        page = await http.get(response.headers["location"])
        signed = await http.post(
            "/ui/signin",
            data={
                "csrf": csrf_of(page.text),
                "username": "admin",
                "password": PASSWORD,
                "next": "/ui/executions?status=failed",
            },
        )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/ui/executions?status=failed"
    cookie = signed.headers["set-cookie"]
    assert "goosuke_console=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/ui" in cookie and "Secure" not in cookie  # plain http here: Secure only behind https


async def test_sign_in_refuses_a_wrong_password_and_keeps_the_username(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        page = await http.get("/ui/signin")
        response = await http.post(
            "/ui/signin", data={"csrf": csrf_of(page.text), "username": "admin", "password": "wrong password"}
        )
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert 'value="admin"' in response.text and "wrong password" not in response.text
    assert "goosuke_console=" not in response.headers.get("set-cookie", "")


async def test_a_sign_in_form_without_its_cookie_is_refused(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        response = await http.post("/ui/signin", data={"csrf": "forged", "username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert "goosuke_console=" not in response.headers.get("set-cookie", "")


async def test_a_pasted_api_token_signs_in_within_that_token_s_scope(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        page = await http.get("/ui/signin")
        signed = await http.post("/ui/signin", data={"csrf": csrf_of(page.text), "token": live_hub.admin_token})
        assert signed.status_code == 303
        users = await http.get("/ui/admin/users")
        assert users.status_code == 200 and "admin" in users.text
        async with live_hub.context.db.session() as session:  # revoking the token ends the session at once
            await accounts.revoke_token(session, await _token_id(live_hub))
        after = await http.get("/ui/admin/users")
    assert after.status_code == 303 and after.headers["location"].startswith("/ui/signin")


async def _token_id(live_hub: LiveHub) -> str:
    async with live_hub.context.db.session() as session:
        row = await session.scalar(select(ConsoleSession.token_id).where(ConsoleSession.token_id.is_not(None)))
    assert row
    return row


async def test_an_expired_or_idle_session_sends_to_sign_in(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        async with live_hub.context.db.session() as session:
            await session.execute(update(ConsoleSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        response = await http.get("/ui/executions")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/signin?next=%2Fui%2Fexecutions&reason=expired"
    async with live_hub.context.db.session() as session:
        assert await session.scalar(select(ConsoleSession.id)) is None  # the dead session is gone


async def test_changing_the_password_ends_its_sessions_but_a_role_change_applies_at_once(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    await add_user(db, "ana", Role.admin)
    async with live_hub.http() as http:
        assert "/ui/admin/users" in await sign_in(http, "ana")
        async with db.session() as session:
            await accounts.set_role(session, "ana", Role.viewer)
        refused = await http.get("/ui/admin/users")
        assert refused.status_code == 403
        assert "/ui/admin/users" not in (await http.get("/ui")).text  # no admin nav for a viewer
        await set_password(db, "ana", "another password")
        gone = await http.get("/ui")
    assert gone.status_code == 303 and "/ui/signin" in gone.headers["location"]


async def test_a_post_with_a_wrong_csrf_token_is_refused_and_sends_to_sign_in(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        response = await http.post("/ui/admin/users", data={"csrf": "stale", "username": "eve", "password": "x" * 9})
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/signin?next=%2Fui%2Fadmin%2Fusers&reason=stale"
        assert (await http.get("/ui")).status_code == 303  # the session was ended
    async with live_hub.context.db.session() as session:
        assert await session.scalar(select(User).where(User.username == "eve")) is None


async def test_a_post_from_another_origin_is_refused(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "admin")
        response = await http.post(
            "/ui/admin/users",
            data={"csrf": csrf_of(dashboard), "username": "eve", "password": "x" * 9, "role": "viewer"},
            headers={"Origin": "https://evil.example"},
        )
        # refused before the console sees it, as on /api (cross-site protection), and nothing was done
        assert response.status_code == 403 and response.json()["errors"][0]["field"] == "Origin"
        users = await http.get("/ui/admin/users")
    assert users.status_code == 200 and "eve" not in users.text


async def test_a_form_error_is_shown_by_its_field_and_keeps_the_input(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "admin")
        response = await http.post(
            "/ui/admin/users",
            data={"csrf": csrf_of(dashboard), "username": "new-person", "password": "short", "role": "operator"},
        )
        assert response.status_code == 422
        assert 'id="err-password"' in response.text and "at least 8" in response.text
        assert 'value="new-person"' in response.text and 'value="operator"' in response.text
        assert "short" not in response.text  # a password is never echoed
        made = await http.post(
            "/ui/admin/users",
            data={"csrf": csrf_of(response.text), "username": "new-person", "password": "x" * 9, "role": "operator"},
        )
    assert made.status_code == 200 and "Added the user new-person." in made.text


async def test_a_viewer_gets_403_for_an_admin_page_and_its_form(live_hub: LiveHub) -> None:
    await add_user(live_hub.context.db, "vic", Role.viewer)
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "vic")
        assert "/ui/admin/users" not in dashboard
        page = await http.get("/ui/admin/users")
        assert page.status_code == 403 and "users.manage" in page.text and "<table" not in page.text
        post = await http.post(
            "/ui/admin/users", data={"csrf": csrf_of(dashboard), "username": "eve", "password": "x" * 9}
        )
    assert post.status_code == 403


async def test_an_unknown_execution_is_a_404_page(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        response = await http.get("/ui/executions/no-such-run")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html") and "Not found" in response.text


async def test_sign_out_ends_the_session(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "admin")
        out = await http.post("/ui/signout", data={"csrf": csrf_of(dashboard)})
        assert out.status_code == 303 and out.headers["location"] == "/ui/signin?reason=signed_out"
        assert (await http.get("/ui")).status_code == 303
    async with live_hub.context.db.session() as session:
        assert await session.scalar(select(ConsoleSession.id)) is None


async def test_the_language_follows_accept_language_and_the_switch(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        japanese = await http.get("/ui/signin", headers={"Accept-Language": "ja,en;q=0.5"})
        assert "サインイン" in japanese.text and 'lang="ja"' in japanese.text
        switched = await http.get("/ui/lang", params={"to": "en", "next": "/ui/signin"})
        assert switched.status_code == 303 and switched.headers["location"] == "/ui/signin"
        english = await http.get("/ui/signin", headers={"Accept-Language": "ja"})
        assert 'lang="en"' in english.text  # the switch's cookie wins over the browser's wish
        away = await http.get("/ui/lang", params={"to": "ja", "next": "https://evil.example/"})
    assert away.headers["location"] == "/ui"  # never a redirect off the console


async def test_an_unknown_console_address_is_the_console_s_404_page(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        response = await http.get("/ui/no/such/page")
        asset = await http.get("/ui/static/evil.js")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]
    assert asset.status_code == 404


@pytest.fixture
async def quick_hub(settings: Settings) -> AsyncIterator[LiveHub]:
    """A hub whose live pages re-read every 0.1 s, behind https://example.org/goosuke."""
    fast = settings.model_copy(update={"console_refresh_interval": 0.1, "public_url": "https://example.org/goosuke"})
    app = create_app(fast)
    async with serve(app, fast.port) as url:
        yield LiveHub(url, app, (fast.data_dir / "admin.token").read_text().strip())


def cookie_of(response: httpx2.Response, name: str) -> str:
    """A cookie the answer sets (read from the header: a Secure cookie is never sent back over http)."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie set")


async def secure_sign_in(http: httpx2.AsyncClient, page: httpx2.Response) -> httpx2.Response:
    """Sign in where the cookies are Secure (an https public URL) over the test's plain http."""
    pre = {"goosuke_console_pre": cookie_of(page, "goosuke_console_pre")}
    data = {"csrf": csrf_of(page.text), "username": "admin", "password": PASSWORD}
    return await http.post("/ui/signin", data=data, cookies=pre)


async def test_on_a_sub_path_every_address_and_cookie_carries_it(quick_hub: LiveHub) -> None:
    await set_password(quick_hub.context.db, "admin")
    async with quick_hub.http() as http:
        root = await http.get("/", headers={"Accept": "text/html"})
        assert root.headers["location"] == "/goosuke/ui"
        first = await http.get("/ui")
        assert first.headers["location"] == "/goosuke/ui/signin?next=%2Fgoosuke%2Fui"
        page = await http.get("/ui/signin")
        assert 'href="/goosuke/ui/static/console.css"' in page.text and 'action="/goosuke/ui/signin"' in page.text
        signed = await secure_sign_in(http, page)
    assert signed.headers["location"] == "/goosuke/ui"
    cookie = signed.headers["set-cookie"]
    assert "Path=/goosuke/ui" in cookie and "Secure" in cookie and "HttpOnly" in cookie


async def test_the_event_stream_sends_the_page_and_ends_with_the_session(quick_hub: LiveHub) -> None:
    await set_password(quick_hub.context.db, "admin")
    async with quick_hub.http() as http:
        signed = await secure_sign_in(http, await http.get("/ui/signin"))
        cookie = cookie_of(signed, "goosuke_console")
        events: list[str] = []
        with anyio.fail_after(20):
            async with http.stream("GET", "/ui/events", cookies={"goosuke_console": cookie}) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        events.append(line[7:])
                        if events == ["update"]:
                            async with quick_hub.context.db.session() as session:
                                await session.execute(delete(ConsoleSession))
                    if events[-1:] == ["signin"]:
                        break
    assert events[0] == "update" and events[-1] == "signin"


async def test_the_event_stream_without_a_session_tells_the_page_to_sign_in(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        response = await http.get("/ui/events", cookies={"goosuke_console": "long-gone"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert 'event: signin\ndata: {"to": "/ui/signin?reason=expired"}' in response.text


async def test_odd_addresses_and_numbers_get_an_answer_never_a_500(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        switched = await http.get("/ui/lang", params={"to": "ja", "next": "/ui/あ"})  # a Location is ASCII
        assert switched.status_code == 303 and switched.headers["location"] == "/ui/%E3%81%82"
        for query in ("a=²", "a=" + "9" * 5000, "a=1&b=99999999999999999999"):
            diff = await http.get(f"/ui/templates/meeting-summary/diff?{query}")
            assert diff.status_code in (404, 422), (query, diff.status_code)


async def test_a_live_page_does_not_keep_an_unattended_session_alive(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        long_ago = datetime.now(UTC) - timedelta(minutes=30)
        async with live_hub.context.db.session() as session:
            await session.execute(update(ConsoleSession).values(last_seen_at=long_ago))
        async with http.stream("GET", "/ui/events", params={"page": "dashboard"}) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    break  # one update arrived: the stream read the session
        async with live_hub.context.db.session() as session:
            seen = await session.scalar(select(ConsoleSession.last_seen_at))
    assert seen is not None and abs((seen.replace(tzinfo=UTC) - long_ago).total_seconds()) < 1
