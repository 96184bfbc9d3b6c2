"""An email typed with a link's `mailto:` in front is kept without it, at
every door that reads a lead (a capture, an edit), as its key and a deal's
contact keep it (`normalize.without_mailto`, one function for both)."""

from __future__ import annotations

import pytest

from dealgate.leads.edits import edit_lead
from dealgate.leads.normalize import email_address, without_mailto
from dealgate.leads.services import capture_lead, convert_lead
from dealgate.leads.versions import lead_version

from .conftest import inquiry


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("mailto:Anna@Example.com", "Anna@Example.com"),
        (" MailTo: anna@example.com ", "anna@example.com"),
        ("anna@example.com", "anna@example.com"),
        ("mailto:", ""),
    ],
)
def test_a_mailto_in_front_is_dropped_in_any_case(typed, kept):
    assert without_mailto(typed) == kept


def test_a_captured_lead_keeps_its_email_without_mailto(routed, alice, now):
    lead = capture_lead(
        inquiry(1, email="mailto:Person1@Company1.example"), source="api"
    ).lead

    assert (lead.email, lead.email_key) == (
        "Person1@Company1.example",
        "person1@company1.example",
    )
    deal = convert_lead(lead.pk, by=alice)
    assert deal.contact.email == email_address(lead.email)


def test_an_edited_email_is_kept_without_mailto(routed, alice, now):
    lead = capture_lead(inquiry(1), source="api").lead

    edited = edit_lead(
        lead.pk,
        {"email": "mailto:pat@company1.example"},
        by=alice,
        version=lead_version(lead),
    )

    assert edited.email == "pat@company1.example"
