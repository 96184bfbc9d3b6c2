"""Every period ends at "now" (the as-of instant) at the latest: all time, an
open-ended "from", a period whose last day is today, and the review's
current week so far count nothing that happened after it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.insights import queries
from dealgate.insights import review as rv
from dealgate.insights.filters import JUST_AFTER, read_filters

from .conftest import day, move, open_deal

pytestmark = pytest.mark.django_db

# Thursday 5 March 2026, 12:00 UTC (13:00 in Berlin): the as-of instant.
AS_OF = day(3) + dt.timedelta(hours=3)


def as_of(pipeline, now=AS_OF, **params):
    return read_filters({"pipeline": pipeline.key, **params}, now=now)


def closed(pipeline, status, at):
    deal = open_deal(pipeline, "inquiry", day(0))
    return move(deal, status, at)


def history(pipeline):
    closed(pipeline, "won", day(1))
    closed(pipeline, "lost", day(2))
    # After the as-of instant: later the same day, and days later.
    closed(pipeline, "won", AS_OF + dt.timedelta(hours=2))
    closed(pipeline, "lost", AS_OF + dt.timedelta(hours=3))
    closed(pipeline, "lost", day(20))


@pytest.mark.parametrize(
    "params",
    [
        {"period": "all"},
        {"from": "2026-03-01"},
        {"period": "30d"},
        {"to": "2026-03-31"},
    ],
    ids=["all-time", "open-ended-from", "last-30-days", "to-a-later-day"],
)
def test_closes_after_the_as_of_instant_are_left_out_of_the_outcomes(pipeline, params):
    history(pipeline)

    found = queries.outcomes(as_of(pipeline, **params))[0]

    assert (found.won, found.lost) == (1, 1)
    assert found.win_rate == pytest.approx(0.5)


def test_the_period_ends_at_the_as_of_instant_or_at_its_last_days_end(pipeline):
    after = AS_OF + JUST_AFTER
    assert as_of(pipeline, period="all").end == after
    assert as_of(pipeline, **{"from": "2026-03-01"}).end == after
    assert as_of(pipeline, period="90d").end == after
    # A period over before the as-of instant ends at its last day's midnight.
    ended = as_of(pipeline, to="2026-03-03").end
    assert ended == dt.datetime(2026, 3, 3, 23, 0, tzinfo=dt.UTC)


def test_a_close_at_the_as_of_instant_itself_counts(pipeline):
    closed(pipeline, "won", AS_OF)

    assert queries.outcomes(as_of(pipeline, period="all"))[0].won == 1


def test_losses_after_the_as_of_instant_are_left_out_of_loss_reasons(pipeline):
    history(pipeline)

    rows = queries.losses(as_of(pipeline, period="all"))

    assert sum(row.deals for row in rows) == 1


def test_the_current_weeks_review_counts_only_what_happened_so_far(pipeline):
    history(pipeline)
    week = rv.this_week(as_of(pipeline).facts, AS_OF)
    filters = as_of(pipeline, period="all")

    lost = rv.weekly_series(filters, rv.BY_KEY["lost_deals"], week)
    rate = rv.weekly_series(filters, rv.BY_KEY["win_rate"], week)
    deals, total = rv.deals_behind(filters, rv.BY_KEY["win_rate"], week)

    assert (lost[-1].value, lost[-1].count) == (1.0, 1)
    assert (rate[-1].value, rate[-1].count) == (0.5, 2)
    assert total == 2 and len(deals) == 2


def test_a_week_to_come_counts_nothing_yet(pipeline):
    history(pipeline)
    filters = as_of(pipeline, period="all")
    next_week = rv.this_week(filters.facts, AS_OF) + dt.timedelta(weeks=2)

    series = rv.weekly_series(filters, rv.BY_KEY["lost_deals"], next_week)

    assert series[-1].count == 0 and series[-3].count == 1


def test_the_all_time_funnel_as_of_now_still_counts_deals_with_no_date(pipeline):
    open_deal(pipeline, "inquiry", day(0))
    open_deal(pipeline, "inquiry", day(0), record_entry=False)

    funnel = queries.funnel(as_of(pipeline, period="all"), AS_OF)

    assert (funnel.population, funnel.undated) == (2, 0)


def test_the_all_time_page_as_of_an_earlier_day_counts_closes_until_then(
    signed_in, pipeline
):
    history(pipeline)

    with timesource.frozen_at(AS_OF):
        response = signed_in.get(
            reverse("insights:overview"),
            {"period": "all", "format": "csv", "table": "headline"},
        )

    rows = {row[0]: row for row in csv.reader(io.StringIO(response.content.decode()))}
    assert rows["Deals closed"][1] == "2"
    assert float(rows["Win rate"][1]) == pytest.approx(50)
