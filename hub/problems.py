"""Problem responses (RFC 9457): the one shape of every HTTP error the hub answers outside MCP."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from hub.errors import AuthError, GoosukeError, RateLimited

MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem response; ``errors`` lists ``{field, message, type}`` for invalid input; ``extra`` adds
    members (RFC 9457 extension members) without replacing the standard ones."""
    body: dict[str, Any] = {**(extra or {}), "type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def error_response(exc: GoosukeError) -> JSONResponse:
    """The problem response for an error the hub raised on purpose (its status comes from its class)."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(exc.status, exc.title, exc.message, exc.errors, headers)
