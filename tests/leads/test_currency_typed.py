"""A currency a person types is asked for as its three-letter ISO 4217 code,
whatever they typed ("Euro" is a name, not one letter too many), at every
door: a lead sent to the API, a lead's edit form, the deal forms and the
builder's pipeline form. Lower case reads as the code it spells."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.builder.forms import PipelineForm
from dealgate.core.currencies import currency_problem
from dealgate.deals.models import Deal
from dealgate.errors import ValidationError
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.versions import lead_version
from tests.web.helpers import make_deal, text_of

from .conftest import inquiry

ASKED = "must be a three-letter ISO 4217 code such as EUR, not 'Euro'"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("Euro", ASKED),
        ("XYZ", "must be a three-letter ISO 4217 code such as EUR, not 'XYZ'"),
        (
            "x" * 60,
            f"must be a three-letter ISO 4217 code such as EUR, not '{'x' * 39}…'",
        ),
        ("eur", None),
        (" usd ", None),
    ],
)
def test_a_currency_is_asked_for_as_its_code(typed, problem):
    assert currency_problem(typed) == problem


@pytest.mark.django_db
def test_a_lead_sent_with_a_currencys_name_is_refused_asking_for_the_code(routed, now):
    with pytest.raises(ValidationError) as refused:
        capture_lead({**inquiry(1), "currency": "Euro"}, source="api")

    assert (refused.value.field, refused.value.message) == (
        "currency",
        f"currency {ASKED}",
    )
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_a_lead_captured_with_a_lower_case_code_stores_the_code(routed, now):
    lead = capture_lead({**inquiry(1), "currency": "eur"}, source="api").lead

    assert lead.currency == "EUR"


@pytest.mark.django_db
def test_the_lead_edit_form_asks_for_the_code_and_cuts_nothing(
    client, routed, alice, now
):
    lead = capture_lead(inquiry(1), source="form").lead
    client.force_login(alice)

    page = client.get(f"/leads/{lead.pk}/").content.decode()
    response = client.post(
        f"/leads/{lead.pk}/edit/", {"currency": "Euro", "version": lead_version(lead)}
    )

    currency_input = page.split('id="edit-currency"')[1].split(">")[0]
    assert "maxlength" not in currency_input
    assert response.status_code == 422
    assert f"Currency: {ASKED}" in text_of(response)
    assert 'value="Euro"' in response.content.decode()


@pytest.mark.django_db
def test_the_deal_forms_ask_for_the_code_and_cut_nothing(client, pipeline, alice, now):
    deal = make_deal(pipeline, "discovery", owner=alice, title="Helpdesk", value=1000)
    client.force_login(alice)

    page = client.get(reverse("deal", args=[deal.pk])).content.decode()
    edited = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"title": "Helpdesk", "currency": "Euro", "version": str(deal.version)},
    )
    new_page = client.get(f"{reverse('deal-new')}?pipeline={pipeline.key}")
    created = client.post(
        f"{reverse('deal-new')}?pipeline={pipeline.key}",
        {"title": "Backup", "owner": "alice", "currency": "Euro"},
    )

    for form in (page, new_page.content.decode()):
        currency_input = form.split('name="currency"')[1].split(">")[0]
        assert "maxlength" not in currency_input
    assert edited.status_code == 422 and ASKED in text_of(edited)
    assert created.status_code == 422 and ASKED in text_of(created)
    assert Deal.objects.get().currency == "USD"


def test_the_builders_pipeline_form_asks_for_the_code_and_reads_lower_case():
    base = {"name": "Sales", "bottleneck_share": "0.4", "timezone": "Europe/Berlin"}

    refused = PipelineForm({**base, "currency": "Euro"})
    taken = PipelineForm({**base, "currency": "eur"})

    assert not refused.is_valid()
    assert refused.errors["currency"] == [ASKED[0].upper() + ASKED[1:]]
    assert taken.is_valid(), taken.errors
    assert taken.cleaned_data["currency"] == "EUR"
    assert 'maxlength="3"' not in str(PipelineForm()["currency"])
