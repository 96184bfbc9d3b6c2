"""What a clock says: time left or over, in business time and plain words."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.clocks.timeleft import format_span, time_left
from dealgate.core.calendar import Calendar

from .conftest import berlin

TICK = dt.timedelta(microseconds=1)

OFFICE = Calendar.from_dict(
    {
        "timezone": "Europe/Berlin",
        "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    }
)


@pytest.mark.parametrize(
    ("kind", "due", "now", "text"),
    [
        (
            "response",
            berlin(10, 14, 3),
            berlin(10, 14),
            "answer within 3 business minutes",
        ),
        # Due Thursday 9:03, asked Wednesday 16:58: 2 + 3 working minutes.
        (
            "response",
            berlin(11, 9, 3),
            berlin(10, 16, 58),
            "answer within 5 business minutes",
        ),
        (
            "response",
            berlin(10, 14),
            berlin(10, 14, 20),
            "no answer, 20 business minutes over the window",
        ),
        ("age", berlin(8, 17), berlin(10, 17), "2 business days over the limit"),
        ("age", berlin(12, 12), berlin(10, 12), "2 business days left in this stage"),
        ("age", berlin(10, 15), berlin(10, 9), "6 business hours left in this stage"),
        (
            "next_step",
            berlin(10, 12),
            berlin(15, 12),
            "next step 3 business days overdue",
        ),
        (
            "next_step",
            berlin(10, 14, 30),
            berlin(10, 14),
            "next step due within 30 business minutes",
        ),
        (
            "escalation",
            berlin(11, 10),
            berlin(10, 16),
            "escalates within 2 business hours",
        ),
    ],
)
def test_time_left_reads_in_business_units(kind, due, now, text):
    assert time_left(OFFICE, kind, due, now).text == text


def test_a_weekend_after_a_limit_at_closing_is_not_time_over():
    # Due Friday at closing, looked at on Sunday: nothing worked since.
    left = time_left(OFFICE, "age", berlin(12, 17), berlin(14, 12))

    assert not left.overdue
    assert left.text == "at the limit"


def test_a_limit_at_closing_is_late_once_the_next_opening_has_passed():
    evening = time_left(OFFICE, "age", berlin(12, 17), berlin(12, 17, 1))
    opening = time_left(OFFICE, "age", berlin(12, 17), berlin(15, 9))
    moment = time_left(OFFICE, "age", berlin(12, 17), berlin(15, 9) + TICK)
    after = time_left(OFFICE, "age", berlin(12, 17), berlin(15, 9, 1))

    assert not evening.overdue
    assert not opening.overdue and opening.text == "at the limit"
    assert moment.overdue and moment.text == "at the limit"
    assert after.overdue and after.text == "1 business minute over the limit"


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("response", "no time left in the window: answer first thing"),
        ("next_step", "next step due first thing"),
        ("escalation", "escalates first thing"),
    ],
)
def test_a_clock_due_at_closing_has_no_time_left_overnight_and_is_not_late(kind, text):
    left = time_left(OFFICE, kind, berlin(10, 17), berlin(10, 20))

    assert not left.overdue and left.text == text


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("response", "no time left in the window: answer now"),
        ("next_step", "next step due now"),
        ("escalation", "escalates now"),
    ],
)
def test_a_clock_at_its_due_time_has_no_time_left_and_is_not_late_yet(kind, text):
    left = time_left(OFFICE, kind, berlin(10, 14), berlin(10, 14))

    assert not left.overdue and left.text == text


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("response", "no answer, the window has run out"),
        ("next_step", "next step due now"),
    ],
)
def test_a_clock_just_past_its_due_time_has_run_out_without_time_over(kind, text):
    left = time_left(OFFICE, kind, berlin(10, 14), berlin(10, 14) + TICK)

    assert left.overdue and left.text == text


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0.4, "1 business minute"),
        (1, "1 business minute"),
        (59.9, "59 business minutes"),
        (60, "1 business hour"),
        (479, "7 business hours"),
        (480, "1 business day"),
        (1000, "2 business days"),
    ],
)
def test_spans_use_the_largest_whole_unit(minutes, text):
    assert format_span(minutes, 480) == text


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("response", "the window runs out before business hours resume"),
        ("age", "reaches the limit before business hours resume"),
        ("next_step", "next step due before business hours resume"),
        ("escalation", "escalates before business hours resume"),
    ],
)
def test_a_clock_due_in_closed_hours_with_no_business_time_left_claims_no_minute(
    kind, text
):
    # Due Saturday noon, looked at on Friday evening: not due yet, but no
    # working minute lies between.
    left = time_left(OFFICE, kind, berlin(13, 12), berlin(12, 18))

    assert not left.overdue
    assert left.text == text


def test_a_clock_due_in_closed_hours_keeps_the_working_minutes_before_them():
    # Due Saturday noon, looked at Friday 16:30: half an hour still works.
    left = time_left(OFFICE, "next_step", berlin(13, 12), berlin(12, 16, 30))

    assert left.text == "next step due within 30 business minutes"


def test_closed_hours_order_after_the_overdue_and_before_those_with_time_left():
    now = berlin(12, 18)
    over = time_left(OFFICE, "next_step", berlin(12, 16), now)
    closed = time_left(OFFICE, "next_step", berlin(13, 12), now)
    monday = time_left(OFFICE, "next_step", berlin(15, 10), now)

    assert over.minutes < closed.minutes < monday.minutes
