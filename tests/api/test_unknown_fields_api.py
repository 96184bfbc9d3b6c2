"""A key a body may not hold is refused (422 naming it), never dropped: a
deal activity's "body" was answered 201 and lost. The published schema
names each body as the endpoint reads it."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Activity
from dealgate.leads.models import Lead, LeadActivity
from tests.conftest import NOW
from tests.web.helpers import make_deal


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "discovery", owner=alice)


@pytest.fixture
def lead(pipeline, alice):
    return Lead.objects.create(
        pipeline=pipeline, email="a@example.com", owner=alice, created_at=NOW
    )


def _post(client, url, payload):
    return client.post(url, payload, content_type="application/json")


def test_a_deal_activity_with_unknown_keys_is_refused_naming_them(client, alice, deal):
    client.force_login(alice)
    body = {"kind": "note", "subject": "y", "body": "important text", "foo": 1}

    response = _post(client, f"/api/v1/deals/{deal.pk}/activities", body)

    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": "unknown fields body, foo",
        "field": "body",
    }
    assert not Activity.objects.exists()


def test_a_deal_activity_of_known_keys_is_still_logged(client, alice, deal):
    client.force_login(alice)
    body = {"kind": "note", "subject": "Budget call", "tag": "budget"}

    response = _post(client, f"/api/v1/deals/{deal.pk}/activities", body)

    assert response.status_code == 201
    assert Activity.objects.get().subject == "Budget call"


@pytest.mark.parametrize(
    "path, body, unknown",
    [
        ("activities", {"kind": "call", "subject": "Rang", "when": "now"}, "when"),
        ("disqualify", {"reason": "spam", "note": "twice"}, "note"),
    ],
)
def test_a_lead_action_with_an_unknown_key_is_refused_naming_it(
    client, alice, lead, path, body, unknown
):
    client.force_login(alice)

    response = _post(client, f"/api/v1/leads/{lead.pk}/{path}", body)

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (
        unknown,
        f"unknown field {unknown}",
    )
    lead.refresh_from_db()
    assert lead.is_open and not LeadActivity.objects.exists()


def test_the_schema_names_the_deal_and_the_lead_activity_apart(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    paths, schemas = schema["paths"], schema["components"]["schemas"]

    def body_of(path):
        content = paths[path]["post"]["requestBody"]["content"]
        return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    deal = body_of("/api/v1/deals/{deal_id}/activities")
    lead = body_of("/api/v1/leads/{lead_id}/activities")
    assert (deal, lead) == ("DealActivityIn", "LeadActivityIn")
    assert set(schemas[deal]["properties"]) == {"kind", "subject", "tag", "due_at"}
    assert set(schemas[lead]["properties"]) == {"kind", "subject", "body", "outbound"}
    assert schemas[deal]["additionalProperties"] is False
    assert schemas[lead]["additionalProperties"] is False
    assert "ActivityIn" not in schemas
