"""Tables of the hub core. Domain tables live beside them so one Alembic history covers all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Owned:
    """An owning team and a visibility (migration 0013): ``private`` (its ``created_by``), ``team`` or
    ``public``. The rule that reads them is ``hub.teams.policy``."""

    team_id: Mapped[str | None] = mapped_column(String(32), index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="team", server_default="team")


# -- templates and executions (issue 3) --------------------------------------------------------


class TaskTemplate(Owned, Base):
    """A reusable prompt with typed parameters, the extensions it needs and the agent that runs it."""

    __tablename__ = "templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    prompt: Mapped[str] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[list[Any]] = mapped_column(JSON, default=list)
    extensions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    agent: Mapped[str | None] = mapped_column(String(32), index=True)  # none: the default runner's (0011)
    agent_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    tag_index: Mapped[str] = mapped_column(String(1000), default=",")  # ",a,b," for portable tag filters
    runner: Mapped[str | None] = mapped_column(String(64), index=True)  # the runner it runs on (migration 0007)
    delivery: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # deliver_to, announce_failures_to (0012)
    # a built-in library template: read-only to every user, updated by the hub itself (migration 0009)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    updated_by: Mapped[str] = mapped_column(String(128), default="system")


class TemplateSeed(Base):
    """Which built-in library templates were seeded, and the content they were seeded with."""

    __tablename__ = "template_seeds"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    seeded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Execution(Owned, Base):
    """One run of a template: a row before anything runs, then its state, result and log."""

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_status_queued_at", "status", "queued_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    template_name: Mapped[str] = mapped_column(String(64), index=True)
    template_version: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    trigger_kind: Mapped[str] = mapped_column(String(16), index=True)
    trigger_actor: Mapped[str] = mapped_column(String(200))
    trigger_ref: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(128))  # who may see it while private (0013)
    run_role: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prompt: Mapped[str] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    extensions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    agent_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_of: Mapped[str | None] = mapped_column(String(32), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column(index=True)  # deliveries catch up by it (0012)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    pinned_to: Mapped[str | None] = mapped_column(String(32))  # only this engine may claim it (caller-bound)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_start: Mapped[str | None] = mapped_column(String(32))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str | None] = mapped_column(Text)
    output_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    structured: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    log_lines: Mapped[int] = mapped_column(Integer, default=0)
    log_bytes: Mapped[int] = mapped_column(Integer, default=0)
    log_truncated: Mapped[bool] = mapped_column(Boolean, default=False)


class ExecutionLogLine(Base):
    """One line of an execution's ordered, size-bounded log."""

    __tablename__ = "execution_logs"
    __table_args__ = (UniqueConstraint("execution_id", "seq", name="uq_execution_logs_execution_id_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    stream: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)


class EngineInstance(Base):
    """One running engine (a hub process's executor): how the others tell it alive from dead (migration 0006).

    Written when the engine starts, its ``heartbeat_at`` moved by its housekeeping, deleted on a clean
    stop. On the same host the pid and its start time (``/proc``) say whether it lives; elsewhere the
    heartbeat's age does (and on PostgreSQL its advisory lock)."""

    __tablename__ = "engine_instances"

    worker_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    pid_start: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunnerRow(Owned, Base):
    """An admin-defined runner: an agent kind and everything of a run that reaches the host or the network
    (migration 0007; the model is :class:`hub.runners.model.RunnerDefinition`)."""

    __tablename__ = "runners"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the default runner: templates without an agent or runner run on it; at most one (migration 0011)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    updated_by: Mapped[str] = mapped_column(String(128), default="system")


# -- extensions, the secrets vault, Goose config sync (migration 0003) ----------------


class Extension(Owned, Base):
    """An MCP server agents use, in Goose's own schema (``config``), keyed by Goose's ``name_to_key``."""

    __tablename__ = "extensions"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    role: Mapped[str] = mapped_column(String(16), default="operator")
    source: Mapped[str] = mapped_column(String(255), default="hub")
    discovered: Mapped[dict[str, Any] | None] = mapped_column()
    discovered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")
    created_by: Mapped[str | None] = mapped_column(String(128))  # who may see it while private (0013)


class Secret(Owned, Base):
    """A vault entry: only the AES-GCM ciphertext and the id of the key that made it are stored."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("scope", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16), default="env")
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    ciphertext: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")


class GooseSyncEntry(Base):
    """The hash both sides agreed on at the last sync of one extension with one config.yaml."""

    __tablename__ = "goose_sync_state"

    path_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- actions: triggers that start executions (schedules, webhooks, reactions; migration 0004) ----------


class Action(Owned, Base):
    """A trigger bound to a template and a parameter mapping. ``kind``: schedule, webhook or reaction."""

    __tablename__ = "actions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    template: Mapped[str] = mapped_column(String(64), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_fire_at: Mapped[datetime | None] = mapped_column(index=True)
    cursor_at: Mapped[datetime | None] = mapped_column()
    last_fired_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActionFiring(Base):
    """One firing of an action, written before its execution is submitted.

    ``slot`` makes a firing unique per action: the UTC instant of a schedule slot, or a webhook's
    idempotency key. Two hubs that race for the same slot collide on the unique constraint.
    """

    __tablename__ = "action_firings"
    __table_args__ = (UniqueConstraint("action_id", "slot", name="uq_action_firings_action_id_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    slot: Mapped[str | None] = mapped_column(String(200))
    fired_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    execution_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)


class WebhookSignature(Base):
    """A signature a hook accepted, kept while a replay of it could still pass (migration 0008).

    ``digest`` is the SHA-256 of the hook id and the signature header; the primary key makes two hubs
    that race on the same delivery collide, so a captured delivery starts one run whatever its
    idempotency header says.
    """

    __tablename__ = "webhook_signatures"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    execution_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(index=True)


# -- Discord: per-guild/channel settings and the allow-list, reaction runs (migration 0005) -----------


class DiscordScope(Owned, Base):
    """Settings of one guild or channel (``kind``), and whether it is on the hub's allow-list."""

    __tablename__ = "discord_scopes"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    discord_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")


class DiscordRun(Base):
    """One reaction action on one message, claimed once across hubs, from collecting to the posted reply.

    A posted run of a template is also the marker the next summary in that channel starts after.
    """

    __tablename__ = "discord_runs"
    __table_args__ = (UniqueConstraint("action_id", "message_id", name="uq_discord_runs_action_id_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    template: Mapped[str] = mapped_column(String(64))
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger, index=True)
    message_id: Mapped[int] = mapped_column(BigInteger)
    reactor: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    execution_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- deliveries: where results go (destinations, per-run routes, recorded deliveries; migration 0010) ----


class DeliveryDestination(Owned, Base):
    """A named place results go: ``kind`` discord (a channel or thread) or http (a signed callback)."""

    __tablename__ = "delivery_destinations"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryRoute(Base):
    """Where one execution started by ``template_run`` sends its result (``routes``: destination and ``on``)."""

    __tablename__ = "delivery_routes"

    execution_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    routes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One result sent to one destination: written before the first attempt, every attempt recorded.

    Unique per execution, destination and purpose (``result`` or ``failure``), so two listeners or
    two hubs that race for the same delivery collide. ``claimed_by`` is the engine that sends it; a
    pending row of a dead engine is resumed at start-up.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("execution_id", "destination", "purpose", name="uq_deliveries_execution_id_destination"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    execution_id: Mapped[str] = mapped_column(String(32), index=True)
    destination: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


# The tables of who may do what live in their own module; importing them here registers them on
# ``Base`` and keeps ``from hub.db.models import User`` working.
from hub.db.account_models import ApiToken, AuditEvent, AuthRevision, RoleRow, Team, TeamMember, User  # noqa: E402
from hub.db.template_models import TemplateVersion  # noqa: E402

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuthRevision",
    "RoleRow",
    "Team",
    "TeamMember",
    "TemplateVersion",
    "User",
    *(name for name, value in list(globals().items()) if isinstance(value, type) and issubclass(value, Base)),
]
