"""Found by hap: the leads inbox counts business time in 24-hour days.

A lead whose window ran out a working week ago (40 business hours in an
8-hour calendar) reads "overdue by 1 d 16 h business time" in the inbox and
on the lead page: a rep reads one and a half business days, five times less
than the buyer waited. Today says the same clock is "5 business days" over
(`clocks.timeleft.format_span`, which counts days of the calendar).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from dealgate.leads.models import Lead
from dealgate.leads.views import window_of

BERLIN = dt.timezone(dt.timedelta(hours=2))  # summer time, June 2026


@pytest.mark.xfail(
    strict=True,
    reason="leads.views._minutes folds business minutes into 24-hour days",
)
def test_an_overdue_window_counts_business_days_of_the_calendar(pipeline):
    lead = Lead(
        pipeline=pipeline,
        status=Lead.Status.ASSIGNED,
        response_due_at=dt.datetime(2026, 6, 8, 9, tzinfo=BERLIN),  # Monday
    )

    window = window_of(lead, dt.datetime(2026, 6, 12, 17, tzinfo=BERLIN), 15)

    assert window.late
    assert re.fullmatch(
        r"overdue by (5 business days|40 business hours|40 h 00 min business time)",
        window.text,
    ), window.text


@pytest.mark.xfail(
    strict=True,
    reason="leads.views._minutes folds business minutes into 24-hour days",
)
def test_an_answer_after_days_counts_business_days_of_the_calendar(pipeline):
    lead = Lead(
        pipeline=pipeline,
        status=Lead.Status.ANSWERED,
        response_business_minutes=5 * 8 * 60,
    )

    window = window_of(lead, dt.datetime(2026, 6, 12, 17, tzinfo=BERLIN), 15)

    assert window.late
    assert re.fullmatch(
        r"answered in (5 business days|40 business hours|40 h 00 min business time)",
        window.text,
    ), window.text
