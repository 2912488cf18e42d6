"""The engine: submissions become rows, a dispatcher claims them, runs go to agents, rows get results.

Public API (what tools, Discord, schedules and webhooks use; see :class:`Engine`):

    engine = app.services.get(Engine)
    info = await engine.submit("meeting-summary", {"transcript": ...},
                               trigger=Trigger(kind="discord", actor="ana#1234", ref=message_url),
                               idempotency_key=f"discord:{message_id}:pencil")
    info = await engine.wait(info.id, timeout=60)
    await engine.cancel(info.id, actor="ana")
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hub import accounts
from hub.db.models import Execution, ExecutionLogLine, new_id, utcnow
from hub.engine import history
from hub.engine.active import Active
from hub.engine.agent import CallerBoundAgent
from hub.engine.dispatch import Dispatcher
from hub.engine.history import ExecutionQuery
from hub.engine.queue import HOST, Queue
from hub.engine.records import CALLER_KINDS, FINAL_STATES, ExecutionInfo, LogLine, Ownership, Trigger, row_values
from hub.engine.runner import Runner
from hub.engine.statements import INSERT_EXECUTION, SELECT_EXECUTION
from hub.engine.watch import Watch
from hub.errors import Conflict, NotFound
from hub.extensions.store import ExtensionStore
from hub.protocols import ReadinessReport
from hub.runners import access
from hub.teams.policy import DEFAULT_TEAM_ID, check_visibility
from hub.templates.preview import RunPreview
from hub.templates.preview import prepare as prepare_template
from hub.vault.service import Vault

if TYPE_CHECKING:
    from hub.context import AppContext
    from hub.plugin import Call

logger = logging.getLogger("goosuke.engine")

STOP_GRACE = 10.0  # extra seconds a cancel waits for a run to wind down after the kill grace


class Engine:
    """Runs executions. One per hub (``app.services.get(Engine)``), running inside :meth:`running`."""

    readiness_name = "engine"

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.settings = app.settings
        self.db = app.db
        self.worker_id = new_id()
        self.queue = Queue(app.db, self.worker_id, heartbeat_interval=app.settings.engine_heartbeat_interval)
        self.runner = Runner(self)
        self.active: dict[str, Active] = {}
        self.dispatcher = Dispatcher(self)
        self.watch = Watch()
        self._attachments: dict[str, Any] = {}
        self._tg: TaskGroup | None = None
        self.stopping = False
        # awaited in a task of their own after an execution reaches a final state (result deliveries)
        self.finished_listeners: list[Callable[[str], Coroutine[Any, Any, None]]] = []

    @property
    def agents(self) -> dict[str, Any]:
        return self.app.registry.provided("agent")

    def readiness(self) -> ReadinessReport:
        detail = {"running": len(self.active), "max_concurrent": self.settings.max_concurrent_executions}
        return ReadinessReport(ready=True, detail=detail)

    # -- lifecycle ---------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Engine]:
        """Start the dispatcher and housekeeping; on exit, interrupt the runs and wait for them (bounded)."""
        await self.queue.start()
        try:
            await self.recover()
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self.dispatcher.start(tg)
                try:
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        self.stopping = True
                        await self.dispatcher.stop()
                    tg.cancel_scope.cancel()  # the loops have ended; this ends stray notifications
        finally:
            self._tg = None
            await self.queue.close()

    @property
    def accepting(self) -> bool:
        """Running (inside :meth:`running`), so a submission may start at once."""
        return self._tg is not None

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        if self._tg is not None:
            self._tg.start_soon(fn, *args)

    # -- submitting --------------------------------------------------------------------

    async def find(self, query: ExecutionQuery) -> tuple[list[Execution], int]:
        """A page of execution rows, newest first, and how many match (see :class:`ExecutionQuery`)."""
        return await history.find(self.db, query)

    async def prepare(self, template: str, params: Mapping[str, Any] | None = None) -> RunPreview:
        """Load the template, check the parameters and render the prompt (nothing is written).

        Raises:
            NotFound: no such template.
            InvalidArguments: missing, unknown or mistyped parameters; a rendering error.
        """
        return await prepare_template(self.queue.read, template, params)

    async def bind(self, call: Call, preview: RunPreview) -> Any:
        """Let a caller-bound agent (``sampling``) attach the caller before the row is written.

        Returns the attachment for :meth:`submit_preview`, or an MCP ``InputRequiredResult``.
        """
        agent = self.agents.get(preview.agent)
        if isinstance(agent, CallerBoundAgent):
            return await agent.bind(call, preview)
        return None

    async def submit(
        self,
        template: str,
        params: Mapping[str, Any] | None = None,
        *,
        trigger: Trigger,
        idempotency_key: str | None = None,
        attachment: Any = None,
        owner: Ownership | None = None,
    ) -> ExecutionInfo:
        """Queue a run of ``template``; the row exists (``queued``) before this returns.

        Args:
            template: the template's name.
            params: parameter values (strings are converted to the parameter types).
            trigger: what started it: kind (mcp, api, discord, schedule, webhook), actor, ref, role.
            idempotency_key: a second submit with the same key returns the first execution.
            attachment: in-memory object handed to the agent (see ``CallerBoundAgent``).
            owner: the run's team, creator and visibility (default: the template's team, the caller, private).

        Raises:
            NotFound: no such template.
            InvalidArguments: bad parameters or a template that does not render.
        """
        if idempotency_key:
            existing = await self.by_idempotency_key(idempotency_key)
            if existing is not None:
                return existing
        preview = await self.prepare(template, params)
        return await self.submit_preview(
            preview, trigger=trigger, idempotency_key=idempotency_key, attachment=attachment, owner=owner
        )

    async def submit_preview(
        self,
        preview: RunPreview,
        *,
        trigger: Trigger,
        idempotency_key: str | None = None,
        attachment: Any = None,
        retry_of: str | None = None,
        attempt: int = 1,
        owner: Ownership | None = None,
    ) -> ExecutionInfo:
        """Queue an already rendered run (from :meth:`prepare`); ``owner`` as for :meth:`submit`.

        Raises:
            PermissionDenied: a Goose run a user starts (mcp, api) names an extension its role, the
                extension's state or the runner does not grant (a trigger's run fails with that error).
        """
        options = preview.options
        if preview.agent == "goose" and trigger.kind in ("mcp", "api"):
            await access.check(preview.extensions, trigger.role, options, self.app.services.find(ExtensionStore))
        timeout = options.timeout or self.settings.execution_timeout
        if options.timeout is None and options.max_timeout is not None:
            timeout = min(timeout, options.max_timeout)
        now = utcnow()
        owner = owner or Ownership()
        params, prompt, instructions = preview.params, preview.prompt, preview.instructions
        vault = self.app.services.find(Vault)
        if vault is not None and vault.has_values:  # a known secret in a parameter is stored, run and shown masked
            params, prompt = vault.scrub_data(params), vault.scrub(prompt)
            instructions = vault.scrub(instructions) if instructions else instructions
        row = Execution(
            id=new_id(),
            team_id=owner.team_id or preview.team_id or DEFAULT_TEAM_ID,
            visibility=check_visibility(owner.visibility) or "private",
            created_by=owner.created_by or (trigger.actor if trigger.kind in CALLER_KINDS else None),
            template_name=preview.template,
            template_version=preview.version,
            agent=preview.agent,
            status="queued",
            trigger_kind=trigger.kind,
            trigger_actor=trigger.actor,
            trigger_ref=trigger.ref,
            run_role=trigger.role.value,
            params=params,
            prompt=prompt,
            instructions=instructions,
            extensions=preview.extensions,
            agent_settings=options.model_dump(mode="json"),
            timeout_seconds=timeout,
            concurrency_limit=options.concurrency,
            attempt=attempt,
            max_retries=options.retries,
            retry_of=retry_of,
            idempotency_key=idempotency_key,
            queued_at=now,
            pinned_to=self.worker_id if attachment is not None else None,  # the attachment lives here
        )
        # A free slot and nothing older waiting: the row is written already claimed and the run starts
        # at once, without a claim transaction or a wake of the dispatcher.
        start_now = self.dispatcher.reserve(options.concurrency)
        if start_now:
            row.status, row.claimed_by, row.started_at, row.host = "running", self.worker_id, now, HOST
        if attachment is not None:
            self._attachments[row.id] = attachment
        values = row_values(row)
        try:
            await self.queue.commit(lambda conn: conn.execute(INSERT_EXECUTION, values).rowcount)
        except BaseException as exc:  # nothing was written: give back the slot and the attachment
            if start_now:
                self.dispatcher.release()
            self._attachments.pop(row.id, None)
            if not isinstance(exc, IntegrityError) or not idempotency_key:
                raise
            existing = await self.by_idempotency_key(idempotency_key)
            if existing is None:
                raise
            return existing
        if start_now:
            self.dispatcher.start_claimed(row)
        else:
            self.poke(queued=True)
        return ExecutionInfo.of(row)

    async def by_idempotency_key(self, key: str) -> ExecutionInfo | None:
        """The execution submitted with this idempotency key, if any."""
        async with self.db.session() as session:
            row = await session.scalar(select(Execution).where(Execution.idempotency_key == key))
            return ExecutionInfo.of(row) if row is not None else None

    def take_attachment(self, execution_id: str) -> Any:
        return self._attachments.pop(execution_id, None)

    # -- reading -----------------------------------------------------------------------

    async def get(self, execution_id: str) -> ExecutionInfo:
        """Raises NotFound for an unknown id."""
        done = self.watch.finished(execution_id)
        if done is not None:
            return done
        active = self.active.get(execution_id)
        view = active.view() if active is not None else None
        if view is not None:
            return view
        row = await self.queue.read(lambda conn: conn.execute(SELECT_EXECUTION, {"b_id": execution_id}).first())
        if row is None:
            raise NotFound(f"No execution with id {execution_id!r}. List executions with execution_list.")
        return ExecutionInfo.of(row)  # type: ignore[arg-type]  # a Core row has the model's attribute names

    async def logs(
        self, execution_id: str, *, offset: int = 0, limit: int = 200, tail: int | None = None
    ) -> tuple[list[LogLine], int]:
        """Lines after ``offset`` (by seq), or the last ``tail`` lines; also the total so far."""
        info = await self.get(execution_id)
        active = self.active.get(execution_id)
        if active is not None and active.writer.dirty:  # show what the agent wrote a moment ago
            await self.runner.flush([active])
            info = await self.get(execution_id)
        query = select(ExecutionLogLine).where(ExecutionLogLine.execution_id == execution_id)
        if tail is not None:
            query = query.where(ExecutionLogLine.seq > info.log_lines - tail)
        else:
            query = query.where(ExecutionLogLine.seq > offset)
        async with self.db.session() as session:
            rows = await session.scalars(query.order_by(ExecutionLogLine.seq).limit(limit))
            return [LogLine.of(r) for r in rows], info.log_lines

    async def wait(
        self,
        execution_id: str,
        timeout: float,
        on_change: Callable[[ExecutionInfo], Awaitable[None]] | None = None,
    ) -> ExecutionInfo:
        """Wait up to ``timeout`` seconds for a final state; returns the latest view either way.

        ``on_change`` is awaited whenever the status or the log grew (e.g. to send MCP progress).
        """
        return await self.watch.wait(execution_id, self.get, timeout, self.settings.engine_poll_interval, on_change)

    def changed(self, execution_id: str, *, final: bool = False) -> None:
        """Wake local waiters and tell MCP subscribers of ``goosuke://executions/{id}``."""
        self.watch.changed(execution_id, final=final)
        if final:
            for listener in self.finished_listeners:
                self.spawn(listener, execution_id)
        server, uri = self.app.server, f"goosuke://executions/{execution_id}"
        if server is not None and server.watched(uri):
            self.spawn(self._notify, uri)

    def poke(self, *, queued: bool = False) -> None:
        """Wake the dispatcher: a slot came free, or (``queued``) a row was queued."""
        self.dispatcher.poke(queued=queued)

    async def _notify(self, uri: str) -> None:
        server = self.app.server
        if server is None:
            return
        with anyio.move_on_after(5):
            try:
                await server.notify_resource_updated(uri)
            except Exception:  # a subscriber went away: notifications are best effort
                logger.debug("notify %s failed", uri, exc_info=True)

    # -- changing ----------------------------------------------------------------------

    async def cancel(self, execution_id: str, actor: str = "system") -> ExecutionInfo:
        """Cancel a queued or running execution (its process group is killed).

        Raises:
            NotFound: unknown id.
            Conflict: the execution already finished.
        """
        async with self.queue.writing() as session:
            row = await session.get(Execution, execution_id)
            if row is None:
                raise NotFound(f"No execution with id {execution_id!r}. List executions with execution_list.")
            if row.status in FINAL_STATES:
                raise Conflict(
                    f"Execution {execution_id} already finished ({row.status}); there is nothing to cancel. "
                    "Use execution_retry to run it again."
                )
            if row.status == "queued":
                done = await session.execute(
                    update(Execution)
                    .where(Execution.id == execution_id, Execution.status == "queued")
                    .values(status="cancelled", finished_at=utcnow(), error=f"Cancelled by {actor} before it started.")
                )
                if done.rowcount:  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult
                    self._attachments.pop(execution_id, None)
                    await accounts.audit(session, actor, "execution.cancel", execution_id)
                    queued = True
                else:
                    queued = False
            else:
                queued = False
            if not queued:
                await session.execute(
                    update(Execution).where(Execution.id == execution_id).values(cancel_requested=True)
                )
                await accounts.audit(session, actor, "execution.cancel", execution_id)
        active = self.active.get(execution_id)
        if active is not None:
            active.stop("cancelled", by=actor)
            with anyio.move_on_after(self.settings.execution_kill_grace + STOP_GRACE):
                await active.done.wait()
        self.changed(execution_id, final=True)  # waiters read again: it is final, or will be soon
        return await self.get(execution_id)

    async def retry(self, execution_id: str, trigger: Trigger, owner: Ownership | None = None) -> ExecutionInfo:
        """Run a finished execution again: same template (its current version) and parameters.

        Raises:
            NotFound: unknown id or the template was deleted.
            Conflict: the execution has not finished yet.
        """
        info = await self.get(execution_id)
        if not info.final:
            raise Conflict(
                f"Execution {execution_id} is still {info.status}; wait for it to finish or cancel it first."
            )
        preview = await self.prepare(info.template, info.params)
        owner = owner or Ownership(team_id=info.team_id, visibility=info.visibility)
        return await self.submit_preview(preview, trigger=trigger, retry_of=execution_id, owner=owner)

    async def recover(self) -> list[str]:
        """Executions a dead engine left behind become ``interrupted`` (see :class:`Dispatcher`)."""
        return await self.dispatcher.recover()
