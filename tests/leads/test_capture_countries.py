"""Every door that takes in a lead reads its country against ISO 3166-1:
a territory without phone numbering is kept, an unassigned code refused,
the error naming the field."""

from __future__ import annotations

import json

import pytest

from dealgate.leads.models import Lead
from dealgate.leads.tokens import create_token

from .conftest import inquiry


def post(client, olivia, data):
    secret = create_token(olivia, "crm", scope="leads")[1]
    return client.post(
        "/api/v1/leads",
        json.dumps(data),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


@pytest.mark.parametrize("code", ["AQ", "PN", "UM"])
def test_a_lead_from_a_territory_is_taken_in_with_its_code(
    client, routed, olivia, now, code
):
    response = post(client, olivia, inquiry(country=code.lower()))

    assert response.status_code == 201
    assert Lead.objects.get().country == code


def test_a_lead_with_an_unassigned_code_is_refused_naming_the_country(
    client, routed, olivia, now
):
    response = post(client, olivia, inquiry(country="XK"))

    assert response.status_code == 422
    assert "country must be a two-letter ISO 3166 code" in response.content.decode()
    assert not Lead.objects.exists()
