"""The changes of the clocks SQLite's calendar-day figures read a zone by:
each at its exact instant, none missed, however the zone's rules run."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dealgate.insights.sql import ZONE_YEARS, zone_changes


def changes_hour_by_hour(zone: str) -> list[tuple[dt.datetime, int]]:
    """The offsets `zone` takes, looked at every hour: slow and plain."""
    place = ZoneInfo(zone)

    def offset(instant: dt.datetime) -> int:
        return int(instant.astimezone(place).utcoffset().total_seconds())

    instant = dt.datetime(ZONE_YEARS[0], 1, 1, tzinfo=dt.UTC)
    last = dt.datetime(ZONE_YEARS[1], 1, 1, tzinfo=dt.UTC)
    found = [(instant, offset(instant))]
    hour = dt.timedelta(hours=1)
    while instant < last:
        instant += hour
        if offset(instant) != found[-1][1]:
            # Back to the second it changed at, within the hour.
            second = instant - hour
            while offset(second) == found[-1][1]:
                second += dt.timedelta(minutes=1)
            minute = second - dt.timedelta(minutes=1)
            while offset(minute) == found[-1][1]:
                minute += dt.timedelta(seconds=1)
            found.append((minute, offset(minute)))
    return found


def test_berlins_changes_of_2026_fall_at_one_in_the_morning_utc():
    changes = dict(zone_changes("Europe/Berlin"))

    assert changes[dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)] == 7200
    assert changes[dt.datetime(2026, 10, 25, 1, tzinfo=dt.UTC)] == 3600


@pytest.mark.parametrize(
    "zone",
    [
        # Summer time paused for Ramadan: changes a few weeks apart.
        "Africa/Casablanca",
        # Half an hour's change, and a southern summer.
        "Australia/Lord_Howe",
        "America/Sao_Paulo",
        "Asia/Tehran",
        "UTC",
    ],
)
def test_every_change_is_found_at_its_second(zone):
    assert list(zone_changes(zone)) == changes_hour_by_hour(zone)
