"""The deal forms' optional inputs (value, expected close date, owner) may be
left empty for none, but text typed into one must hold something visible:
spaces alone are refused as a zero-width space is, naming the code points,
never trimmed to empty and read as "clear it" (`core.text.optional_problem`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal

from .helpers import make_deal, text_of

NEW = reverse("deal-new")
SPACES = "holds no visible characters (U+0020, U+0020, U+0020)"
HINT = "leave it empty for none"
CLOSE = dt.date(2026, 9, 30)


@pytest.fixture
def deal(pipeline, alice):
    made = make_deal(pipeline, "discovery", value=Decimal(100), owner=alice)
    Deal.objects.filter(pk=made.pk).update(expected_close_date=CLOSE)
    made.refresh_from_db()
    return made


def _edit(client, deal: Deal, **typed: str):
    return client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": deal.title, **typed},
    )


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("value", "Value (USD)"),
        ("expected_close_date", "Expected close date"),
        ("owner", "Owner"),
    ],
)
def test_spaces_alone_are_refused_and_the_stored_value_kept(
    client, alice, deal, name, label
):
    client.force_login(alice)

    response = _edit(client, deal, **{name: "   "})

    assert response.status_code == 422
    shown = f"{label}: {SPACES}; {HINT}".replace("'", "&#x27;")
    assert shown in response.content.decode()
    deal.refresh_from_db()
    assert (deal.value, deal.expected_close_date, deal.owner) == (100, CLOSE, alice)
    assert deal.version == 1


@pytest.mark.parametrize("name", ["value", "expected_close_date"])
@pytest.mark.parametrize("typed", ["\u200b", " \u00a0\u2800 "])
def test_invisible_text_is_refused_as_spaces_are(client, alice, deal, name, typed):
    client.force_login(alice)

    response = _edit(client, deal, **{name: typed})

    assert response.status_code == 422
    assert "holds no visible characters (U+" in text_of(response)
    assert f"; {HINT}" in text_of(response)
    deal.refresh_from_db()
    assert (deal.value, deal.expected_close_date) == (100, CLOSE)


def test_left_empty_the_value_and_the_date_are_cleared(client, alice, deal):
    client.force_login(alice)

    response = _edit(client, deal, value="", expected_close_date="")

    assert response.status_code == 302, text_of(response)
    deal.refresh_from_db()
    assert (deal.value, deal.expected_close_date) == (None, None)


def test_a_value_typed_with_spaces_around_it_is_read(client, alice, deal):
    client.force_login(alice)

    response = _edit(client, deal, value="  250 ", expected_close_date=" 2026-10-01")

    assert response.status_code == 302, text_of(response)
    deal.refresh_from_db()
    assert (deal.value, deal.expected_close_date) == (250, dt.date(2026, 10, 1))


def test_the_new_deal_form_refuses_a_value_of_spaces_alone(client, alice, pipeline):
    client.force_login(alice)

    response = client.post(
        f"{NEW}?pipeline=new-business",
        {"title": "Backup", "value": "   ", "currency": "USD", "owner": "alice"},
    )

    assert response.status_code == 422
    shown = f"Value: {SPACES}; {HINT}".replace("'", "&#x27;")
    assert shown in response.content.decode()
    assert not Deal.objects.exists()
