"""What the engine hands out: triggers, execution states and the public view of an execution."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from hub.clock import aware
from hub.db.models import Execution, ExecutionLogLine, new_id, utcnow
from hub.engine.agent import Usage
from hub.principal import Role

if TYPE_CHECKING:
    from hub.plugin import Call

Status = Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out", "interrupted"]
TriggerKind = Literal["mcp", "api", "discord", "schedule", "webhook"]
FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "timed_out", "interrupted"})
RETRYABLE_STATES: frozenset[str] = frozenset({"failed", "timed_out", "interrupted"})  # automatic retries
CALLER_KINDS = ("mcp", "api")  # trigger kinds whose actor is the calling principal's name
RunVisibility = Literal["private", "team", "public"]


class Trigger(BaseModel):
    """Why an execution exists: what kind of thing started it, who, and a reference to what."""

    kind: TriggerKind = Field(description="mcp, api, discord, schedule or webhook.")
    actor: str = Field(default="unknown", max_length=200, description="Who: user, Discord member, schedule name.")
    ref: str | None = Field(default=None, max_length=500, description="What: message link, schedule or delivery id.")
    role: Role = Field(
        default=Role.operator, description="Highest role the run's hub token may have (the caller's role)."
    )


@dataclass(frozen=True)
class Ownership:
    """Whose a new run is (``hub.engine.history`` reads it back): its team, its creator, its visibility.

    ``team_id`` None: the template's team. ``created_by`` None: the trigger's actor for a run a caller
    starts (mcp, api), else nobody (then a private run is the admins' and its trigger owner's).
    """

    team_id: str | None = None
    created_by: str | None = None
    visibility: str = "private"


class ExecutionInfo(BaseModel):
    """An execution as tools, resources and other domains see it."""

    id: str
    template: str
    template_version: int
    agent: str
    status: Status
    trigger: Trigger
    params: dict[str, Any]
    prompt: str = Field(description="The rendered prompt the agent got.")
    instructions: str | None = None
    attempt: int = Field(description="1 for a first run; retries count up.")
    max_retries: int
    retry_of: str | None = Field(default=None, description="The execution this one retries.")
    queued_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    exit_code: int | None = None
    output: str | None = Field(default=None, description="The agent's final answer.")
    output_truncated: bool = False
    structured_output: dict[str, Any] | None = None
    usage: Usage | None = None
    error: str | None = None
    cancel_requested: bool = False
    log_lines: int = 0
    log_bytes: int = 0
    log_truncated: bool = False
    team_id: str | None = Field(
        default=None, description="The owning team: the template's (a reaction's: its binding's)."
    )
    visibility: RunVisibility = Field(
        default="private", description="private (who started it, or its trigger's owner), team or public."
    )
    created_by: str | None = Field(default=None, description="Who started it (a trigger's run: the trigger's owner).")

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES

    @classmethod
    def of(cls, row: Execution) -> ExecutionInfo:
        started, finished = aware(row.started_at), aware(row.finished_at)
        return cls(
            id=row.id,
            template=row.template_name,
            template_version=row.template_version,
            agent=row.agent,
            status=row.status,  # type: ignore[arg-type]  # a str column; pydantic checks the Literal
            trigger=Trigger(
                kind=row.trigger_kind,  # type: ignore[arg-type]  # a str column; pydantic checks the Literal
                actor=row.trigger_actor,
                ref=row.trigger_ref,
                role=Role(row.run_role),
            ),
            params=row.params or {},
            prompt=row.prompt,
            instructions=row.instructions,
            attempt=row.attempt,
            max_retries=row.max_retries,
            retry_of=row.retry_of,
            queued_at=aware(row.queued_at) or datetime.now(UTC),
            started_at=started,
            finished_at=finished,
            duration_seconds=(finished - started).total_seconds() if started and finished else None,
            exit_code=row.exit_code,
            output=row.output,
            output_truncated=row.output_truncated,
            structured_output=row.structured,
            usage=Usage.model_validate(row.usage) if row.usage else None,
            error=row.error,
            cancel_requested=row.cancel_requested,
            log_lines=row.log_lines,
            log_bytes=row.log_bytes,
            log_truncated=row.log_truncated,
            team_id=row.team_id,
            visibility=row.visibility or "private",  # type: ignore[arg-type]  # a str column; pydantic checks it
            created_by=row.created_by,
        )


class LogLine(BaseModel):
    seq: int = Field(description="Position in the log, from 1.")
    at: datetime
    stream: str = Field(description="stdout, stderr, agent (parsed agent events) or goosuke (the engine).")
    text: str

    @classmethod
    def of(cls, row: ExecutionLogLine) -> LogLine:
        return cls(seq=row.seq, at=aware(row.at) or datetime.now(UTC), stream=row.stream, text=row.text)


_EXECUTION_COLUMNS = tuple(Execution.__table__.columns)


def row_values(row: Execution) -> dict[str, Any]:
    """Every column of a new (not yet written) execution, for a Core insert. Scalar column defaults are
    applied to the row too, so it reads as the database will hold it."""
    values: dict[str, Any] = {}
    for column in _EXECUTION_COLUMNS:
        value = getattr(row, column.key)
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
            setattr(row, column.key, value)
        values[column.key] = value
    return values


def retry_row(row: Execution) -> Execution:
    """A fresh ``queued`` copy of ``row`` for an automatic retry (same rendered prompt and version)."""
    return Execution(
        id=new_id(),
        template_name=row.template_name,
        template_version=row.template_version,
        agent=row.agent,
        status="queued",
        trigger_kind=row.trigger_kind,
        trigger_actor=row.trigger_actor,
        trigger_ref=row.trigger_ref,
        run_role=row.run_role,
        params=row.params,
        prompt=row.prompt,
        instructions=row.instructions,
        extensions=row.extensions,
        agent_settings=row.agent_settings,
        timeout_seconds=row.timeout_seconds,
        concurrency_limit=row.concurrency_limit,
        attempt=row.attempt + 1,
        max_retries=row.max_retries,
        retry_of=row.id,
        queued_at=utcnow(),
        team_id=row.team_id,
        visibility=row.visibility,
        created_by=row.created_by,
    )


def trigger_of(call: Call, ref: str | None = None) -> Trigger:
    """The trigger of a run a tool call starts: mcp or api, the caller, and their role."""
    return Trigger(
        kind="mcp" if call.via == "mcp" else "api", actor=call.principal.name, ref=ref, role=call.principal.role
    )
