"""Cron slots across daylight-saving changes, checked against a brute-force oracle minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from hub import InvalidArguments
from hub.triggers.cron import CronSchedule, parse, require_fires


def oracle(schedule: CronSchedule, start: datetime, minutes: int) -> list[datetime]:
    """Every slot in (start, start + minutes], computed without croniter's iteration."""
    zone = schedule.zone
    end = start + timedelta(minutes=minutes)
    expected: set[datetime] = set()
    fields = schedule.expression.split()
    # croniter.match is the judge; the minute field only skips minutes it could never accept (speed)
    minute_field = croniter(schedule.expression).expanded[0] if len(fields) == 5 else ["*"]
    wanted_minutes = None if "*" in minute_field else set(minute_field)

    def matches(moment: datetime) -> bool:
        if wanted_minutes is not None and moment.minute not in wanted_minutes:
            return False
        return bool(croniter.match(schedule.expression, moment))

    if schedule.interval_like:
        t = start + timedelta(minutes=1)
        while t <= end:
            if matches(t.astimezone(zone)):
                expected.add(t)
            t += timedelta(minutes=1)
    else:  # walk wall-clock minutes: repeated times count once, times in a gap move to the gap's end
        naive = start.astimezone(zone).replace(tzinfo=None, second=0)
        last = end.astimezone(zone).replace(tzinfo=None) + timedelta(hours=3)
        while naive <= last:
            naive += timedelta(minutes=1)
            if not matches(naive):
                continue
            aware = naive.replace(tzinfo=zone, fold=0)
            instant = aware.astimezone(UTC)
            exists = instant.astimezone(zone).replace(tzinfo=None) == naive
            if not exists:  # in a spring-forward gap: first instant after it
                gap_end = naive
                while gap_end.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != gap_end:
                    gap_end += timedelta(minutes=1)
                instant = gap_end.replace(tzinfo=zone).astimezone(UTC)
            if start < instant <= end:
                expected.add(instant)
    return sorted(expected)


@pytest.mark.parametrize("expression", ["30 2 * * *", "*/20 * * * *", "15 1,2,3 * * 1-5", "@daily"])
@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Europe/Berlin", datetime(2026, 10, 21, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 3, 25, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 4, tzinfo=UTC)),
    ],
)
def test_10000_minutes_across_a_dst_change_fire_exactly_the_expected_slots(
    expression: str, zone: str, start: datetime
) -> None:
    schedule = parse(expression, zone)
    got = schedule.slots_between(start, start + timedelta(minutes=10_000))
    assert got == oracle(schedule, start, 10_000)


def test_fixed_hour_jobs_fire_once_when_clocks_go_back_and_intervals_keep_going() -> None:
    berlin_fall_back = datetime(2026, 10, 24, 22, tzinfo=UTC)  # 00:00 local on 25 Oct, CEST -> CET at 03:00
    daily = parse("30 2 * * *", "Europe/Berlin").slots_between(berlin_fall_back, berlin_fall_back + timedelta(hours=8))
    assert daily == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    interval = parse("*/30 * * * *", "Europe/Berlin")
    assert len(interval.slots_between(berlin_fall_back, berlin_fall_back + timedelta(hours=8))) == 16


def test_a_job_in_the_spring_forward_gap_fires_right_after_it() -> None:
    day = datetime(2026, 3, 28, 22, tzinfo=UTC)  # local midnight before the 02:00 -> 03:00 jump
    slots = parse("30 2 * * *", "Europe/Berlin").slots_between(day, day + timedelta(hours=12))
    assert slots == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]  # 03:00 CEST


def test_six_fields_have_seconds_first() -> None:
    schedule = parse("15 0 9 * * *", "UTC")
    assert schedule.next_fires(datetime(2026, 1, 1, tzinfo=UTC), 2) == [
        datetime(2026, 1, 1, 9, 0, 15, tzinfo=UTC),
        datetime(2026, 1, 2, 9, 0, 15, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("expression", "zone", "field"),
    [
        ("61 * * * *", "UTC", "cron"),
        ("* * *", "UTC", "cron"),
        ("@fortnightly", "UTC", "cron"),
        ("0 9 * * *", "Mars/Olympus", "timezone"),
        ("1 2 3 4 5 6 7", "UTC", "cron"),
    ],
)
def test_invalid_cron_and_time_zones_name_the_field(expression: str, zone: str, field: str) -> None:
    with pytest.raises(InvalidArguments) as raised:
        parse(expression, zone)
    assert raised.value.errors[0]["field"] == field
    assert ZoneInfo("UTC")


@pytest.mark.parametrize("expression", ["0 0 31 2 *", "0 0 30 2 *", "0 0 0 31 4 *"])
def test_an_expression_that_never_fires_is_refused_naming_cron(expression: str) -> None:
    schedule = parse(expression)  # valid syntax
    with pytest.raises(InvalidArguments) as raised:
        require_fires(schedule)
    assert raised.value.errors[0]["field"] == "cron" and "never fires" in raised.value.message
    # a row stored before the check has no next fire instead of an error
    assert schedule.next_fires(datetime(2026, 1, 1, tzinfo=UTC)) == []


def test_a_leap_day_fires() -> None:
    schedule = require_fires(parse("0 0 29 2 *"))
    assert schedule.next_fires(datetime(2026, 1, 1, tzinfo=UTC), 1) == [datetime(2028, 2, 29, tzinfo=UTC)]
