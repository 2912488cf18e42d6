"""Authentication and roles: every protected route refuses a bad token with the reason, in the right shape."""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable

import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from hub import accounts
from hub.principal import Role
from tests.conftest import LiveHub

pytestmark = pytest.mark.anyio


async def _login(hub: LiveHub, username: str, password: str, role: Role) -> str:
    async with hub.context.db.session() as session:
        await accounts.create_user(session, username, password, role)
    async with hub.http() as http:
        response = await http.post("/api/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    return str(body["access_token"])


@pytest.mark.parametrize("path", ["/mcp", "/sse", "/messages/?session_id=abc"])
async def test_mcp_endpoints_answer_401_with_resource_metadata(live_hub: LiveHub, path: str) -> None:
    async with live_hub.http() as http:
        method = "GET" if path == "/sse" else "POST"
        response = await http.request(method, path, json={})
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{live_hub.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert response.json()["error"] == "invalid_token"


async def test_protected_resource_metadata_follows_rfc_9728(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        response = await http.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    body = response.json()
    assert body["resource"] == f"{live_hub.url}/mcp"
    assert body["bearer_methods_supported"] == ["header"]
    assert set(body["scopes_supported"]) == {"viewer", "operator", "admin"}


async def test_authorization_server_metadata_names_the_token_endpoint(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
        async with live_hub.context.db.session() as session:
            await accounts.create_user(session, "oauth", "oauth-password", Role.viewer)
        form = await http.post(
            meta["token_endpoint"].removeprefix(live_hub.url),
            data={"grant_type": "password", "username": "oauth", "password": "oauth-password"},
        )
    assert meta["grant_types_supported"] == ["password"]
    assert form.status_code == 200 and form.json()["token_type"] == "bearer"


async def test_facade_refuses_without_token_as_a_json_problem(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        response = await http.get("/api/tools")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("Authentication required")


async def test_health_and_metrics_need_no_token(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).json()["status"] == "ready"
        assert (await http.get("/metrics")).status_code == 200


async def test_password_login_gives_a_jwt_that_works_over_mcp(live_hub: LiveHub) -> None:
    token = await _login(live_hub, "ada", "correct horse battery", Role.operator)
    async with (
        live_hub.http(token) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
    ):
        result = await client.call_tool("whoami", {})
    assert result.structured_content["name"] == "ada"
    assert result.structured_content["role"] == "operator"
    assert result.structured_content["via"] == "jwt"


async def test_wrong_password_is_refused_without_saying_which_part_was_wrong(live_hub: LiveHub) -> None:
    async with live_hub.context.db.session() as session:
        await accounts.create_user(session, "bob", "right-password", Role.viewer)
    async with live_hub.http() as http:
        wrong = await http.post("/api/auth/token", json={"username": "bob", "password": "wrong-password"})
        nobody = await http.post("/api/auth/token", json={"username": "nobody", "password": "wrong-password"})
        missing = await http.post("/api/auth/token", json={"username": "bob"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["detail"] == nobody.json()["detail"]
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "password"


def _forge(
    claims: dict[str, object], key: str = "test-signing-key-that-is-long-enough-for-hs256", alg: str = "HS256"
) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)  # HS512 with our 256-bit key
        return jwt.encode(claims, key, algorithm=alg)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {"sub": "x", "aud": "goosuke", "iss": "goosuke", "iat": now, "exp": now + 60}
    base.update(overrides)
    return base


def _alg_none(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        # factories, so tokens are minted when the test runs (not at import, when they could expire)
        (lambda: _forge(_claims(exp=int(time.time()) - 10)), "expired"),
        (lambda: _forge(_claims(aud="someone-else")), "another audience"),
        (lambda: _forge(_claims(iss="evil")), "issued by someone else"),
        (lambda: _forge(_claims(), key="not-the-key-but-also-long-enough-for-hs256-x"), "neither a valid access token"),
        (lambda: _alg_none(_claims()), "algorithm is not allowed"),
        (lambda: _forge(_claims(), alg="HS512"), "algorithm is not allowed"),
        (lambda: "gsk_not-a-real-token", "Unknown API token"),
        (lambda: "garbage", "neither a valid access token"),
    ],
    ids=["expired", "audience", "issuer", "signature", "alg-none", "alg-hs512", "unknown-api-token", "garbage"],
)
async def test_bad_tokens_are_refused_with_the_reason(live_hub: LiveHub, token: Callable[[], str], reason: str) -> None:
    async with live_hub.http(token()) as http:
        mcp = await http.post("/mcp", json={})
        api = await http.get("/api/tools")
    assert mcp.status_code == 401
    assert reason in mcp.json()["error_description"]
    assert reason in mcp.headers["www-authenticate"]
    assert api.status_code == 401
    assert reason in api.json()["detail"]


async def test_a_revoked_api_token_stops_working(live_hub: LiveHub) -> None:
    token = await live_hub.token(Role.viewer, "temp")
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(token) as http:
        assert (await http.post("/api/tools/whoami", json={})).status_code == 200
        listed = (await admin.post("/api/tools/token_list", json={})).json()["tokens"]
        token_id = next(t["id"] for t in listed if t["name"] == "temp")
        revoked = await admin.post("/api/tools/token_revoke", json={"id": token_id})
        assert revoked.json()["revoked"] is True
        refused = await http.post("/api/tools/whoami", json={})
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


async def test_a_disabled_users_jwt_stops_working(live_hub: LiveHub) -> None:
    token = await _login(live_hub, "carol", "carol-password", Role.viewer)
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(token) as http:
        assert (await http.post("/api/tools/whoami", json={})).status_code == 200
        await admin.post("/api/tools/user_update", json={"username": "carol", "disabled": True})
        refused = await http.post("/api/tools/whoami", json={})
    assert refused.status_code == 401


async def test_roles_are_checked_per_tool_on_mcp_and_facade(live_hub: LiveHub) -> None:
    viewer = await live_hub.token(Role.viewer)
    operator = await live_hub.token(Role.operator)
    async with live_hub.http(viewer) as http:
        denied = await http.post("/api/tools/settings_get", json={})
        allowed = await http.post("/api/tools/hub_info", json={})
    assert denied.status_code == 403
    assert "needs the hub.settings permission (the operator role has it)" in denied.json()["detail"]
    assert allowed.status_code == 200
    async with (
        live_hub.http(operator) as http,
        Client(streamable_http_client(f"{live_hub.url}/mcp", http_client=http)) as client,
    ):
        ok = await client.call_tool("settings_get", {})
        admin_only = await client.call_tool("user_list", {})
    assert not ok.is_error
    assert "jwt_secret" not in ok.structured_content["settings"]
    assert admin_only.is_error
    assert "needs the users.manage permission (the admin role has it)" in admin_only.content[0].text


async def test_user_and_token_management_round_trip(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as admin:
        created = await admin.post(
            "/api/tools/user_create", json={"username": "dora", "password": "dora-pass-1", "role": "operator"}
        )
        assert created.status_code == 200
        dup = await admin.post("/api/tools/user_create", json={"username": "dora", "password": "dora-pass-2"})
        assert dup.status_code == 409
        short = await admin.post("/api/tools/user_passwd", json={"username": "dora", "password": "short"})
        assert short.status_code == 422
        assert short.json()["errors"][0]["field"] == "password"
        changed = await admin.post("/api/tools/user_passwd", json={"username": "dora", "password": "dora-pass-3"})
        assert changed.status_code == 200
        issued = (
            await admin.post("/api/tools/token_create", json={"name": "ci", "role": "operator", "username": "dora"})
        ).json()
        users = (await admin.post("/api/tools/user_list", json={})).json()["users"]
    assert {u["username"] for u in users} == {"admin", "dora"}  # admin: the first-start user
    assert issued["token"].startswith("gsk_")
    assert issued["info"]["prefix"] == issued["token"][:10]
    async with live_hub.http(issued["token"]) as http:
        me = (await http.post("/api/tools/whoami", json={})).json()
    dora = next(u for u in users if u["username"] == "dora")
    assert {k: me[k] for k in ("subject", "name", "role", "via")} == {
        "subject": dora["id"],
        "name": "dora",
        "role": "operator",
        "via": "api_token",
    }
    async with live_hub.http() as http:
        login = await http.post("/api/auth/token", json={"username": "dora", "password": "dora-pass-3"})
    assert login.status_code == 200


async def test_api_tokens_are_stored_hashed(live_hub: LiveHub) -> None:
    from sqlalchemy import select

    from hub.db.models import ApiToken

    async with live_hub.context.db.session() as session:
        hashes = list(await session.scalars(select(ApiToken.token_hash)))
    assert live_hub.admin_token not in hashes
    assert accounts.hash_token(live_hub.admin_token) in hashes
