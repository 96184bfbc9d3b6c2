"""Found by max: a follow-up's webhook data does not say who wrote.

A colleague of a lead's buyer writes from the same company domain: the
inquiry joins the lead (matched on the domain) and its owner is told. The
notice's text names who wrote ("Bob Colleague · bob@acme-robotics.de ..."),
but the `dealgate` object a program reads beside it (`Notice.data`, sent as
the webhook's `dealgate`) holds only `stored`, the lead's own person (Anna),
and the phone and website as `offered`: neither the sender's name nor
their address is in it. The docs tell a program to reach the buyer at
`stored`, so a program answering the follow-up writes to Anna about Bob's
message, and cannot tell it came from anyone else.
"""

from __future__ import annotations

import json

import pytest

from dealgate.clocks.models import Notice
from dealgate.leads.services import capture_lead
from tests.leads.conftest import inquiry, routed  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.xfail(
    strict=True,
    reason="a follow-up's data keeps the inquiry's phone and website but not "
    "who sent it",
)
def test_a_follow_ups_data_names_the_person_who_wrote(
    routed,  # noqa: F811
    now,
):
    company = "Acme Robotics GmbH"
    first = capture_lead(
        inquiry(1, name="Anna Buyer", email="anna@acme-robotics.de", company=company),
        source="form",
    )
    again = capture_lead(
        inquiry(2, name="Bob Colleague", email="bob@acme-robotics.de", company=company),
        source="form",
    )
    assert again.decision.lead_id == first.lead.pk
    (notice,) = Notice.objects.filter(lead=first.lead)
    assert "bob@acme-robotics.de" in notice.body

    assert "bob@acme-robotics.de" in json.dumps(notice.data)
