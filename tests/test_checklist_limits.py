"""A deal's checklist holds few items with short one-line keys, refused
naming the checklist and the limit at every door that adds one (the API, the
deal page's edit form); items a deal already holds are kept, so no edit
fails on them.

A key of 200,000 characters, one with a bell or an escape character, and
50,000 keys were all taken: the last made the deal page 7.9 MB."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal
from dealgate.deals.services import (
    CHECKLIST_KEY_LIMIT,
    MOST_CHECKLIST_ITEMS,
    update_deal,
)
from dealgate.errors import ValidationError
from tests.web.helpers import make_deal, text_of

KEYS = MOST_CHECKLIST_ITEMS
LONG = CHECKLIST_KEY_LIMIT


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "discovery", owner=alice)


def _patch(client, deal, checklist, version=1):
    return client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": version, "checklist": checklist},
        content_type="application/json",
    )


def _stored(deal):
    deal.refresh_from_db()
    return deal.checklist, deal.version


@pytest.mark.parametrize(
    "checklist, message",
    [
        (
            {"k" * 200_000: True},
            f"checklist key '{'k' * 39}…' is 200,000 characters long; the limit "
            f"is {LONG}",
        ),
        (
            {"budget\x07": True},
            "checklist key 'budget\\x07' must be one line, without line breaks or "
            "control characters",
        ),
        (
            {"\x1b[31mbudget": True},
            "checklist key '\\x1b[31mbudget' must be one line, without line breaks "
            "or control characters",
        ),
        (
            {"nda\nsigned": True},
            "checklist key 'nda\\nsigned' must be one line, without line breaks "
            "or control characters",
        ),
        ({"  ": True}, "checklist: an item needs a key, such as nda_signed"),
        (
            {f"item_{n}": True for n in range(50_000)},
            f"checklist would hold 50,000 items; the limit is {KEYS}",
        ),
    ],
)
def test_the_api_refuses_a_checklist_key_or_count_past_the_rules(
    client, alice, deal, checklist, message
):
    client.force_login(alice)

    response = _patch(client, deal, checklist)

    assert response.status_code == 422
    assert response.json()["field"] == "checklist"
    assert response.json()["message"] == message
    assert _stored(deal) == ({}, 1)


def test_a_checklist_at_its_limits_is_kept_whole(client, alice, deal):
    checklist = {f"{n:03}".ljust(LONG, "k"): n % 2 == 0 for n in range(KEYS)}
    client.force_login(alice)

    response = _patch(client, deal, checklist)

    assert response.status_code == 200
    assert _stored(deal) == (checklist, 2)


def test_a_full_checklist_takes_a_new_item_only_for_one_it_drops(client, alice, deal):
    full = {f"item_{n}": False for n in range(KEYS)}
    Deal.objects.filter(pk=deal.pk).update(checklist=full)
    client.force_login(alice)

    refused = _patch(client, deal, {"one_more": True})
    swapped = _patch(client, deal, {"one_more": True, "item_0": None})

    assert refused.json()["message"] == (
        f"checklist would hold {KEYS + 1} items; the limit is {KEYS}"
    )
    assert swapped.status_code == 200
    checklist, version = _stored(deal)
    assert (len(checklist), checklist["one_more"], version) == (KEYS, True, 2)


def test_items_stored_before_the_limits_are_kept_and_may_be_removed(
    client, alice, deal
):
    # What the API took before: too many items, and one key with a bell.
    old = {f"item_{n}": False for n in range(KEYS + 50)} | {"bell\x07": True}
    Deal.objects.filter(pk=deal.pk).update(checklist=old)
    client.force_login(alice)

    ticked = _patch(client, deal, {"item_1": True})
    cleaned = _patch(client, deal, {"bell\x07": None, "item_2": None}, version=2)

    assert (ticked.status_code, cleaned.status_code) == (200, 200)
    checklist, version = _stored(deal)
    assert (len(checklist), checklist["item_1"], version) == (KEYS + 49, True, 3)


def test_the_deal_page_saves_an_edit_of_a_deal_holding_such_items(client, alice, deal):
    old = {f"item_{n}": False for n in range(KEYS + 1)} | {"bell\x07": True}
    Deal.objects.filter(pk=deal.pk).update(checklist=old)
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {
            "version": 1,
            "title": "Renamed",
            "value": "1000.00",
            "checklist:item_3": "on",
        },
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.checklist["item_3"], len(deal.checklist)) == (
        "Renamed",
        True,
        KEYS + 2,
    )


def test_the_deal_page_shows_the_refusal_of_an_item_it_would_add(
    client, alice, deal, pipeline
):
    # A pipeline file may name any key in a rule; the form offers it.
    key = "x" * (LONG + 1)
    pipeline.won_criteria = [{"label": "Signed", "rule": f'checklist["{key}"]'}]
    pipeline.save()
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": 1, "title": deal.title, "value": "1000.00"},
    )

    assert response.status_code == 422
    assert f"is {LONG + 1} characters long; the limit is {LONG}" in text_of(response)
    assert _stored(deal) == ({}, 1)


def test_the_service_refuses_for_every_caller(deal, alice):
    with pytest.raises(ValidationError) as refused:
        update_deal(
            deal.pk, {"checklist": {"esc\x1b": True}}, by=alice, expected_version=1
        )

    assert refused.value.field == "checklist"


def test_the_api_schema_states_the_checklist_limits(client, alice):
    client.force_login(alice)
    schema = client.get("/api/v1/openapi.json").json()
    checklist = schema["components"]["schemas"]["DealPatch"]["properties"]["checklist"]

    assert checklist["maxProperties"] == KEYS
    assert checklist["propertyNames"] == {"maxLength": LONG}
