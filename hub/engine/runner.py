"""One execution from claim to final row: the agent call under a timeout, cancel, log, result, retry."""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
from prometheus_client import Counter, Histogram
from sqlalchemy import delete

from hub import accounts
from hub.clock import aware
from hub.db.models import ApiToken, Execution, utcnow
from hub.engine.active import Active
from hub.engine.agent import AgentResult, AgentRun, HubAccess
from hub.engine.logs import LogWriter
from hub.engine.process import kill_recorded_group, process_identity
from hub.engine.queue import HOST
from hub.engine.records import RETRYABLE_STATES, ExecutionInfo, retry_row, row_values
from hub.engine.response import conform
from hub.engine.statements import (
    DELETE_RUN_TOKEN,
    FINISH,
    INSERT_EXECUTION,
    INSERT_LOG_LINES,
    LAST_SEQ,
    MARK_INTERRUPTED,
    ORPHAN,
    ORPHAN_PG,
    UPDATE_LOG_COUNTERS,
    UPDATE_LOG_COUNTERS_AND_PID,
)
from hub.errors import AgentRunError, GoosukeError
from hub.principal import Role
from hub.runners.model import RunOptions
from hub.vault.service import Vault

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from hub.engine.core import Engine

logger = logging.getLogger("goosuke.engine")

FINISH_TIMEOUT = 30.0  # seconds the final write of a run may take (it is shielded from cancellation)
TOKEN_SLACK = 300.0  # a run token outlives the run's timeout by this much, in case the revoke is lost
BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


def remove_workdirs(workdirs: list[Path]) -> None:
    """Remove runs' scratch folders (blocking: call it in a worker thread)."""
    for workdir in workdirs:
        shutil.rmtree(workdir, ignore_errors=True)


def _lowest(a: Role, b: Role) -> Role:
    return a if a.rank <= b.rank else b


class EngineMetrics:
    """The engine's Prometheus series: one set per metrics registry (a second engine, in tests, shares it)."""

    _by_registry: ClassVar[weakref.WeakKeyDictionary[Any, EngineMetrics]] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, registry: Any) -> EngineMetrics:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found

    def __init__(self, registry: Any) -> None:
        self.finished = Counter(
            "goosuke_executions_finished", "Executions by final state.", ["agent", "status"], registry=registry
        )
        self.queue_seconds = Histogram(
            "goosuke_execution_queue_seconds", "Queued to started.", buckets=BUCKETS, registry=registry
        )
        self.run_seconds = Histogram(
            "goosuke_execution_run_seconds", "Started to finished.", ["agent"], buckets=BUCKETS, registry=registry
        )


