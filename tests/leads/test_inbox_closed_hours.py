"""A lead's window due in closed hours, read when no working minute is left
before it, says so in the inbox, as Today does (`clocks.timeleft`): never
"0 business minutes left", never a minute that is not there."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.leads.models import Lead
from dealgate.leads.views import window_of

BERLIN = dt.timezone(dt.timedelta(hours=2))  # summer time, June 2026


@pytest.mark.parametrize(
    ("now", "text"),
    [
        # Friday evening, due Saturday noon: no working minute in between.
        (
            dt.datetime(2026, 6, 12, 18, tzinfo=BERLIN),
            "runs out before business hours resume",
        ),
        # Friday 16:30: the last half hour still works.
        (dt.datetime(2026, 6, 12, 16, 30, tzinfo=BERLIN), "30 business minutes left"),
    ],
)
def test_a_window_due_in_closed_hours_says_what_time_is_left(pipeline, now, text):
    lead = Lead(
        pipeline=pipeline,
        status=Lead.Status.ASSIGNED,
        response_due_at=dt.datetime(2026, 6, 13, 12, tzinfo=BERLIN),
    )

    window = window_of(lead, now, 15)

    assert window.text == text and not window.late
