"""Time in stage: stays that ended in the period, in business days, falling
back to calendar days when a stay has no business time recorded."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.core import metrics as m
from dealgate.deals.models import StageEvent
from dealgate.insights import queries

from .conftest import START, day, filters_for, move, open_deal

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def stage_times(pipeline, **params):
    return {
        one.stage.key: one
        for one in queries.time_in_stage(filters_for(pipeline, **params))
    }


def test_stays_are_measured_in_business_days_of_the_pipeline_calendar(pipeline):
    # START is Monday 10:00 in Berlin; leaving on Tuesday..Friday at 10:00
    # means 1..4 working days of 8 hours.
    for days in (1, 2, 3, 4):
        move(open_deal(pipeline, "inquiry", START), "discovery", day(days))

    found = stage_times(pipeline)["inquiry"]

    assert found.exits == 4
    assert found.spread.unit == "business days"
    assert found.spread.median == pytest.approx(2.5)
    assert found.spread.p80 == pytest.approx(m.percentile([1, 2, 3, 4], 0.8))


def test_a_weekend_is_not_counted_as_time_in_stage(pipeline):
    friday_afternoon = START + dt.timedelta(days=4, hours=6)  # Fri 16:00 Berlin
    deal = open_deal(pipeline, "inquiry", friday_afternoon)
    move(deal, "discovery", friday_afternoon + dt.timedelta(days=3))  # Mon 16:00

    found = stage_times(pipeline)["inquiry"]

    # One hour on Friday and seven on Monday.
    assert found.spread.median == pytest.approx(1.0)


def test_a_stage_with_a_stay_lacking_business_time_is_in_calendar_days(pipeline):
    move(open_deal(pipeline, "inquiry", START), "discovery", day(2))
    imported = open_deal(pipeline, "inquiry", START, record_entry=False)
    StageEvent.objects.create(
        deal=imported,
        from_stage=imported.stage,
        to_stage=pipeline.stages.get(key="discovery"),
        from_status="open",
        to_status="open",
        at=day(4),
        from_entered_at=START,
        source="import",
    )

    found = stage_times(pipeline)["inquiry"]

    assert found.spread.unit == "calendar days"
    assert found.spread.median == pytest.approx(3.0)
    assert found.exits == 2


def test_calendar_days_in_stage_count_dates_across_a_change_of_the_clocks(pipeline):
    # An import of dates: entered at local midnight on Saturday 28 March,
    # left at local midnight on Monday 30 March, Berlin; 47 hours, since the
    # clocks went forward on the 29th, and two calendar days.
    berlin = dt.timezone(dt.timedelta(hours=1))
    imported = open_deal(pipeline, "inquiry", START, record_entry=False)
    StageEvent.objects.create(
        deal=imported,
        from_stage=imported.stage,
        to_stage=pipeline.stages.get(key="discovery"),
        from_status="open",
        to_status="open",
        at=dt.datetime(2026, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        from_entered_at=dt.datetime(2026, 3, 28, tzinfo=berlin),
        source="import",
    )

    found = stage_times(pipeline)["inquiry"]

    assert found.spread.unit == "calendar days"
    assert found.spread.median == 2


def test_a_stay_with_no_duration_at_all_is_counted_but_not_measured(pipeline):
    imported = open_deal(pipeline, "inquiry", START, record_entry=False)
    move(imported, "discovery", day(1))

    found = stage_times(pipeline)["inquiry"]

    assert (found.exits, found.unmeasured, found.spread) == (1, 1, None)


def test_stays_with_no_entry_time_leave_the_others_in_business_days(pipeline):
    # Deals with stage-entry dates, then closed deals imported with none:
    # the latter have no duration in either unit, so the measured stays stay
    # in business days (1 and 3 working days) and the rest are unmeasured.
    for days in (1, 3):
        move(open_deal(pipeline, "proposal", START), "lost", day(days))
    for _ in range(2):
        undated = open_deal(pipeline, "proposal", START, record_entry=False)
        move(undated, "lost", day(5))

    found = stage_times(pipeline)["proposal"]

    assert (found.exits, found.unmeasured) == (4, 2)
    assert found.spread.unit == "business days"
    assert (found.spread.n, found.spread.median) == (2, pytest.approx(2.0))


def test_every_visit_to_a_stage_is_a_stay(pipeline):
    deal = open_deal(pipeline, "inquiry", START)
    deal = move(deal, "discovery", day(1))
    deal = move(deal, "inquiry", day(2))
    move(deal, "discovery", day(4))

    found = stage_times(pipeline)["inquiry"]

    assert found.exits == 2
    assert found.spread.median == pytest.approx(1.5)


def test_closing_a_deal_ends_its_stay_but_time_closed_is_no_stage_time(pipeline):
    deal = open_deal(pipeline, "inquiry", START)
    deal = move(deal, "lost", day(1))
    move(deal, "discovery", day(3))  # reopened: two days spent lost

    found = stage_times(pipeline)["inquiry"]

    assert found.exits == 1
    assert found.spread.median == pytest.approx(1.0)


def test_only_stays_that_ended_in_the_period_count(pipeline):
    move(open_deal(pipeline, "inquiry", START), "discovery", day(1))
    move(open_deal(pipeline, "inquiry", START), "discovery", day(30))

    found = stage_times(
        pipeline, period="", **{"from": "2026-03-01", "to": "2026-03-15"}
    )

    assert found["inquiry"].exits == 1


def test_a_deal_filter_keeps_only_that_owners_stays(pipeline, alice, bob):
    move(open_deal(pipeline, "inquiry", START, owner=alice), "discovery", day(1))
    move(open_deal(pipeline, "inquiry", START, owner=bob), "discovery", day(3))

    found = stage_times(pipeline, owner="bob")["inquiry"]

    assert found.exits == 1
    assert found.spread.median == pytest.approx(3.0)


def test_both_forms_of_the_time_in_stage_query_agree(pipeline):
    from django.db import connection

    from dealgate.insights import sql

    if connection.vendor != "postgresql":
        pytest.skip("percentile_cont is PostgreSQL's (SQLite ranks instead)")
    for days in (1, 2, 5):
        move(open_deal(pipeline, "inquiry", START), "discovery", day(days))
    dialect, scope = sql.Dialect("postgresql"), filters_for(pipeline).scope()

    branches = queries.fetch(sql.exit_spreads(dialect, scope, (0.5, 0.8)))
    grouped = queries.fetch(
        sql.exit_spreads(dialect, scope, (0.5, 0.8), per_stage=False)
    )

    assert sorted(row for row in branches if row[1]) == sorted(grouped)
