"""A lead's value is judged again in the deal's currency when the lead is
converted: the lead's own currency, else its pipeline's as it is then,
which may have changed since the lead was taken. Refused, the error names
the value and the currency, at every door, and nothing is written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.clocks.models import Clock
from dealgate.deals.models import Activity, Deal, Organization, Person, StageEvent
from dealgate.errors import ValidationError
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead, convert_lead, record_response
from dealgate.pipelines.models import Pipeline, Stage
from tests.web.helpers import text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db


def _lead(value: str, **fields) -> Lead:
    lead = capture_lead(
        inquiry(value=value, company="Initech AG", **fields), source="api"
    ).lead
    record_response(lead.pk, kind="call", by=lead.owner, subject="Intro call")
    return lead


def _now_in(pipeline: Pipeline, currency: str) -> None:
    pipeline.currency = currency
    pipeline.save(update_fields=["currency"])


def _stored() -> tuple[int, ...]:
    return (
        Deal.objects.count(),
        Organization.objects.count(),
        Person.objects.count(),
        StageEvent.objects.count(),
        Activity.objects.count(),
        Clock.objects.count(),
    )


def _refusal(lead: Lead, why: str) -> str:
    return (
        f"lead {lead.pk} cannot become a deal: its value 1000.50 has 2 decimal "
        f"places; JPY amounts have 0 ({why})"
    )


def test_a_value_the_pipelines_new_currency_cannot_hold_is_refused_writing_nothing(
    routed, alice, now
):
    lead = _lead("1000.50")  # USD when taken
    _now_in(routed, "JPY")
    before = _stored()

    with pytest.raises(ValidationError) as refused:
        convert_lead(lead.pk, by=alice)

    assert refused.value.field == "value"
    assert refused.value.message == _refusal(
        lead, "JPY is pipeline new-business's currency now; the lead names none"
    )
    assert _stored() == before
    lead.refresh_from_db()
    assert lead.is_open and lead.deal_id is None


def test_a_whole_value_converts_into_the_pipelines_new_currency(routed, alice, now):
    lead = _lead("1000.00")
    _now_in(routed, "JPY")

    deal = convert_lead(lead.pk, by=alice)

    assert (deal.value, deal.currency) == (Decimal(1000), "JPY")


def test_a_lead_with_its_own_currency_keeps_it_whatever_the_pipelines(
    routed, alice, now
):
    lead = _lead("1000.50", currency="usd")
    _now_in(routed, "JPY")

    deal = convert_lead(lead.pk, by=alice)

    assert (deal.value, deal.currency) == (Decimal("1000.50"), "USD")


def test_a_value_its_own_currency_refuses_is_refused_naming_that_currency(
    routed, alice, now
):
    # Taken before values were judged in their currency.
    lead = _lead("1000")
    Lead.objects.filter(pk=lead.pk).update(value=Decimal("1000.50"), currency="JPY")

    with pytest.raises(ValidationError) as refused:
        convert_lead(lead.pk, by=alice)

    assert refused.value.message == _refusal(lead, "JPY is the lead's currency")


def test_a_conversion_into_another_pipeline_judges_its_currency(routed, alice, now):
    lead = _lead("1000.50")
    other = Pipeline.objects.create(
        key="renewals", name="Renewals", calendar=routed.calendar, currency="JPY"
    )
    Stage.objects.create(
        pipeline=other,
        key="due",
        name="Renewal due",
        position=0,
        owner_kind=Stage.OwnerKind.DEAL_OWNER,
    )

    with pytest.raises(ValidationError) as refused:
        convert_lead(lead.pk, by=alice, pipeline=other)

    assert refused.value.message == _refusal(
        lead, "JPY is pipeline renewals's currency now; the lead names none"
    )
    assert not Deal.objects.exists()


def test_the_api_refuses_the_conversion_with_422_naming_the_value(
    client, routed, alice, now
):
    lead = _lead("1000.50")
    _now_in(routed, "JPY")
    client.force_login(alice)

    response = client.post(f"/api/v1/leads/{lead.pk}/convert")

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "value"
    assert body["message"].startswith(f"lead {lead.pk} cannot become a deal: its")
    assert not Deal.objects.exists()


def test_the_lead_page_says_why_the_conversion_was_refused(client, routed, alice, now):
    lead = _lead("1000.50")
    _now_in(routed, "JPY")
    client.force_login(alice)

    response = client.post(f"/leads/{lead.pk}/convert/")

    assert response.status_code == 422
    assert "JPY amounts have 0" in text_of(response)
    assert not Deal.objects.exists()
