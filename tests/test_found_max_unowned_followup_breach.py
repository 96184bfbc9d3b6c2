"""Found by max: the task owed on a deal nobody owns runs out unheard.

A follow-up on a deal nobody owns now tells the intake stage's owner or the
admins and makes one task, "Answer the follow-up from ...", with a
next-step clock due one window later. But the clock has nobody responsible
(the deal has no owner), so when the window runs out the sweep records it
as breached "not notified: nobody to tell": the buyer who wrote again waits
on, and the people who were told of the follow-up are never told that its
answer is late, as a missed next step tells its owner and a lead nobody
owns tells them.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Deal
from dealgate.leads.services import capture_lead, convert_lead
from tests.leads.conftest import inquiry, routed  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.xfail(
    strict=True,
    reason="the follow-up task's next-step clock on an unowned deal breaches "
    "with nobody to tell",
)
def test_a_late_answer_to_a_follow_up_on_a_deal_nobody_owns_is_told_to_the_admins(
    routed,  # noqa: F811
    olivia,
    alice,
    now,
):
    lead = capture_lead(inquiry(1), source="form").lead
    deal = convert_lead(lead.pk, by=alice)
    # Nobody owns it, as a deal imported with an empty owner column.
    Deal.objects.filter(pk=deal.pk).update(owner=None, responsible=None)
    Clock.objects.filter(deal=deal).update(responsible=None)
    capture_lead(inquiry(1, message="Still waiting for the quote"), source="form")
    (owed,) = Clock.objects.filter(deal=deal, key__endswith=":next_step")
    told = Notice.objects.filter(user=olivia).count()

    sweep(now=owed.due_at + dt.timedelta(hours=1))

    assert Notice.objects.filter(user=olivia).count() > told
