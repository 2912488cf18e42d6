"""One request to an extension: who may send it, how it is sent, and what its failures say.

:func:`check_use` refuses (and audits) a caller that may not use the extension; :func:`request` runs
the request on the extension's warm client, re-initialising once when a Streamable HTTP server lost
our session, and turns transport failures into :class:`~hub.errors.ToolError` messages that say what
happened and what to try; :func:`scrub_result` masks known secret values in what comes back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INVALID_REQUEST, REQUEST_TIMEOUT
from pydantic import BaseModel

from hub.errors import GoosukeError, PermissionDenied, ToolError
from hub.extensions.access import refusal
from hub.extensions.store import ExtensionRecord
from hub.federation.client import Connection, describe
from hub.federation.upstream import Upstream
from hub.plugin import Call
from hub.principal import Principal
from hub.teams.audit import record_denial
from hub.vault.service import Vault

if TYPE_CHECKING:
    from hub.context import AppContext

logger = logging.getLogger("goosuke.federation")

# An upstream that answers 404 to our Mcp-Session-Id: the SDK's client reports it as INVALID_REQUEST,
# "Session terminated" (no body) or the server's own error ("Session not found" from the Python SDK).
SESSION_LOST = ("session terminated", "session not found")

R = TypeVar("R")
ResultT = TypeVar("ResultT", bound=BaseModel)


async def check_use(
    app: AppContext, record: ExtensionRecord, principal: Principal, what: str, target: str, tool: str | None = None
) -> None:
    """Refuse (and audit) a caller that may not use ``record``; NotFound when it may not even see it."""
    denied = refusal(principal, record, what)
    if denied is None and tool is not None and not principal.grants.may_call(tool):
        denied = PermissionDenied(
            f"Tool {tool!r} is outside this token's tool patterns "
            f"({', '.join(principal.grants.tool_patterns or ())}). Use a token made for it."
        )
    if denied is not None:
        await record_denial(Call(principal=principal, app=app, via="mcp"), target, denied.message)
        raise denied


async def request(
    upstream: Upstream,
    record: ExtensionRecord,
    what: str,
    send: Callable[[Connection], Awaitable[R]],
    *,
    start_timeout: float,
    scrub: Callable[[str], str],
) -> R:
    """Run one request on the client of ``record``'s ``upstream``: start it if needed, re-initialise once
    on a lost session, turn transport failures into errors that say what happened (``scrub`` masks them)."""
    timeout = record.timeout
    for attempt in (1, 2):
        connection = await upstream.session(min(timeout, start_timeout))
        upstream.inflight += 1
        try:
            return await send(connection)
        except MCPError as exc:
            code, message = exc.error.code, scrub(exc.error.message)
            lost = code == INVALID_REQUEST and any(s in message.lower() for s in SESSION_LOST)
            if lost and record.type != "stdio" and attempt == 1:
                logger.info("Extension %r lost our session (HTTP 404); re-initialising", record.key)
                upstream.reconnect(connection)
                await anyio.lowlevel.checkpoint()
                continue
            if code == CONNECTION_CLOSED:
                raise ToolError(
                    f"Extension {record.key!r} closed the connection during {what} (it may have crashed); "
                    "the hub restarts it. Try again."
                ) from None
            if code == REQUEST_TIMEOUT:
                raise ToolError(
                    f"Extension {record.key!r} did not answer {what} within its timeout of {timeout:g} s. "
                    "Raise it with extension_update (timeout) if the work needs longer."
                ) from None
            raise ToolError(f"Extension {record.key!r} refused {what}: {message}") from None
        except GoosukeError:
            raise
        except Exception as exc:
            upstream.reconnect(connection)
            raise ToolError(
                f"Extension {record.key!r} failed during {what}: {scrub(describe(exc))}. The hub reconnects; try again."
            ) from None
        finally:
            upstream.inflight -= 1
            upstream.last_used = time.monotonic()
    raise ToolError(f"Extension {record.key!r} lost the session twice during {what}; try again.")


def scrub_result(vault: Vault, result: ResultT) -> ResultT:
    """``result`` with every known secret value masked (the same object when nothing is known)."""
    if not vault.has_values:  # nothing to hide: skip the copy (the hot path of a proxied call)
        return result
    data = vault.scrub_data(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    return type(result).model_validate(data)
