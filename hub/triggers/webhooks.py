"""Webhooks: ``POST /hooks/{slug}`` turns an authenticated HTTP request into an execution.

Authentication, per hook:
- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`` (GitHub's format);
- ``hmac``: ``X-Goosuke-Timestamp: <unix seconds>`` and
  ``X-Goosuke-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>``; a timestamp
  that is not a finite number within the tolerance of now is refused, so a captured request cannot be
  replayed later;
- ``token``: ``Authorization: Bearer <secret>`` or ``X-Goosuke-Token: <secret>``.
The order is: signature (and, in ``hmac`` mode, freshness), replay check, then the hook's rate limit, so
only a signed, first-seen delivery counts against the limit; refused ones have their own limit per client
address (``webhook_failure_rate_limit``). A signature is accepted once (``hub.triggers.replays``), so a
replay with another idempotency header starts no run and uses up none of the sender's quota.
The payload (at most 64 levels deep) is mapped to template parameters by JSON pointers (RFC 6901). An
idempotency key (a header such as ``X-GitHub-Delivery`` or a payload field) makes a redelivery return
the first execution instead of creating a second. Answers: 202 with the execution id, 200 for a
duplicate or a replay, and JSON problems otherwise; an unknown or disabled slug gets the same 404.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from typing import TYPE_CHECKING, Any

import jsonpointer
import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub import jsonlimits
from hub.db.models import Action
from hub.engine.records import Trigger
from hub.errors import AuthError, BadRequest, GoosukeError, InvalidArguments, PayloadTooLarge
from hub.problems import problem
from hub.triggers.actions import Actions
from hub.triggers.replays import ReplayCache

if TYPE_CHECKING:
    from hub.context import AppContext
    from hub.vault.service import Vault

logger = logging.getLogger("goosuke.webhooks")

SECRET_SCOPE = "webhook"
DEFAULT_IDEMPOTENCY_HEADER = {"github": "X-GitHub-Delivery", "hmac": "Idempotency-Key", "token": "Idempotency-Key"}
MAX_KEY_LENGTH = 150


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign_github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_hmac(secret: str, timestamp: int | str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(mode: str, secret: str, headers: Any, body: bytes, *, now: float, tolerance: float) -> None:
    """Raises AuthError saying which header is missing or wrong (never what the right value is)."""
    if mode == "github":
        given = headers.get("x-hub-signature-256")
        if not given:
            raise AuthError("Missing X-Hub-Signature-256 header: sign the body with the hook's secret.")
        if not hmac.compare_digest(given, sign_github(secret, body)):
            raise AuthError("The X-Hub-Signature-256 signature does not match the body and the hook's secret.")
    elif mode == "hmac":
        stamp, given = headers.get("x-goosuke-timestamp"), headers.get("x-goosuke-signature")
        if not stamp or not given:
            raise AuthError("Missing X-Goosuke-Timestamp or X-Goosuke-Signature header.")
        try:
            sent = float(stamp) if len(stamp) <= 32 else math.nan
        except ValueError:
            sent = math.nan
        if not math.isfinite(sent):  # nan compares false with everything: it must not reach the window check
            raise AuthError("X-Goosuke-Timestamp must be Unix seconds (a finite number).")
        if not abs(now - sent) <= tolerance:
            raise AuthError(
                f"The request timestamp is more than {tolerance:.0f} s away from now: a replay, or a "
                "clock that needs fixing."
            )
        if not hmac.compare_digest(given, sign_hmac(secret, stamp, body)):
            raise AuthError("The X-Goosuke-Signature signature does not match the timestamp, body and secret.")
    else:
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-goosuke-token", "")
        if not given:
            raise AuthError("Missing token: send Authorization: Bearer <hook secret> or X-Goosuke-Token.")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise AuthError("The hook token is wrong.")


def map_payload(payload: Any, mapping: dict[str, str]) -> dict[str, Any]:
    """Pick parameters out of the payload by JSON pointer; absent pointers leave the parameter unset."""
    out: dict[str, Any] = {}
    missing = object()
    for key, pointer in mapping.items():
        value = jsonpointer.resolve_pointer(payload, pointer, missing)
        if value is not missing:
            out[key] = value
    return out


def check_pointers(mapping: dict[str, str]) -> None:
    for key, pointer in mapping.items():
        try:
            jsonpointer.JsonPointer(pointer)
        except jsonpointer.JsonPointerException as exc:
            raise InvalidArguments(
                f"mapping.{key}: {pointer!r} is not a JSON pointer ({exc}); write e.g. '/issue/title'.",
                errors=[{"field": f"mapping.{key}", "message": str(exc), "type": "json_pointer"}],
            ) from None


def check_rate(rate: str) -> None:
    try:
        limits.parse(rate)
    except ValueError:
        raise InvalidArguments(
            f"rate_limit {rate!r} is not a rate; write e.g. '10/second' or '120/minute'.",
            errors=[{"field": "rate_limit", "message": "invalid rate", "type": "rate"}],
        ) from None


OUTCOMES = {
    202: "accepted",
    200: "duplicate",
    400: "invalid",
    401: "rejected",
    404: "unknown",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
}
"""The outcome a delivery's status code means, for the log line."""


