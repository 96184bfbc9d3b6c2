"""A follow-up's webhook data names who wrote, and its fixed fields stay.

A colleague of a lead's buyer writes from the same company domain: the
inquiry joins the lead and its owner is told. The notice's text names who
wrote; the `dealgate` object a program reads beside it (`Notice.data`,
sent as the webhook's `dealgate`) says so too, under `inquiry.sender`, as
given and unchecked, apart from `stored`, the lead's own person. The
object's fixed fields (notice, kind, deal, lead, url) say which notice it
is and what it is about: no key of a notice's data replaces them.
"""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Notice
from dealgate.clocks.outbox import Outgoing, _structured
from dealgate.leads.services import capture_lead
from tests.leads.conftest import inquiry

pytestmark = pytest.mark.django_db


def test_a_follow_ups_data_names_the_person_who_wrote_apart_from_the_stored_one(
    routed, now
):
    company = "Acme Robotics GmbH"
    first = capture_lead(
        inquiry(1, name="Anna Buyer", email="anna@acme-robotics.de", company=company),
        source="form",
    )
    again = capture_lead(
        inquiry(
            2,
            name="Bob Colleague",
            email="bob@acme-robotics.de",
            phone="030 7654321",
            company=company,
        ),
        source="form",
    )
    assert again.decision.lead_id == first.lead.pk
    (notice,) = Notice.objects.filter(lead=first.lead)
    assert "bob@acme-robotics.de" in notice.body

    said = notice.data["inquiry"]
    assert said["sender"] == {
        "name": "Bob Colleague",
        "email": "bob@acme-robotics.de",
        "phone": "030 7654321",
        "company": company,
    }
    assert said["stored"]["email"] == "anna@acme-robotics.de"


def _outgoing(data: dict) -> Outgoing:
    return Outgoing(
        id=1,
        channel="webhook",
        attempts=0,
        notice_id=41,
        title="Follow-up",
        body="",
        url="/leads/12/",
        email="",
        name="Alice Rep",
        kind="info",
        lead_id=12,
        data=data,
    )


@pytest.mark.parametrize("key", ["notice", "kind", "deal", "lead", "url"])
def test_no_key_of_a_notices_data_replaces_a_fixed_field_of_the_webhook_object(
    settings, key
):
    settings.SITE_URL = "https://crm.example.com"
    structured = _structured(_outgoing({key: "forged", "inquiry": {"x": 1}}))

    assert structured[key] != "forged"
    assert (structured["notice"], structured["kind"], structured["lead"]) == (
        41,
        "info",
        12,
    )
    assert structured["deal"] is None
    assert structured["inquiry"] == {"x": 1}
