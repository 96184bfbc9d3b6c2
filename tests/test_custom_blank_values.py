"""A custom text that holds nothing visible is "not set" at every door.

`PATCH {"custom": {"need": ""}}` once stored "" and `deal.custom.need != null`
then held, so a blank answer passed a gate; the deal page removed the key.
Every door now reads "", "   " and invisible-only text as not set, by one
function (`core.custom_fields.is_unset`).
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from dealgate.core.custom_fields import CustomField, is_unset
from dealgate.deals import services
from dealgate.deals.models import Deal
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping
from tests.web.helpers import make_deal, text_of

BLANK = ["", "   ", "\u200b", "\u2800 \u3164"]
NEED = {"label": "Need named", "rule": "deal.custom.need != null"}


@pytest.fixture
def gated(pipeline):
    pipeline.custom_fields = [
        {"key": "need", "label": "Need", "type": "text"},
        {"key": "seats", "label": "Seats", "type": "number"},
    ]
    pipeline.save()
    inquiry = pipeline.stages.get(key="inquiry")
    inquiry.exit_criteria = [NEED]
    inquiry.save()
    return pipeline


@pytest.fixture
def deal(gated, alice, now):
    deal = make_deal(gated, "inquiry", owner=alice)
    Deal.objects.filter(pk=deal.pk).update(custom={"need": "Two sites"})
    deal.refresh_from_db()
    return deal


def unmet(deal: Deal, now) -> list[str]:
    check = services.check_move(deal, "discovery", now=now)
    return [label for _, _, found in check.evaluations for label in found.unmet_labels]


@pytest.mark.parametrize("value", [None, *BLANK])
def test_none_and_blank_text_are_unset(value):
    assert is_unset(value)


@pytest.mark.parametrize("value", ["a", " \u200bx", 0, False, []])
def test_anything_visible_or_not_text_is_set(value):
    assert not is_unset(value)


@pytest.mark.parametrize("kind", ["text", "number", "date", "bool", "choice"])
def test_every_field_type_reads_blank_text_as_unset(kind):
    field = CustomField("f", "F", kind, ("a", "b"))

    assert field.checked("\u200b") is None
    assert field.from_text(" \u2800 ") is None


@pytest.mark.parametrize("value", BLANK)
def test_an_api_edit_with_a_blank_text_removes_the_value(
    client, alice, deal, now, value
):
    client.force_login(alice)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "custom": {"need": value}},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.custom == {}
    assert unmet(deal, now) == ["Need named"]


def test_a_blank_answer_passes_no_gate_through_the_api(client, alice, deal):
    client.force_login(alice)
    client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "custom": {"need": "   "}},
        content_type="application/json",
    )

    response = client.post(
        f"/api/v1/deals/{deal.pk}/move",
        {"to": "discovery", "version": 2},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "Need named" in response.json()["message"]


def test_a_new_deal_keeps_no_blank_values(client, alice, gated, now):
    client.force_login(alice)

    response = client.post(
        "/api/v1/deals",
        {
            "pipeline": "new-business",
            "title": "Helpdesk",
            "custom": {"need": "\u200b", "seats": ""},
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert Deal.objects.get().custom == {}


def test_the_deal_page_removes_an_invisible_value_as_an_empty_one(client, alice, deal):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": 1, "title": "Helpdesk", "custom:need": "\u2800"},
    )

    assert response.status_code == 302, text_of(response)
    deal.refresh_from_db()
    assert deal.custom == {}


def test_a_blank_value_stored_before_reads_as_unset_to_rules(deal, now):
    Deal.objects.filter(pk=deal.pk).update(custom={"need": " \u200b"})
    deal.refresh_from_db()

    assert unmet(deal, now) == ["Need named"]


def test_the_migration_removes_stored_blank_values(deal):
    Deal.objects.filter(pk=deal.pk).update(
        custom={"need": "", "seats": 3, "old": "\u3164", "kept": "HX-7"}
    )
    migration = import_module(
        "dealgate.deals.migrations.0012_blank_custom_values_unset"
    )

    migration.drop_blank_values(apps, connection.schema_editor())

    deal.refresh_from_db()
    assert deal.custom == {"seats": 3, "kept": "HX-7"}


def test_an_import_stores_no_blank_custom_text(tmp_path, db):
    sales = make_import_pipeline()
    sales.custom_fields = [{"key": "need", "label": "Need", "type": "text"}]
    sales.save()
    mapping = write_mapping(
        tmp_path,
        'source = "crm"\n[columns]\nexternal_id = "Id"\ntitle = "Deal"\n'
        'stage = "Stage"\n[custom]\nneed = "Need"\n[stages]\nOpen = "prospecting"\n',
    )
    path = write_csv(tmp_path, "Id,Deal,Stage,Need\nD1,Orbit,Open,\u200b\u2800\n")

    report = import_deals(path, mapping, pipeline=sales, all_or_nothing=False)

    assert not report.bad_rows
    assert Deal.objects.get().custom == {}
