"""The rows of deliveries: destinations, the routes of ``template_run`` executions, deliveries and attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.db.models import Delivery, DeliveryDestination, DeliveryRoute, utcnow
from hub.deliveries.routes import Routing, unknown_destinations
from hub.errors import Conflict, NotFound
from hub.principal import Principal
from hub.teams import audit, policy

if TYPE_CHECKING:
    from hub.plugin import Call

PENDING = "pending"
READ, MANAGE = "deliveries.read", "deliveries.manage"


async def create_destination(
    db: Database,
    *,
    name: str,
    kind: str,
    config: dict[str, Any],
    description: str,
    actor: str,
    team_id: str | None = None,
    visibility: str = "team",
) -> DeliveryDestination:
    row = DeliveryDestination(
        name=name,
        kind=kind,
        config=config,
        description=description,
        created_by=actor,
        team_id=team_id or policy.DEFAULT_TEAM_ID,
        visibility=policy.check_visibility(visibility) or "team",
    )
    try:
        async with db.session() as session:
            session.add(row)
    except IntegrityError:
        raise Conflict(f"A destination named {name!r} exists already; pick another name.") from None
    return row


async def get_destination(
    db: Database, name: str, principal: Principal | None = None, *, change: bool = False
) -> DeliveryDestination:
    """The destination; with ``principal``, one it may see (``deliveries.read``) or, with ``change``, change
    (``deliveries.manage`` in its team). NotFound for one it may not see, PermissionDenied for one it may
    see but not change."""
    async with db.session() as session:
        row = await session.get(DeliveryDestination, name)
    if row is None or (principal is not None and not _sees(principal, row)):
        raise NotFound(f"No destination named {name!r}. List them with destination_list.")
    if principal is not None and change:
        policy.require_change(principal, MANAGE, row, f"the destination {name!r}")
    return row


def _sees(principal: Principal, row: DeliveryDestination) -> bool:
    return policy.can_see(principal, READ, row) or policy.can_see(principal, MANAGE, row)


async def destinations(db: Database, principal: Principal | None = None) -> list[DeliveryDestination]:
    """Every destination by name; with ``principal``, those it may see."""
    query = select(DeliveryDestination).order_by(DeliveryDestination.name)
    if principal is not None:
        query = query.where(policy.visible(principal, READ, DeliveryDestination))
    async with db.session() as session:
        return list(await session.scalars(query))


async def hidden(db: Database, principal: Principal, names: set[str]) -> list[str]:
    """The names among ``names`` that ``principal`` may not name in routes (it cannot see them)."""
    if not names or principal.sees_everything:
        return []
    async with db.session() as session:
        rows = list(
            await session.scalars(select(DeliveryDestination).where(DeliveryDestination.name.in_(sorted(names))))
        )
    return sorted(row.name for row in rows if not _sees(principal, row))


async def save_destination(db: Database, name: str, call: Call | None = None, **changes: Any) -> DeliveryDestination:
    """Apply ``changes``; a change of who may see the destination is audited for ``call``."""
    async with db.session() as session:
        row = await session.get(DeliveryDestination, name)
        if row is None:
            raise NotFound(f"No destination named {name!r}. List them with destination_list.")
        audit.add_share(session, call, "destination", name, row, changes)
        for key, value in changes.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
    return row


async def delete_destination(db: Database, name: str) -> DeliveryDestination:
    async with db.session() as session:
        row = await session.get(DeliveryDestination, name)
        if row is None:
            raise NotFound(f"No destination named {name!r}. List them with destination_list.")
        await session.delete(row)
    return row


async def missing(db: Database, names: set[str]) -> list[str]:
    """The names among ``names`` that are not destinations."""
    if not names:
        return []
    async with db.session() as session:
        found = set(await session.scalars(select(DeliveryDestination.name).where(DeliveryDestination.name.in_(names))))
    return sorted(names - found)


async def check_destinations(session: AsyncSession, routing: Routing | Any) -> None:
    """Refuse a template's (or run's) routes naming destinations that do not exist, when they are saved.

    ``routing`` has ``deliver_to`` and ``announce_failures_to`` (a :class:`Routing` or a template's definition).

    Raises:
        InvalidArguments: naming each field and unknown destination, and destination_create.
    """
    named = Routing(deliver_to=routing.deliver_to, announce_failures_to=routing.announce_failures_to).named()
    names = {name for names in named.values() for name in names}
    if not names:
        return
    found = set(await session.scalars(select(DeliveryDestination.name).where(DeliveryDestination.name.in_(names))))
    unknown = {field: sorted(set(names) - found) for field, names in named.items() if set(names) - found}
    if unknown:
        raise unknown_destinations(unknown)


async def set_routes(db: Database, execution_id: str, routes: list[dict[str, str]]) -> None:
    async with db.session() as session:
        session.add(DeliveryRoute(execution_id=execution_id, routes=routes))


async def routes(db: Database, execution_id: str) -> list[dict[str, str]] | None:
    async with db.session() as session:
        row = await session.get(DeliveryRoute, execution_id)
    return list(row.routes) if row is not None else None


async def claim(db: Database, execution_id: str, destination: str, purpose: str, owner: str) -> Delivery | None:
    """Write the delivery row before anything is sent; None if it exists already (another listener or hub)."""
    row = Delivery(execution_id=execution_id, destination=destination, purpose=purpose, status=PENDING)
    row.claimed_by, row.attempts = owner, []
    try:
        async with db.session() as session:
            session.add(row)
    except IntegrityError:
        return None
    return row


async def get(db: Database, delivery_id: str) -> Delivery:
    async with db.session() as session:
        row = await session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound(f"No delivery with id {delivery_id!r}. List them with delivery_list.")
    return row


async def record(db: Database, delivery_id: str, attempts: list[dict[str, Any]], **values: Any) -> None:
    """Store the attempts so far and any new status, error or delivered_at."""
    async with db.session() as session:
        await session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(attempts=attempts, updated_at=utcnow(), **values)
        )


async def take_over(db: Database, delivery_id: str, owner: str, previous: str | None, **values: Any) -> bool:
    """Move a delivery to ``owner`` if ``previous`` still holds it (two hubs resuming collide here)."""
    async with db.session() as session:
        done = await session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.claimed_by.is_(None) if previous is None else Delivery.claimed_by == previous,
            )
            .values(claimed_by=owner, updated_at=utcnow(), **values)
        )
    return bool(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult


async def pending(db: Database) -> list[Delivery]:
    async with db.session() as session:
        return list(await session.scalars(select(Delivery).where(Delivery.status == PENDING)))


async def find(
    db: Database,
    *,
    execution_id: str | None = None,
    destination: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    principal: Principal | None = None,
) -> list[Delivery]:
    """Deliveries newest first; with ``principal``, those to destinations it may see."""
    query = select(Delivery)
    if principal is not None and not principal.sees_everything:
        query = query.join(DeliveryDestination, DeliveryDestination.name == Delivery.destination).where(
            policy.visible(principal, READ, DeliveryDestination)
        )
    if execution_id is not None:
        query = query.where(Delivery.execution_id == execution_id)
    if destination is not None:
        query = query.where(Delivery.destination == destination)
    if status is not None:
        query = query.where(Delivery.status == status)
    query = query.order_by(Delivery.created_at.desc(), Delivery.id).limit(limit).offset(offset)
    async with db.session() as session:
        return list(await session.scalars(query))