class Runner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metrics = EngineMetrics.of(engine.app.metrics.registry)
        self._used_workdirs: list[Path] = []

    async def sweep(self) -> None:
        """Remove the scratch folders of finished runs, in a worker thread (file system calls are slow)."""
        if self._used_workdirs:
            workdirs, self._used_workdirs = self._used_workdirs, []
            await anyio.to_thread.run_sync(remove_workdirs, workdirs)

    async def mint_token(self, execution_id: str, role: Role, ttl: float) -> tuple[str, str]:
        """A hub token for one run (an API token row named ``run:<id>``, deleted when the run ends)."""
        async with self.engine.queue.writing() as session:
            row, value = await accounts.create_token(
                session, f"run:{execution_id}", role, expires_at=utcnow() + timedelta(seconds=ttl), actor="engine"
            )
            return row.id, value

    async def revoke_token(self, token_id: str) -> None:
        async with self.engine.queue.writing() as session:
            await session.execute(delete(ApiToken).where(ApiToken.id == token_id))
        if self.engine.app.verifier is not None:
            self.engine.app.verifier.forget()

    def writer_for(self, execution_id: str) -> LogWriter:
        return LogWriter(execution_id, self.engine.settings.execution_log_limit)

    async def execute(self, row: Execution, active: Active) -> None:
        engine = self.engine
        status, result = "interrupted", None
        error: str | None = "The hub stopped while this ran."
        workdir: Path | None = None
        started = anyio.current_time()
        logger.info(
            "Execution %s of %s started (trigger %s, attempt %d, agent %s)",
            row.id,
            row.template_name,
            row.trigger_kind,
            row.attempt,
            row.agent,
        )
        if row.started_at is not None:
            self.metrics.queue_seconds.observe(max(0.0, (aware(row.started_at) - aware(row.queued_at)).total_seconds()))
        try:
            engine.changed(row.id)
            active.writer.write(
                "goosuke",
                f"started on {HOST} (attempt {row.attempt}, agent {row.agent}, timeout {row.timeout_seconds:g} s)",
            )
            agent = engine.agents.get(row.agent)
            if agent is None:
                known = ", ".join(sorted(engine.agents)) or "none"
                raise AgentRunError(f"No agent named {row.agent!r} is installed in this hub (it has: {known}).")
            workdir = Path(tempfile.mkdtemp(prefix=f"goosuke-run-{row.id[:8]}-"))
            run = self._agent_run(row, active, workdir)
            with active.scope:
                active.scope.deadline = anyio.current_time() + row.timeout_seconds
                result = await agent.run(run)
            if active.scope.cancel_called or result is None:
                status = active.reason or "timed_out"
                error = self._stop_message(status, row, active)
                result = None
            elif result.failed:
                status, error = "failed", result.error or f"The {row.agent} agent reported a failure."
            else:
                schema = (row.agent_settings or {}).get("response_schema")
                if schema is not None:  # an answer that does not fit fails the run; its text is kept
                    try:
                        answer = conform(schema, result.output, result.structured)
                    except AgentRunError:
                        result.structured = None
                        raise
                    result.structured = answer if isinstance(answer, dict) else {"value": answer}
                status, error = "succeeded", None
        except GoosukeError as exc:
            status, error = "failed", exc.message
        except Exception as exc:
            logger.exception("Agent %r crashed on execution %s", row.agent, row.id)
            status = "failed"
            error = f"The {row.agent} agent crashed ({type(exc).__name__}: {exc}); the hub log has the details."
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    with anyio.move_on_after(FINISH_TIMEOUT):
                        await self.finish(row, active, status, result, error)
                finally:
                    took = anyio.current_time() - started
                    logger.info(
                        "Execution %s of %s ended %s after %.3f s (trigger %s)",
                        row.id,
                        row.template_name,
                        status,
                        took,
                        row.trigger_kind,
                    )
                    self.metrics.finished.labels(agent=row.agent, status=status).inc()
                    self.metrics.run_seconds.labels(agent=row.agent).observe(took)
                    if active.token_id is not None:
                        try:
                            await self.revoke_token(active.token_id)
                        except Exception:
                            logger.warning("Could not revoke the run token of %s", row.id, exc_info=True)
                        if (vault := engine.app.services.find(Vault)) is not None:
                            vault.scrubber.forget("run-token", row.id)
                    if workdir is not None:  # removed by the next sweep, off the event loop
                        self._used_workdirs.append(workdir)
                    engine.active.pop(row.id, None)
                    active.done.set()
                    engine.poke()
                    engine.changed(row.id, final=True)

    def _agent_run(self, row: Execution, active: Active, workdir: Path) -> AgentRun:
        engine, settings = self.engine, self.engine.settings

        async def hub_access() -> HubAccess:
            if active.access is None:
                if engine.app.transport != "http":
                    raise AgentRunError(
                        "This hub serves MCP over stdio only, so an agent cannot call back into it. Run the "
                        "template on a hub started with `goosuke serve`, or drop the `goosuke` extension."
                    )
                role = _lowest(Role(settings.run_token_role), Role(row.run_role))
                with anyio.CancelScope(shield=True):  # a cancel must not cut the transaction in half
                    active.token_id, value = await self.mint_token(row.id, role, row.timeout_seconds + TOKEN_SLACK)
                if (vault := engine.app.services.find(Vault)) is not None:  # masked while the run lasts
                    vault.scrubber.remember("run-token", row.id, value)
                active.access = HubAccess(url=f"{settings.base_url}/mcp", token=value)
            return active.access

        def process_started(pid: int) -> None:
            active.pid, active.pid_start, active.pid_pending = pid, process_identity(pid), True

        log = active.writer.write
        vault = engine.app.services.find(Vault)
        if vault is not None:  # a secret an extension or agent echoes never reaches the log
            scrub = vault.scrub

            def log(stream: str, text: str) -> None:
                active.writer.write(stream, scrub(text))

        return AgentRun(
            execution_id=row.id,
            template=row.template_name,
            template_version=row.template_version,
            prompt=row.prompt,
            instructions=row.instructions,
            params=dict(row.params or {}),
            extensions=list(row.extensions or []),
            options=RunOptions.model_validate(row.agent_settings or {}),
            app=engine.app,
            workdir=workdir,
            log=log,
            hub_access=hub_access,
            process_started=process_started,
            attachment=engine.take_attachment(row.id),
            output_limit=settings.execution_output_limit,
            role=Role(row.run_role),
            team=row.team_id,
            created_by=row.created_by,
        )

    def _stop_message(self, status: str, row: Execution, active: Active) -> str:
        grace = self.engine.settings.execution_kill_grace
        if status == "cancelled":
            return f"Cancelled by {active.stopped_by or 'someone'} while it ran; its processes were stopped."
        if status == "interrupted":
            return "The hub shut down while this ran; its processes were stopped."
        return (
            f"The run took longer than its timeout of {row.timeout_seconds:g} s and was stopped (SIGTERM, then "
            f"SIGKILL after {grace:g} s). Raise agent_settings.timeout on the template if it needs longer."
        )

    async def flush(self, actives: list[Active]) -> None:
        """Write the pending log lines of these runs in one transaction, then notify subscribers."""
        for active in actives:
            await active.flush_lock.acquire()
        try:
            pending = [(active.id, self._log_job(active)) for active in actives]
            jobs = [job for _, job in pending]
            counts = await self.engine.queue.commit(lambda conn: [job(conn) for job in jobs])
        finally:
            for active in actives:
                active.flush_lock.release()
        for (execution_id, _), written in zip(pending, counts, strict=True):
            if written < 0:  # another hub recovered it (it judged this engine dead): stop, keep its verdict
                logger.warning("Execution %s was taken over by another hub; stopping it here", execution_id)
                taken = self.engine.active.get(execution_id)
                if taken is not None:
                    taken.stop("interrupted", by="another hub")
            elif written:
                self.engine.changed(execution_id)

    def _log_job(self, active: Active) -> Callable[[Connection], int]:
        """A write job for one run's pending lines and counters (and a new pid); it returns the lines, or
        -1 when the row is no longer this engine's run (then nothing is written)."""
        lines = active.writer.take()
        values: dict[str, object] = {
            "b_id": active.id,
            "b_claimed_by": self.engine.worker_id,
            **active.writer.counters(),
        }
        statement = UPDATE_LOG_COUNTERS
        if active.pid_pending:
            active.pid_pending = False
            statement = UPDATE_LOG_COUNTERS_AND_PID
            values.update(b_pid=active.pid, b_pid_start=active.pid_start)

        def job(conn: Connection) -> int:
            if not conn.execute(statement, values).rowcount:
                return -1
            if lines:
                conn.execute(INSERT_LOG_LINES, lines)
            return len(lines)

        return job

    async def finish(
        self, row: Execution, active: Active, status: str, result: AgentResult | None, error: str | None
    ) -> None:
        limit = self.engine.settings.execution_output_limit
        output = result.output if result is not None else None
        structured = result.structured if result is not None else None
        vault = self.engine.app.services.find(Vault)
        if vault is not None:  # nothing a run produced is stored with a known secret in it
            output = vault.scrub(output) if output else output
            error = vault.scrub(error) if error else error
            structured = vault.scrub_data(structured) if structured is not None else None
        truncated = False
        if output is not None and len(output) > limit:
            output, truncated = output[:limit] + f"\n[goosuke] output truncated at {limit} characters", True
        requeue = status in RETRYABLE_STATES and row.attempt <= row.max_retries
        retry = retry_row(row) if requeue else None
        if retry is not None:
            error = f"{error} Retrying as execution {retry.id} (attempt {retry.attempt})."
        writer = active.writer
        writer.write("goosuke", status if not error else f"{status}: {error}")
        values: dict[str, Any] = {
            "status": status,
            "finished_at": utcnow(),
            "error": error,
            "output": output,
            "output_truncated": truncated,
            "exit_code": result.exit_code if result is not None else None,
            "structured": structured,
            "usage": result.usage.model_dump(exclude_none=True) if result is not None and result.usage else None,
        }
        params = {
            "b_id": row.id,
            "b_claimed_by": row.claimed_by,
            **{f"b_{key}": value for key, value in values.items()},
            **writer.counters(),
            "b_pid": active.pid,
            "b_pid_start": active.pid_start,
        }
        retry_values = row_values(retry) if retry is not None else None

        def job(conn: Connection) -> int:
            done = conn.execute(FINISH, params).rowcount  # guarded: nothing is written for a run taken over
            if done and lines:
                conn.execute(INSERT_LOG_LINES, lines)
            if done and retry_values is not None:
                conn.execute(INSERT_EXECUTION, retry_values)
            return done

        async with active.flush_lock:
            lines = writer.take()
            done = await self.engine.queue.commit(job)
        if not done:
            logger.warning("Execution %s was finished elsewhere before this hub could record %s", row.id, status)
            return
        # a finished execution never changes again: keep its final view for waiters and readers
        for key, value in values.items():
            setattr(row, key, value)
        row.log_lines, row.log_bytes, row.log_truncated = writer.seq, writer.size, writer.truncated
        self.engine.watch.remember(ExecutionInfo.of(row))
        if retry is not None:
            self.engine.poke(queued=True)

    async def interrupt_orphan(self, execution_id: str) -> bool:
        """Mark a run whose engine died ``interrupted`` (log kept, a line added); requeue if retries allow.

        One write job: the row is read, its leftover process group (on this host) killed, and the row
        marked in the same transaction, after the last line its log holds."""
        query = ORPHAN_PG if self.engine.queue.postgres else ORPHAN

        def job(conn: Connection) -> bool:
            found = conn.execute(query, {"b_id": execution_id}).first()
            if found is None:
                return False
            row = Execution(**found._mapping)
            if row.pid and row.host == HOST and kill_recorded_group(row.pid, row.pid_start):
                logger.warning("Killed the leftover process group %s of execution %s", row.pid, row.id)
            if row.status == "queued":
                error = "The hub that held this run's caller (sampling) stopped before the run could start."
            else:
                error = (
                    "The hub running this execution stopped (crash or kill) before it finished; the next hub "
                    "to notice marked it interrupted."
                )
            retry = retry_row(row) if row.status == "running" and row.attempt <= row.max_retries else None
            if retry is not None:
                error += f" Retrying as execution {retry.id} (attempt {retry.attempt})."
            seq = max(row.log_lines or 0, conn.scalar(LAST_SEQ, {"b_id": row.id}) or 0) + 1
            now = utcnow()
            marked = conn.execute(
                MARK_INTERRUPTED,
                {"b_id": row.id, "b_was": row.status, "b_finished_at": now, "b_error": error, "b_log_lines": seq},
            ).rowcount
            if not marked:
                return False
            line = {"execution_id": row.id, "seq": seq, "at": now, "stream": "goosuke", "text": f"interrupted: {error}"}
            conn.execute(INSERT_LOG_LINES, [line])
            if retry is not None:
                conn.execute(INSERT_EXECUTION, row_values(retry))
            conn.execute(DELETE_RUN_TOKEN, {"b_name": f"run:{row.id}"})
            return True

        return await self.engine.queue.commit(job)
