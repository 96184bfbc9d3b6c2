"""The leads API reads a body as JSON typed it, as the deals API does: a
text field is a JSON string (5 is refused, not stored as "5"), an edit's
company_size a JSON integer ("3" is refused), a value a JSON number or
text written as a number. A capture takes a size as text, as a website's
form hands on what its visitor typed; the web form and a CSV import, which
hold text only, read it as ever."""

from __future__ import annotations

import json

import pytest

from dealgate.leads.edits import edit_lead
from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import create_token
from dealgate.leads.versions import lead_version

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(routed, alice, now) -> Lead:
    return capture_lead(inquiry(1, company=None), source="form").lead


@pytest.fixture
def secret(alice) -> str:
    return create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]


def _send(client, method: str, url: str, body: dict, secret: str):
    return client.generic(
        method,
        url,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


@pytest.mark.parametrize(
    ("sent", "field", "says"),
    [
        ({"name": 5}, "name", "name must be a JSON string, got 5"),
        ({"company": 1.5}, "company", "company must be a JSON string, got 1.5"),
        ({"segment": True}, "segment", "segment must be a JSON string, got true"),
        ({"country": ["DE"]}, "country", 'got ["DE"]'),
        ({"company_size": "3"}, "company_size", 'JSON integer such as 40, got "3"'),
        ({"company_size": 3.0}, "company_size", "got 3.0"),
        ({"company_size": True}, "company_size", "got true"),
        ({"value": True}, "value", "value must be a JSON number or text"),
        ({"value": {"amount": 5}}, "value", "value must be a JSON number or text"),
    ],
)
def test_a_patch_refuses_a_field_of_another_json_type_naming_it(
    client, lead, secret, sent, field, says
):
    body = {"version": lead_version(lead), **sent}

    response = _send(client, "PATCH", f"/api/v1/leads/{lead.pk}", body, secret)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert says in response.json()["message"]
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.name, stored.company_size, stored.value) == ("Person 1", None, None)


def test_a_patch_takes_the_json_types_its_get_answers(client, lead, secret):
    body = {
        "version": lead_version(lead),
        "name": "Anna",
        "company_size": 40,
        "value": "1,250.50",
        "segment": None,
    }

    response = _send(client, "PATCH", f"/api/v1/leads/{lead.pk}", body, secret)

    assert response.status_code == 200
    answer = response.json()
    assert (answer["name"], answer["company_size"], answer["value"]) == (
        "Anna",
        40,
        "1250.50",
    )


def test_a_patch_by_someone_without_the_right_is_refused_before_its_types(
    client, lead, bob
):
    secret = create_token(bob, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    body = {"version": lead_version(lead), "name": 5}

    response = _send(client, "PATCH", f"/api/v1/leads/{lead.pk}", body, secret)

    assert response.status_code == 403


def test_a_capture_refuses_a_number_for_a_text_field(client, routed, secret, now):
    response = _send(client, "POST", "/api/v1/leads", inquiry(2, name=5), secret)

    assert response.status_code == 422
    assert response.json()["field"] == "name"
    assert not Lead.objects.filter(email="person2@company2.example").exists()


def test_a_capture_reads_a_size_typed_as_text_as_a_form_would(
    client, routed, secret, now
):
    sent = inquiry(2, company_size="1,200")

    response = _send(client, "POST", "/api/v1/leads", sent, secret)

    assert response.status_code == 201
    assert response.json()["lead"]["company_size"] == 1200


def test_the_service_reads_the_text_a_form_or_a_file_hands_it(lead, alice):
    edit_lead(
        lead.pk,
        {"company_size": "45", "value": "12000", "name": "Anna"},
        by=alice,
        version=lead_version(lead),
    )

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.company_size, stored.name) == (45, "Anna")
