"""Cron expressions in a time zone: validation, next fire times and the slots due in a window.

Expressions have 5 fields (``min hour dom mon dow``), 6 fields with seconds first
(``sec min hour dom mon dow``, as Goose and Quartz write them) or a shorthand (``@hourly``,
``@daily``, ``@weekly``, ``@monthly``, ``@yearly``). croniter does the matching.

Daylight-saving changes follow classic cron (Vixie) semantics:
- a schedule with a fixed hour (``30 2 * * *``) fires once per wall-clock time: when clocks go back
  and 02:30 happens twice it fires at the first 02:30 only; when clocks go forward over 02:30 it
  fires at the first instant after the gap (03:00);
- a schedule whose hour field has a ``*`` (``*/15 * * * *``) is an interval: it fires at every
  matching instant of real time, so in the repeated hour it fires again, and nothing falls in a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from hub.errors import InvalidArguments

SHORTHANDS = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
MAX_SLOTS_PER_WINDOW = 10_000  # a window longer than this many slots is a catch-up storm: cap it


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def _fields(self) -> list[str]:
        return self.expression.split()

    @property
    def has_seconds(self) -> bool:
        return len(self._fields) == 6

    @property
    def interval_like(self) -> bool:
        """True when the hour field is a wildcard or a step: the schedule follows real time."""
        if self.expression.startswith("@"):
            return self.expression == "@hourly"
        fields = self._fields
        hour = fields[2] if self.has_seconds else fields[1]
        return "*" in hour

    def _iter(self, start: datetime) -> croniter:
        return croniter(self.expression, start.astimezone(self.zone), second_at_beginning=self.has_seconds)

    def next_fires(self, after: datetime, count: int = 5) -> list[datetime]:
        """The next ``count`` fire instants strictly after ``after`` (aware, in UTC)."""
        return self.slots_between(after, after + timedelta(days=3660), limit=count)

    def slots_between(self, after: datetime, until: datetime, *, limit: int = MAX_SLOTS_PER_WINDOW) -> list[datetime]:
        """Fire instants in ``(after, until]`` as aware UTC datetimes, DST rules applied."""
        out: list[datetime] = []
        it = self._iter(after)
        while len(out) < limit:
            try:
                candidate = it.get_next(datetime)
            except CroniterBadDateError:  # no date matches at all (a row stored before create refused it)
                break
            instant = candidate.astimezone(UTC)
            if instant > until:
                break
            if instant <= after:
                continue
            local = instant.astimezone(self.zone)
            if not self.interval_like and local.fold == 1:
                continue  # the second occurrence of a repeated wall-clock time
            if out and instant == out[-1]:
                continue
            out.append(instant)
        return out


def parse(expression: str, timezone: str = "UTC") -> CronSchedule:
    """Validate an expression and a time zone.

    Raises:
        InvalidArguments: naming the field (``cron`` or ``timezone``) and what is accepted.
    """
    expression = " ".join(expression.split())
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArguments(
            f"Unknown time zone {timezone!r}. Use an IANA name such as 'UTC', 'Europe/Berlin' or 'America/New_York'.",
            errors=[{"field": "timezone", "message": "unknown time zone", "type": "timezone"}],
        ) from None
    fields = expression.split()
    valid = expression.lower() in SHORTHANDS or (
        len(fields) in (5, 6) and croniter.is_valid(expression, second_at_beginning=len(fields) == 6)
    )
    if not valid:
        raise InvalidArguments(
            f"Invalid cron expression {expression!r}. Use 5 fields (min hour day month weekday, e.g. '0 9 * * 1-5'), "
            "6 fields with seconds first ('0 0 9 * * *'), or @hourly, @daily, @weekly, @monthly, @yearly.",
            errors=[{"field": "cron", "message": "invalid cron expression", "type": "cron"}],
        )
    return CronSchedule(expression.lower() if expression.startswith("@") else expression, timezone)


def require_fires(schedule: CronSchedule) -> CronSchedule:
    """Refuse an expression that matches no date at all (``0 0 31 2 *``); croniter finds that out at once.

    Raises:
        InvalidArguments: naming ``cron``.
    """
    try:
        schedule._iter(datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidArguments(
            f"The cron expression {schedule.expression!r} never fires: no date matches its day and month fields "
            "(e.g. 31 February). Pick a day that exists in the month.",
            errors=[{"field": "cron", "message": "never fires", "type": "cron"}],
        ) from None
    return schedule
