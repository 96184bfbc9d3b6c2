"""A follow-up on a lead whose window ran out long ago says it ran out, when,
and by how much business time, in the owner's notice, mail and webhook
message alike; never a past due time worded as a deadline ahead, in the very
case (a buyer chasing) where the window has usually run out (found by
hap)."""

from __future__ import annotations

import datetime as dt

from dealgate import timesource
from dealgate.clocks.models import Notice
from dealgate.leads.services import capture_lead, record_response
from tests.leads.conftest import inquiry


def test_a_follow_up_after_the_window_ran_out_says_it_ran_out(routed, now):
    lead = capture_lead(inquiry(1), source="form").lead
    with timesource.frozen_at(now + dt.timedelta(days=2)):
        capture_lead(inquiry(1, message="Still waiting, please call"), source="form")

    notice = Notice.objects.get(user=lead.owner, title__startswith="Follow-up")
    # Read on Friday 14:00: a business day and 7 h 45 min over, in whole days.
    assert (
        "Not answered yet; its window ran from the first inquiry and ran out "
        "Wed 10 Jun 14:15 (Europe/Berlin), 1 business day overdue."
    ) in notice.body, notice.body


def test_chasing_a_follow_up_task_past_due_says_it_ran_out(routed, alice, now):
    lead = capture_lead(inquiry(1), source="form").lead
    record_response(lead.pk, kind="call", by=alice)
    for hours in (1, 3):
        with timesource.frozen_at(now + dt.timedelta(hours=hours)):
            capture_lead(inquiry(1, message="Still waiting"), source="form")

    told = Notice.objects.filter(user=alice, title__startswith="Follow-up")
    assert (
        "The task to answer their earlier follow-up ran out "
        "Wed 10 Jun 15:15 (Europe/Berlin), 1 business hour overdue."
    ) in told.order_by("id").last().body
