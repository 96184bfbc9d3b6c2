"""An amount too large for its column is refused at every door naming the
largest amount it holds, not only a count of digits."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.core.numbers import AMOUNT_WHOLE_DIGITS, MAX_AMOUNT
from dealgate.deals.models import Deal
from dealgate.leads.intake import MAX_VALUE
from dealgate.leads.models import Lead
from tests.conftest import PASSWORD

from .helpers import make_deal, text_of

TOO_LARGE = "9,999,999,999,999.99"
MOST = "the most it holds is 999,999,999,999.99 (12 digits before the decimal point)"


@pytest.mark.parametrize("model", [Deal, Lead])
def test_the_largest_amount_named_is_what_the_value_columns_hold(model):
    field = model._meta.get_field("value")
    assert field.max_digits - field.decimal_places == AMOUNT_WHOLE_DIGITS
    largest = Decimal(10**AMOUNT_WHOLE_DIGITS) - Decimal(1).scaleb(
        -field.decimal_places
    )
    assert largest == MAX_AMOUNT == MAX_VALUE


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "discovery", value=Decimal(100), owner=alice)


def test_the_deal_page_names_the_largest_amount(client, alice, deal):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": deal.title, "value": TOO_LARGE},
    )

    assert response.status_code == 422
    assert f"'{TOO_LARGE}' is too large: {MOST}" in text_of(response)
    deal.refresh_from_db()
    assert deal.value == 100


@pytest.mark.parametrize("value", [TOO_LARGE, 9999999999999.99, 10**13])
def test_the_api_names_the_largest_amount(client, alice, deal, value):
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        json.dumps({"version": 1, "value": value}),
        content_type="application/json",
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "value"
    assert body["message"].startswith("value: ")
    assert body["message"].endswith(f" is too large: {MOST}")
    deal.refresh_from_db()
    assert deal.value == 100


def test_the_api_still_stores_the_largest_amount(client, alice, deal):
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        json.dumps({"version": 1, "value": "999,999,999,999.99"}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.value == MAX_AMOUNT


def test_the_lead_form_names_the_largest_amount(client, alice, pipeline):
    client.force_login(alice)
    lead = {"pipeline": pipeline.key, "name": "Walk-in", "phone": "+49 30 9876543"}

    response = client.post("/leads/new/", {**lead, "value": TOO_LARGE})

    assert response.status_code == 422
    assert "from 0 to 999,999,999,999.99" in text_of(response)
    assert not Lead.objects.exists()
