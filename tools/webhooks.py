"""Webhooks: an HTTP endpoint per hook that starts a template run from a signed request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from hub import Call, Plugin
from hub.clock import UtcDatetime
from hub.context import AppContext
from hub.deliveries.model import Route, Routing
from hub.paging import Offset
from hub.plugin import Arguments
from hub.triggers.webhooks import Webhooks, check_pointers, check_rate, new_secret
from tools.actions import FiringView, Owned, Owning, Reowning, actions_of, names_of, ownership, placed, revisibility
from tools.deliveries import checked_routes

plugin = Plugin("webhooks")

AuthMode = Literal["github", "hmac", "token"]


def webhooks_of(app: AppContext) -> Webhooks:
    return app.services.get(Webhooks)


@plugin.route("/hooks/{slug}", methods=["POST"], public=True)
async def receive(request: Request, app: AppContext) -> Response:
    """Authenticated by the hook's own signature or token, not by a hub bearer token."""
    return await webhooks_of(app).handle(request)


class Idempotency(Arguments):
    header: str | None = Field(default=None, max_length=100, description="Header carrying a delivery id.")
    pointer: str | None = Field(default=None, max_length=200, description="JSON pointer to a payload field.")


class WebhookCreate(Routing, Owning):
    name: str = Field(min_length=1, max_length=64, description="Also the URL slug: /hooks/{name}.")
    template: str = Field(min_length=1, max_length=64)
    auth: AuthMode = Field(
        default="github",
        description="github (X-Hub-Signature-256), hmac (timestamped "
        "X-Goosuke-Signature), or token (Authorization: Bearer <secret>).",
    )
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description='Template parameter -> JSON pointer into the payload, e.g. {"title": "/issue/title"}.',
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed parameter values.")
    idempotency: Idempotency | None = Field(
        default=None,
        description="Where the delivery id is; default: X-GitHub-Delivery for github, Idempotency-Key otherwise.",
    )
    rate_limit: str | None = Field(
        default=None, max_length=40, description="Signed deliveries per hook, e.g. 10/second; default from settings."
    )
    enabled: bool = True


class WebhookView(Owned):
    name: str
    url: str
    template: str
    auth: AuthMode
    mapping: dict[str, str]
    params: dict[str, Any]
    idempotency: Idempotency | None
    rate_limit: str
    enabled: bool
    last_fired_at: UtcDatetime | None
    created_by: str
    routes: list[Route] = Field(default_factory=list, description="Where each run's result goes (deliver_to).")


class WebhookCreated(BaseModel):
    webhook: WebhookView
    secret: str = Field(description="The signing secret or token. Shown only now: configure the sender with it.")


class WebhookUpdate(Routing, Reowning):
    name: str = Field(min_length=1, max_length=64)
    template: str | None = Field(default=None, max_length=64)
    auth: AuthMode | None = None
    mapping: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    idempotency: Idempotency | None = None
    rate_limit: str | None = Field(default=None, max_length=40)
    enabled: bool | None = None


class WebhookName(Arguments):
    name: str = Field(min_length=1, max_length=64)


class WebhookFilter(Arguments):
    enabled: bool | None = None


class WebhookList(BaseModel):
    webhooks: list[WebhookView]


class DeliveriesQuery(Arguments):
    name: str = Field(min_length=1, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)
    offset: Offset = 0


class Deliveries(BaseModel):
    deliveries: list[FiringView]


def view(row: Any, app: AppContext, teams: Mapping[str, str] | None = None) -> WebhookView:
    config = row.config
    idem = config.get("idempotency")
    return WebhookView(
        name=row.name,
        url=webhooks_of(app).url(row.name),
        template=row.template,
        auth=config.get("auth", "github"),
        mapping=row.mapping,
        params=row.params,
        idempotency=Idempotency(**idem) if idem else None,
        rate_limit=config.get("rate_limit") or app.settings.webhook_rate_limit,
        enabled=row.enabled,
        last_fired_at=row.last_fired_at,
        created_by=row.created_by,
        routes=config.get("routes", []),
        **ownership(row, teams or {}),
    )


def _config(auth: str, idempotency: Idempotency | None, rate_limit: str | None) -> dict[str, Any]:
    if rate_limit:
        check_rate(rate_limit)
    if idempotency and idempotency.pointer:
        check_pointers({"idempotency": idempotency.pointer})
    return {
        "auth": auth,
        "idempotency": idempotency.model_dump(exclude_none=True) if idempotency else None,
        "rate_limit": rate_limit,
    }


