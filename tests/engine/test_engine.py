"""The engine in process: states, limits, timeouts and cancel that kill process groups, bounded logs,
retries, recovery, and the queue on SQLite and PostgreSQL (two engines never run the same execution)."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from mcp import Client
from sqlalchemy import select

from hub.app import build_context, running
from hub.db.models import ApiToken, Execution, ExecutionLogLine, new_id
from hub.engine import FINAL_STATES, Engine, Trigger
from hub.engine.queue import Queue
from hub.errors import Conflict, InvalidArguments, NotFound
from hub.settings import Settings
from hub.templates import preview as previews
from tests.engine_support import (
    API,
    add_template,
    engine_of,
    finished,
    group_gone,
    hub_running,
    log_text,
    orphan,
    pid_of,
    python_argv,
    status_of,
    until,
)

pytestmark = pytest.mark.anyio

# A process group: a shell that starts a background sleeper, says so, and waits.
TREE = ["sh", "-c", "sleep 300 & echo started; wait"]


async def test_a_run_is_a_queued_row_before_it_starts_and_ends_succeeded(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "echo", argv=["cat"], prompt="Say {{ text }}")
        engine = engine_of(app)
        info = await engine.submit("echo", {"text": "hi"}, trigger=API)
        assert info.status in ("queued", "running")
        assert info.prompt == "Say hi" and info.template_version == 1 and info.attempt == 1
        done = await finished(app, info.id)
        assert done.status == "succeeded"
        assert done.output == "Say hi" and done.exit_code == 0
        assert done.started_at and done.finished_at and done.queued_at <= done.started_at <= done.finished_at
        assert done.trigger.kind == "api" and done.trigger.actor == "test"
        lines, total = await engine.logs(info.id)
        assert [line.seq for line in lines] == list(range(1, total + 1))
        assert lines[0].text.startswith("started") and lines[-1].text == "succeeded"


async def test_a_failing_command_ends_failed_with_its_exit_status_and_stderr_in_the_log(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "fail", argv=python_argv("import sys; print('oops', file=sys.stderr); sys.exit(3)"))
        info = await finished(app, (await engine_of(app).submit("fail", trigger=API)).id)
        assert info.status == "failed" and info.exit_code == 3
        assert "exited with status 3" in (info.error or "")
        assert "stderr: oops" in await log_text(app, info.id)


async def test_a_missing_program_fails_with_a_clear_error(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "ghost", argv=["/nonexistent/agent-binary"])
        info = await finished(app, (await engine_of(app).submit("ghost", trigger=API)).id)
        assert info.status == "failed"
        assert "Cannot start '/nonexistent/agent-binary': no such program" in (info.error or "")


async def test_a_timeout_kills_the_whole_process_group(settings: Settings) -> None:
    settings.execution_kill_grace = 0.5
    async with hub_running(settings) as app:
        await add_template(app, "hang", argv=TREE, timeout=1)
        info = await engine_of(app).submit("hang", trigger=API)
        pid = await pid_of(app, info.id)
        done = await finished(app, info.id)
        assert done.status == "timed_out"
        assert "longer than its timeout of 1 s" in (done.error or "")
        assert group_gone(pid), "the agent's process group outlived its timeout"
        assert "stdout: started" in await log_text(app, info.id)


async def test_cancel_stops_a_running_execution_and_its_process_group(settings: Settings) -> None:
    settings.execution_kill_grace = 0.5
    async with hub_running(settings) as app:
        await add_template(app, "hang", argv=TREE)
        engine = engine_of(app)
        info = await engine.submit("hang", trigger=API)
        pid = await pid_of(app, info.id)
        await until(lambda: log_has(app, info.id, "stdout: started"))
        cancelled = await engine.cancel(info.id, actor="ana")
        assert cancelled.status == "cancelled"
        assert cancelled.error == "Cancelled by ana while it ran; its processes were stopped."
        assert group_gone(pid)
        with pytest.raises(Conflict, match="already finished \\(cancelled\\); there is nothing to cancel"):
            await engine.cancel(info.id)


async def log_has(app: object, execution_id: str, text: str) -> bool:
    return text in await log_text(app, execution_id)  # type: ignore[arg-type]


async def test_a_queued_execution_is_cancelled_before_it_starts(settings: Settings) -> None:
    settings.max_concurrent_executions = 1
    async with hub_running(settings) as app:
        await add_template(app, "hang", argv=TREE)
        engine = engine_of(app)
        first = await engine.submit("hang", trigger=API)
        second = await engine.submit("hang", trigger=API)
        await until(lambda: status_is(app, first.id, "running"))
        cancelled = await engine.cancel(second.id, actor="bo")
        assert cancelled.status == "cancelled" and cancelled.started_at is None
        assert "before it started" in (cancelled.error or "")
        await engine.cancel(first.id)


async def status_is(app: object, execution_id: str, status: str) -> bool:
    return await status_of(app, execution_id) == status  # type: ignore[arg-type]


async def test_an_output_flood_is_cut_with_a_marker_and_bounded(settings: Settings) -> None:
    settings.execution_log_limit = 20_000
    settings.execution_output_limit = 5_000
    flood = "import sys\nfor i in range(200000): sys.stdout.write('x' * 79 + '\\n')\nsys.stdout.write('y' * 100000)"
    async with hub_running(settings) as app:
        await add_template(app, "flood", argv=python_argv(flood))
        info = await finished(app, (await engine_of(app).submit("flood", trigger=API)).id, timeout=60)
        assert info.status == "succeeded"
        assert info.log_truncated and info.log_bytes <= 20_000
        assert info.output_truncated and len(info.output or "") < 5_200
        assert "output truncated at 5000 characters" in (info.output or "")
        text = await log_text(app, info.id)
        assert "log truncated: this execution's log reached 20000 bytes" in text
        async with app.db.session() as session:
            count = len(
                list(await session.scalars(select(ExecutionLogLine.id).where(ExecutionLogLine.execution_id == info.id)))
            )
        assert count == info.log_lines < 300


async def test_the_global_limit_and_a_template_limit_hold(settings: Settings, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    wait_for_gate = python_argv(f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)")
    settings.max_concurrent_executions = 3
    async with hub_running(settings) as app:
        await add_template(app, "one-at-a-time", argv=wait_for_gate, concurrency=1)
        await add_template(app, "gated", argv=wait_for_gate)
        await add_template(app, "quick", argv=["true"])
        engine = engine_of(app)
        limited = [await engine.submit("one-at-a-time", trigger=API) for _ in range(3)]
        await until(lambda: running_is(app, 1))
        gated = [await engine.submit("gated", trigger=API) for _ in range(3)]
        await until(lambda: running_is(app, 3))
        # the dispatcher keeps claiming (a later submission is picked up as slots free), yet the limits hold
        assert await counts(app, "one-at-a-time") == {"running": 1, "queued": 2}
        assert await counts(app, "gated") == {"running": 2, "queued": 1}
        quick = await engine.submit("quick", trigger=API)
        gate.touch()
        for info in [*limited, *gated, quick]:
            assert (await finished(app, info.id)).status == "succeeded"


async def count_running(app: object) -> int:
    async with app.db.session() as session:  # type: ignore[attr-defined]
        return len(list(await session.scalars(select(Execution.id).where(Execution.status == "running"))))


async def running_is(app: object, n: int) -> bool:
    return await count_running(app) == n


async def counts(app: object, template: str) -> dict[str, int]:
    async with app.db.session() as session:  # type: ignore[attr-defined]
        rows = await session.scalars(select(Execution.status).where(Execution.template_name == template))
        result: dict[str, int] = {}
        for status in rows:
            result[status] = result.get(status, 0) + 1
        return result


async def test_failed_runs_are_retried_as_new_executions_up_to_the_limit(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "flaky", argv=["false"], retries=2)
        first = await engine_of(app).submit("flaky", trigger=API)

        async def chain() -> list[Execution] | None:
            async with app.db.session() as session:
                rows = list(await session.scalars(select(Execution).order_by(Execution.attempt)))
            return rows if len(rows) == 3 and all(r.status in FINAL_STATES for r in rows) else None

        rows = await until(chain)
        assert [r.attempt for r in rows] == [1, 2, 3]
        assert [r.retry_of for r in rows] == [None, first.id, rows[1].id]
        assert all(r.status == "failed" for r in rows)
        assert f"Retrying as execution {rows[1].id} (attempt 2)" in (rows[0].error or "")


async def test_bad_input_is_refused_before_any_row_is_written(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "echo", argv=["cat"])
        engine = engine_of(app)
        with pytest.raises(NotFound, match=r"No template named 'nope'\. List templates with template_list\."):
            await engine.submit("nope", trigger=API)
        with pytest.raises(InvalidArguments, match="Unknown parameter\\(s\\) txt; this template takes: text"):
            await engine.submit("echo", {"txt": 1}, trigger=API)
        async with app.db.session() as session:
            assert list(await session.scalars(select(Execution.id))) == []


async def test_an_idempotency_key_gives_the_same_execution(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "echo", argv=["cat"])
        engine = engine_of(app)
        first = await engine.submit("echo", trigger=API, idempotency_key="discord:42:pencil")
        again = await engine.submit("echo", {"text": "other"}, trigger=API, idempotency_key="discord:42:pencil")
        assert again.id == first.id


async def test_retry_runs_a_finished_execution_again_and_refuses_a_running_one(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "echo", argv=["cat"])
        engine = engine_of(app)
        done = await finished(app, (await engine.submit("echo", {"text": "x"}, trigger=API)).id)
        again = await finished(app, (await engine.retry(done.id, API)).id)
        assert again.retry_of == done.id and again.output == "x" and again.id != done.id


async def test_twenty_concurrent_runs_do_not_stop_the_hub_answering(settings: Settings) -> None:
    settings.max_concurrent_executions = 20
    settings.execution_kill_grace = 1
    async with hub_running(settings) as app, Client(app.server) as client:
        await add_template(app, "busy", argv=python_argv("import time\nprint('up', flush=True)\ntime.sleep(300)"))
        engine = engine_of(app)
        runs = [await engine.submit("busy", trigger=API) for _ in range(20)]
        await until(lambda: running_is(app, 20))
        for _ in range(20):  # the hub keeps answering other tools while 20 agents run
            with anyio.fail_after(5):
                result = await client.call_tool("whoami", {})
            assert not result.is_error
        listed = await client.call_tool("execution_list", {"status": "running"})
        assert listed.structured_content["total"] == 20
        pids = [await pid_of(app, r.id) for r in runs]
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for run in runs:
                    tg.start_soon(engine.cancel, run.id)
        assert {await status_of(app, r.id) for r in runs} == {"cancelled"}
        assert all(group_gone(pid) for pid in pids)


async def test_stopping_the_hub_interrupts_runs_and_requeues_those_with_retries(settings: Settings) -> None:
    settings.execution_kill_grace = 0.5
    async with hub_running(settings) as app:
        await add_template(app, "once", argv=TREE)
        await add_template(app, "again", argv=TREE, retries=1)
        engine = engine_of(app)
        once = await engine.submit("once", trigger=API)
        again = await engine.submit("again", trigger=API)
        await until(lambda: running_is(app, 2))
        pids = [await pid_of(app, once.id), await pid_of(app, again.id)]
    assert all(group_gone(pid) for pid in pids)
    app = build_context(settings, transport="stdio")
    settings.max_concurrent_executions = 1
    async with app.db.session() as session:
        rows = {r.template_name + ":" + r.status: r for r in await session.scalars(select(Execution))}
    await app.db.dispose()
    assert set(rows) == {"once:interrupted", "again:interrupted", "again:queued"}
    assert rows["again:queued"].retry_of == again.id and rows["again:queued"].attempt == 2


async def test_on_start_runs_left_running_by_a_dead_hub_become_interrupted_and_requeued(settings: Settings) -> None:
    app = build_context(settings, transport="stdio")
    async with running(app):
        pass  # migrate, seed
    gone = new_id()
    plain = await orphan(app, "nightly", gone)
    retried = await orphan(app, "nightly", gone, retries=1)
    await app.db.dispose()
    async with hub_running(settings) as app:
        engine = engine_of(app)
        info = await engine.get(plain)
        assert info.status == "interrupted" and "stopped (crash or kill)" in (info.error or "")
        assert (await engine.logs(plain))[0][0].text == "halfway"
        assert "interrupted:" in (await engine.logs(plain))[0][-1].text
        assert "Retrying as execution" in ((await engine.get(retried)).error or "")
        async with app.db.session() as session:
            retry = await session.scalar(select(Execution).where(Execution.retry_of == retried))
            assert retry is not None and retry.attempt == 2 and retry.trigger_kind == "schedule"
            assert not list(await session.scalars(select(ApiToken).where(ApiToken.name.like("run:%"))))
        assert (await finished(app, retry.id)).status == "succeeded"


async def test_two_engines_sharing_a_database_never_run_the_same_execution(settings: Settings, tmp_path: Path) -> None:
    """PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED; SQLite: claims serialised in process."""
    ran = tmp_path / "ran"
    ran.mkdir()
    record = python_argv(f"import os\nopen(os.path.join({str(ran)!r}, os.environ['GOOSUKE_EXECUTION_ID']), 'x')")
    settings.max_concurrent_executions = 4
    other_settings = settings.model_copy(update={"data_dir": tmp_path / "other"})
    async with hub_running(settings) as one, hub_running(other_settings) as two:
        await add_template(one, "record", argv=record)
        ids = [(await engine_of(one if i % 2 else two).submit("record", trigger=API)).id for i in range(60)]
        for execution_id in ids:
            assert (await finished(one, execution_id)).status == "succeeded"
        async with one.db.session() as session:
            owners = {r.claimed_by for r in await session.scalars(select(Execution))}
        workers = {engine_of(one).worker_id, engine_of(two).worker_id}
    assert sorted(os.listdir(ran)) == sorted(ids)  # each ran exactly once ('x' refuses a second open)
    assert owners == workers


async def test_concurrent_claims_on_one_database_never_overlap(settings: Settings) -> None:
    async with hub_running(settings) as app:
        await add_template(app, "echo", argv=["true"])
    app = build_context(settings, transport="stdio")
    preview = await previews.prepare(app.db.read, "echo")
    submitter = Engine(app)  # not running: only its submit is used
    for _ in range(80):
        await submitter.submit_preview(preview, trigger=API)
    queues = [Queue(app.db, new_id()) for _ in range(4)]
    claimed: dict[str, list[str]] = {q.worker_id: [] for q in queues}
    for queue in queues:
        await queue.start()

    async def drain(queue: Queue) -> None:
        while rows := await queue.claim(3):
            claimed[queue.worker_id] += [r.id for r in rows]

    async with anyio.create_task_group() as tg:
        for queue in queues:
            tg.start_soon(drain, queue)
    for queue in queues:
        await queue.close()
    await app.db.dispose()
    everything = [i for ids in claimed.values() for i in ids]
    assert len(everything) == len(set(everything)) == 80


async def test_a_live_hub_recovers_the_runs_of_a_dead_one_at_once(settings: Settings) -> None:
    """Each engine has a row in engine_instances while it lives (and, on PostgreSQL, an advisory lock)."""
    async with hub_running(settings) as app:
        engine = engine_of(app)
        dead = Queue(app.db, new_id())
        await dead.start()
        alive_row = await orphan(app, "nightly", dead.worker_id)
        assert await engine.recover() == []  # its engine still holds its lock: not ours to touch
        await dead.close()  # the other hub stops: its row (and lock) go with it
        assert await engine.recover() == [alive_row]
        assert await status_of(app, alive_row) == "interrupted"


async def test_trigger_kinds_are_the_documented_ones() -> None:
    for kind in ("mcp", "api", "discord", "schedule", "webhook"):
        Trigger(kind=kind, actor="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Trigger(kind="email", actor="x")  # type: ignore[arg-type]
