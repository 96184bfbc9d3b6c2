"""Every notice says a time one way, in the app, a mail and the webhook's
text: "Tue 02 Jun 17:00 (Europe/Berlin)", in the pipeline's zone, the zone
named by its name."""

from __future__ import annotations

import datetime as dt

from dealgate.clocks.notices import notice_time


def test_a_notice_time_is_the_weekday_day_month_and_time_with_the_zone_named():
    at = dt.datetime(2026, 6, 2, 15, 0, tzinfo=dt.UTC)

    assert notice_time(at, "Europe/Berlin") == "Tue 02 Jun 17:00 (Europe/Berlin)"


def test_a_notice_time_names_the_zone_not_its_summer_or_winter_abbreviation():
    winter = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)

    assert notice_time(winter, "Europe/Berlin") == "Mon 05 Jan 09:00 (Europe/Berlin)"
    assert "CET" not in notice_time(winter, "Europe/Berlin")


def test_a_notice_time_is_read_in_the_zone_given_whatever_zone_it_carries():
    at = dt.datetime(2026, 6, 2, 23, 30, tzinfo=dt.UTC)

    assert notice_time(at, "Asia/Tokyo") == "Wed 03 Jun 08:30 (Asia/Tokyo)"
    assert notice_time(at, "UTC") == "Tue 02 Jun 23:30 (UTC)"
