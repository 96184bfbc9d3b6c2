"""Found by hap: a follow-up on a lead whose window ran out long ago tells
the owner the window is "due" then, as if there were time left.

A buyer writes "still waiting, please call" days after the first inquiry.
The owner's notice, mail and webhook message say "Not answered yet; its
window runs from the first inquiry, due 2026-06-10 14:15 CEST.": a date in
the past, worded as a deadline ahead, in the very case (a buyer chasing)
where the window has usually run out.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.clocks.models import Notice
from dealgate.leads import assign
from dealgate.leads.services import capture_lead
from tests.leads.conftest import inquiry, routed  # noqa: F401 (a fixture)


@pytest.mark.xfail(
    strict=True,
    reason="followups._still_unanswered words a past due time as a due time",
)
def test_a_follow_up_after_the_window_ran_out_says_it_ran_out(
    routed,  # noqa: F811
    now,
):
    assign.forget_cached()
    lead = capture_lead(inquiry(1), source="form").lead
    with timesource.frozen_at(now + dt.timedelta(days=2)):
        capture_lead(inquiry(1, message="Still waiting, please call"), source="form")

    notice = Notice.objects.get(user=lead.owner, title__startswith="Follow-up")
    assert "Not answered yet" in notice.body
    assert any(
        word in notice.body for word in ("ran out", "overdue", "late", "past")
    ), notice.body
