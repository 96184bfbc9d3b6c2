"""A custom value the pipeline no longer takes (a choice it dropped, a number
in what became a choice field) is shown on the deal page's edit form, marked
as no longer offered, and kept when an unrelated edit is saved: the select
showed "not set" and saving the title deleted the value without a word."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal
from tests.web.helpers import make_deal

FIELDS = [
    {"key": "engagement", "label": "Engagement", "type": "choice",
     "choices": ["Project", "Retainer"]},
    {"key": "seats", "label": "Seats", "type": "number"},
    {"key": "start", "label": "Start", "type": "text"},
]  # fmt: skip


@pytest.fixture
def deal(pipeline, alice):
    pipeline.custom_fields = FIELDS
    pipeline.save()
    deal = make_deal(pipeline, "discovery", owner=alice, title="Helpdesk")
    Deal.objects.filter(pk=deal.pk).update(
        custom={"engagement": "Retainer", "seats": 12, "start": "soon"}
    )
    return Deal.objects.get(pk=deal.pk)


def _redefine(pipeline, **types) -> None:
    """The pipeline as a later `pipeline apply` left it."""
    fields = []
    for field in FIELDS:
        kind, *choices = types.get(field["key"], (field["type"],))
        fields.append({**field, "type": kind, "choices": choices})
    pipeline.custom_fields = fields
    pipeline.save()


def _form_as_sent(page: str) -> dict[str, str]:
    """What a browser sends for the edit form as it stands: each input's
    value and each select's selected option."""
    start = page.index('/edit/"')
    form = page[start : page.index("</form>", start)]
    sent = {}
    for name, value in re.findall(r'<input name="([^"]+)"[^>]*?value="([^"]*)"', form):
        sent[name] = html.unescape(value)
    for name, options in re.findall(
        r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        sent[name] = html.unescape(chosen.group(1)) if chosen else ""
    sent["version"] = re.search(r'name="version" value="(\d+)"', form).group(1)
    return sent


def _page(client, deal) -> str:
    return client.get(reverse("deal", args=[deal.pk])).content.decode()


def test_a_dropped_choice_is_offered_marked_and_selected(client, alice, deal):
    _redefine(deal.pipeline, engagement=("choice", "Project", "Support"))
    client.force_login(alice)

    page = _page(client, deal)

    assert (
        '<option value="Retainer" selected>Retainer (no longer offered)</option>'
        in page
    )
    assert "Engagement holds Retainer, which the pipeline no longer allows here" in page


def test_saving_an_unrelated_edit_keeps_a_dropped_choice(client, alice, deal):
    _redefine(deal.pipeline, engagement=("choice", "Project", "Support"))
    client.force_login(alice)
    sent = _form_as_sent(_page(client, deal)) | {"title": "Helpdesk 2027"}

    response = client.post(reverse("deal-edit", args=[deal.pk]), sent)

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.title == "Helpdesk 2027"
    assert deal.custom == {"engagement": "Retainer", "seats": 12, "start": "soon"}


def test_a_number_in_what_became_a_choice_field_is_kept_as_a_number(
    client, alice, deal
):
    _redefine(deal.pipeline, seats=("choice", "small", "large"))
    client.force_login(alice)
    page = _page(client, deal)
    sent = _form_as_sent(page) | {"title": "Helpdesk 2027"}

    response = client.post(reverse("deal-edit", args=[deal.pk]), sent)

    assert '<option value="12" selected>12 (no longer offered)</option>' in page
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.custom["seats"]) == ("Helpdesk 2027", 12)


@pytest.mark.parametrize(
    "kind", [("date",), ("bool",), ("number",)], ids=["date", "bool", "number"]
)
def test_text_in_a_field_of_another_kind_is_kept_on_an_unrelated_save(
    client, alice, deal, kind
):
    _redefine(deal.pipeline, start=kind)
    client.force_login(alice)
    page = _page(client, deal)
    sent = _form_as_sent(page) | {"title": "Helpdesk 2027"}

    response = client.post(reverse("deal-edit", args=[deal.pk]), sent)

    # A date input cannot show "soon", and would send it back empty.
    start = page.index('name="custom:start"')
    assert 'type="date"' not in page[start : page.index(">", start)]
    assert sent["custom:start"] == "soon"
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.custom["start"] == "soon"


def test_picking_another_choice_or_none_replaces_the_kept_value(client, alice, deal):
    _redefine(deal.pipeline, engagement=("choice", "Project", "Support"))
    client.force_login(alice)
    sent = _form_as_sent(_page(client, deal))

    client.post(
        reverse("deal-edit", args=[deal.pk]), sent | {"custom:engagement": "Support"}
    )
    deal.refresh_from_db()
    assert deal.custom["engagement"] == "Support"

    sent = _form_as_sent(_page(client, deal))
    client.post(reverse("deal-edit", args=[deal.pk]), sent | {"custom:engagement": ""})
    deal.refresh_from_db()
    assert "engagement" not in deal.custom


def test_a_value_the_field_still_takes_is_not_marked(client, alice, deal):
    client.force_login(alice)

    page = _page(client, deal)

    assert "no longer offered" not in page
