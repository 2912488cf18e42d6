"""Destinations and deliveries: where results go, and what was sent there.

Operators create Discord destinations and pick any destination by name in ``deliver_to``; an HTTP
destination reaches the network, so only admins create, change or delete one (like runners).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub import Call, Plugin, Role
from hub.clock import UtcDatetime, aware
from hub.db.models import Delivery, DeliveryDestination
from hub.deliveries import Deliveries, store
from hub.deliveries.model import DestinationKind, DiscordTarget, HttpTarget, Routing, check_name
from hub.errors import InvalidArguments, NotFound, PermissionDenied
from hub.paging import Offset
from hub.plugin import Arguments, NoArguments
from hub.teams.policy import Visibility
from hub.triggers.ownership import placement, team_names

plugin = Plugin("deliveries")

NAME = Field(min_length=1, max_length=64, description="The destination's name, e.g. team-digest.")


class DestinationView(BaseModel):
    name: str
    kind: DestinationKind
    discord: DiscordTarget | None = None
    http: HttpTarget | None = Field(default=None, description="The URL and the secret's name (never its value).")
    description: str
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    team: str | None = Field(default=None, description="The owning team.")
    visibility: Visibility = "team"

    @classmethod
    def of(cls, row: DeliveryDestination, teams: Mapping[str, str] | None = None) -> DestinationView:
        kind: Any = row.kind
        return cls(
            name=row.name,
            kind=kind,
            discord=DiscordTarget.model_validate(row.config) if row.kind == "discord" else None,
            http=HttpTarget.model_validate(row.config) if row.kind == "http" else None,
            description=row.description,
            created_by=row.created_by,
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
            team=(teams or {}).get(row.team_id, row.team_id) if row.team_id else None,
            visibility=row.visibility or "team",  # type: ignore[arg-type]  # a str column; pydantic checks it
        )


class DestinationFields(Arguments):
    name: str = NAME
    discord: DiscordTarget | None = Field(default=None, description="Post results into a Discord channel or thread.")
    http: HttpTarget | None = Field(default=None, description="POST results to a URL, HMAC-signed (admins only).")


class DestinationCreate(DestinationFields):
    description: str = Field(default="", max_length=500)
    team: str | None = Field(default=None, min_length=1, max_length=64, description="The owning team; default: yours.")
    visibility: Visibility = Field(
        default="team", description="Who may see and name it: private (you), team or public (only its team changes it)."
    )


class DestinationUpdate(DestinationFields):
    """Give the new ``discord`` or ``http`` settings in full; a description alone keeps them."""

    description: str | None = Field(default=None, max_length=500)
    visibility: Visibility | None = Field(default=None, description="private, team or public.")


class DestinationName(Arguments):
    name: str = NAME


class DestinationList(BaseModel):
    destinations: list[DestinationView]


class AttemptView(BaseModel):
    number: int | None = Field(default=None, description="1 for a round's first attempt.")
    at: UtcDatetime
    status_code: int | None = Field(default=None, description="The HTTP answer, when there was one.")
    error: str | None = None
    retried_by: str | None = Field(default=None, description="Set on the marker a delivery_retry leaves.")


class DeliveryView(BaseModel):
    id: str
    execution_id: str
    destination: str
    purpose: Literal["result", "failure"] = Field(description="result, or failure (an announcement).")
    status: Literal["pending", "delivered", "failed"]
    attempts: list[AttemptView]
    error: str | None
    created_at: UtcDatetime
    delivered_at: UtcDatetime | None

    @classmethod
    def of(cls, row: Delivery) -> DeliveryView:
        return cls.model_validate(
            {
                "id": row.id,
                "execution_id": row.execution_id,
                "destination": row.destination,
                "purpose": row.purpose,
                "status": row.status,
                "attempts": row.attempts,
                "error": row.error,
                "created_at": aware(row.created_at),
                "delivered_at": aware(row.delivered_at) if row.delivered_at else None,
            }
        )


class DeliveryQuery(Arguments):
    execution_id: str | None = Field(default=None, max_length=64, description="Only this execution's deliveries.")
    destination: str | None = Field(default=None, max_length=64, description="Only this destination's deliveries.")
    status: Literal["pending", "delivered", "failed"] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: Offset = 0


class DeliveryId(Arguments):
    id: str = Field(min_length=1, max_length=64, description="The delivery's id (delivery_list).")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]


async def checked_routes(call: Call, args: Routing) -> list[dict[str, str]] | None:
    """The routes a trigger's arguments name, each destination checked to exist and be visible to the caller
    (None: not given)."""
    routes = args.routes()
    if routes:
        await call.app.services.get(Deliveries).check_routes(routes, call.principal)
    return routes


async def _view(call: Call, row: DeliveryDestination) -> DestinationView:
    return DestinationView.of(row, await team_names(call.app.db, [row.team_id]))


def _target(args: DestinationFields) -> tuple[DestinationKind, dict[str, Any]] | None:
    if args.discord is not None and args.http is not None:
        raise InvalidArguments(
            "Give either `discord` or `http`, not both: one destination is one place.",
            errors=[{"field": "http", "message": "only one of discord and http", "type": "conflict"}],
        )
    if args.discord is not None:
        return "discord", args.discord.model_dump(mode="json", exclude_none=True)
    if args.http is not None:
        return "http", args.http.model_dump(mode="json")
    return None


def _require_admin_for_http(call: Call, kind: str) -> None:
    if kind == "http" and call.principal.role != Role.admin:
        raise PermissionDenied(
            "An HTTP destination reaches the network, so only an admin may create, change or delete one. Ask an "
            "admin, or pick an existing destination from destination_list."
        )


@plugin.tool(permission="deliveries.manage")
async def destination_create(call: Call, args: DestinationCreate) -> DestinationView:
    """Name a place results go: a Discord channel or thread (`discord`), or an HMAC-signed HTTP callback
    (`http`, admins only; signed like incoming `hmac` webhooks: X-Goosuke-Timestamp, X-Goosuke-Signature)."""
    check_name(args.name)
    target = _target(args)
    if target is None:
        raise InvalidArguments(
            "Give `discord` ({channel_id, thread_id?}) or `http` ({url, secret}).",
            errors=[{"field": "discord", "message": "discord or http is required", "type": "missing"}],
        )
    kind, config = target
    _require_admin_for_http(call, kind)
    team_id, visibility = await placement(call.app.db, call.principal, store.MANAGE, args.team, args.visibility, "team")
    row = await store.create_destination(
        call.app.db,
        name=args.name,
        kind=kind,
        config=config,
        description=args.description,
        actor=call.principal.name,
        team_id=team_id,
        visibility=visibility,
    )
    return await _view(call, row)


@plugin.tool(read_only=True, permission="deliveries.read")
async def destination_list(call: Call, args: NoArguments) -> DestinationList:
    """List the destinations results can go to (names for deliver_to and announce_failures_to)."""
    rows = await store.destinations(call.app.db, call.principal)
    teams = await team_names(call.app.db, (r.team_id for r in rows))
    return DestinationList(destinations=[DestinationView.of(r, teams) for r in rows])


@plugin.tool(read_only=True, permission="deliveries.read")
async def destination_get(call: Call, args: DestinationName) -> DestinationView:
    """One destination: its kind, its Discord channel or its URL and secret name."""
    return await _view(call, await store.get_destination(call.app.db, args.name, call.principal))


@plugin.tool(permission="deliveries.manage")
async def destination_update(call: Call, args: DestinationUpdate) -> DestinationView:
    """Change a destination: new `discord` or `http` settings (in full), or its description."""
    row = await store.get_destination(call.app.db, args.name, call.principal, change=True)
    _require_admin_for_http(call, row.kind)
    changes: dict[str, Any] = {}
    target = _target(args)
    if target is not None:
        _require_admin_for_http(call, target[0])
        changes.update(kind=target[0], config=target[1])
    if args.description is not None:
        changes["description"] = args.description
    if args.visibility is not None:
        changes["visibility"] = args.visibility
    return await _view(call, await store.save_destination(call.app.db, args.name, call, **changes))


@plugin.tool(permission="deliveries.manage", destructive=True)
async def destination_delete(call: Call, args: DestinationName) -> DestinationView:
    """Delete a destination; routes naming it fail their deliveries (recorded) until changed."""
    row = await store.get_destination(call.app.db, args.name, call.principal, change=True)
    _require_admin_for_http(call, row.kind)
    return await _view(call, await store.delete_destination(call.app.db, args.name))


@plugin.tool(read_only=True, permission="deliveries.read")
async def delivery_list(call: Call, args: DeliveryQuery) -> DeliveryList:
    """Recorded deliveries, newest first: per execution or destination, with every attempt."""
    rows = await store.find(
        call.app.db,
        execution_id=args.execution_id,
        destination=args.destination,
        status=args.status,
        limit=args.limit,
        offset=args.offset,
        principal=call.principal,
    )
    return DeliveryList(deliveries=[DeliveryView.of(r) for r in rows])


async def _delivery(call: Call, delivery_id: str, *, change: bool = False) -> Delivery:
    """The delivery, if the caller may see its destination (NotFound as if absent otherwise)."""
    row = await store.get(call.app.db, delivery_id)
    if not call.principal.sees_everything:
        try:
            await store.get_destination(call.app.db, row.destination, call.principal, change=change)
        except NotFound:
            raise NotFound(f"No delivery with id {delivery_id!r}. List them with delivery_list.") from None
    return row


@plugin.tool(read_only=True, permission="deliveries.read")
async def delivery_get(call: Call, args: DeliveryId) -> DeliveryView:
    """One delivery with its attempts (status codes and errors)."""
    return DeliveryView.of(await _delivery(call, args.id))


@plugin.tool(permission="deliveries.manage")
async def delivery_retry(call: Call, args: DeliveryId) -> DeliveryView:
    """Send a failed delivery again: a new round of attempts, recorded after the earlier ones."""
    await _delivery(call, args.id, change=True)
    row = await call.app.services.get(Deliveries).retry(args.id, call.principal.name)
    return DeliveryView.of(row)
