"""``extension_check``: start (or connect to) an extension on a connection of its own, list what it
offers, time both, stop it, and report what happened (with the end of its stderr when it failed)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

from hub.errors import GoosukeError
from hub.extensions.store import ExtensionRecord
from hub.federation.client import describe, discover, open_client, stderr_tail
from hub.settings import Settings


@dataclasses.dataclass(frozen=True)
class CheckReport:
    ok: bool
    key: str
    type: str
    server: dict[str, Any] | None
    protocol_version: str | None
    tools: list[str]
    resources: int
    resource_templates: int
    prompts: int
    start_ms: float | None
    list_ms: float | None
    error: str | None
    stderr: str | None


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
        return CheckReport(
            False, record.key, record.type, None, None, [], 0, 0, 0, None, None,
            f"A {record.type} extension runs inside Goose; the hub cannot start it.", None,
        ), None  # fmt: skip
    log_path = log_dir / f"{record.key}.check.stderr.log"
    started = time.perf_counter()
    start_ms = list_ms = None
    try:
        env = await launch_env(record)
        timeout = min(settings.extension_start_timeout, record.timeout)
        with anyio.CancelScope(deadline=anyio.current_time() + timeout) as deadline:
            async with AsyncExitStack() as stack:
                connection = await open_client(stack, record, env, settings.child_environment, log_path, anyio.Event())
                start_ms = (time.perf_counter() - started) * 1000
                listed = time.perf_counter()
                found = await discover(connection.client)
                list_ms = (time.perf_counter() - listed) * 1000
        if deadline.cancelled_caught:
            raise TimeoutError
        names = [t["name"] for t in found["tools"]]
        return CheckReport(
            True, record.key, record.type, found["server"], found["protocol_version"], names,
            len(found["resources"]), len(found["resource_templates"]), len(found["prompts"]),
            start_ms, list_ms, None, None,
        ), found  # fmt: skip
    except Exception as exc:
        error = scrub(exc.message if isinstance(exc, GoosukeError) else describe(exc))
        tail = scrub(stderr_tail(log_path)) if record.type == "stdio" else ""
        report = CheckReport(
            False, record.key, record.type, None, None, [], 0, 0, 0, start_ms, list_ms, error, tail or None
        )
        return report, None
