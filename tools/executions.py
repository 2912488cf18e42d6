"""Running templates and following their executions (the engine: ``hub/engine/``).

An execution is a row before anything runs: ``queued → running → succeeded | failed | cancelled |
timed_out | interrupted``. ``template_run`` returns at once, or waits up to ``wait`` seconds while
sending MCP progress notifications. Subscribe to ``goosuke://executions/{id}`` for updates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mcp_types import InputRequiredResult
from pydantic import BaseModel, Field

from hub import Call, Conflict, InvalidArguments, NotFound, Plugin
from hub.clock import UtcDatetime, aware
from hub.db.models import Execution
from hub.deliveries import Deliveries
from hub.deliveries.model import Routing
from hub.engine import Engine, ExecutionInfo, LogLine, RunPreview, Status, TriggerKind, history, trigger_of
from hub.engine.history import ExecutionQuery
from hub.engine.records import Ownership, RunVisibility
from hub.paging import Offset
from hub.plugin import Arguments
from hub.teams.service import team_id_of
from hub.templates import access as template_access
from hub.templates.definition import NAME_PATTERN

plugin = Plugin("executions")

EXECUTION_ID = Field(min_length=1, max_length=64, description="The execution's id.")
HOLD_SLACK = 30.0  # seconds beyond a run's timeout that a call bound to it (sampling) may stay open


class TemplateRun(Routing):
    name: str = Field(pattern=NAME_PATTERN, description="The template to run.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameter values by key.")
    wait: float = Field(
        default=0, ge=0, description="Seconds to wait for the run to finish (bounded by the hub); 0 returns at once."
    )
    idempotency_key: str | None = Field(
        default=None, max_length=200, description="Run at most once per key: repeating it returns the same execution."
    )
    visibility: RunVisibility = Field(
        default="private",
        description="Who sees the run: private (you), team (who reads executions in the template's team) or public.",
    )


class ExecutionId(Arguments):
    id: str = EXECUTION_ID


class ExecutionListArgs(Arguments):
    template: str | None = Field(default=None, max_length=64, description="Only runs of this template.")
    status: Status | None = Field(default=None, description="Only executions in this state.")
    trigger: TriggerKind | None = Field(default=None, description="Only executions started this way.")
    team: str | None = Field(default=None, max_length=64, description="Only executions of this team (name or id).")
    since: datetime | None = Field(default=None, description="Queued at or after this time (ISO 8601).")
    until: datetime | None = Field(default=None, description="Queued before this time (ISO 8601).")
    limit: int = Field(default=50, ge=1, le=200)
    offset: Offset = 0


class ExecutionSummary(BaseModel):
    id: str
    template: str
    template_version: int
    agent: str
    status: Status
    trigger: str = Field(description="kind:actor")
    attempt: int
    queued_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    error: str | None
    output_preview: str | None = Field(description="The first 200 characters of the output.")


class ExecutionList(BaseModel):
    executions: list[ExecutionSummary]
    total: int
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last page.")


class ExecutionLogsArgs(Arguments):
    id: str = EXECUTION_ID
    offset: Offset = Field(default=0, description="Lines after this position (use next_offset to follow).")
    limit: int = Field(default=200, ge=1, le=2000)
    tail: int | None = Field(default=None, ge=1, le=2000, description="Only the last N lines (ignores offset).")


class ExecutionLogs(BaseModel):
    id: str
    status: Status
    lines: list[LogLine]
    total_lines: int = Field(description="Lines in the log so far.")
    next_offset: int = Field(description="Pass as offset to read on; equals total_lines when caught up.")
    truncated: bool = Field(description="The log hit its size limit; later lines were dropped.")


def engine_of(call: Call) -> Engine:
    return call.app.services.get(Engine)


async def visible(call: Call, execution_id: str, change: str | None = None) -> ExecutionInfo:
    """The execution, if the caller may see it (see :mod:`hub.engine.history`); else NotFound, as if absent.
    ``change`` (a permission) also asks that it may act on it (PermissionDenied otherwise)."""
    info = await engine_of(call).get(execution_id)
    await history.require_visible(call.app.db, call.principal, info, change)
    return info


async def follow(call: Call, engine: Engine, info: ExecutionInfo, wait: float) -> ExecutionInfo:
    """Wait up to ``wait`` seconds, sending progress (state and the last log line) as the run moves."""
    steps = 0

    async def progress(current: ExecutionInfo) -> None:
        nonlocal steps
        steps += 1
        lines, _ = await engine.logs(current.id, tail=1)
        last = f": {lines[-1].text[:200]}" if lines else ""
        await call.progress(steps, None, f"{current.status}{last}")

    await call.progress(0, None, info.status)
    return await engine.wait(info.id, wait, progress)


@plugin.tool(permission="templates.run")
async def template_run(call: Call, args: TemplateRun) -> ExecutionInfo:
    """Run a template with parameter values. Returns the execution at once (status queued or running), or
    waits up to `wait` seconds for it to finish, sending progress notifications meanwhile. Follow it with
    execution_get, execution_logs, or by subscribing to its resource goosuke://executions/{id}."""
    engine = engine_of(call)
    limit = call.app.settings.execution_wait_limit
    if args.wait > limit:
        raise InvalidArguments(f"wait may be at most {limit:g} s on this hub; poll execution_get for longer runs.")
    if args.idempotency_key:
        existing = await engine.by_idempotency_key(args.idempotency_key)
        if existing is not None:
            try:
                await history.require_visible(call.app.db, call.principal, existing)
            except NotFound:
                raise Conflict(
                    "This idempotency_key is taken by a run you cannot see; choose another key.",
                    errors=[{"field": "idempotency_key", "message": "already used", "type": "conflict"}],
                ) from None
            return await follow(call, engine, existing, args.wait) if args.wait else existing
    async with call.app.db.session() as session:  # templates.run where the template is visible, on a usable runner
        await template_access.require_runnable(session, call.principal, args.name)
    preview = await engine.prepare(args.name, args.params)
    routes = args.routes() or []
    if routes:
        await call.app.services.get(Deliveries).check_routes(routes, call.principal)
    return await start(
        call,
        engine,
        preview,
        wait=args.wait,
        idempotency_key=args.idempotency_key,
        routes=routes,
        visibility=args.visibility,
    )


