"""Destinations, routes and the delivered payload: the shapes of :mod:`hub.deliveries`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, HttpUrl

from hub.clock import UtcDatetime
from hub.deliveries.routes import On as On  # re-exported: the routes live in routes.py
from hub.deliveries.routes import Route as Route
from hub.deliveries.routes import Routing as Routing
from hub.deliveries.routes import routes_of as routes_of
from hub.engine.records import RETRYABLE_STATES, ExecutionInfo
from hub.errors import InvalidArguments
from hub.plugin import Arguments
from hub.vault.service import SECRET_NAME

DestinationKind = Literal["discord", "http"]
Purpose = Literal["result", "failure"]
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SNOWFLAKE = r"^[0-9]{1,20}$"


class DiscordTarget(Arguments):
    """A Discord channel, or a thread in it (the result is posted there, split like reaction replies)."""

    channel_id: str = Field(pattern=SNOWFLAKE, description="The channel's id (enable developer mode, copy id).")
    thread_id: str | None = Field(default=None, pattern=SNOWFLAKE, description="Post into this thread instead.")
    new_thread: bool = Field(
        default=False, description="Open a thread in the channel for each result (named after the template)."
    )


class HttpTarget(Arguments):
    """An outgoing HTTP callback: a JSON POST signed like the hub's incoming `hmac` webhooks."""

    url: HttpUrl = Field(description="Where the POST goes (http or https).")
    secret: str = Field(
        pattern=SECRET_NAME.pattern,
        description="Name of the vault secret (secret_set) whose value is the HMAC-SHA256 key.",
    )


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise InvalidArguments(
            f"Invalid destination name {name!r}: use 1-64 lowercase letters, digits, - and _, starting with a "
            "letter or digit.",
            errors=[{"field": "name", "message": "invalid name", "type": "pattern"}],
        )


def target_of(kind: str, config: dict[str, Any]) -> DiscordTarget | HttpTarget:
    """Validate a destination's ``config`` for its kind (raises InvalidArguments naming the field)."""
    model: type[DiscordTarget] | type[HttpTarget] = DiscordTarget if kind == "discord" else HttpTarget
    return model.model_validate(config)


def wanted(route: dict[str, str], info: ExecutionInfo) -> Purpose | None:
    """Does this route send for this finished execution, and as what? None: not for this outcome."""
    succeeded = info.status == "succeeded"
    on = route.get("on", "success")
    if on == "always" or (on == "success" and succeeded):
        return "result" if succeeded else "failure"
    if on == "failure" and not succeeded:
        return "failure"
    return None


def retry_follows(info: ExecutionInfo) -> bool:
    """A failed attempt the engine retries: only the last attempt's outcome is delivered."""
    return info.status in RETRYABLE_STATES and info.attempt <= info.max_retries


class Payload(BaseModel):
    """The JSON body of an HTTP delivery (the stored, masked result)."""

    delivery_id: str
    purpose: Purpose
    execution_id: str
    template: str
    status: str
    output: str | None
    structured_output: dict[str, Any] | None
    error: str | None
    finished_at: UtcDatetime | None

    @classmethod
    def of(cls, delivery_id: str, purpose: Purpose, info: ExecutionInfo) -> Payload:
        return cls(
            delivery_id=delivery_id,
            purpose=purpose,
            execution_id=info.id,
            template=info.template,
            status=info.status,
            output=info.output,
            structured_output=info.structured_output,
            error=info.error,
            finished_at=info.finished_at,
        )


def message_of(purpose: Purpose, info: ExecutionInfo) -> str:
    """The Discord text of a delivery: the result itself, or a failure announcement."""
    if purpose == "failure":
        return f"⚠️ `{info.template}` {info.status.replace('_', ' ')} (execution {info.id}): {info.error or 'no detail'}"
    return info.output or f"`{info.template}` finished with no output (execution {info.id})."
