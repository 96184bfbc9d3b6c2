"""A negative deal value is refused at every door naming the least amount a
deal holds (0), however many digits it has: not a count of digits from the
column's own check, nor the least a custom number holds."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.deals.services import update_deal
from dealgate.errors import ValidationError
from tests.conftest import PASSWORD

from .helpers import make_deal, text_of

LEAST = "is too small: the least it holds is 0"


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "discovery", value=Decimal(100), owner=alice)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (-(10**20), "-100000000000000000000"),
        ("-100,000,000,000,000,000,000.50", "-100000000000000000000.50"),
        (-5, "-5"),
    ],
)
def test_the_api_names_the_least_amount(client, alice, deal, value, shown):
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        json.dumps({"version": 1, "value": value}),
        content_type="application/json",
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "value"
    assert body["message"] == f"value: {shown} {LEAST}"
    deal.refresh_from_db()
    assert deal.value == 100


def test_a_hugely_negative_value_is_refused_by_the_service_before_its_digits(
    deal, alice
):
    with pytest.raises(ValidationError) as refused:
        update_deal(deal.pk, {"value": Decimal("-1e30")}, by=alice, expected_version=1)

    assert refused.value.field == "value"
    assert str(refused.value.message).endswith(LEAST)
    assert "digits in total" not in refused.value.message


@pytest.mark.parametrize("typed", ["-9,999,999,999,999.99", "-5"])
def test_the_deal_page_names_the_least_amount(client, alice, deal, typed):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": deal.title, "value": typed},
    )

    assert response.status_code == 422
    assert f"'{typed}' {LEAST}" in text_of(response)
    assert "-999,999,999,999.99" not in text_of(response)
    deal.refresh_from_db()
    assert deal.value == 100
