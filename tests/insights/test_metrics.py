"""The pure arithmetic of insights (dealgate.core.metrics): no database."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealgate.core import business_time
from dealgate.core import metrics as m
from dealgate.core.calendar import Calendar


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert m.percentile([4, 1, 3, 2], 0.5) == 2.5


def test_the_80th_percentile_interpolates_between_neighbouring_values():
    # Position 0.8 * (5 - 1) = 3.2: 40 + 0.2 * (50 - 40).
    assert m.percentile([10, 20, 30, 40, 50], 0.8) == pytest.approx(42)


def test_a_single_value_is_every_percentile_of_itself():
    assert m.percentile([7.5], 0.8) == 7.5


def test_no_values_have_no_percentile():
    assert m.percentile([], 0.5) is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
def test_the_median_agrees_with_the_standard_library(values):
    assert m.percentile(values, 0.5) == pytest.approx(
        statistics.median(values), abs=1e-6
    )


@given(
    st.lists(st.floats(0, 1e6), min_size=1, max_size=60),
    st.integers(0, 100),
)
def test_percentiles_agree_with_inclusive_quantiles(values, percent):
    q = percent / 100
    if len(values) == 1:
        expected = values[0]
    elif percent == 100:
        expected = max(values)
    else:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        expected = min(values) if percent == 0 else cuts[percent - 1]
    assert m.percentile(values, q) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_percentiles_are_asked_for_in_whole_percent():
    with pytest.raises(ValueError, match="whole percent"):
        m.percentile_ranks(10, 0.555)


def test_rates_of_nothing_are_unknown_rather_than_zero():
    assert m.rate(0, 0) is None
    assert m.rate(1, 4) == 0.25


def test_sales_velocity_multiplies_and_divides_by_the_cycle():
    assert m.sales_velocity(10, 0.5, 2000, 40) == 250


@pytest.mark.parametrize("cycle_days", [0, 0.0001, 0.5, 1])
def test_sales_velocity_counts_a_cycle_under_a_day_as_one_day(cycle_days):
    # Dividing by minutes promised each open deal's value many times a day.
    assert m.sales_velocity(10, 0.5, 2000, cycle_days) == 10_000


@pytest.mark.parametrize(
    "factors",
    [
        (10, None, 2000, 40),
        (10, 0.5, None, 40),
        (10, 0.5, 2000, None),
        (10, 0.5, 2000, -3),
    ],
)
def test_sales_velocity_is_unknown_when_a_factor_is(factors):
    assert m.sales_velocity(*factors) is None


def test_a_funnel_counts_skipped_stages_as_passed():
    # One deal won from stage 0 straight away (so it passed stages 1 and 2
    # too), one lost at stage 2.
    steps = m.funnel({(0, "won"): 1, (2, "lost"): 1}, 3)

    assert [(s.entered, s.passed) for s in steps] == [(2, 2), (2, 2), (2, 1)]
    assert steps[2].lost_here == 1


def test_a_funnel_keeps_open_deals_in_the_stage_they_reached():
    steps = m.funnel({(1, "open"): 3, (0, "lost"): 1}, 2)

    assert [(s.entered, s.passed, s.open_here) for s in steps] == [
        (4, 3, 0),
        (3, 0, 3),
    ]
    assert steps[1].conversion == 0


def test_a_width_equal_to_the_threshold_is_not_a_bottleneck():
    assert m.share_flags([2, 3, 5], 0.5) == [(0.2, False), (0.3, False), (0.5, False)]
    assert m.share_flags([0, 0], 0.4) == [(None, False), (None, False)]


def test_weeks_start_on_monday_and_end_with_the_given_one():
    sunday = dt.date(2017, 12, 31)

    assert m.week_start(sunday) == dt.date(2017, 12, 25)
    assert m.weeks_ending(sunday, 3) == [
        dt.date(2017, 12, 11),
        dt.date(2017, 12, 18),
        dt.date(2017, 12, 25),
    ]


def test_rotation_moves_to_the_next_metric_and_wraps_round():
    keys = ["a", "b", "c"]

    assert m.rotate(keys, None) == "a"
    assert m.rotate(keys, "a") == "b"
    assert m.rotate(keys, "c") == "a"
    assert m.rotate(keys, "gone") == "a"


def test_the_late_entry_instant_splits_deals_at_the_age_limit():
    calendar = Calendar.office_hours("Europe/Berlin")
    now = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)

    cut = m.entered_before_for_age(calendar, now, 5)

    just_before = cut - dt.timedelta(seconds=2)
    # Reached counts, as on the board and for the clocks.
    assert business_time.business_days_between(calendar, just_before, now) >= 5
    assert business_time.business_days_between(calendar, cut, now) < 5
