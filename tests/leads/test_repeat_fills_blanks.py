"""A repeat inquiry attached to an open lead fills what the lead lacks, with
its de-duplication keys, and never replaces what the lead holds."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from dealgate.errors import Conflict
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import Lead, LeadActivity
from dealgate.leads.services import capture_lead, convert_lead, split_lead
from dealgate.leads.versions import lead_version

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def bare(routed, now) -> Lead:
    """A lead from the form with an email, no company, phone or website."""
    return capture_lead(inquiry(1, company=None), source="form").lead


def test_the_same_person_writing_again_fills_company_phone_and_website(bare):
    again = inquiry(
        1,
        company="Initech GmbH",
        phone="030 1234567",
        website="www.initech.example",
        value="5000",
        currency="EUR",
        company_size="40",
    )

    result = capture_lead(again, source="form")

    assert result.decision.lead_id == bare.pk
    bare.refresh_from_db()
    assert (bare.company, bare.company_key, bare.company_match) == (
        "Initech GmbH",
        "initech",
        "initech",
    )
    assert (bare.phone, bare.phone_e164) == ("030 1234567", "+49301234567")
    assert (bare.website, bare.domain) == (
        "https://www.initech.example",
        "initech.example",
    )
    assert (bare.value, bare.currency, bare.company_size) == (
        Decimal("5000.00"),
        "EUR",
        40,
    )
    note = LeadActivity.objects.get(lead=bare, kind=LeadActivity.Kind.INQUIRY)
    assert note.data["filled"] == [
        "phone",
        "company",
        "website",
        "company_size",
        "value",
        "currency",
    ]
    assert "Added to the lead's empty fields: phone, company, website" in note.body


def test_what_the_lead_holds_is_never_replaced(routed, now):
    lead = capture_lead(
        inquiry(1, company="Initech GmbH", name="Anna", segment="SMB"), source="form"
    ).lead

    capture_lead(
        inquiry(1, company="Initrode AG", name="Someone else", segment="Enterprise"),
        source="form",
    )

    lead.refresh_from_db()
    assert (lead.company, lead.name, lead.segment) == ("Initech GmbH", "Anna", "SMB")
    note = LeadActivity.objects.get(lead=lead, kind=LeadActivity.Kind.INQUIRY)
    assert note.data["filled"] == []


def test_a_colleague_found_by_the_company_fills_no_personal_fields(routed, now):
    lead = capture_lead(
        {"email": "anna@initech.example", "country": "DE"}, source="form"
    ).lead

    capture_lead(
        {
            "email": "bert@initech.example",
            "name": "Bert",
            "phone": "030 1234567",
            "company": "Initech GmbH",
            "country": "DE",
        },
        source="form",
    )

    lead.refresh_from_db()
    assert (lead.name, lead.phone, lead.email) == ("", "", "anna@initech.example")
    assert lead.company == "Initech GmbH"


def test_a_value_in_another_currency_than_the_leads_is_not_taken(routed, now):
    lead = capture_lead(inquiry(1, currency="USD"), source="form").lead

    capture_lead(inquiry(1, value="5000", currency="EUR"), source="form")

    lead.refresh_from_db()
    assert (lead.value, lead.currency) == (None, "USD")


def test_a_later_repeat_finds_the_lead_by_the_phone_it_filled_in(bare):
    capture_lead(inquiry(1, phone="+49 30 1234567"), source="form")

    by_phone = capture_lead(
        {"phone": "+49 30 1234567", "name": "Anna", "country": "DE"}, source="api"
    )

    assert by_phone.decision.lead_id == bare.pk
    assert by_phone.decision.matched_on == "phone"


def test_a_form_opened_before_the_fill_is_a_conflict_naming_it(bare, alice):
    seen = lead_version(bare)
    capture_lead(inquiry(1, company="Initech GmbH"), source="form")

    with pytest.raises(Conflict, match="company changed meanwhile"):
        edit_lead(bare.pk, {"company": "Initrode"}, by=alice, version=seen)


def test_a_company_the_repeat_brings_lets_the_lead_convert(bare, alice):
    first = bare.pipeline.stages.get(key="inquiry")
    first.entry_criteria = {
        "mode": "all",
        "items": [
            {
                "label": "The buyer's company is known",
                "rule": "deal.organization != null",
            }
        ],
    }
    first.save()

    capture_lead(inquiry(1, company="Initech GmbH"), source="form")

    assert convert_lead(bare.pk, by=alice).organization.name == "Initech GmbH"


def test_the_fill_is_logged_with_field_names_only(
    bare, caplog, django_capture_on_commit_callbacks
):
    with (
        caplog.at_level(logging.INFO, logger="dealgate.leads"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        capture_lead(inquiry(1, company=None, phone="+49 30 1234567"), source="form")

    said = [r.getMessage() for r in caplog.records if r.name == "dealgate.leads"]
    assert f"lead {bare.pk}: empty fields filled from a repeat inquiry: phone" in said
    assert "1234567" not in caplog.text


# --- a split of the inquiry ---------------------------------------------------


def _filled_by_repeat(bare: Lead):
    again = inquiry(
        1,
        company="Initech GmbH",
        phone="030 1234567",
        website="www.initech.example",
        value="5000",
        currency="EUR",
    )
    return capture_lead(again, source="form").decision


def test_a_split_empties_the_fields_the_inquiry_filled_with_their_keys(bare, olivia):
    decision = _filled_by_repeat(bare)

    split_lead(decision.pk, by=olivia)

    bare.refresh_from_db()
    assert (bare.company, bare.company_key, bare.company_match) == ("", "", "")
    assert (bare.phone, bare.phone_e164) == ("", "")
    # The website gone, the domain is the email address's again.
    assert (bare.website, bare.domain) == ("", "company1.example")
    assert (bare.value, bare.currency) == (None, "")
    assert bare.email == "person1@company1.example"


def test_a_split_keeps_a_filled_field_edited_since(bare, alice, olivia):
    decision = _filled_by_repeat(bare)
    bare.refresh_from_db()
    edit_lead(bare.pk, {"company": "Initech AG"}, by=alice, version=lead_version(bare))

    split_lead(decision.pk, by=olivia)

    bare.refresh_from_db()
    assert (bare.company, bare.company_key) == ("Initech AG", "initech")
    assert bare.phone == ""


def test_a_split_keeps_a_value_whose_currency_was_changed_since(bare, alice, olivia):
    decision = _filled_by_repeat(bare)
    bare.refresh_from_db()
    edit_lead(bare.pk, {"currency": "CHF"}, by=alice, version=lead_version(bare))

    split_lead(decision.pk, by=olivia)

    bare.refresh_from_db()
    assert (bare.value, bare.currency) == (Decimal("5000.00"), "CHF")


def test_a_split_after_conversion_leaves_the_closed_lead_as_it_was(bare, alice, olivia):
    decision = _filled_by_repeat(bare)
    convert_lead(bare.pk, by=alice)

    split_lead(decision.pk, by=olivia)

    bare.refresh_from_db()
    assert bare.company == "Initech GmbH"
