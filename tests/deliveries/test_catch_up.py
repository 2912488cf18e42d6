"""Nothing is lost: a run whose hub stopped before writing its deliveries is delivered by the next hub, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from hub.app import create_app
from hub.settings import Settings
from tests.conftest import LiveHub, serve
from tests.deliveries.support import Receiver, http_destination, lost_run, ok
from tests.engine_support import add_template, python_argv, until

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"delivery_backoff": 0.05, "scheduler_enabled": False})


@asynccontextmanager
async def hub_on(settings: Settings) -> AsyncIterator[LiveHub]:
    app = create_app(settings)
    async with serve(app, settings.port) as url:
        yield LiveHub(url, app, (settings.data_dir / "admin.token").read_text().strip())


async def delivered(hub: LiveHub, execution_id: str) -> list[dict]:  # type: ignore[type-arg]
    async def done() -> list[dict] | None:  # type: ignore[type-arg]
        rows = (await ok(hub, "delivery_list", execution_id=execution_id))["deliveries"]
        return rows if rows and all(r["status"] == "delivered" for r in rows) else None

    return await until(done, 20, "the caught-up delivery")  # type: ignore[no-any-return]


async def test_a_run_finished_as_its_hub_crashed_is_delivered_once_by_the_next_hub(settings: Settings) -> None:
    async with Receiver() as receiver:
        async with hub_on(settings) as first:
            await add_template(first.context, "echo", argv=python_argv("import sys; print(sys.stdin.read())"))
            await http_destination(first, "callback", receiver)
            lost = await lost_run(first, "echo", "lost in the crash", routes=[{"destination": "callback"}])
            routeless = await lost_run(first, "echo", "goes nowhere")
        assert receiver.received == []
        async with hub_on(settings) as second:
            [delivery] = await delivered(second, lost)
            assert (await ok(second, "delivery_list", execution_id=routeless))["deliveries"] == []
        async with hub_on(settings) as third:  # a later start finds the delivery row: nothing is sent again
            assert [r["id"] for r in (await ok(third, "delivery_list", execution_id=lost))["deliveries"]] == [
                delivery["id"]
            ]
    [sent] = receiver.received
    assert sent["body"]["execution_id"] == lost and sent["body"]["output"] == "lost in the crash"
    assert receiver.requests == 1


async def test_a_running_hub_catches_up_a_run_another_hub_left_undelivered(settings: Settings) -> None:
    settings = settings.model_copy(update={"delivery_sweep_interval": 0.2})
    async with Receiver() as receiver, hub_on(settings) as hub:
        await add_template(hub.context, "echo", argv=python_argv("import sys; print(sys.stdin.read())"))
        await http_destination(hub, "callback", receiver)
        lost = await lost_run(hub, "echo", "left by a crashed stdio", routes=[{"destination": "callback"}])
        [delivery] = await delivered(hub, lost)
    assert delivery["destination"] == "callback"
    assert [s["body"]["execution_id"] for s in receiver.received] == [lost]


async def test_catching_up_is_off_with_a_zero_window(settings: Settings) -> None:
    settings = settings.model_copy(update={"delivery_catch_up_window": 0})
    async with Receiver() as receiver:
        async with hub_on(settings) as first:
            await add_template(first.context, "echo", argv=python_argv("import sys; print(sys.stdin.read())"))
            await http_destination(first, "callback", receiver)
            lost = await lost_run(first, "echo", "x", routes=[{"destination": "callback"}])
        async with hub_on(settings) as second:
            assert (await ok(second, "delivery_list", execution_id=lost))["deliveries"] == []
    assert receiver.requests == 0
