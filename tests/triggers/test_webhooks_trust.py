"""Webhooks against an attacker: signature before limits, finite timestamps, replays with another
idempotency header, deeply nested bodies; in process and across two `goosuke serve` processes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from harness.processes import free_port, hub_env, serving
from hub.db.models import Execution
from hub.triggers.webhooks import sign_github, sign_hmac
from tests.conftest import LiveHub
from tests.triggers.test_webhooks import ISSUE, _create, _hub_with_template

pytestmark = pytest.mark.anyio

DEEP = b"[" * 100_000 + b"]" * 100_000


async def _executions(hub: LiveHub) -> int:
    async with hub.context.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Execution)) or 0)


async def test_unsigned_requests_do_not_use_up_the_signed_senders_rate_limit(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub, rate_limit="5/minute"))["secret"]
    body = json.dumps(ISSUE).encode()
    failures = live_hub.context.settings.webhook_failure_rate_limit  # 30/minute
    async with live_hub.http() as http:
        unsigned = [(await http.post("/hooks/gh", content=body)).status_code for _ in range(40)]
        signed = await http.post("/hooks/gh", content=body, headers={"X-Hub-Signature-256": sign_github(secret, body)})
    assert failures == "30/minute"
    assert unsigned == [401] * 30 + [429] * 10  # the refusals have their own limit per address
    assert signed.status_code == 202, signed.text


async def test_replays_do_not_use_up_the_hooks_rate_limit(live_hub: LiveHub) -> None:
    # order: signature, freshness, replay check, then the hook's limit; one captured delivery replayed
    # many times used to take the real sender's quota
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub, rate_limit="2/minute"))["secret"]

    def signed(number: int) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({**ISSUE, "delivery": number}).encode()
        return body, {"X-Hub-Signature-256": sign_github(secret, body), "X-GitHub-Delivery": f"d-{number}"}

    async with live_hub.http() as http:
        first = await http.post("/hooks/gh", content=signed(1)[0], headers=signed(1)[1])
        body, headers = signed(1)
        replays = [
            await http.post("/hooks/gh", content=body, headers={**headers, "X-GitHub-Delivery": f"r-{i}"})
            for i in range(10)
        ]
        second = await http.post("/hooks/gh", content=signed(2)[0], headers=signed(2)[1])
        third = await http.post("/hooks/gh", content=signed(3)[0], headers=signed(3)[1])
        third_again = await http.post("/hooks/gh", content=signed(3)[0], headers=signed(3)[1])
    assert first.status_code == 202, first.text
    assert [r.status_code for r in replays] == [200] * 10
    assert {r.json()["execution_id"] for r in replays} == {first.json()["execution_id"]}
    assert second.status_code == 202, second.text  # the replays took none of the 2/minute
    assert third.status_code == 429  # the limit itself still holds
    # a delivery the limit refused did not use up its signature: sent again it is limited, not a "replay"
    assert third_again.status_code == 429, third_again.text
    assert await _executions(live_hub) == 2


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-inf", "1e999", "9" * 400, "0x10", ""])
async def test_hmac_timestamps_must_be_finite_unix_seconds(live_hub: LiveHub, stamp: str) -> None:
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub, auth="hmac"))["secret"]
    body = json.dumps(ISSUE).encode()
    headers = {"X-Goosuke-Timestamp": stamp, "X-Goosuke-Signature": sign_hmac(secret, stamp, body)}
    async with live_hub.http() as http:
        response = await http.post("/hooks/gh", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert "X-Goosuke-Timestamp" in response.json()["detail"]
    assert await _executions(live_hub) == 0


async def test_a_captured_hmac_delivery_replayed_with_another_key_starts_no_run(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub, auth="hmac"))["secret"]
    body = json.dumps(ISSUE).encode()
    stamp = int(time.time())
    signed = {"X-Goosuke-Timestamp": str(stamp), "X-Goosuke-Signature": sign_hmac(secret, stamp, body)}
    async with live_hub.http() as http:
        first = await http.post("/hooks/gh", content=body, headers={**signed, "Idempotency-Key": "k-1"})
        without = await http.post("/hooks/gh", content=body, headers=signed)
        changed = await http.post("/hooks/gh", content=body, headers={**signed, "Idempotency-Key": "k-2"})
        later = int(time.time()) + 1  # a new delivery, signed by the sender: a new run
        fresh = {"X-Goosuke-Timestamp": str(later), "X-Goosuke-Signature": sign_hmac(secret, later, body)}
        new = await http.post("/hooks/gh", content=body, headers={**fresh, "Idempotency-Key": "k-3"})
    assert first.status_code == 202, first.text
    for replay in (without, changed):
        assert replay.status_code == 200 and replay.json()["duplicate"] is True
        assert replay.json()["execution_id"] == first.json()["execution_id"]
    assert new.status_code == 202
    assert await _executions(live_hub) == 2
    async with live_hub.http() as http:
        assert 'goosuke_webhook_refused_total{reason="replay"} 2.0' in (await http.get("/metrics")).text


async def test_a_signed_deeply_nested_body_is_a_400_naming_the_body(live_hub: LiveHub) -> None:
    await _hub_with_template(live_hub)
    secret = (await _create(live_hub))["secret"]
    nested = json.dumps({"issue": {"title": "x"}, "deep": json.loads("[" * 80 + "]" * 80)}).encode()
    async with live_hub.http() as http:
        answers = [
            await http.post("/hooks/gh", content=b, headers={"X-Hub-Signature-256": sign_github(secret, b)})
            for b in (DEEP, nested)
        ]
        assert (await http.get("/healthz")).status_code == 200
    for response in answers:
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "(body)"
        assert "deeper than" in response.json()["detail"]


def _hook(url: str, admin: str) -> str:
    headers = {"Authorization": f"Bearer {admin}"}
    template = {
        "name": "hooked",
        "title": "hooked",
        "prompt": "{{ text }}",
        "agent": "command",
        "agent_settings": {"argv": ["true"]},
        "parameters": [{"key": "text", "requirement": "required"}],
    }
    created = httpx2.post(f"{url}/api/tools/template_create", json=template, headers=headers, timeout=30)
    assert created.status_code == 200, created.text
    hook = {"name": "h", "template": "hooked", "auth": "hmac", "mapping": {"text": "/text"}}
    response = httpx2.post(f"{url}/api/tools/webhook_create", json=hook, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["secret"])


async def test_two_goosuke_serve_processes_share_the_replay_cache(tmp_path: Path, database_url: str, port: int) -> None:
    env: dict[str, Any] = hub_env(tmp_path / "data", database_url)
    other_port = free_port()
    with serving(env, port, log=tmp_path / "a.log"), serving(env, other_port, log=tmp_path / "b.log"):
        a, b = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{other_port}"
        secret = _hook(a, (tmp_path / "data" / "admin.token").read_text().strip())
        body = json.dumps({"text": "hello"}).encode()
        stamp = int(time.time())
        signed = {"X-Goosuke-Timestamp": str(stamp), "X-Goosuke-Signature": sign_hmac(secret, stamp, body)}
        first = httpx2.post(f"{a}/hooks/h", content=body, headers={**signed, "Idempotency-Key": "one"})
        replay = httpx2.post(f"{b}/hooks/h", content=body, headers={**signed, "Idempotency-Key": "two"})
        nan = {"X-Goosuke-Timestamp": "nan", "X-Goosuke-Signature": sign_hmac(secret, "nan", body)}
        not_finite = httpx2.post(f"{b}/hooks/h", content=body, headers=nan)
        deep = {"X-Goosuke-Timestamp": str(stamp), "X-Goosuke-Signature": sign_hmac(secret, stamp, DEEP)}
        nested = httpx2.post(f"{a}/hooks/h", content=DEEP, headers=deep)
    assert first.status_code == 202, first.text
    assert replay.status_code == 200 and replay.json()["execution_id"] == first.json()["execution_id"]
    assert not_finite.status_code == 401
    assert nested.status_code == 400 and nested.json()["errors"][0]["field"] == "(body)"
    for log in ("a.log", "b.log"):
        assert "Traceback" not in (tmp_path / log).read_text()
