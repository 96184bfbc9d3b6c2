"""A stored phone number keeps the reading it was stored with until the
phone itself is edited: a country taken since from what a repeat inquiry
offered, filled by one before repeats only offered, set by a person, or a
pipeline's region changed since neither moves the number abroad (changing
its de-duplication key) nor refuses a later edit of another field. A stored
value likewise keeps the judgement of its decimals in the pipeline's
currency of its day."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dealgate.errors import ValidationError
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import ApiToken, Lead, LeadActivity
from dealgate.leads.offers import apply_offer
from dealgate.leads.services import capture_lead, split_lead
from dealgate.leads.tokens import create_token
from dealgate.leads.versions import lead_version

from .conftest import inquiry

pytestmark = pytest.mark.django_db


def _lead_without_country(phone: str) -> Lead:
    """A lead whose number was read in the pipeline's region (DE)."""
    return capture_lead(inquiry(1, country=None, phone=phone), source="form").lead


def _repeat_from(country: str):
    """The same person writing again, saying where they are, and the lead's
    owner taking the country the inquiry offers."""
    decision = capture_lead(inquiry(1, country=country), source="api").decision
    lead = Lead.objects.get(pk=decision.lead_id)
    apply_offer(
        lead.pk,
        decision.activity_id,
        by=lead.owner,
        version=lead_version(lead),
        fields=["country"],
    )
    return decision


def _edit(lead: Lead, by, **changes) -> Lead:
    lead.refresh_from_db()
    return edit_lead(lead.pk, changes, by=by, version=lead_version(lead))


def test_an_edit_of_another_field_keeps_a_number_read_before_the_country_was_filled(
    client, routed, olivia, now
):
    lead = _lead_without_country("030 12345678")
    assert lead.phone_e164 == "+493012345678"
    _repeat_from("GB")
    lead.refresh_from_db()
    assert lead.country == "GB"
    secret = create_token(olivia, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]

    response = client.patch(
        f"/api/v1/leads/{lead.pk}",
        json.dumps({"version": lead_version(lead), "segment": "SMB"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 200
    assert response.json()["phone_e164"] == "+493012345678"
    lead.refresh_from_db()
    assert (lead.segment, lead.phone, lead.phone_e164) == (
        "SMB",
        "030 12345678",
        "+493012345678",
    )


def test_a_number_that_does_not_read_in_the_filled_country_does_not_refuse_an_edit(
    routed, olivia, now
):
    lead = _lead_without_country("0151 23456789")
    _repeat_from("US")

    edited = _edit(lead, olivia, segment="SMB")

    assert (edited.country, edited.segment) == ("US", "SMB")
    lead.refresh_from_db()
    assert lead.phone_e164 == "+4915123456789"


def test_the_page_saves_another_field_of_such_a_lead(client, routed, olivia, now):
    lead = _lead_without_country("0151 23456789")
    _repeat_from("US")
    lead.refresh_from_db()
    client.force_login(olivia)
    form = {
        name: "" if getattr(lead, name) is None else str(getattr(lead, name))
        for name in ("name", "email", "phone", "company", "website", "country")
    }

    response = client.post(
        f"/leads/{lead.pk}/edit/",
        {**form, "segment": "SMB", "version": lead_version(lead)},
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.segment, lead.phone_e164) == ("SMB", "+4915123456789")


def test_a_person_setting_the_country_keeps_the_numbers_reading(routed, olivia, now):
    lead = _lead_without_country("030 12345678")

    _edit(lead, olivia, country="GB")

    lead.refresh_from_db()
    assert (lead.country, lead.phone_e164) == ("GB", "+493012345678")


def test_an_edited_number_is_read_in_the_country_as_edited(routed, olivia, now):
    lead = _lead_without_country("030 12345678")

    _edit(lead, olivia, country="GB", phone="020 7946 0958")

    lead.refresh_from_db()
    assert lead.phone_e164 == "+442079460958"


def test_an_edited_number_that_does_not_read_there_is_refused_naming_the_phone(
    routed, olivia, now
):
    lead = _lead_without_country("030 12345678")
    _repeat_from("US")

    with pytest.raises(ValidationError) as refused:
        _edit(lead, olivia, phone="0151 2345678")

    assert refused.value.field == "phone"
    assert "read as a number in US" in refused.value.message
    lead.refresh_from_db()
    assert (lead.phone, lead.phone_e164) == ("030 12345678", "+493012345678")


def test_a_split_emptying_a_country_an_old_repeat_filled_keeps_the_numbers_reading(
    routed, olivia, now
):
    lead = _lead_without_country("030 12345678")
    # As a repeat attached before repeats only offered left it: the country
    # written into the lead, and its note listing it as filled.
    decision = capture_lead(inquiry(1, country="GB"), source="api").decision
    note = LeadActivity.objects.get(pk=decision.activity_id)
    note.data = {**note.data, "filled": ["country"]}
    note.save()
    Lead.objects.filter(pk=lead.pk).update(country="GB")

    split_lead(decision.pk, by=olivia)

    lead.refresh_from_db()
    assert (lead.country, lead.phone_e164) == ("", "+493012345678")


def test_a_pipeline_whose_region_changed_keeps_the_numbers_reading(routed, olivia, now):
    lead = _lead_without_country("030 12345678")
    routed.calendar = {**routed.calendar, "holidays": {"country": "US"}}
    routed.save()

    _edit(lead, olivia, segment="SMB")

    lead.refresh_from_db()
    assert (lead.segment, lead.phone_e164) == ("SMB", "+493012345678")


def test_a_value_judged_in_the_pipelines_old_currency_does_not_refuse_an_edit(
    routed, alice, now
):
    lead = capture_lead(inquiry(1, value="1000.50"), source="form").lead
    routed.currency = "JPY"
    routed.save()

    _edit(lead, alice, segment="SMB")

    lead.refresh_from_db()
    assert (lead.segment, lead.value, lead.currency) == ("SMB", Decimal("1000.50"), "")


def test_a_value_edited_is_judged_in_the_pipelines_currency_now(routed, alice, now):
    lead = capture_lead(inquiry(1, value="1000.50"), source="form").lead
    routed.currency = "JPY"
    routed.save()

    with pytest.raises(ValidationError) as refused:
        _edit(lead, alice, value="2000.50")

    assert refused.value.field == "value"
    lead.refresh_from_db()
    assert lead.value == Decimal("1000.50")
