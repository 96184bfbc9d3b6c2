"""Numbers typed at every door read by one rule: exactly as meant, or refused
naming the field and how to write the number, never silently changed.

The deal page read "12,50" as 1250 while the API and the lead form refused
it, and its custom numbers, the lead form and the builder read "1.000" as 1;
these tests send the same text to each door.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.builder.drafts import working_copy
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.deals.models import Deal
from dealgate.leads.models import Lead
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline
from tests.builder.conftest import IT_SERVICES, post

from .helpers import make_deal, text_of

BUDGET = "Budget named by the buyer (EUR)"


@pytest.fixture
def it_services(db, olivia, team, demo_people) -> Pipeline:
    apply_pipeline(load_pipeline_file(IT_SERVICES))
    return Pipeline.objects.get(key="it-services")


@pytest.fixture
def deal(it_services, alice) -> Deal:
    return make_deal(
        it_services, "discovery", title="Firewall", value=5000, owner=alice
    )


def edit(client, deal, **fields):
    form = {"version": deal.version, "title": deal.title, "value": "5000.00"}
    return client.post(reverse("deal-edit", args=[deal.pk]), {**form, **fields})


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("12,50", "Value (USD): '12,50' is not a number; write 12.50"),
        ("1,2", "Value (USD): '1,2' is not a number; write 1.2"),
        ("1.000", "Value (USD): '1.000' could mean 1000 or 1; write 1000 or 1"),
    ],
)
def test_a_value_that_reads_otherwise_than_meant_is_refused_saying_how_to_write_it(
    client, alice, deal, typed, says
):
    client.force_login(alice)

    response = edit(client, deal, value=typed)

    assert response.status_code == 422
    assert says in text_of(response)
    deal.refresh_from_db()
    assert (deal.value, deal.version) == (Decimal("5000.00"), 1)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("12,5", f"{BUDGET}: '12,5' is not a number; write 12.5"),
        ("1.000", f"{BUDGET}: '1.000' could mean 1000 or 1; write 1000 or 1"),
    ],
)
def test_a_custom_number_that_reads_two_ways_is_refused_not_stored(
    client, alice, deal, typed, says
):
    client.force_login(alice)

    response = edit(client, deal, **{"custom:budget": typed})

    assert response.status_code == 422
    assert says in text_of(response)
    deal.refresh_from_db()
    assert ("budget" in deal.custom, deal.version) == (False, 1)


@pytest.mark.parametrize(
    ("value", "budget", "stored"),
    [
        ("1250", "18500", (Decimal("1250"), 18500)),
        ("12.50", "2.5", (Decimal("12.50"), 2.5)),
        ("1,250.50", "18,500", (Decimal("1250.50"), 18500)),
    ],
)
def test_plain_and_grouped_numbers_are_stored_as_typed(
    client, alice, deal, value, budget, stored
):
    client.force_login(alice)

    response = edit(client, deal, value=value, **{"custom:budget": budget})

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.value, deal.custom["budget"]) == stored


def test_a_number_the_api_stored_is_kept_when_the_form_sends_it_back(
    client, alice, deal
):
    client.force_login(alice)
    stored = client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "custom": {"budget": 1.125}},
        content_type="application/json",
    )
    assert stored.status_code == 200, stored.content
    deal.refresh_from_db()
    page = client.get(reverse("deal", args=[deal.pk])).content.decode()
    assert re.search(r'name="custom:budget" id="edit-\d+" value="1\.125"', page)

    response = edit(
        client, deal, title="Firewall, 2 sites", **{"custom:budget": "1.125"}
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.custom["budget"], deal.version) == (
        "Firewall, 2 sites",
        1.125,
        3,
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"value": "12,50"}, "value: "),
        ({"value": "1.000"}, "value: "),
        ({"custom": {"budget": "12,5"}}, "custom.budget: '12,5' is not a number"),
    ],
)
def test_the_api_still_refuses_the_same_text(client, alice, deal, body, says):
    client.force_login(alice)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, **body},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["message"].startswith(says)
    deal.refresh_from_db()
    assert (deal.value, deal.custom, deal.version) == (Decimal("5000.00"), {}, 1)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"value": "12,50"}, "Value: '12,50' is not a number; write 12.50"),
        ({"value": "1.000"}, "Value: '1.000' could mean 1000 or 1; write 1000 or 1"),
        (
            {"company_size": "1,2"},
            "Company size: '1,2' is not a whole number; write it like 12 or 1,200",
        ),
    ],
)
def test_the_lead_form_refuses_what_it_cannot_read_as_meant(
    client, alice, it_services, fields, says
):
    client.force_login(alice)
    lead = {"pipeline": "it-services", "name": "Walk-in", "phone": "+49 30 9876543"}

    response = client.post("/leads/new/", {**lead, **fields})

    assert response.status_code == 422
    assert says in text_of(response)
    assert not Lead.objects.exists()


def test_the_lead_form_takes_grouped_numbers_as_the_deal_page_does(
    client, alice, it_services
):
    client.force_login(alice)
    lead = {"pipeline": "it-services", "name": "Walk-in", "phone": "+49 30 9876543"}

    client.post("/leads/new/", {**lead, "value": "18,500.50", "company_size": "1,200"})

    assert Lead.objects.values_list("value", "company_size").get() == (
        Decimal("18500.50"),
        1200,
    )


def test_a_builder_number_that_reads_two_ways_is_refused_not_read_as_one(
    client, olivia, it_services
):
    client.force_login(olivia)
    form = {
        "name": "Proposal reviewed",
        "buyer_action": "The buyer went through the proposal",
        "owner": "deal-owner",
        "probability": "55",
        "exit_criteria_mode": "all",
        "breach_default": "on",
    }
    url = "/pipelines/it-services/edit/stages/review/"

    refused = post(client, url, {**form, "age_limit_days": "1.000"}, status=422)
    post(client, url, {**form, "age_limit_days": "12"})

    assert "'1.000' could mean 1000 or 1; write 1000 or 1" in text_of(refused)
    review = working_copy("it-services").spec.stages[3]
    assert (review.key, review.age_limit_days) == ("review", 12)
