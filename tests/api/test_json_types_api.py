"""The API reads a body's types as JSON wrote them: a version or an id only
as a JSON integer (not "1", not true, not 1.0), a flag only as true or
false, and a key sent twice in one object is refused naming it rather than
read last-wins. An Idempotency-Key holds visible ASCII only, no space."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal
from dealgate.leads.models import Lead, LeadActivity
from tests.conftest import NOW
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "discovery", owner=alice, title="Backup")


def _send(client, method, url, body, **headers):
    return client.generic(
        method, url, body, content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("version", ['"1"', "true", "1.0", "null"])
def test_an_edit_takes_its_version_only_as_a_json_integer(client, alice, deal, version):
    client.force_login(alice)

    response = _send(
        client,
        "PATCH",
        f"/api/v1/deals/{deal.pk}",
        f'{{"version": {version}, "title": "Renamed"}}',
    )

    assert response.status_code == 422
    assert response.json()["field"] == "version"
    assert "must be a JSON integer" in response.json()["message"]
    assert Deal.objects.get(pk=deal.pk).title == "Backup"


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("move", '{"to": "proposal", "version": "1"}', "version"),
        ("move", '{"to": "proposal", "version": true}', "version"),
    ],
)
def test_a_move_takes_its_version_only_as_a_json_integer(
    client, alice, deal, path, body, field
):
    client.force_login(alice)

    response = _send(client, "POST", f"/api/v1/deals/{deal.pk}/{path}", body)

    assert (response.status_code, response.json()["field"]) == (422, field)
    assert Deal.objects.get(pk=deal.pk).stage.key == "discovery"


@pytest.mark.parametrize(
    "item", ['{"id": true, "version": 1}', '{"id": 1, "version": "1"}']
)
def test_a_bulk_move_takes_ids_and_versions_only_as_json_integers(
    client, alice, deal, item
):
    client.force_login(alice)
    item = item.replace('"id": 1', f'"id": {deal.pk}')

    response = _send(
        client,
        "POST",
        "/api/v1/deals/bulk-move",
        f'{{"deals": [{item}], "to": "proposal"}}',
    )

    assert response.status_code == 422
    assert response.json()["field"].startswith("deals.0.")
    assert Deal.objects.get(pk=deal.pk).stage.key == "discovery"


@pytest.mark.parametrize("done", ["1", '"true"', '"yes"'])
def test_a_checklist_item_is_only_true_false_or_null(client, alice, deal, done):
    client.force_login(alice)

    response = _send(
        client,
        "PATCH",
        f"/api/v1/deals/{deal.pk}",
        f'{{"version": 1, "checklist": {{"nda": {done}}}}}',
    )

    assert response.status_code == 422
    assert response.json()["field"] == "checklist.nda"
    assert "must be true or false" in response.json()["message"]
    assert Deal.objects.get(pk=deal.pk).checklist == {}


def test_a_lead_activitys_outbound_is_only_true_or_false(client, alice, pipeline):
    lead = Lead.objects.create(
        pipeline=pipeline, email="a@example.com", owner=alice, created_at=NOW
    )
    client.force_login(alice)

    response = _send(
        client,
        "POST",
        f"/api/v1/leads/{lead.pk}/activities",
        '{"kind": "call", "outbound": "no"}',
    )

    assert (response.status_code, response.json()["field"]) == (422, "outbound")
    assert not LeadActivity.objects.filter(lead=lead).exists()


def test_a_key_sent_twice_is_refused_naming_it(client, alice, deal):
    client.force_login(alice)

    response = _send(
        client,
        "PATCH",
        f"/api/v1/deals/{deal.pk}",
        '{"version": 1, "title": "First", "title": "Second"}',
    )

    assert response.status_code == 422
    assert response.json()["field"] == "title"
    assert "sent twice" in response.json()["message"]
    assert Deal.objects.get(pk=deal.pk).title == "Backup"


def test_a_key_sent_twice_in_a_nested_object_is_refused_too(client, alice, deal):
    client.force_login(alice)

    response = _send(
        client,
        "PATCH",
        f"/api/v1/deals/{deal.pk}",
        '{"version": 1, "checklist": {"nda": true, "nda": false}}',
    )

    assert (response.status_code, response.json()["field"]) == (422, "nda")


def test_a_lead_capture_refuses_a_key_sent_twice(client, alice, pipeline):
    client.force_login(alice)

    response = _send(
        client,
        "POST",
        "/api/v1/leads",
        '{"email": "a@example.com", "email": "b@example.com"}',
    )

    assert (response.status_code, response.json()["field"]) == (422, "email")
    assert not Lead.objects.exists()


def test_an_idempotency_key_with_a_space_is_refused_naming_the_header(
    client, alice, pipeline
):
    client.force_login(alice)

    response = _send(
        client,
        "POST",
        "/api/v1/deals",
        '{"pipeline": "new-business", "title": "Backup"}',
        **{"Idempotency-Key": "a b"},
    )

    assert (response.status_code, response.json()["field"]) == (422, "Idempotency-Key")
    assert not Deal.objects.exists()


@pytest.mark.parametrize("when", ["0", "1700000000", "true"])
def test_a_close_date_is_text_never_seconds_since_1970(client, alice, deal, when):
    client.force_login(alice)

    response = _send(
        client,
        "PATCH",
        f"/api/v1/deals/{deal.pk}",
        f'{{"version": 1, "expected_close_date": {when}}}',
    )

    assert (response.status_code, response.json()["field"]) == (
        422,
        "expected_close_date",
    )
    assert "must be ISO 8601 text" in response.json()["message"]
    assert Deal.objects.get(pk=deal.pk).expected_close_date is None


def test_a_tasks_due_time_is_text_never_seconds_since_1970(client, alice, deal):
    client.force_login(alice)

    response = _send(
        client,
        "POST",
        f"/api/v1/deals/{deal.pk}/activities",
        '{"kind": "task", "subject": "Call back", "due_at": 1790000000}',
    )

    assert (response.status_code, response.json()["field"]) == (422, "due_at")
    assert not deal.activities.exists()
