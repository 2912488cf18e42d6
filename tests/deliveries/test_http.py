"""HTTP destinations: signed callbacks, retried with backoff, every attempt recorded, resumed after a restart."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from hub.app import create_app
from hub.db.models import new_id
from hub.deliveries import store
from hub.principal import Role
from hub.settings import Settings
from hub.triggers.webhooks import sign_hmac
from tests.conftest import LiveHub, serve
from tests.deliveries.support import SECRET_VALUE, Receiver, call, http_destination, ok
from tests.engine_support import add_template, python_argv, until

pytestmark = pytest.mark.anyio

FAIL = "import sys; sys.stdin.read(); print('boom', file=sys.stderr); sys.exit(3)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"delivery_backoff": 0.05, "scheduler_enabled": False})


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[LiveHub]:
    app = create_app(settings)
    async with serve(app, settings.port) as url:
        live = LiveHub(url, app, (settings.data_dir / "admin.token").read_text().strip())
        await add_template(live.context, "echo", argv=python_argv("import sys; print(sys.stdin.read())"))
        await add_template(live.context, "broken", argv=python_argv(FAIL))
        yield live


async def deliveries_of(hub: LiveHub, execution_id: str, count: int = 1) -> list[dict]:  # type: ignore[type-arg]
    async def settled() -> list[dict] | None:  # type: ignore[type-arg]
        body = await ok(hub, "delivery_list", execution_id=execution_id)
        rows = body["deliveries"]
        done = [r for r in rows if r["status"] != "pending"]
        return rows if len(done) >= count else None

    return await until(settled, 20, "the deliveries to settle")  # type: ignore[no-any-return]


async def test_a_signed_callback_that_fails_once_is_retried_and_both_attempts_are_recorded(hub: LiveHub) -> None:
    async with Receiver(statuses=[500]) as receiver:
        await http_destination(hub, "callback", receiver)
        run = await ok(hub, "template_run", name="echo", params={"text": "hello"}, deliver_to=["callback"], wait=20)
        assert run["status"] == "succeeded"
        [delivery] = await deliveries_of(hub, run["id"])
    assert delivery["status"] == "delivered", delivery
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 204]
    assert delivery["attempts"][0]["error"] == "The callback answered 500."
    assert receiver.bad_signatures == 0 and receiver.requests == 2
    [sent] = receiver.received
    assert sent["body"]["execution_id"] == run["id"] and sent["body"]["status"] == "succeeded"
    assert sent["body"]["output"].strip() == "hello" and sent["body"]["template"] == "echo"
    assert sent["headers"]["X-Goosuke-Delivery"] == delivery["id"]
    assert SECRET_VALUE not in str(delivery)


async def test_a_failed_run_is_announced_to_the_failure_destination_only(hub: LiveHub) -> None:
    async with Receiver() as results, Receiver() as alarms:
        await http_destination(hub, "results", results)
        await ok(hub, "destination_create", name="alarms", http={"url": alarms.url, "secret": "CALLBACK_KEY"})
        run = await ok(
            hub, "template_run", name="broken", deliver_to=["results"], announce_failures_to=["alarms"], wait=20
        )
        assert run["status"] == "failed"
        [delivery] = await deliveries_of(hub, run["id"])
    assert delivery["destination"] == "alarms" and delivery["purpose"] == "failure"
    assert delivery["status"] == "delivered"
    assert results.received == []
    [sent] = alarms.received
    assert sent["body"]["purpose"] == "failure" and sent["body"]["status"] == "failed" and sent["body"]["error"]


async def test_a_delivery_pending_when_its_hub_died_is_sent_by_the_next_hub(settings: Settings) -> None:
    async with Receiver() as receiver:
        app = create_app(settings)
        async with serve(app, settings.port) as url:
            first = LiveHub(url, app, (settings.data_dir / "admin.token").read_text().strip())
            await add_template(first.context, "echo", argv=python_argv("import sys; print(sys.stdin.read())"))
            await http_destination(first, "callback", receiver)
            run = await ok(first, "template_run", name="echo", params={"text": "after the crash"}, wait=20)
            # the state a hub leaves when it dies between the row and the send: a pending row of a gone engine
            row = await store.claim(first.context.db, run["id"], "callback", "result", owner=new_id())
            assert row is not None
        assert receiver.received == []
        app = create_app(settings)
        async with serve(app, settings.port) as url:
            second = LiveHub(url, app, (settings.data_dir / "admin.token").read_text().strip())
            [delivery] = await deliveries_of(second, run["id"])
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 1
    [sent] = receiver.received
    assert sent["body"]["output"].strip() == "after the crash"


async def test_an_operator_picks_destinations_but_cannot_create_an_http_one(hub: LiveHub) -> None:
    operator = await hub.token(Role.operator)
    async with Receiver() as receiver:
        status, body = await call(
            hub, "destination_create", operator, name="exfil", http={"url": receiver.url, "secret": "CALLBACK_KEY"}
        )
        assert status == 403, body
        assert "only an admin" in str(body)
        await http_destination(hub, "callback", receiver)
        status, run = await call(
            hub, "template_run", operator, name="echo", params={"text": "hi"}, deliver_to=["callback"], wait=20
        )
        assert status == 200, run
        await deliveries_of(hub, run["id"])
    assert len(receiver.received) == 1


async def test_a_route_to_an_unknown_destination_is_refused_when_it_is_named(hub: LiveHub) -> None:
    status, body = await call(hub, "template_run", None, name="echo", deliver_to=["nowhere"])
    assert status == 422, body
    assert "nowhere" in str(body) and "destination_create" in str(body)


async def test_a_webhook_run_delivers_its_result_where_the_hook_names(hub: LiveHub) -> None:
    async with Receiver() as receiver:
        await http_destination(hub, "callback", receiver)
        created = await ok(
            hub,
            "webhook_create",
            name="incoming",
            template="echo",
            auth="hmac",
            mapping={"text": "/text"},
            deliver_to=[{"destination": "callback", "on": "always"}],
        )
        assert created["webhook"]["routes"] == [{"destination": "callback", "on": "always"}]
        body = json.dumps({"text": "from the hook"}).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Goosuke-Timestamp": stamp,
            "X-Goosuke-Signature": sign_hmac(created["secret"], stamp, body),
        }
        async with hub.http() as http:
            response = await http.post("/hooks/incoming", content=body, headers=headers)
        assert response.status_code in (200, 202), response.text
        await until(lambda: _received(receiver), 20, "the webhook run's delivery")
    [sent] = receiver.received
    assert sent["body"]["output"].strip() == "from the hook"


async def _received(receiver: Receiver) -> bool:
    return bool(receiver.received)


async def test_a_refused_delivery_fails_at_once_and_delivery_retry_sends_it_again(hub: LiveHub) -> None:
    async with Receiver(statuses=[404]) as receiver:
        await http_destination(hub, "callback", receiver)
        run = await ok(hub, "template_run", name="echo", params={"text": "again"}, deliver_to=["callback"], wait=20)
        [failed] = await deliveries_of(hub, run["id"])
        assert failed["status"] == "failed" and failed["error"] == "The callback answered 404."
        assert len(failed["attempts"]) == 1  # a 404 is not retried: it would not pass later
        retried = await ok(hub, "delivery_retry", id=failed["id"])
        assert retried["status"] == "pending"

        async def delivered() -> dict | None:  # type: ignore[type-arg]
            row = await ok(hub, "delivery_get", id=failed["id"])
            return row if row["status"] == "delivered" else None

        row = await until(delivered, 20, "the retried delivery")
    assert [a["status_code"] for a in row["attempts"]] == [404, None, 204]
    assert row["attempts"][1]["retried_by"]
    status, body = await call(hub, "delivery_retry", None, id=failed["id"])
    assert status == 409, body
