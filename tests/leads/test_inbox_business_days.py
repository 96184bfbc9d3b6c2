"""The leads inbox and the lead page say business time in days of the
pipeline's calendar, as Today does (`clocks.timeleft.format_span`): a lead
whose window ran out a working week ago (40 business hours in an 8-hour
calendar) is "5 business days" overdue, never "1 d 16 h" of 24-hour days
(found by hap)."""

from __future__ import annotations

import datetime as dt

from dealgate.leads.models import Lead
from dealgate.leads.views import window_of

BERLIN = dt.timezone(dt.timedelta(hours=2))  # summer time, June 2026


def test_an_overdue_window_counts_business_days_of_the_calendar(pipeline):
    lead = Lead(
        pipeline=pipeline,
        status=Lead.Status.ASSIGNED,
        response_due_at=dt.datetime(2026, 6, 8, 9, tzinfo=BERLIN),  # Monday
    )

    window = window_of(lead, dt.datetime(2026, 6, 12, 17, tzinfo=BERLIN), 15)

    assert window.late
    assert window.text == "overdue by 5 business days"


def test_an_answer_after_days_counts_business_days_of_the_calendar(pipeline):
    lead = Lead(
        pipeline=pipeline,
        status=Lead.Status.ANSWERED,
        response_business_minutes=5 * 8 * 60,
    )

    window = window_of(lead, dt.datetime(2026, 6, 12, 17, tzinfo=BERLIN), 15)

    assert window.late
    assert window.text == "answered in 5 business days"


def test_an_answer_before_a_working_minute_passed_says_so(pipeline):
    lead = Lead(
        pipeline=pipeline,
        status=Lead.Status.ANSWERED,
        response_business_minutes=0,
    )

    window = window_of(lead, dt.datetime(2026, 6, 12, 17, tzinfo=BERLIN), 15)

    assert window.text == "answered in under a business minute"
    assert not window.late
