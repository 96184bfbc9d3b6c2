"""The sales cycle counts calendar days in the pipeline's zone.

A deal created at 23:30 and won at 00:30 the next day, where the team works,
took one day, not 0.04 of one; a deal won two days after its creation at the
same hour took two days, also across a change of the clocks. The headline,
the breakdowns, the weekly review and velocity all read it so, and their
labels say calendar days.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dealgate.insights import queries, reports, review

from .conftest import filters_for, move, open_deal

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")  # the shared pipeline's zone


def berlin(
    month: int, day: int, hour: int, minute: int = 0, *, year: int = 2026
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def won(pipeline, created: dt.datetime, closed: dt.datetime, **fields):
    return move(open_deal(pipeline, "inquiry", created, **fields), "won", closed)


def test_a_deal_won_just_after_local_midnight_took_one_calendar_day(pipeline):
    won(pipeline, berlin(3, 9, 23, 30), berlin(3, 10, 0, 30))

    found = queries.outcomes(filters_for(pipeline))[0]

    assert (found.cycle.median, found.cycle_mean) == (1, 1)
    assert found.cycle.unit == "calendar days"


@pytest.mark.parametrize(
    ("created", "closed"),
    [
        # 10:00 on Saturday 28 March to 10:00 on Monday 30 March: 47 hours,
        # since the clocks went forward on the 29th.
        (berlin(3, 28, 10), berlin(3, 30, 10)),
        # 10:00 on 25 October 2025 to 10:00 on the 27th: 49 hours, since they
        # went back on the 26th.
        (berlin(10, 25, 10, year=2025), berlin(10, 27, 10, year=2025)),
    ],
    ids=["forward", "back"],
)
def test_a_cycle_across_a_change_of_the_clocks_counts_its_dates(
    pipeline, created, closed
):
    won(pipeline, created, closed)

    found = queries.outcomes(filters_for(pipeline))[0]

    assert (found.cycle.n, found.cycle.median, found.cycle_mean) == (1, 2, 2)


def test_a_deal_won_the_day_it_was_created_took_no_day(pipeline):
    won(pipeline, berlin(3, 10, 0, 10), berlin(3, 10, 23, 50))

    found = queries.outcomes(filters_for(pipeline))[0]

    assert (found.cycle.median, found.cycle_mean) == (0, 0)


def test_the_breakdowns_count_the_same_calendar_days(pipeline, alice, bob):
    won(pipeline, berlin(3, 9, 23, 30), berlin(3, 10, 0, 30), owner=alice)
    won(pipeline, berlin(3, 28, 10), berlin(3, 30, 10), owner=bob)

    total, by_owner = queries.outcomes_and_total(filters_for(pipeline), "owner")
    alone = queries.outcomes(filters_for(pipeline), "owner")

    days = {row.key: (row.cycle.median, row.cycle_mean) for row in by_owner}
    assert days == {alice.pk: (1, 1), bob.pk: (2, 2)}
    assert {row.key: (row.cycle.median, row.cycle_mean) for row in alone} == days
    assert (total.cycle.median, total.cycle_mean) == (1.5, 1.5)


def test_a_filter_the_rollups_do_not_serve_counts_calendar_days_too(pipeline):
    won(pipeline, berlin(3, 9, 23, 30), berlin(3, 10, 0, 30), source="web")
    won(pipeline, berlin(3, 28, 10), berlin(3, 30, 10), source="web")

    filters = filters_for(pipeline, source="web")
    found = queries.outcomes(filters, "product")

    assert [(row.cycle.median, row.cycle_mean) for row in found] == [(1.5, 1.5)]


def test_the_weekly_review_takes_the_median_cycle_in_calendar_days(pipeline):
    won(pipeline, berlin(3, 9, 23, 30), berlin(3, 10, 0, 30))
    metric = next(m for m in review.METRICS if m.key == "median_cycle")

    weeks = review.weekly_series(
        filters_for(pipeline), metric, dt.date(2026, 3, 9), weeks=1
    )

    assert weeks[-1].value == 1
    assert metric.unit == "calendar days"
    assert "calendar days" in metric.definition


def test_the_headline_labels_the_cycle_in_calendar_days(pipeline):
    won(pipeline, berlin(3, 9, 23, 30), berlin(3, 10, 0, 30))

    report = reports.overview(filters_for(pipeline), berlin(4, 1, 12))
    rows = {row[0]: row for row in report.table("headline").rows}

    assert rows["Sales cycle, median"][1:3] == [1, "calendar days"]
    assert rows["Sales cycle, mean"][1:3] == [1, "calendar days"]
