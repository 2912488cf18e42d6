"""Times, in one place: every stored time is UTC, and SQLite hands datetimes back without an offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, overload

from pydantic import AfterValidator


@overload
def aware(value: datetime) -> datetime: ...


@overload
def aware(value: None) -> None: ...


def aware(value: datetime | None) -> datetime | None:
    """``value`` with its offset: a time without one is UTC (that is how the database keeps them)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, for comparing with stored times (a time without an offset is taken as UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]
"""A datetime field of an output model: always with an offset, in UTC (a time SQLite handed back
without one is UTC). Tool and resource output models use it so no time goes out naive."""