class Webhooks:
    """The route's logic (``app.services.get(Webhooks)``): find, limit, authenticate, map, fire."""

    def __init__(self, app: AppContext, actions: Actions, vault: Vault) -> None:
        self.app = app
        self.actions = actions
        self.vault = vault
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.replays = ReplayCache(app.db, app.settings)

    def url(self, slug: str) -> str:
        return f"{self.app.settings.base_url}/hooks/{slug}"

    async def store_secret(self, action_id: str, value: str, actor: str) -> None:
        await self.vault.put(action_id, value, actor=actor, scope=SECRET_SCOPE, description="webhook secret")

    async def secret(self, action_id: str) -> str:
        return await self.vault.get(action_id, scope=SECRET_SCOPE)

    async def drop_secret(self, action_id: str, actor: str) -> None:
        await self.vault.delete(action_id, actor=actor, scope=SECRET_SCOPE)

    async def _find(self, slug: str) -> Action | None:
        async with self.app.db.session() as session:
            action = await session.scalar(
                select(Action).where(Action.kind == "webhook", Action.name == slug, Action.enabled.is_(True))
            )
            return action

    def _refuse(self, reason: str, status: int, title: str, detail: str, **headers: str) -> Response:
        self.app.metrics.webhook_refused.labels(reason=reason).inc()
        return problem(status, title, detail, headers=headers or None)

    async def handle(self, request: Request) -> Response:
        """Answer one delivery, and log one line about it: the hook, the outcome, the execution (never the body)."""
        slug = request.path_params["slug"]
        response = await self._handle(request, slug)
        outcome = OUTCOMES.get(response.status_code, "failed")
        execution = None
        if response.status_code in (200, 202) and isinstance(response, JSONResponse):
            body = json.loads(bytes(response.body))
            execution = body.get("execution_id")
            outcome = "duplicate" if body.get("duplicate") else outcome
        logger.info(
            "webhook %r delivery: %s (%d)%s",
            slug[:100],
            outcome,
            response.status_code,
            f", execution {execution}" if execution else "",
        )
        return response

    async def _handle(self, request: Request, slug: str) -> Response:
        action = await self._find(slug)
        if action is None:  # same answer for unknown and disabled: slugs are not enumerable
            return self._refuse("unknown", 404, "Not found", "No such hook.")
        try:
            body = await self._body(request)
        except PayloadTooLarge as exc:
            return self._refuse("too_large", 413, exc.title, exc.message)
        mode = action.config.get("auth", "github")
        try:
            verify(
                mode,
                await self.secret(action.id),
                request.headers,
                body,
                now=time.time(),
                tolerance=self.app.settings.webhook_signature_tolerance,
            )
        except AuthError as exc:
            address = request.client.host if request.client else "unknown"
            limited = self._limited(
                self.app.settings.webhook_failure_rate_limit, f"{action.id}:{address}", "refused deliveries"
            )
            if limited is not None:  # refused deliveries from this address: no more log rows for them
                return limited
            await self.actions.record(action, "rejected", detail=exc.message, status_code=401, actor="webhook")
            self.app.metrics.webhook_refused.labels(reason="auth").inc()
            return problem(401, exc.title, exc.message)
        claim = await self.replays.claim(action, mode, request.headers)
        if claim is not None and claim.replay:  # before the limit: a replay must not use up the sender's quota
            self.app.metrics.webhook_refused.labels(reason="replay").inc()
            return JSONResponse(
                {
                    "execution_id": claim.first,
                    "duplicate": True,
                    "detail": "Already received: this signature was accepted before (a replay).",
                }
            )
        execution_id: str | None = None
        try:
            response, execution_id = await self._deliver(action, request, body)
        finally:  # a delivery that started no run gives its signature back, so the sender can retry
            await self.replays.settle(claim, execution_id)
        return response

    async def _deliver(self, action: Action, request: Request, body: bytes) -> tuple[Response, str | None]:
        """A signed, fresh, first-seen delivery: count it against the hook's limit, map it and fire.
        Returns the answer and the execution it started or found (None when it started none)."""
        rate = action.config.get("rate_limit") or self.app.settings.webhook_rate_limit
        limited = self._limited(rate, action.id, "deliveries")
        if limited is not None:
            return limited, None
        try:
            payload = jsonlimits.loads(body) if body.strip() else {}
        except BadRequest as exc:
            await self.actions.record(action, "invalid", detail=exc.message, status_code=400)
            self.app.metrics.webhook_refused.labels(reason="invalid").inc()
            return problem(400, "Bad request", f"The body must be JSON: {exc.message}", exc.errors), None
        key = self._idempotency_key(action, request, payload)
        params = map_payload(payload, action.mapping)
        delivery = request.headers.get("x-github-delivery") or key or "delivery"
        trigger = Trigger(kind="webhook", actor=f"webhook:{action.name}", ref=f"{action.name}/{delivery}"[:500])
        try:
            preview = await self.actions.engine.prepare(action.template, {**action.params, **params})
        except InvalidArguments as exc:
            await self.actions.record(action, "invalid", detail=exc.message, status_code=422)
            return problem(422, exc.title, f"The payload does not fill the template: {exc.message}", exc.errors), None
        except GoosukeError as exc:
            await self.actions.record(action, "failed", detail=exc.message, status_code=exc.status)
            return problem(exc.status, exc.title, exc.message), None
        result = await self.actions.fire(
            action, params=params, trigger=trigger, slot=key, status_code=202, preview=preview
        )
        execution_id = result.execution.id if result.execution else None
        if result.duplicate:
            return JSONResponse(
                {
                    "execution_id": execution_id,
                    "duplicate": True,
                    "detail": "Already received: this delivery was processed before.",
                }
            ), execution_id
        if result.execution is None:
            return problem(422, "Not started", result.detail or "The execution could not be created."), None
        return JSONResponse(
            {"execution_id": result.execution.id, "status": result.execution.status, "duplicate": False},
            status_code=202,
        ), execution_id

    def _limited(self, rate: str, key: str, what: str) -> Response | None:
        """A 429 when ``key`` is over ``rate`` (counting this request), else None."""
        item = limits.parse(rate)
        if self.limiter.hit(item, key):
            return None
        reset = self.limiter.get_window_stats(item, key).reset_time
        return self._refuse(
            "rate_limited",
            429,
            "Too many requests",
            f"This hook accepts {rate} {what}; retry later.",
            **{"Retry-After": str(max(1, int(reset - time.time()) + 1))},
        )

    async def _body(self, request: Request) -> bytes:
        limit = self.app.settings.webhook_max_body_bytes
        announced = request.headers.get("content-length")
        if announced and announced.isdigit() and int(announced) > limit:
            raise PayloadTooLarge(f"Webhook payloads are limited to {limit} bytes (GOOSUKE_WEBHOOK_MAX_BODY_BYTES).")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"Webhook payloads are limited to {limit} bytes (GOOSUKE_WEBHOOK_MAX_BODY_BYTES)."
                )
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _idempotency_key(action: Action, request: Request, payload: Any) -> str | None:
        config = action.config.get("idempotency") or {}
        value: Any = None
        if config.get("pointer"):
            value = jsonpointer.resolve_pointer(payload, config["pointer"], None)
        else:
            header = config.get("header") or DEFAULT_IDEMPOTENCY_HEADER.get(action.config.get("auth", "github"))
            value = request.headers.get(header) if header else None
        if value is None or value == "":
            return None
        return f"key:{str(value)[:MAX_KEY_LENGTH]}"
