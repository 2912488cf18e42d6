"""Schedules: created with checks, fired slot by slot on an injectable clock, exactly once across hubs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, select

from hub.db.models import ActionFiring, Execution
from hub.settings import Settings
from hub.templates.definition import Parameter
from hub.triggers.scheduler import Scheduler
from tests.conftest import LiveHub
from tests.engine_support import add_template, engine_of, hub_running, until
from tests.triggers.test_cron import oracle
from tools.actions import actions_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests drive their own schedulers on a fake clock: no background scheduler."""
    return settings.model_copy(update={"scheduler_enabled": False})


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def _schedule(app, name: str, cron: str, tz: str = "UTC", **config: str):  # type: ignore[no-untyped-def]
    schedule_config = {"cron": cron, "timezone": tz, "missed": "skip", "concurrency": "queue", **config}
    return await actions_of(app).create(
        name=name,
        kind="schedule",
        template="tick",
        params={"text": name},
        mapping={},
        config=schedule_config,
        enabled=True,
        actor="test",
    )


async def _backdate(app, name: str, to: datetime) -> None:  # type: ignore[no-untyped-def]
    row = await actions_of(app).get(name)
    await actions_of(app).save(row, cursor_at=to, created_at=to, next_fire_at=None)


async def _slots(app, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    row = await actions_of(app).get(name)
    async with app.db.session() as session:
        return sorted(
            s
            for s in await session.scalars(
                select(ActionFiring.slot).where(ActionFiring.action_id == row.id, ActionFiring.outcome == "queued")
            )
        )


async def test_10000_simulated_minutes_across_dst_fire_exactly_the_expected_slots(settings: Settings) -> None:
    start = datetime(2026, 10, 22, tzinfo=UTC)  # Berlin falls back on 25 Oct
    settings.scheduler_misfire_grace = 1200  # ticks up to 20 minutes apart: every slot is seen in time
    async with hub_running(settings) as app:
        await add_template(app, "tick", argv=["true"])
        await _schedule(app, "daily", "30 2 * * *", "Europe/Berlin")
        await _schedule(app, "half-hourly", "*/30 * * * *", "Europe/Berlin")
        for name in ("daily", "half-hourly"):
            await _backdate(app, name, start)
        clock = FakeClock(start)
        scheduler = Scheduler(app, actions_of(app), clock=clock)
        rng = random.Random(7)
        end = start + timedelta(minutes=10_000)
        while clock.now < end:
            clock.now = min(end, clock.now + timedelta(seconds=rng.randint(20, 1190)))  # 0 to 2 slots per tick
            await scheduler.tick()
        for name, cron in (("daily", "30 2 * * *"), ("half-hourly", "*/30 * * * *")):
            from hub.triggers.cron import parse

            expected = [s.isoformat() for s in oracle(parse(cron, "Europe/Berlin"), start, 10_000)]
            assert await _slots(app, name) == sorted(expected), name
        async with app.db.session() as session:
            executions = await session.scalar(
                select(func.count()).select_from(Execution).where(Execution.trigger_kind == "schedule")
            )
        assert executions == len(await _slots(app, "daily")) + len(await _slots(app, "half-hourly"))


async def test_missed_slots_are_skipped_or_run_once(settings: Settings) -> None:
    start = datetime(2026, 5, 1, 12, tzinfo=UTC)
    async with hub_running(settings) as app:
        await add_template(app, "tick", argv=["true"])
        await _schedule(app, "skipper", "0 * * * *", missed="skip")
        await _schedule(app, "catcher", "0 * * * *", missed="run_once")
        for name in ("skipper", "catcher"):
            await _backdate(app, name, start)
        clock = FakeClock(start + timedelta(hours=5, minutes=30))  # the hub was down for 5 slots
        await Scheduler(app, actions_of(app), clock=clock).tick()
        skipper = await actions_of(app).firings(await actions_of(app).get("skipper"))
        catcher = await actions_of(app).firings(await actions_of(app).get("catcher"))
    assert [f.outcome for f, _ in skipper] == ["missed"]
    assert "5 slot(s)" in (skipper[0][0].detail or "")
    assert sorted(f.outcome for f, _ in catcher) == ["missed", "queued"]
    queued = next(f for f, _ in catcher if f.outcome == "queued")
    assert queued.slot == (start + timedelta(hours=5)).isoformat()


async def test_concurrency_skip_skips_a_slot_while_the_previous_run_goes_on(settings: Settings) -> None:
    start = datetime(2026, 5, 1, 12, tzinfo=UTC)
    async with hub_running(settings) as app:
        await add_template(app, "tick", argv=["sleep", "30"])
        await _schedule(app, "slow", "* * * * *", concurrency="skip")
        await _backdate(app, "slow", start)
        clock = FakeClock(start + timedelta(minutes=1))
        scheduler = Scheduler(app, actions_of(app), clock=clock)
        await scheduler.tick()
        first = (await actions_of(app).firings(await actions_of(app).get("slow")))[0][0]
        assert first.outcome == "queued"
        await until(lambda: _is_running(app, first.execution_id), what="the first run to start")
        clock.now += timedelta(minutes=1)
        await scheduler.tick()
        outcomes = [f.outcome for f, _ in await actions_of(app).firings(await actions_of(app).get("slow"))]
        await engine_of(app).cancel(first.execution_id, actor="test")  # type: ignore[arg-type]
    assert outcomes == ["skipped", "queued"]


async def _is_running(app, execution_id) -> bool:  # type: ignore[no-untyped-def]
    return (await engine_of(app).get(execution_id)).status == "running"


async def test_two_hubs_on_one_database_fire_each_slot_once(settings: Settings) -> None:
    start = datetime(2026, 5, 1, 12, tzinfo=UTC)
    async with hub_running(settings) as first, hub_running(settings) as second:
        await add_template(first, "tick", argv=["true"])
        await _schedule(first, "busy", "* * * * *")
        await _backdate(first, "busy", start)
        clock = FakeClock(start)
        schedulers = [Scheduler(app, actions_of(app), clock=clock) for app in (first, second)]
        for _ in range(30):
            clock.now += timedelta(minutes=1)
            async with anyio.create_task_group() as tg:
                for scheduler in schedulers:
                    tg.start_soon(scheduler.tick)
        slots = await _slots(first, "busy")
        async with first.db.session() as session:
            executions = await session.scalar(select(func.count()).select_from(Execution))
    assert slots == sorted((start + timedelta(minutes=i)).isoformat() for i in range(1, 31))
    assert executions == 30


async def test_schedule_tools_check_everything_at_creation(live_hub: LiveHub) -> None:
    await add_template(live_hub.context, "tick", argv=["true"])
    await add_template(
        live_hub.context,
        "needs",
        argv=["true"],
        prompt="{{ who }}",
        parameters=[Parameter(key="who", requirement="required")],
    )
    async with live_hub.http(live_hub.admin_token) as http:

        async def create(**args: object):  # type: ignore[no-untyped-def]
            return await http.post(
                "/api/tools/schedule_create", json={"name": "s1", "template": "tick", "cron": "0 9 * * *", **args}
            )

        bad_cron = await create(cron="61 * * * *")
        bad_zone = await create(timezone="Mars/Olympus")
        no_template = await create(template="nope")
        unfilled = await create(template="needs")
        mistyped = await create(template="needs", params={"who": {"a": 1}})
        ok = await create(timezone="Europe/Berlin")
        again = await create()
        got = await http.post("/api/tools/schedule_get", json={"name": "s1"})
        updated = await http.post("/api/tools/schedule_update", json={"name": "s1", "cron": "@hourly"})
        run = await http.post("/api/tools/schedule_run_now", json={"name": "s1"})
        history = await http.post("/api/tools/schedule_history", json={"name": "s1"})
        listed = await http.post("/api/tools/action_list", json={"kind": "schedule"})
        disabled = await http.post("/api/tools/action_disable", json={"name": "s1"})
        deleted = await http.post("/api/tools/schedule_delete", json={"name": "s1"})
    assert bad_cron.status_code == 422 and bad_cron.json()["errors"][0]["field"] == "cron"
    assert bad_zone.status_code == 422 and bad_zone.json()["errors"][0]["field"] == "timezone"
    assert no_template.status_code == 404
    assert unfilled.status_code == 422 and "needs who" in unfilled.json()["detail"]
    assert mistyped.status_code == 422 and "params.who" in mistyped.json()["detail"]
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert len(body["next_fires"]) == 5 and body["timezone"] == "Europe/Berlin"
    assert datetime.fromisoformat(body["next_fires"][0]).astimezone(UTC).hour in (7, 8)  # 09:00 Berlin
    assert again.status_code == 409
    assert got.json()["cron"] == "0 9 * * *"
    assert updated.json()["cron"] == "@hourly"
    assert run.status_code == 200 and run.json()["execution"]["trigger"]["kind"] == "schedule"
    assert [f["outcome"] for f in history.json()["firings"]] == ["queued"]
    assert listed.json()["actions"][0]["next_fire_at"] is not None
    assert disabled.json()["enabled"] is False
    assert deleted.status_code == 200


async def test_two_real_hub_processes_fire_an_every_second_schedule_once_per_slot(
    tmp_path: Path, database_url: str
) -> None:
    import httpx2

    from harness.processes import free_port, hub_env, serving

    data = tmp_path / "data"
    env = hub_env(data, database_url, GOOSUKE_SCHEDULER_TICK="0.2")
    port_a, port_b = free_port(), free_port()
    with serving(env, port_a), serving(env, port_b):
        token = (data / "admin.token").read_text().strip()
        async with httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{port_a}", headers={"Authorization": f"Bearer {token}"}
        ) as http:
            created = await http.post(
                "/api/tools/template_create",
                json={
                    "name": "tick",
                    "title": "tick",
                    "prompt": "tick",
                    "agent": "command",
                    "agent_settings": {"argv": ["true"]},
                },
            )
            assert created.status_code == 200, created.text
            made = await http.post(
                "/api/tools/schedule_create",
                json={"name": "every-second", "template": "tick", "cron": "* * * * * *", "concurrency": "queue"},
            )
            assert made.status_code == 200, made.text

            async def enough() -> list[dict[str, object]] | None:
                firings = (
                    await http.post("/api/tools/schedule_history", json={"name": "every-second", "limit": 500})
                ).json()["firings"]
                return firings if len(firings) >= 8 else None

            firings = await until(enough, timeout=60, what="eight firings")
            await http.post("/api/tools/action_disable", json={"name": "every-second"})
    slots = [f["slot"] for f in firings]
    assert len(slots) == len(set(slots))
    executions = [f["execution_id"] for f in firings if f["outcome"] == "queued"]
    assert len(executions) == len(set(executions))


async def test_claims_left_by_a_crashed_hub_are_finished(settings: Settings) -> None:
    from hub.db.models import utcnow

    async with hub_running(settings) as app:
        await add_template(app, "tick", argv=["true"])
        schedule = await _schedule(app, "sched", "0 * * * *")
        hook = await actions_of(app).create(
            name="hook",
            kind="webhook",
            template="tick",
            params={},
            mapping={},
            config={"auth": "token"},
            enabled=True,
            actor="test",
        )
        long_ago = utcnow() - timedelta(minutes=5)
        async with app.db.session() as session:
            session.add(
                ActionFiring(
                    action_id=schedule.id, slot="2026-05-01T12:00:00+00:00", outcome="claimed", fired_at=long_ago
                )
            )
            session.add(ActionFiring(action_id=hook.id, slot="key:d-1", outcome="claimed", fired_at=long_ago))
        assert await actions_of(app).recover_claims() == 2
        sched_firing = (await actions_of(app).firings(schedule))[0][0]
        hook_firing = (await actions_of(app).firings(hook))[0][0]
    assert sched_firing.outcome == "queued" and sched_firing.execution_id
    assert hook_firing.outcome == "failed" and hook_firing.slot is None  # a redelivery may claim the key again
