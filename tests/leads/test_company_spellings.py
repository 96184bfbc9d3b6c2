"""Lead de-duplication reads a company as the deal page reads an
organization's name: spellings the page takes as one are one company."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal, Organization
from dealgate.leads import dedup
from dealgate.leads.intake import clean_lead
from dealgate.leads.services import capture_lead

from .conftest import inquiry

ZWSP = "\u200b"


@pytest.mark.parametrize("company", [f"Ac{ZWSP}me", "ＡＣＭＥ", "Ac\u00adme GmbH"])
def test_an_inquiry_finds_the_open_deal_of_its_organization_however_spelled(
    routed, bob, now, company
):
    deal = Deal.objects.create(
        pipeline=routed,
        stage=routed.stages.first(),
        title="Rollout",
        owner=bob,
        organization=Organization.objects.create(name="Acme"),
        created_at=now,
    )
    lead = clean_lead(
        {"email": "info@elsewhere.example", "company": company}, region=None
    )

    found = dedup.find_match(lead)

    assert found is not None and found.deal == deal
    assert found.matched_on == "company"


def test_a_zero_width_space_does_not_split_a_company_into_two_words(routed, now):
    # Split, "Ac\u200bme" was "ac me", whose legal form "me" was then dropped.
    first = capture_lead(inquiry(1, company="Acme"), source="api").lead
    # At a mailbox provider: no company domain says the two are two firms.
    again = capture_lead(
        inquiry(2, company=f"Ac{ZWSP}me", email="p2@web.de"), source="api"
    )

    assert first.company_key == "acme"
    assert not again.created and again.lead == first
    assert again.decision.matched_on == "company"
