"""Webhooks over real HTTP: real signatures, replays, redeliveries, limits and clear refusals."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import httpx2
import pytest

from hub.engine import Engine
from hub.templates.definition import Parameter
from hub.triggers.webhooks import sign_github, sign_hmac
from tests.conftest import LiveHub
from tests.engine_support import add_template

pytestmark = pytest.mark.anyio

ISSUE = {
    "action": "opened",
    "issue": {"number": 7, "title": "Login fails", "body": "500 on /login"},
    "repository": {"full_name": "acme/app"},
}


async def _hub_with_template(hub: LiveHub) -> None:
    await add_template(
        hub.context,
        "triage",
        argv=["true"],
        prompt="{{ title }} {{ repo }} {{ body }}",
        parameters=[
            Parameter(key="title", requirement="required"),
            Parameter(key="repo", requirement="required"),
            Parameter(key="body", requirement="optional", default=""),
        ],
    )


async def _create(hub: LiveHub, **args: Any) -> dict[str, Any]:
    body = {
        "name": "gh",
        "template": "triage",
        "auth": "github",
        "mapping": {"title": "/issue/title", "repo": "/repository/full_name", "body": "/issue/body"},
        **args,
    }
    async with hub.http(hub.admin_token) as http:
        response = await http.post("/api/tools/webhook_create", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_signed_github_delivery_creates_one_execution_even_when_redelivered(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    created = await _create(live_hub)
    url, secret = created["webhook"]["url"], created["secret"]
    assert url == f"{live_hub.url}/hooks/gh"
    body = json.dumps(ISSUE).encode()
    headers = {
        "X-Hub-Signature-256": sign_github(secret, body),
        "X-GitHub-Delivery": "d-1",
        "X-GitHub-Event": "issues",
        "Content-Type": "application/json",
    }
    event = json.dumps({**ISSUE, "action": "edited"}).encode()
    event_headers = {**headers, "X-Hub-Signature-256": sign_github(secret, event), "X-GitHub-Delivery": "d-2"}
    async with live_hub.http() as http:  # no hub token: the signature is the authentication
        first = await http.post("/hooks/gh", content=body, headers=headers)
        again = await http.post("/hooks/gh", content=body, headers=headers)
        replayed = await http.post("/hooks/gh", content=body, headers={**headers, "X-GitHub-Delivery": "d-3"})
        other = await http.post("/hooks/gh", content=event, headers=event_headers)
    assert first.status_code == 202, first.text
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["execution_id"] == first.json()["execution_id"]
    # the same signed body under another delivery id is a replay: no second run
    assert replayed.status_code == 200 and replayed.json()["execution_id"] == first.json()["execution_id"]
    assert other.status_code == 202 and other.json()["execution_id"] != first.json()["execution_id"]
    engine = live_hub.context.services.get(Engine)
    execution = await engine.get(first.json()["execution_id"])
    assert execution.params == {"title": "Login fails", "repo": "acme/app", "body": "500 on /login"}
    assert execution.trigger.kind == "webhook"
    assert execution.trigger.ref == "gh/d-1"
    async with live_hub.http(live_hub.admin_token) as http:
        deliveries = (await http.post("/api/tools/webhook_deliveries", json={"name": "gh"})).json()["deliveries"]
    assert [d["outcome"] for d in deliveries] == ["queued", "queued"]
    assert {d["execution_id"] for d in deliveries} == {first.json()["execution_id"], other.json()["execution_id"]}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "Missing X-Hub-Signature-256"), ({"X-Hub-Signature-256": "sha256=00"}, "does not match")],
)
async def test_bad_github_signatures_are_refused_and_recorded(
    live_hub: LiveHub, headers: dict[str, str], reason: str
) -> None:
    await _hub_with_template(live_hub)
    await _create(live_hub)
    async with live_hub.http() as http:
        response = await http.post("/hooks/gh", content=json.dumps(ISSUE).encode(), headers=headers)
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    async with live_hub.http(live_hub.admin_token) as http:
        deliveries = (await http.post("/api/tools/webhook_deliveries", json={"name": "gh"})).json()["deliveries"]
    assert deliveries[0]["outcome"] == "rejected" and deliveries[0]["execution_id"] is None


async def test_timestamped_hmac_refuses_replays_and_tampering(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub, auth="hmac"))["secret"]
    body = json.dumps(ISSUE).encode()
    now = int(time.time())

    def signed(stamp: int, payload: bytes = body) -> dict[str, str]:
        return {
            "X-Goosuke-Timestamp": str(stamp),
            "X-Goosuke-Signature": sign_hmac(secret, stamp, payload),
            "Idempotency-Key": f"k-{stamp}",
        }

    async with live_hub.http() as http:
        fresh = await http.post("/hooks/gh", content=body, headers=signed(now))
        replayed = await http.post("/hooks/gh", content=body, headers=signed(now - 3600))
        tampered = await http.post("/hooks/gh", content=body.replace(b"Login", b"Logout"), headers=signed(now))
    assert fresh.status_code == 202
    assert replayed.status_code == 401 and "replay" in replayed.json()["detail"]
    assert tampered.status_code == 401 and "does not match" in tampered.json()["detail"]


async def test_token_hooks_and_secret_rotation(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    old = (await _create(live_hub, auth="token"))["secret"]
    body = json.dumps(ISSUE).encode()
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http() as http:
        ok = await http.post("/hooks/gh", content=body, headers={"Authorization": f"Bearer {old}"})
        wrong = await http.post("/hooks/gh", content=body, headers={"X-Goosuke-Token": "whsec_wrong"})
        new = (await admin.post("/api/tools/webhook_rotate_secret", json={"name": "gh"})).json()["secret"]
        stale = await http.post("/hooks/gh", content=body, headers={"Authorization": f"Bearer {old}"})
        fresh = await http.post("/hooks/gh", content=body, headers={"X-Goosuke-Token": new})
    assert ok.status_code == 202
    assert wrong.status_code == 401
    assert new != old
    assert stale.status_code == 401
    assert fresh.status_code == 202


async def test_unknown_and_disabled_slugs_look_the_same(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    await _create(live_hub)
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http() as http:
        await admin.post("/api/tools/action_disable", json={"name": "gh"})
        disabled = await http.post("/hooks/gh", json={})
        unknown = await http.post("/hooks/nope", json={})
    assert disabled.status_code == unknown.status_code == 404
    assert disabled.json() == unknown.json()


async def test_payload_problems_get_clear_answers(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub))["secret"]
    big = json.dumps({"issue": {"title": "x" * (live_hub.context.settings.webhook_max_body_bytes + 10)}}).encode()
    lacking = json.dumps({"issue": {"title": "no repo"}}).encode()
    not_json = b"title=hello"
    async with live_hub.http() as http:
        too_big = await http.post("/hooks/gh", content=big, headers={"X-Hub-Signature-256": sign_github(secret, big)})
        unfilled = await http.post(
            "/hooks/gh", content=lacking, headers={"X-Hub-Signature-256": sign_github(secret, lacking)}
        )
        garbage = await http.post(
            "/hooks/gh", content=not_json, headers={"X-Hub-Signature-256": sign_github(secret, not_json)}
        )
    assert too_big.status_code == 413
    assert unfilled.status_code == 422 and "repo" in unfilled.json()["detail"]
    assert garbage.status_code == 400


async def test_creation_refuses_mappings_that_cannot_fill_the_template(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    async with live_hub.http(live_hub.admin_token) as http:
        unmapped = await http.post(
            "/api/tools/webhook_create", json={"name": "a", "template": "triage", "mapping": {"title": "/issue/title"}}
        )
        bad_pointer = await http.post(
            "/api/tools/webhook_create",
            json={"name": "b", "template": "triage", "mapping": {"title": "issue/title", "repo": "/r"}},
        )
        unknown_param = await http.post(
            "/api/tools/webhook_create",
            json={"name": "c", "template": "triage", "mapping": {"title": "/t", "repo": "/r", "colour": "/c"}},
        )
        bad_rate = await http.post(
            "/api/tools/webhook_create",
            json={"name": "d", "template": "triage", "mapping": {"title": "/t", "repo": "/r"}, "rate_limit": "lots"},
        )
    assert unmapped.status_code == 422 and "needs repo" in unmapped.json()["detail"]
    assert bad_pointer.status_code == 422 and "mapping.title" in bad_pointer.json()["detail"]
    assert unknown_param.status_code == 422 and "colour" in unknown_param.json()["detail"]
    assert bad_rate.status_code == 422 and bad_rate.json()["errors"][0]["field"] == "rate_limit"


async def test_a_flood_is_rate_limited_and_every_accepted_delivery_has_an_execution(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub, auth="token", rate_limit="20/minute"))["secret"]
    body = json.dumps(ISSUE).encode()
    statuses: list[int] = []
    accepted: list[str] = []

    async def send(i: int) -> None:
        response = await http.post(
            "/hooks/gh", content=body, headers={"X-Goosuke-Token": secret, "Idempotency-Key": f"flood-{i}"}
        )
        statuses.append(response.status_code)
        if response.status_code == 202:
            accepted.append(response.json()["execution_id"])
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1

    # 1,000 requests at once over at most 100 connections: on a loaded machine a request may wait long
    # for a free connection, which is the client's queue, not the hub's answer
    async with live_hub.http(timeout=httpx2.Timeout(60.0, pool=None)) as http, anyio.create_task_group() as tg:
        for i in range(1000):  # a hook hammered a thousand times in about a second
            tg.start_soon(send, i)
    assert statuses.count(202) == 20
    assert statuses.count(429) == 980
    engine = live_hub.context.services.get(Engine)
    for execution_id in accepted:
        assert (await engine.get(execution_id)).trigger.kind == "webhook"
    async with live_hub.http() as http:
        metrics = (await http.get("/metrics")).text
    assert 'goosuke_webhook_refused_total{reason="rate_limited"} 980.0' in metrics