@plugin.tool(permission="triggers.manage")
async def webhook_create(call: Call, args: WebhookCreate) -> WebhookCreated:
    """Create a webhook at /hooks/{name} that runs a template with parameters taken from the JSON payload.
    Returns the URL and the secret (once). Required template parameters must be mapped or fixed now."""
    check_pointers(args.mapping)
    config = _config(args.auth, args.idempotency, args.rate_limit)
    if routes := await checked_routes(call, args):
        config["routes"] = routes
    owner = await placed(call, args, args.template)
    row = await actions_of(call.app).create(
        name=args.name,
        kind="webhook",
        template=args.template,
        params=args.params,
        mapping=args.mapping,
        config=config,
        enabled=args.enabled,
        actor=call.principal.name,
        **owner,
    )
    secret = new_secret()
    try:
        await webhooks_of(call.app).store_secret(row.id, secret, call.principal.name)
    except Exception:
        await actions_of(call.app).delete(row.name, "webhook")  # no hook without a secret
        raise
    return WebhookCreated(webhook=view(row, call.app, await names_of(call.app, [row])), secret=secret)


@plugin.tool(read_only=True, permission="triggers.read")
async def webhook_list(call: Call, args: WebhookFilter) -> WebhookList:
    """List webhooks with their URLs, templates and mappings (never their secrets)."""
    rows = await actions_of(call.app).matching("webhook", args.enabled, call.principal)
    teams = await names_of(call.app, rows)
    return WebhookList(webhooks=[view(r, call.app, teams) for r in rows])


@plugin.tool(permission="triggers.manage")
async def webhook_update(call: Call, args: WebhookUpdate) -> WebhookView:
    """Change a webhook; only the fields given change. The secret stays (rotate it with webhook_rotate_secret)."""
    service = actions_of(call.app)
    row = await service.get(args.name, "webhook", call.principal, change=True)
    mapping = row.mapping if args.mapping is None else args.mapping
    params = row.params if args.params is None else args.params
    template = args.template or row.template
    check_pointers(mapping)
    await service.check_template(template, params, set(mapping), team_id=row.team_id, principal=call.principal)
    current = row.config
    idem = (
        args.idempotency
        if args.idempotency is not None
        else (Idempotency(**current["idempotency"]) if current.get("idempotency") else None)
    )
    config = _config(
        args.auth or current.get("auth", "github"),
        idem,
        args.rate_limit if args.rate_limit is not None else current.get("rate_limit"),
    )
    routes = await checked_routes(call, args)
    if routes is not None or current.get("routes"):
        config["routes"] = routes if routes is not None else current["routes"]
    if current.get("run_visibility"):
        config["run_visibility"] = current["run_visibility"]
    changes: dict[str, Any] = {"template": template, "mapping": mapping, "params": params, "config": config}
    changes.update(revisibility(args, config))
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    saved = await service.save(row, call, **changes)
    return view(saved, call.app, await names_of(call.app, [saved]))


@plugin.tool(permission="triggers.manage", destructive=True)
async def webhook_delete(call: Call, args: WebhookName) -> WebhookView:
    """Delete a webhook, its secret and its delivery history; its URL answers 404 from now on."""
    row = await actions_of(call.app).delete(args.name, "webhook", call.principal)
    await webhooks_of(call.app).drop_secret(row.id, call.principal.name)
    return view(row, call.app, await names_of(call.app, [row]))


@plugin.tool(permission="triggers.manage")
async def webhook_rotate_secret(call: Call, args: WebhookName) -> WebhookCreated:
    """Replace a webhook's secret; the old one stops working at once. The new secret is shown only now."""
    row = await actions_of(call.app).get(args.name, "webhook", call.principal, change=True)
    secret = new_secret()
    await webhooks_of(call.app).store_secret(row.id, secret, call.principal.name)
    return WebhookCreated(webhook=view(row, call.app, await names_of(call.app, [row])), secret=secret)


@plugin.tool(read_only=True, permission="triggers.read")
async def webhook_deliveries(call: Call, args: DeliveriesQuery) -> Deliveries:
    """Recent deliveries of a webhook, newest first: queued, duplicate, rejected (bad signature) or invalid."""
    service = actions_of(call.app)
    row = await service.get(args.name, "webhook", call.principal)
    rows = await service.firings(row, limit=args.limit, offset=args.offset)
    return Deliveries(deliveries=[FiringView.of(firing, name) for firing, name in rows])
