"""Sign-in through an identity provider: a real OpenID Connect provider (oidc-provider-mock) on a socket,
a real hub on another, a browser played by an HTTP client with a cookie jar.

The flow: GET /auth/oidc/login (302 to the provider, a signed cookie), POST the provider's form with
``sub=alice`` (302 back to the hub), GET the callback (a hub token as JSON). Groups map to teams both
ways at every sign-in; what goes wrong (state, nonce, a forged id_token, a provider that is down) is a
clear problem response and changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import anyio
import httpx2
import oidc_provider_mock
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.processes import free_port
from hub.app import create_app
from hub.db.account_models import UserIdentity
from hub.db.models import AuditEvent, Team, TeamMember, User
from hub.settings import OidcTeamRole, Settings
from hub.vault.service import Vault
from tests.conftest import LiveHub, serve

pytestmark = pytest.mark.anyio

CLIENT_ID = "goosuke-test"
MAPPING = {
    "eng": [OidcTeamRole(team="engineering", role="operator")],
    "leads": [OidcTeamRole(team="engineering", role="admin")],
    "ops": [OidcTeamRole(team="operations", role="viewer"), OidcTeamRole(team="default", role="viewer")],
    "designers": [OidcTeamRole(team="design", role="owner")],
}


@pytest.fixture
def idp() -> Iterator[str]:
    """A real OpenID provider on a free port; its issuer URL."""
    with oidc_provider_mock.run_server_in_thread(port=0) as server:
        yield f"http://localhost:{server.server_port}"


@asynccontextmanager
async def oidc_hub(settings: Settings, issuer: str, **overrides: Any) -> AsyncIterator[LiveHub]:
    """A hub on a socket whose sign-in goes to ``issuer``; its client secret sits in the vault."""
    configured = settings.model_copy(
        update={
            "oidc_issuer": issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret_name": "OIDC_CLIENT_SECRET",
            "oidc_group_mapping": MAPPING,
            **overrides,
        }
    )
    app = create_app(configured)
    async with serve(app, configured.port) as url:
        hub = LiveHub(url, app, (configured.data_dir / "admin.token").read_text().strip())
        await hub.context.services.get(Vault).put("OIDC_CLIENT_SECRET", "client-secret-value", actor="test")
        yield hub


@pytest.fixture
async def hub(settings: Settings, idp: str) -> AsyncIterator[LiveHub]:
    async with oidc_hub(settings, idp) as live:
        yield live


async def set_user(issuer: str, sub: str, groups: list[str], **claims: Any) -> None:
    async with httpx2.AsyncClient() as http:
        body = {"preferred_username": sub, "email": f"{sub}@example.com", "groups": groups, **claims}
        reply = await http.put(f"{issuer}/users/{sub}", json=body)
        assert reply.status_code == 204, reply.text


async def authorize(browser: httpx2.AsyncClient, sub: str, *, change: dict[str, str] | None = None) -> str:
    """Log in at the hub and sign in at the provider as ``sub``; the callback URL the provider sends back.

    ``change`` rewrites parameters of the authorization URL first (what a meddling party would do)."""
    login = await browser.get("/auth/oidc/login")
    assert login.status_code == 302, login.text
    url = login.headers["location"]
    if change:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | change
        url = urlunsplit(parts._replace(query=urlencode(query)))
    signed = await browser.post(url, data={"sub": sub})
    assert signed.status_code == 302, signed.text
    return signed.headers["location"]


async def sign_in(hub: LiveHub, sub: str) -> httpx2.Response:
    async with hub.http() as browser:
        return await browser.get(await authorize(browser, sub))


async def teams_of(hub: LiveHub, username: str) -> dict[str, tuple[str, str]]:
    async with hub.context.db.session() as session:
        rows = await session.execute(
            select(Team.name, TeamMember.role, TeamMember.source)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .join(User, User.id == TeamMember.user_id)
            .where(User.username == username)
        )
        return {name: (role, source) for name, role, source in rows}


async def count(hub: LiveHub, model: Any) -> int:
    async with hub.context.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def team_get(hub: LiveHub, token: str, team: str) -> httpx2.Response:
    async with hub.http(token) as http:
        return await http.post("/api/tools/team_get", json={"team": team})


async def test_sign_in_creates_the_user_maps_groups_both_ways_and_mints_a_working_token(hub: LiveHub, idp: str) -> None:
    await set_user(idp, "alice", ["eng", "ops", "unmapped"])
    async with hub.http() as browser:
        login = await browser.get("/auth/oidc/login")
        assert login.status_code == 302
        sent = parse_qs(urlsplit(login.headers["location"]).query)
        assert sent["code_challenge_method"] == ["S256"] and len(sent["code_challenge"][0]) == 43
        assert sent["client_id"] == [CLIENT_ID] and sent["state"][0] and sent["nonce"][0]
        assert sent["redirect_uri"] == [f"{hub.url}/auth/oidc/callback"]
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/auth/oidc" in cookie

    first = await sign_in(hub, "alice")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["user"]["username"] == "alice" and body["user"]["created"] is True
    assert body["user"]["role"] == "member"
    assert {t["name"]: (t["role"], t["source"]) for t in body["teams"]} == {
        "@alice": ("owner", "hub"),
        "engineering": ("operator", "idp"),
        "operations": ("viewer", "idp"),
        "default": ("viewer", "idp"),
    }
    token = body["access_token"]
    async with hub.http(token) as http:
        who = await http.post("/api/tools/whoami", json={})
    assert who.status_code == 200 and who.json()["name"] == "alice"
    engineering = (await team_get(hub, token, "engineering")).json()
    assert {m["username"]: m["source"] for m in engineering["members"]} == {"alice": "idp"}
    async with hub.context.db.session() as session:
        link = await session.get(UserIdentity, (idp, "alice"))
        assert link is not None and link.groups == ["eng", "ops", "unmapped"]
        eng_id = await session.scalar(select(Team.id).where(Team.name == "engineering"))
        created = await session.scalar(select(Team.created_by).where(Team.name == "engineering"))
    assert created == "oidc"
    principal = await hub.context.verifier.authenticate(token)
    assert principal.may("templates.run", eng_id)

    # A membership given in the hub is the hub's: sign-in never touches it, even for a mapped team.
    async with hub.context.db.session() as session:
        design = Team(name="design", description="", created_by="test")
        session.add(design)
        await session.flush()
        alice = await session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None
        session.add(TeamMember(team_id=design.id, user_id=alice.id, role="viewer", source="hub"))

    # Out of eng, into leads and designers: engineering's role follows (admin, the stronger of two) ...
    await set_user(idp, "alice", ["leads", "eng", "designers"])
    second = await sign_in(hub, "alice")
    assert second.status_code == 200, second.text
    assert second.json()["user"]["created"] is False
    assert await teams_of(hub, "alice") == {
        "@alice": ("owner", "hub"),
        "engineering": ("admin", "idp"),
        "design": ("viewer", "hub"),
    }
    # ... and out of every mapped group but designers: the IdP memberships go, the hub's stay.
    await set_user(idp, "alice", ["designers"])
    third = await sign_in(hub, "alice")
    assert third.status_code == 200, third.text
    assert await teams_of(hub, "alice") == {"@alice": ("owner", "hub"), "design": ("viewer", "hub")}
    assert await count(hub, User) == 2  # admin and alice: one user however often she signs in
    # The first token lost engineering within one auth-revision poll (0.5 s): its grants are read live.
    with anyio.fail_after(5):
        while (await hub.context.verifier.authenticate(token)).may("templates.run", eng_id):
            await anyio.sleep(0.05)
    assert (await team_get(hub, token, "engineering")).status_code == 404
    assert (await team_get(hub, third.json()["access_token"], "design")).status_code == 200

    async with hub.context.db.session() as session:
        rows = list(await session.scalars(select(AuditEvent).where(AuditEvent.surface == "oidc")))
    actions = [(row.action, row.target) for row in rows]
    assert ("team.create", "team:engineering") in actions
    assert ("team.member.update", "team:engineering") in actions
    assert ("team.member.remove", "team:operations") in actions
    assert ("team.member.remove", "team:engineering") in actions
    assert sum(action == "auth.oidc_sign_in" for action, _ in actions) == 3
    assert all(row.actor == "alice" for row in rows)


async def test_a_provider_account_never_takes_over_a_hub_user_of_the_same_name(hub: LiveHub, idp: str) -> None:
    await set_user(idp, "mallory", [], preferred_username="admin")
    reply = await sign_in(hub, "mallory")
    assert reply.status_code == 200, reply.text
    assert reply.json()["user"]["username"] == "mallory@example.com"  # the next candidate: the email
    assert reply.json()["user"]["role"] == "member"
    async with hub.context.db.session() as session:
        admin = await session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.role == "admin"
        assert await session.scalar(select(UserIdentity.user_id).where(UserIdentity.subject == "mallory")) != admin.id


async def test_a_wrong_state_is_refused_and_changes_nothing(hub: LiveHub, idp: str) -> None:
    await set_user(idp, "alice", ["eng"])
    async with hub.http() as browser:
        callback = await authorize(browser, "alice")
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": "forged"}
        reply = await browser.get(urlunsplit(parts._replace(query=urlencode(query))))
    assert reply.status_code == 400
    assert reply.json()["reason"] == "state_mismatch" and "state" in reply.json()["detail"]
    async with hub.http() as stranger:  # a callback without this browser's cookie: no sign-in of its own
        reply = await stranger.get(callback)
    assert reply.status_code == 400 and reply.json()["reason"] == "no_sign_in"
    assert await count(hub, User) == 1 and await count(hub, UserIdentity) == 0


async def test_a_nonce_that_is_not_the_sign_ins_is_refused(hub: LiveHub, idp: str) -> None:
    await set_user(idp, "alice", ["eng"])
    async with hub.http() as browser:
        callback = await authorize(browser, "alice", change={"nonce": "someone-elses-nonce"})
        reply = await browser.get(callback)
    assert reply.status_code == 401, reply.text
    assert reply.json()["reason"] == "nonce_mismatch" and "nonce" in reply.json()["detail"]
    assert await count(hub, User) == 1


async def test_an_unreachable_provider_is_a_502_naming_it(settings: Settings) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    async with oidc_hub(settings, closed) as live, live.http() as browser:
        reply = await browser.get("/auth/oidc/login")
    assert reply.status_code == 502
    problem = reply.json()
    assert problem["reason"] == "provider_unreachable" and closed in problem["detail"]
    assert "client-secret-value" not in reply.text


async def test_a_provider_that_goes_down_mid_sign_in_changes_nothing(settings: Settings) -> None:
    with oidc_provider_mock.run_server_in_thread(port=0) as server:
        issuer = f"http://localhost:{server.server_port}"
        async with oidc_hub(settings, issuer) as live, live.http() as browser:
            callback = await authorize(browser, "alice")
            server.shutdown()  # the code is in hand; the token endpoint is gone
            reply = await browser.get(callback)
            assert reply.status_code == 502, reply.text
            assert reply.json()["reason"] == "provider_unreachable"
            assert await count(live, User) == 1


def tampering_proxy(upstream: str, own: str) -> Starlette:
    """The provider seen through a meddler: its URLs point here, and the id_token it hands out is
    rewritten (alice made a member of ``leads``) with the provider's signature left as it was."""

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k in ("content-type", "authorization", "accept")}
        async with httpx2.AsyncClient() as http:
            reply = await http.request(
                request.method,
                upstream + request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        body = reply.content.replace(upstream.encode(), own.encode())
        if request.url.path == "/oauth2/token" and reply.status_code == 200:
            tokens = reply.json()
            head, payload, signature = tokens["id_token"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims |= {"iss": own, "groups": ["leads"]}
            forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            tokens["id_token"] = f"{head}.{forged}.{signature}"
            body = json.dumps(tokens).encode()
        kept = {k: v for k, v in reply.headers.items() if k in ("content-type", "location")}
        return Response(body, reply.status_code, headers=kept)

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT"])])


async def test_a_tampered_id_token_is_refused_and_changes_nothing(settings: Settings, idp: str) -> None:
    port = free_port()
    own = f"http://127.0.0.1:{port}"
    await set_user(idp, "alice", ["eng"])
    async with serve(tampering_proxy(idp, own), port), oidc_hub(settings, own) as live, live.http() as browser:
        reply = await browser.get(await authorize(browser, "alice"))
        assert reply.status_code == 502, reply.text
        problem = reply.json()
        assert problem["reason"] == "bad_id_token" and "signature" in problem["detail"]
        assert await count(live, User) == 1 and await count(live, Team) == 2  # default and @admin


async def test_sign_in_is_off_until_configured(live_hub: LiveHub) -> None:
    async with live_hub.http() as browser:
        for path in ("/auth/oidc/login", "/auth/oidc/callback?code=x&state=y"):
            reply = await browser.get(path)
            assert reply.status_code == 404
            assert reply.json()["reason"] == "not_configured" and "GOOSUKE_OIDC_ISSUER" in reply.json()["detail"]


async def test_a_client_secret_missing_from_the_vault_is_a_clear_503(settings: Settings, idp: str) -> None:
    await set_user(idp, "alice", ["eng"])
    async with oidc_hub(settings, idp, oidc_client_secret_name="NOT_STORED") as live, live.http() as browser:
        reply = await browser.get(await authorize(browser, "alice"))
        assert reply.status_code == 503, reply.text
        assert reply.json()["reason"] == "misconfigured" and "NOT_STORED" in reply.json()["detail"]
        assert await count(live, User) == 1