async def start(
    call: Call,
    engine: Engine,
    preview: RunPreview,
    *,
    wait: float,
    idempotency_key: str | None = None,
    retry_of: str | None = None,
    routes: list[dict[str, str]] | None = None,
    visibility: str = "private",
) -> ExecutionInfo:
    """Bind a caller-bound agent to this call, queue the run, and follow it for ``wait`` seconds.
    The run belongs to the template's team, is the caller's, and is ``visibility``."""
    attachment = await engine.bind(call, preview)
    if isinstance(attachment, InputRequiredResult):  # the client answers (2026 protocol), then calls again
        return attachment  # type: ignore[return-value]  # hub.server passes an InputRequiredResult through
    info = await engine.submit_preview(
        preview,
        trigger=trigger_of(call),
        idempotency_key=idempotency_key,
        attachment=attachment,
        retry_of=retry_of,
        owner=Ownership(created_by=call.principal.name, visibility=visibility),
    )
    if routes:
        await call.app.services.get(Deliveries).route(info.id, routes)
    if getattr(attachment, "hold_request", False):  # the run asks the caller over this call's stream
        wait = (preview.options.timeout or call.app.settings.execution_timeout) + HOLD_SLACK
    return await follow(call, engine, info, wait) if wait else info


@plugin.tool(read_only=True, permission="executions.read")
async def execution_get(call: Call, args: ExecutionId) -> ExecutionInfo:
    """Show an execution: state, trigger, parameters, rendered prompt, timings, output, token usage, error."""
    return await visible(call, args.id)


@plugin.tool(read_only=True, permission="executions.read")
async def execution_list(call: Call, args: ExecutionListArgs) -> ExecutionList:
    """List executions, newest first, filtered by template, state, trigger kind and time range, a page at a time."""
    async with call.app.db.session() as session:
        team_id = await team_id_of(session, call.principal, args.team)
    query = ExecutionQuery(**args.model_dump(exclude={"team"}), team_id=team_id, principal=call.principal)
    rows, total = await engine_of(call).find(query)
    end = args.offset + len(rows)
    return ExecutionList(executions=[_summary(r) for r in rows], total=total, next_offset=end if end < total else None)


def _summary(row: Execution) -> ExecutionSummary:
    return ExecutionSummary(
        id=row.id,
        template=row.template_name,
        template_version=row.template_version,
        agent=row.agent,
        status=row.status,  # type: ignore[arg-type]  # a str column; pydantic checks the Literal
        trigger=f"{row.trigger_kind}:{row.trigger_actor}",
        attempt=row.attempt,
        queued_at=aware(row.queued_at),
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
        error=row.error,
        output_preview=row.output[:200] if row.output else None,
    )


@plugin.tool(read_only=True, permission="executions.read")
async def execution_logs(call: Call, args: ExecutionLogsArgs) -> ExecutionLogs:
    """Read an execution's log: lines after `offset` (follow a running one with next_offset), or the last
    `tail` lines. Streams: goosuke (the engine), agent (tool calls, events), assistant, stdout, stderr."""
    engine = engine_of(call)
    await visible(call, args.id)
    lines, total = await engine.logs(args.id, offset=args.offset, limit=args.limit, tail=args.tail)
    info = await engine.get(args.id)
    return ExecutionLogs(
        id=args.id,
        status=info.status,
        lines=lines,
        total_lines=total,
        next_offset=lines[-1].seq if lines else (total if args.tail else args.offset),
        truncated=info.log_truncated,
    )


@plugin.tool(permission="executions.cancel", destructive=True)
async def execution_cancel(call: Call, args: ExecutionId) -> ExecutionInfo:
    """Cancel a queued or running execution; a running agent's processes are stopped (SIGTERM, then SIGKILL).
    Cancelling a finished execution is an error: use execution_retry to run it again."""
    await visible(call, args.id, change="executions.cancel")
    return await engine_of(call).cancel(args.id, actor=call.principal.name)


@plugin.tool(permission="templates.run")
async def execution_retry(call: Call, args: ExecutionId) -> ExecutionInfo:
    """Run a finished execution again with the same parameters (on the template's current version).
    Returns the new execution; its retry_of names the old one."""
    engine = engine_of(call)
    old = await visible(call, args.id)
    if not old.final:
        raise Conflict(f"Execution {old.id} is still {old.status}; wait for it to finish or cancel it first.")
    preview = await engine.prepare(old.template, old.params)
    return await start(call, engine, preview, wait=0, retry_of=old.id, visibility=old.visibility)
