"""An amount has at most the decimals its currency has (ISO 4217's minor
unit): yen have none, so "JPY 1000.50" is refused at every door, naming the
field, the currency and its decimals, where it was shown as "¥1,000.50"."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal
from dealgate.imports.services import import_deals
from dealgate.leads.imports import import_leads
from dealgate.leads.models import Lead
from dealgate.leads.tokens import create_token
from tests.importing import make_import_pipeline, write_csv, write_mapping
from tests.web.helpers import make_deal, text_of

REFUSED = "value 1000.50 has 2 decimal places; JPY amounts have 0"


@pytest.fixture
def yen_deal(pipeline, alice):
    return make_deal(pipeline, "discovery", value=1000, currency="JPY", owner=alice)


def _patch(client, deal, **changes):
    return client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": deal.version, **changes},
        content_type="application/json",
    )


def _unchanged(deal, value, currency):
    deal.refresh_from_db()
    return (deal.value, deal.currency, deal.version) == (value, currency, 1)


# --- deals: the API and the deal page ----------------------------------------


@pytest.mark.parametrize("value", ["1000.50", 1000.5])
def test_the_api_refuses_decimals_a_yen_value_cannot_have(
    client, alice, yen_deal, value
):
    client.force_login(alice)

    response = _patch(client, yen_deal, value=value)

    assert response.status_code == 422
    assert response.json()["field"] == "value"
    assert "JPY amounts have 0" in response.json()["message"]
    assert _unchanged(yen_deal, Decimal(1000), "JPY")


def test_a_whole_yen_value_is_taken_trailing_zeros_and_all(client, alice, yen_deal):
    client.force_login(alice)

    response = _patch(client, yen_deal, value="2500.00")

    assert response.status_code == 200
    yen_deal.refresh_from_db()
    assert yen_deal.value == Decimal(2500)


def test_a_currency_its_stored_value_does_not_fit_is_refused(client, alice, pipeline):
    deal = make_deal(pipeline, "discovery", value=Decimal("1000.50"), owner=alice)
    client.force_login(alice)

    response = _patch(client, deal, currency="jpy")

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (
        "value",
        REFUSED,
    )
    assert _unchanged(deal, Decimal("1000.50"), "USD")


def test_a_new_deal_in_yen_with_decimals_is_refused_by_the_api(client, alice, pipeline):
    client.force_login(alice)

    response = client.post(
        "/api/v1/deals",
        {
            "pipeline": pipeline.key,
            "title": "Tokyo office",
            "value": "1000.50",
            "currency": "JPY",
        },
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["message"] == REFUSED
    assert not Deal.objects.exists()


def test_the_deal_page_refuses_the_decimals_at_the_value_input(client, alice, yen_deal):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[yen_deal.pk]),
        {"version": 1, "title": yen_deal.title, "value": "1000.50"},
    )

    assert response.status_code == 422
    # Said once, after the input's label; the API's message names the field.
    assert f"Value (JPY): {REFUSED.removeprefix('value ')}" in text_of(response)
    assert "Value (JPY): value" not in text_of(response)
    assert _unchanged(yen_deal, Decimal(1000), "JPY")


def test_the_new_deal_page_refuses_them_too(client, alice, pipeline):
    client.force_login(alice)

    response = client.post(
        f"{reverse('deal-new')}?pipeline={pipeline.key}",
        {
            "title": "Tokyo office",
            "value": "1,000.50",
            "currency": "jpy",
            "owner": "alice",
            "stage": "inquiry",
        },
    )

    assert response.status_code == 422
    assert f"Value: {REFUSED.removeprefix('value ')}" in text_of(response)
    assert not Deal.objects.exists()


# --- leads: every capture -------------------------------------------------------


def test_a_lead_captured_by_the_api_with_yen_decimals_is_refused(
    client, pipeline, olivia
):
    secret = create_token(olivia, "website", scope="leads")[1]
    body = {"email": "a@example.com", "value": "1000.50", "currency": "JPY"}

    response = client.post(
        "/api/v1/leads",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (
        "value",
        REFUSED,
    )
    assert not Lead.objects.exists()


def test_a_lead_in_kwd_past_the_two_stored_decimals_is_refused_naming_it(
    client, pipeline, olivia
):
    secret = create_token(olivia, "website", scope="leads")[1]
    # A JSON number: text like "5.125" reads two ways and is refused as such.
    body = {"email": "a@example.com", "value": 5.125, "currency": "KWD"}

    response = client.post(
        "/api/v1/leads",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "value"
    assert "Dealgate keeps KWD amounts with 2" in response.json()["message"]
    assert not Lead.objects.exists()


def test_a_lead_value_written_with_an_exponent_is_refused_as_that_text_is(
    client, pipeline, olivia
):
    secret = create_token(olivia, "website", scope="leads")[1]

    response = client.post(
        "/api/v1/leads",
        '{"email": "a@example.com", "value": 1e3}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    exact = client.post(
        "/api/v1/leads",
        '{"email": "b@example.com", "value": 0.1}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 422
    assert response.json()["message"] == "'1e3' is not a number; write 1000"
    assert exact.status_code == 201
    assert Lead.objects.get().value == Decimal("0.10")


def test_a_lead_without_a_currency_is_held_to_its_pipelines(client, alice, pipeline):
    pipeline.currency = "JPY"
    pipeline.save()
    client.force_login(alice)

    refused = client.post(
        "/leads/new/",
        {"pipeline": pipeline.key, "email": "a@example.com", "value": "1000.50"},
    )
    taken = client.post(
        "/leads/new/",
        {"pipeline": pipeline.key, "email": "b@example.com", "value": "1000"},
    )

    assert refused.status_code == 422
    assert f"Value: {REFUSED.removeprefix('value ')}" in text_of(refused)
    assert taken.status_code == 302
    assert Lead.objects.values_list("email", "value").get() == (
        "b@example.com",
        Decimal(1000),
    )


def test_a_lead_import_row_with_yen_decimals_is_a_bad_row(tmp_path, pipeline):
    mapping = write_mapping(
        tmp_path,
        'name = "shop"\nsource = "shop"\n[columns]\nemail = "Mail"\n'
        'value = "Budget"\ncurrency = "Cur"\n',
    )
    path = write_csv(
        tmp_path, "Mail,Budget,Cur\na@example.com,1000.50,JPY\nb@example.com,900,JPY\n"
    )

    report = import_leads(path, str(mapping), pipeline=pipeline, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows] == [f"line 2: Budget: {REFUSED}"]
    assert Lead.objects.get().value == Decimal(900)


# --- deal imports: the row's currency, or its mapping's -------------------------

MAPPING = """
source = "crm"
currency = "JPY"
[columns]
external_id = "Id"
title = "Deal"
value = "Amount"
currency = "Cur"
"""


def test_a_deal_import_row_is_held_to_its_currency_or_the_mappings(tmp_path, db):
    sales = make_import_pipeline()
    path = write_csv(
        tmp_path,
        "Id,Deal,Amount,Cur\n"
        "D1,Tokyo office,1000.50,\n"  # the mapping's JPY
        "D2,Seoul office,1000.50,krw\n"
        "D3,Oslo office,1000.50,NOK\n"
        "D4,Osaka office,1000,\n",
    )

    report = import_deals(
        path, write_mapping(tmp_path, MAPPING), pipeline=sales, all_or_nothing=False
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Amount: '1000.50' has 2 decimal places; JPY amounts have 0",
        "line 3: Amount: '1000.50' has 2 decimal places; KRW amounts have 0",
    ]
    assert sorted(Deal.objects.values_list("external_id", "value", "currency")) == [
        ("D3", Decimal("1000.50"), "NOK"),
        ("D4", Decimal(1000), "JPY"),
    ]


def test_the_deal_page_refuses_decimals_past_the_two_stored_naming_the_currency(
    client, alice, pipeline
):
    deal = make_deal(
        pipeline, "discovery", value=Decimal("1.5"), currency="KWD", owner=alice
    )
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": 1, "title": deal.title, "value": "1.2345"},
    )

    assert response.status_code == 422
    assert (
        "Value (KWD): 1.2345 has 4 decimal places; Dealgate keeps KWD "
        "amounts with 2 (ISO 4217 gives KWD 3)"
    ) in text_of(response)
    assert _unchanged(deal, Decimal("1.5"), "KWD")


def test_the_deal_page_shows_a_yen_value_without_decimals(client, alice, yen_deal):
    client.force_login(alice)

    page = client.get(reverse("deal", args=[yen_deal.pk])).content.decode()

    assert "¥1,000" in page and "¥1,000.00" not in page
    assert 'value="1000"' in page and 'value="1000.00"' not in page


# --- three-decimal currencies: "1.234" is 1.234 there, never 1234 -------------

KWD_REFUSED = (
    "1.234 has 3 decimal places; Dealgate keeps KWD amounts with 2 "
    "(ISO 4217 gives KWD 3)"
)


def _no_thousands_reading(text: str) -> bool:
    return "1234" not in text and "could mean" not in text


@pytest.fixture
def kwd_deal(pipeline, alice):
    return make_deal(
        pipeline, "discovery", value=Decimal("1.5"), currency="KWD", owner=alice
    )


@pytest.mark.parametrize("typed", ["1.234", "1,001.234"])
def test_the_deal_page_reads_kwd_text_as_dinars_and_fils(
    client, alice, kwd_deal, typed
):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[kwd_deal.pk]),
        {"version": 1, "title": kwd_deal.title, "value": typed},
    )

    assert response.status_code == 422
    shown = typed.replace(",", "")
    assert f"Value (KWD): {KWD_REFUSED.replace('1.234', shown)}" in text_of(response)
    assert _no_thousands_reading(text_of(response).replace(shown, ""))
    assert _unchanged(kwd_deal, Decimal("1.5"), "KWD")


def test_the_deal_page_reads_the_value_in_the_currency_posted_with_it(
    client, alice, yen_deal
):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[yen_deal.pk]),
        {"version": 1, "title": yen_deal.title, "value": "12.345", "currency": "bhd"},
    )

    assert response.status_code == 422
    assert "12.345 has 3 decimal places; Dealgate keeps BHD amounts with 2" in (
        text_of(response)
    )
    assert "12345" not in text_of(response)


def test_a_usd_value_like_1_234_still_asks_which_was_meant(client, alice, pipeline):
    deal = make_deal(pipeline, "discovery", value=Decimal(5), currency="USD")
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": 1, "title": deal.title, "value": "1.234"},
    )

    assert response.status_code == 422
    assert "if it means 1234, write 1234" in text_of(response)


def test_the_new_deal_page_reads_kwd_text_as_dinars_and_fils(client, alice, pipeline):
    client.force_login(alice)

    response = client.post(
        f"{reverse('deal-new')}?pipeline={pipeline.key}",
        {
            "title": "Kuwait office",
            "value": "1.234",
            "currency": "kwd",
            "owner": "alice",
            "stage": "inquiry",
        },
    )

    assert response.status_code == 422
    assert f"Value: {KWD_REFUSED}" in text_of(response)
    assert _no_thousands_reading(text_of(response).replace("1.234", ""))
    assert not Deal.objects.exists()


def test_a_kwd_value_in_text_is_read_as_written_by_the_api(client, alice, kwd_deal):
    client.force_login(alice)

    edited = _patch(client, kwd_deal, value="1.234")
    stored_currency = _patch(client, kwd_deal, value="12.345", currency="USD")
    created = client.post(
        "/api/v1/deals",
        {"pipeline": "new-business", "title": "K", "value": "1.234", "currency": "KWD"},
        content_type="application/json",
    )
    taken = _patch(client, kwd_deal, value="1.230")

    for response in (edited, created):
        assert response.status_code == 422
        assert (response.json()["field"], response.json()["message"]) == (
            "value",
            f"value {KWD_REFUSED}",
        )
    # In USD the same shape still reads two ways, and says so.
    assert stored_currency.status_code == 422
    assert "if it means 12345" in stored_currency.json()["message"]
    assert taken.status_code == 200, taken.content
    kwd_deal.refresh_from_db()
    assert kwd_deal.value == Decimal("1.23")


def test_a_kwd_lead_value_in_text_is_read_as_written(client, alice, pipeline, olivia):
    secret = create_token(olivia, "website", scope="leads")[1]
    pipeline.currency = "KWD"
    pipeline.save()
    client.force_login(alice)

    by_api = client.post(
        "/api/v1/leads",
        json.dumps({"email": "a@example.com", "value": "1.234", "currency": "KWD"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    by_form = client.post(
        "/leads/new/",
        {"pipeline": pipeline.key, "email": "b@example.com", "value": "12.345"},
    )

    assert by_api.status_code == 422
    assert (by_api.json()["field"], by_api.json()["message"]) == (
        "value",
        f"value {KWD_REFUSED}",
    )
    assert by_form.status_code == 422
    assert "12.345 has 3 decimal places; Dealgate keeps KWD amounts with 2" in (
        text_of(by_form)
    )
    assert "12345" not in text_of(by_form)
    assert not Lead.objects.exists()


def test_a_deal_import_row_in_kwd_is_refused_naming_kwd(tmp_path, db):
    sales = make_import_pipeline()
    path = write_csv(
        tmp_path,
        "Id,Deal,Amount,Cur\nD1,Kuwait office,1.234,KWD\nD2,Manama office,5.120,BHD\n",
    )

    report = import_deals(
        path, write_mapping(tmp_path, MAPPING), pipeline=sales, all_or_nothing=False
    )

    assert [str(bad) for bad in report.bad_rows] == [
        f"line 2: Amount: '1.234'{KWD_REFUSED.removeprefix('1.234')}"
    ]
    assert list(Deal.objects.values_list("external_id", "value", "currency")) == [
        ("D2", Decimal("5.12"), "BHD")
    ]
