"""The hub's one shallow error tree.

    GoosukeError                    every error the hub raises on purpose
    ├── ConfigError                 a setting or declaration is wrong (raised at start-up)
    │   └── ServiceUnavailable      a service was asked for while it is not running (503)
    ├── AuthError                   no, bad, expired or wrong-audience credentials (HTTP 401)
    ├── PermissionDenied            the caller's role may not do this (403)
    ├── PayloadTooLarge             the request body is over the limit (413)
    ├── ToolError                   a tool call cannot be carried out (400)
    │   ├── BadRequest              the request body is not JSON (400)
    │   ├── InvalidArguments        arguments do not match the tool's input model (422)
    │   ├── NotFound                the named thing does not exist (404)
    │   └── Conflict                the change clashes with the current state (409)
    └── AgentRunError               an agent could not run or failed while running (502)

Every message says what happened and what to do about it; none carries a secret value.
"""

from __future__ import annotations

from typing import Any


class GoosukeError(Exception):
    """Root of the hub's errors. ``status`` is the HTTP status the facade answers with."""

    status: int = 400
    title: str = "Request failed"

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class ConfigError(GoosukeError):
    status = 500
    title = "Configuration error"


class ServiceUnavailable(ConfigError):
    """A service was asked for while it is not running (the hub is starting or stopping)."""

    status = 503
    title = "Service unavailable"


class AuthError(GoosukeError):
    status = 401
    title = "Authentication required"


class PermissionDenied(GoosukeError):
    status = 403
    title = "Permission denied"


class PayloadTooLarge(GoosukeError):
    status = 413
    title = "Payload too large"


class ToolError(GoosukeError):
    status = 400
    title = "Tool call failed"


class BadRequest(ToolError):
    status = 400
    title = "Bad request"


class InvalidArguments(ToolError):
    status = 422
    title = "Invalid arguments"


class NotFound(ToolError):
    status = 404
    title = "Not found"


class Conflict(ToolError):
    status = 409
    title = "Conflict"


class AgentRunError(GoosukeError):
    status = 502
    title = "Agent failed"


def describe_validation_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """Turn pydantic's error list into ``[{field, message}]`` without echoing the rejected values."""
    out: list[dict[str, Any]] = []
    for err in errors:
        loc = ".".join(str(part) for part in err.get("loc", ())) or "(body)"
        out.append({"field": loc, "message": err.get("msg", "invalid value"), "type": err.get("type", "")})
    return out
