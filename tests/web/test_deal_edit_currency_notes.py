"""The deal page's edit form changes a deal's currency and notes, as the
README says /admin/ does "only as the deal page does": through
update_deal, with the currency's decimals (core/currencies.py)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal
from tests.web.helpers import make_deal


@pytest.fixture
def deal(pipeline, alice):
    deal = make_deal(pipeline, "discovery", owner=alice, title="Helpdesk", value=1000)
    Deal.objects.filter(pk=deal.pk).update(
        value=Decimal("1000.50"), notes="Met at the fair.\nWants a pilot."
    )
    return Deal.objects.get(pk=deal.pk)


def _form_as_sent(page: str) -> dict[str, str]:
    """What a browser sends for the edit form as it stands (a text area's
    lines come back with CR LF)."""
    start = page.index('/edit/"')
    form = page[start : page.index("</form>", start)]
    sent = {}
    for name, value in re.findall(r'<input name="([^"]+)"[^>]*?value="([^"]*)"', form):
        sent[name] = html.unescape(value)
    for name, text in re.findall(
        r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S
    ):
        sent[name] = html.unescape(text).replace("\n", "\r\n")
    for name, options in re.findall(
        r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        sent[name] = html.unescape(chosen.group(1)) if chosen else ""
    sent["version"] = re.search(r'name="version" value="(\d+)"', form).group(1)
    return sent


def _edit(client, deal, **changes):
    page = client.get(reverse("deal", args=[deal.pk])).content.decode()
    sent = _form_as_sent(page) | changes
    return client.post(reverse("deal-edit", args=[deal.pk]), sent)


def test_the_edit_form_shows_the_currency_and_the_notes(client, alice, deal):
    client.force_login(alice)

    sent = _form_as_sent(client.get(reverse("deal", args=[deal.pk])).content.decode())

    assert sent["currency"] == "USD"
    assert sent["notes"] == "Met at the fair.\r\nWants a pilot."


def test_notes_are_changed_on_the_deal_page(client, alice, deal):
    client.force_login(alice)

    response = _edit(client, deal, notes="Met at the fair.\r\nPilot agreed.")

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.notes, deal.version) == ("Met at the fair.\r\nPilot agreed.", 2)


def test_an_unrelated_save_leaves_the_notes_and_the_version_alone(client, alice, deal):
    client.force_login(alice)

    response = _edit(client, deal)

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.notes, deal.version) == ("Met at the fair.\nWants a pilot.", 1)


def test_the_currency_is_changed_on_the_deal_page(client, alice, deal):
    client.force_login(alice)

    response = _edit(client, deal, currency="eur")

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.currency, deal.value, deal.version) == ("EUR", Decimal("1000.50"), 2)


def test_a_currency_without_the_values_decimals_is_refused_at_the_value(
    client, alice, deal
):
    client.force_login(alice)

    response = _edit(client, deal, currency="JPY")

    assert response.status_code == 422
    page = response.content.decode()
    assert '<p class="field-error" role="alert">Value (JPY): 1000.50 has 2' in page
    assert "JPY" in page
    deal.refresh_from_db()
    assert (deal.currency, deal.version) == ("USD", 1)


def test_a_whole_value_moves_to_a_currency_without_decimals(client, alice, deal):
    client.force_login(alice)

    response = _edit(client, deal, currency="JPY", value="150000")

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.currency, deal.value) == ("JPY", Decimal("150000"))


@pytest.mark.parametrize("code", ["XYZ", ""])
def test_an_unknown_or_empty_currency_is_shown_at_its_input(client, alice, deal, code):
    client.force_login(alice)

    response = _edit(client, deal, currency=code)

    assert response.status_code == 422
    assert '<p class="field-error" role="alert">Currency (ISO 4217, e.g. EUR): ' in (
        response.content.decode()
    )
    deal.refresh_from_db()
    assert (deal.currency, deal.version) == ("USD", 1)


def test_a_form_without_currency_or_notes_keeps_them(client, alice, deal):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": "Helpdesk 2027", "value": "1000.50"},
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.currency) == ("Helpdesk 2027", "USD")
    assert deal.notes == "Met at the fair.\nWants a pilot."
