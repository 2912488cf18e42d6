"""The server log has one line per schedule fire: the schedule's name, the slot, the outcome and the execution it
queued; a skipped slot and missed slots get their own line, and a parameter's value is never logged (issue 12,
"Operations that tell the truth")."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from hub.settings import Settings
from hub.triggers.scheduler import Scheduler
from tests.engine_support import add_template, engine_of, hub_running, until
from tests.triggers.test_schedules import FakeClock, _backdate, _is_running
from tools.actions import actions_of

pytestmark = pytest.mark.anyio

START = datetime(2026, 5, 1, 12, tzinfo=UTC)
PARAM = "a-parameter-value-that-is-never-logged"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test drives its own scheduler on a fake clock: no background scheduler."""
    return settings.model_copy(update={"scheduler_enabled": False})


def _lines(caplog: pytest.LogCaptureFixture, schedule: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "goosuke.scheduler" and repr(schedule) in r.getMessage()
    ]


async def _schedule(app, name: str, template: str, **config: str):  # type: ignore[no-untyped-def]
    await actions_of(app).create(
        name=name,
        kind="schedule",
        template=template,
        params={"text": PARAM},
        mapping={},
        config={"cron": "0 * * * *", "timezone": "UTC", "missed": "skip", "concurrency": "queue", **config},
        enabled=True,
        actor="test",
    )
    await _backdate(app, name, START)


async def test_each_schedule_fire_logs_one_line_with_its_name_slot_outcome_and_execution(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="goosuke.scheduler")
    async with hub_running(settings) as app:
        await add_template(app, "tick", argv=["true"])
        await _schedule(app, "hourly", "tick")
        clock = FakeClock(START + timedelta(hours=5, minutes=30))  # the hub was down for 5 slots
        scheduler = Scheduler(app, actions_of(app), clock=clock)
        await scheduler.tick()
        assert _lines(caplog, "hourly") == ["schedule 'hourly': 5 slot(s) missed while no hub ran (skipped)"]
        caplog.clear()
        clock.now = START + timedelta(hours=6, seconds=5)
        await scheduler.tick()
        await scheduler.tick()  # nothing new to fire: no line
        firings = await actions_of(app).firings(await actions_of(app).get("hourly"))
        queued = [f for f, _ in firings if f.outcome == "queued"]
        assert len(queued) == 1 and queued[0].execution_id
        slot = (START + timedelta(hours=6)).isoformat()
        assert _lines(caplog, "hourly") == [
            f"schedule 'hourly' fired for {slot}: queued, execution {queued[0].execution_id}"
        ]
    assert not any(PARAM in r.getMessage() for r in caplog.records)


async def test_a_slot_skipped_while_the_previous_run_goes_on_logs_one_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="goosuke.scheduler")
    async with hub_running(settings) as app:
        await add_template(app, "slow", argv=["sleep", "30"])
        await _schedule(app, "busy", "slow", concurrency="skip")
        clock = FakeClock(START + timedelta(hours=1))
        scheduler = Scheduler(app, actions_of(app), clock=clock)
        await scheduler.tick()
        first = (await actions_of(app).firings(await actions_of(app).get("busy")))[0][0]
        await until(lambda: _is_running(app, first.execution_id), what="the first run to start")
        clock.now += timedelta(hours=1)
        await scheduler.tick()
        await engine_of(app).cancel(first.execution_id, actor="test")  # type: ignore[arg-type]
    first_slot, second_slot = ((START + timedelta(hours=h)).isoformat() for h in (1, 2))
    assert _lines(caplog, "busy") == [
        f"schedule 'busy' fired for {first_slot}: queued, execution {first.execution_id}",
        f"schedule 'busy' fired for {second_slot}: skipped (the previous run is still active)",
    ]
