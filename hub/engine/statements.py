"""The engine's hot-path SQL, built once.

A run costs few statements (insert, final update, its log lines), and building an ORM statement costs
more than executing it: these Core statements are constructed at import, so SQLAlchemy compiles each
once and every later execution only binds values. Bind names carry a ``b_`` prefix because Core
refuses bind parameters named like the columns an UPDATE sets.
"""

from __future__ import annotations

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update

from hub.db.models import ApiToken, Base, EngineInstance, Execution, ExecutionLogLine


def _table(model: type[Base]) -> Table:
    """The model's Table (SQLAlchemy types ``__table__`` as the wider ``FromClause``)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


EXECUTIONS = _table(Execution)
LOGS = _table(ExecutionLogLine)
ENGINES = _table(EngineInstance)
TOKENS = _table(ApiToken)

INSERT_EXECUTION = insert(EXECUTIONS)
"""Executed with a dict of every column (see ``records.row_values``)."""

INSERT_LOG_LINES = insert(LOGS)
"""Executed with a list of ``{execution_id, seq, at, stream, text}``."""

SELECT_EXECUTION = select(EXECUTIONS).where(EXECUTIONS.c.id == bindparam("b_id"))

UPDATE_LOG_COUNTERS = (
    update(EXECUTIONS)
    .where(
        EXECUTIONS.c.id == bindparam("b_id"),
        EXECUTIONS.c.status == "running",
        EXECUTIONS.c.claimed_by == bindparam("b_claimed_by"),
    )
    .values(
        log_lines=bindparam("b_log_lines"),
        log_bytes=bindparam("b_log_bytes"),
        log_truncated=bindparam("b_log_truncated"),
    )
)

"""Guarded like ``FINISH``: a run recovered elsewhere (its row no longer ``running`` here) takes no more lines,
so no line of this engine can take a sequence number the recovering hub wrote."""

UPDATE_LOG_COUNTERS_AND_PID = UPDATE_LOG_COUNTERS.values(pid=bindparam("b_pid"), pid_start=bindparam("b_pid_start"))

FINISH = (
    update(EXECUTIONS)
    .where(
        EXECUTIONS.c.id == bindparam("b_id"),
        EXECUTIONS.c.status == "running",
        EXECUTIONS.c.claimed_by == bindparam("b_claimed_by"),
    )
    .values(
        status=bindparam("b_status"),
        finished_at=bindparam("b_finished_at"),
        error=bindparam("b_error"),
        output=bindparam("b_output"),
        output_truncated=bindparam("b_output_truncated"),
        exit_code=bindparam("b_exit_code"),
        structured=bindparam("b_structured"),
        usage=bindparam("b_usage"),
        log_lines=bindparam("b_log_lines"),
        log_bytes=bindparam("b_log_bytes"),
        log_truncated=bindparam("b_log_truncated"),
        pid=bindparam("b_pid"),
        pid_start=bindparam("b_pid_start"),
    )
)
"""The final state, guarded: only the engine that holds the run may finish it."""

_OTHER = EXECUTIONS.alias("other")
_RUNNING_NOW = (
    select(func.count())
    .select_from(_OTHER)
    .where(_OTHER.c.template_name == EXECUTIONS.c.template_name, _OTHER.c.status == "running")
    .correlate(EXECUTIONS)
    .scalar_subquery()
)
CLAIM_CANDIDATES = (
    select(EXECUTIONS.c.id, EXECUTIONS.c.template_name, EXECUTIONS.c.concurrency_limit)
    .where(
        EXECUTIONS.c.status == "queued",
        or_(EXECUTIONS.c.pinned_to.is_(None), EXECUTIONS.c.pinned_to == bindparam("b_worker")),
        or_(EXECUTIONS.c.concurrency_limit.is_(None), EXECUTIONS.c.concurrency_limit > _RUNNING_NOW),
    )
    .order_by(EXECUTIONS.c.queued_at, EXECUTIONS.c.id)
    .limit(bindparam("b_limit"))
)
"""Queued rows this engine may take, oldest first (templates at their limit left out)."""

CLAIM_CANDIDATES_PG = CLAIM_CANDIDATES.with_for_update(skip_locked=True, of=EXECUTIONS)
"""PostgreSQL: rows another hub is claiming right now are skipped, never taken twice."""

COUNT_RUNNING = (
    select(func.count())
    .select_from(EXECUTIONS)
    .where(EXECUTIONS.c.template_name == bindparam("b_name"), EXECUTIONS.c.status == "running")
)

CLAIM = (
    update(EXECUTIONS)
    .where(EXECUTIONS.c.id.in_(bindparam("b_ids", expanding=True)), EXECUTIONS.c.status == "queued")
    .values(
        status="running",
        claimed_by=bindparam("b_worker"),
        started_at=bindparam("b_started_at"),
        host=bindparam("b_host"),
    )
)

CLAIMED = select(EXECUTIONS).where(
    EXECUTIONS.c.id.in_(bindparam("b_ids", expanding=True)),
    EXECUTIONS.c.claimed_by == bindparam("b_worker"),
    EXECUTIONS.c.status == "running",
)

# -- engine instances: liveness across processes and hosts (see ``queue``) --------------------------

INSERT_ENGINE = insert(ENGINES)
"""Executed with ``{worker_id, host, pid, pid_start, started_at, heartbeat_at}``."""

HEARTBEAT = update(ENGINES).where(ENGINES.c.worker_id == bindparam("b_worker")).values(heartbeat_at=bindparam("b_now"))

DELETE_ENGINES = delete(ENGINES).where(ENGINES.c.worker_id.in_(bindparam("b_workers", expanding=True)))

SELECT_ENGINES = select(ENGINES)

# -- recovery of a dead engine's run (see ``runner.interrupt_orphan``) ------------------------------

ORPHAN = select(EXECUTIONS).where(EXECUTIONS.c.id == bindparam("b_id"), EXECUTIONS.c.status.in_(("running", "queued")))
ORPHAN_PG = ORPHAN.with_for_update(skip_locked=True)
"""PostgreSQL: a row its engine is writing right now is skipped (the next recovery looks again)."""

LAST_SEQ = select(func.max(LOGS.c.seq)).where(LOGS.c.execution_id == bindparam("b_id"))

MARK_INTERRUPTED = (
    update(EXECUTIONS)
    .where(EXECUTIONS.c.id == bindparam("b_id"), EXECUTIONS.c.status == bindparam("b_was"))
    .values(
        status="interrupted",
        finished_at=bindparam("b_finished_at"),
        error=bindparam("b_error"),
        log_lines=bindparam("b_log_lines"),
    )
)

DELETE_RUN_TOKEN = delete(TOKENS).where(TOKENS.c.name == bindparam("b_name"))
