"""POST /api/v1/leads with a per-user token, and the lead read and actions.
The tokens here have the scope `leads`, which is told what became of a lead
(tests/api/test_capture_scope_api.py: one that only captures is not)."""

from __future__ import annotations

import json

import pytest

from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.tokens import create_token, revoke_token

from .conftest import inquiry

URL = "/api/v1/leads"


@pytest.fixture
def secret(olivia) -> str:
    return create_token(olivia, "crm", scope="leads")[1]


def post(client, data, secret=None, **extra):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(
        URL, body, content_type="application/json", headers=headers, **extra
    )


def test_a_token_captures_a_lead_and_says_why_it_went_where(
    client, routed, secret, now
):
    response = post(client, inquiry(), secret)

    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "created"
    assert body["lead"]["owner"] == "alice"
    assert body["lead"]["rule"] == "DACH"
    assert 'rule "DACH"' in body["reason"]
    assert body["lead"]["channel"] == "api"
    assert Lead.objects.get().created_by.username == "olivia"
    assert ApiToken.objects.get().last_used_at == now


def test_a_repeat_is_answered_200_with_what_it_joined(client, routed, secret, now):
    first = post(client, inquiry(), secret).json()
    response = post(client, inquiry(message="me again"), secret)

    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "attached"
    assert body["attached_to_lead"] == first["lead"]["id"]
    assert body["reason"] == "same email address"


def test_two_people_at_a_national_mailbox_provider_are_two_leads(
    client, routed, secret, now
):
    ida = post(client, inquiry(1, email="ida@hotmail.de", company=None), secret)
    jan = post(client, inquiry(2, email="jan@hotmail.de", company=None), secret)

    assert (ida.status_code, jan.status_code) == (201, 201)
    assert jan.json()["outcome"] == "created"
    assert jan.json()["lead"]["domain"] == ""


@pytest.mark.parametrize("header", [None, "Bearer dg_wrong", "Bearer not-a-token"])
def test_no_or_a_wrong_token_is_401(client, routed, header, now):
    headers = {"Authorization": header} if header else {}
    response = client.post(
        URL, json.dumps(inquiry()), content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert not Lead.objects.exists()


def test_a_revoked_token_stops_working(client, routed, olivia, now):
    token, secret = create_token(olivia, "old site")
    revoke_token(token.pk)
    assert post(client, inquiry(), secret).status_code == 401


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "No contact"}, "email"),
        (inquiry(email="anna@"), "email"),
        (inquiry(company_size=-3), "company_size"),
        (inquiry(message="x" * 5001), "message"),
        (inquiry(country=["DE"]), "country"),
        ("[1, 2]", "body"),
        ("{not json", "body"),
        ('{"email": "a@b.example", "name": "\\udc00"}', "body"),
        ('{"email": "a@b.example", "name": ' + "[" * 20000 + "]" * 20000 + "}", "body"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, routed, secret, data, field, now):
    response = post(client, data, secret)

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field
    assert body["code"] == "invalid"


def test_an_oversized_body_is_refused_before_it_is_read(client, routed, secret, now):
    response = post(client, inquiry(message="x" * 70_000), secret)

    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert "limit is 65,536" in response.json()["message"]


def test_markup_comes_back_as_plain_json_text(client, routed, secret, now):
    response = post(client, inquiry(name="<img src=x onerror=alert(1)>"), secret)

    assert response["Content-Type"].startswith("application/json")
    assert response.json()["lead"]["name"] == "<img src=x onerror=alert(1)>"


def test_activities_and_conversion_through_the_api(client, routed, alice, now):
    lead_id = post(
        client, inquiry(), create_token(alice, "mail", scope="leads")[1]
    ).json()["lead"]["id"]
    client.force_login(alice)

    answered = client.post(
        f"{URL}/{lead_id}/activities",
        {"kind": "email", "subject": "Hello"},
        content_type="application/json",
    )
    assert answered.status_code == 200
    assert answered.json()["status"] == "answered"
    assert answered.json()["response_business_minutes"] == 0

    converted = client.post(f"{URL}/{lead_id}/convert")
    assert converted.status_code == 200 and converted.json()["deal"] is not None


def test_the_lead_endpoint_is_in_the_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/leads"]["post"]
    assert (
        "email"
        in operation["requestBody"]["content"]["application/json"]["schema"][
            "properties"
        ]
    )
