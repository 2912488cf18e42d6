"""``extension_check``: start (or connect to) an extension on a connection of its own, list what it
offers, time both, stop it, and report what happened (with the end of its stderr when it failed)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, Field

from hub.errors import GoosukeError
from hub.extensions.store import ExtensionRecord
from hub.federation.client import describe, discover, open_client, stderr_tail
from hub.settings import Settings


class CheckReport(BaseModel):
    """What ``extension_check`` found: whether the server started, what it offers, how long it took."""

    ok: bool
    key: str
    type: str
    server: dict[str, Any] | None = Field(description="The server's name and version, as it announced them.")
    protocol_version: str | None
    tools: list[str] = Field(description="Its tools, by their own names.")
    resources: int
    resource_templates: int
    prompts: int
    start_ms: float | None = Field(description="Milliseconds to start (or connect) and initialize.")
    list_ms: float | None = Field(description="Milliseconds to list everything it offers.")
    error: str | None
    stderr: str | None = Field(description="The end of its stderr when it failed (secrets masked).")


async def check_extension(
    record: ExtensionRecord,
    launch_env: Callable[[ExtensionRecord], Awaitable[dict[str, str]]],
    settings: Settings,
    log_dir: Path,
    scrub: Callable[[str], str],
) -> tuple[CheckReport, dict[str, Any] | None]:
    """Check one extension: the report, and everything it offers (None when it failed). Failures come
    back in the report, scrubbed of secret values."""
    if not record.federated:
        return _failed(record, f"A {record.type} extension runs inside Goose; the hub cannot start it."), None
    log_path = log_dir / f"{record.key}.check.stderr.log"
    started = time.perf_counter()
    start_ms = list_ms = None
    try:
        env = await launch_env(record)
        timeout = min(settings.extension_start_timeout, record.timeout)
        with anyio.CancelScope(deadline=anyio.current_time() + timeout) as deadline:
            async with AsyncExitStack() as stack:
                connection = await open_client(
                    stack, record, env, settings.child_environment, log_path, anyio.Event(), scrub=scrub
                )
                start_ms = (time.perf_counter() - started) * 1000
                listed = time.perf_counter()
                found = await discover(connection.client)
                list_ms = (time.perf_counter() - listed) * 1000
        if deadline.cancelled_caught:
            raise TimeoutError
        names = [t["name"] for t in found["tools"]]
        return CheckReport(
            ok=True,
            key=record.key,
            type=record.type,
            server=found["server"],
            protocol_version=found["protocol_version"],
            tools=names,
            resources=len(found["resources"]),
            resource_templates=len(found["resource_templates"]),
            prompts=len(found["prompts"]),
            start_ms=start_ms,
            list_ms=list_ms,
            error=None,
            stderr=None,
        ), found
    except Exception as exc:
        error = scrub(exc.message if isinstance(exc, GoosukeError) else describe(exc))
        tail = scrub(stderr_tail(log_path)) if record.type == "stdio" else ""
        return _failed(record, error, start_ms=start_ms, list_ms=list_ms, stderr=tail or None), None


def _failed(
    record: ExtensionRecord,
    error: str,
    *,
    start_ms: float | None = None,
    list_ms: float | None = None,
    stderr: str | None = None,
) -> CheckReport:
    return CheckReport(
        ok=False,
        key=record.key,
        type=record.type,
        server=None,
        protocol_version=None,
        tools=[],
        resources=0,
        resource_templates=0,
        prompts=0,
        start_ms=start_ms,
        list_ms=list_ms,
        error=error,
        stderr=stderr,
    )
