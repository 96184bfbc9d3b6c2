"""The deals API reads an amount as every other door reads it: text by the
one rule for typed numbers (dealgate/core/numbers.py), a JSON number as
written, an exponent, NaN or Infinity refused either way; decimals are
refused naming the currency; amounts are answered with their currency's
own decimals."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal
from tests.conftest import PASSWORD
from tests.web.helpers import make_deal

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    with timesource.frozen_at(T0):
        yield client


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "discovery", value=Decimal(100), owner=alice)


def post(api, body):
    text = body if isinstance(body, str) else json.dumps(body)
    return api.post("/api/v1/deals", text, content_type="application/json")


def patch(api, deal, body):
    text = body if isinstance(body, str) else json.dumps(body)
    return api.patch(f"/api/v1/deals/{deal.pk}", text, content_type="application/json")


REFUSED_TEXT = [
    ("1_000", "value: '1_000' is not a number; write 1000"),
    ("1e3", "value: '1e3' is not a number; write 1000"),
    ("0.001e3", "value: '0.001e3' is not a number; write 1"),
    ("12,50", "value: '12,50' is not a number; write 12.50"),
    ("$1,250", "value: '$1,250' is not a number; write 1250"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED_TEXT)
def test_a_new_deals_value_text_is_read_by_the_rule_the_deal_page_reads(
    api, pipeline, text, message
):
    response = post(api, {"pipeline": "new-business", "title": "X", "value": text})

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (
        "value",
        message,
    )
    assert not Deal.objects.exists()


@pytest.mark.parametrize(("text", "message"), REFUSED_TEXT)
def test_an_edits_value_text_is_read_by_the_same_rule(api, deal, text, message):
    response = patch(api, deal, {"version": 1, "value": text})

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (
        "value",
        message,
    )
    deal.refresh_from_db()
    assert (deal.value, deal.version) == (Decimal(100), 1)


@pytest.mark.parametrize(
    ("text", "stored"),
    [("1,250.50", "1250.50"), (" 5 ", "5"), ("1250", "1250"), (".5", "0.5")],
)
def test_value_text_the_rule_reads_is_stored_as_it_says(api, deal, text, stored):
    response = patch(api, deal, {"version": 1, "value": text})

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.value == Decimal(stored)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("1e3", "value: '1e3' is not a number; write 1000"),
        ("1E+3", "value: '1E+3' is not a number; write 1000"),
        ("NaN", "value: 'NaN' is not a number; write it like 1250 or 12.50"),
        ("Infinity", "value: 'Infinity' is not a number; write it like 1250"),
        ("-Infinity", "value: '-Infinity' is not a number; write it like 1250"),
    ],
)
def test_a_json_number_with_an_exponent_or_none_at_all_is_refused(
    api, deal, pipeline, written, message
):
    edited = patch(api, deal, f'{{"version": 1, "value": {written}}}')
    created = post(
        api, f'{{"pipeline": "new-business", "title": "X", "value": {written}}}'
    )

    for response in (edited, created):
        assert response.status_code == 422
        assert response.json()["field"] == "value"
        assert response.json()["message"].startswith(message)
    assert Deal.objects.count() == 1


def test_a_json_number_is_taken_as_written(api, deal):
    response = patch(api, deal, '{"version": 1, "value": 1.250}')

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    # A number is data, not typed text: "1.250" is not ambiguous here.
    assert deal.value == Decimal("1.25")


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ('"1_000"', "custom.budget: '1_000' is not a number; write 1000"),
        ("1e3", "custom.budget: '1e3' is not a number; write 1000"),
        ("NaN", "custom.budget: 'NaN' is not a number"),
    ],
)
def test_a_custom_number_is_refused_as_the_value_is(api, deal, written, message):
    deal.pipeline.custom_fields = [{"key": "budget", "type": "number"}]
    deal.pipeline.save()

    response = patch(api, deal, f'{{"version": 1, "custom": {{"budget": {written}}}}}')

    assert response.status_code == 422
    assert response.json()["field"] == "custom.budget"
    assert response.json()["message"].startswith(message)


def test_a_custom_number_sent_as_text_is_read_by_the_rule(api, pipeline):
    pipeline.custom_fields = [{"key": "budget", "type": "number"}]
    pipeline.save()

    response = post(
        api,
        {"pipeline": "new-business", "title": "X", "custom": {"budget": "18,500"}},
    )

    assert response.status_code == 201, response.content
    assert Deal.objects.get().custom == {"budget": 18500}


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        (
            "1.234",
            "KWD",
            "value 1.234 has 3 decimal places; Dealgate keeps KWD amounts with 2 "
            "(ISO 4217 gives KWD 3)",
        ),
        (
            "5.125",
            "BHD",
            "value 5.125 has 3 decimal places; Dealgate keeps BHD amounts with 2 "
            "(ISO 4217 gives BHD 3)",
        ),
        ("1000.5", "JPY", "value 1000.5 has 1 decimal place; JPY amounts have 0"),
    ],
)
def test_decimals_past_what_is_stored_are_refused_naming_the_currency(
    api, deal, pipeline, value, currency, message
):
    body = f'"pipeline": "new-business", "title": "X", "currency": "{currency}"'
    created = post(api, f'{{{body}, "value": {value}}}')
    edited = patch(
        api, deal, f'{{"version": 1, "currency": "{currency}", "value": {value}}}'
    )

    for response in (created, edited):
        assert response.status_code == 422
        assert (response.json()["field"], response.json()["message"]) == (
            "value",
            message,
        )
    assert Deal.objects.count() == 1


def test_an_edit_of_the_value_alone_is_held_to_the_stored_currency(api, deal):
    Deal.objects.filter(pk=deal.pk).update(currency="KWD")

    response = patch(api, deal, {"version": 1, "value": "1.2345"})

    assert response.status_code == 422
    assert response.json()["message"] == (
        "value 1.2345 has 4 decimal places; Dealgate keeps KWD amounts with 2 "
        "(ISO 4217 gives KWD 3)"
    )


def test_zeros_past_two_decimals_are_no_decimals(api, deal):
    response = patch(api, deal, '{"version": 1, "value": 1250.000}')

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.value == Decimal("1250")


@pytest.mark.parametrize(
    ("currency", "value", "answered"),
    [
        ("JPY", "1000", "1000"),
        ("KWD", "1.23", "1.23"),
        ("KWD", "1.2", "1.20"),
        ("USD", "1000", "1000.00"),
        ("XAU", "3.5", "3.50"),
    ],
)
def test_amounts_are_answered_with_their_currencys_decimals(
    api, pipeline, currency, value, answered
):
    body = {"pipeline": "new-business", "title": "X", "currency": currency}
    created = post(api, {**body, "value": value})

    assert created.status_code == 201, created.content
    assert created.json()["value"] == answered
    read = api.get(f"/api/v1/deals/{created.json()['id']}")
    assert read.json()["value"] == answered
