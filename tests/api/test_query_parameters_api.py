"""A query parameter an endpoint does not read is refused (422 naming it),
as a body's unknown key is, never ignored: `/deals/13/history?limit=abc`,
before the history had pages, was answered 200 with the whole history. A
parameter sent twice is refused too; which was meant cannot be told."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal
from dealgate.leads.models import Lead
from tests.conftest import NOW
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "discovery", owner=alice)


@pytest.fixture
def lead(pipeline, alice):
    return Lead.objects.create(
        pipeline=pipeline, email="a@example.com", owner=alice, created_at=NOW
    )


def test_a_deal_read_with_an_unknown_parameter_is_refused_naming_it(
    client, alice, deal
):
    client.force_login(alice)

    response = client.get(f"/api/v1/deals/{deal.pk}?limit=abc")

    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": f"unknown query parameter limit: GET /api/v1/deals/{deal.pk} "
        "takes none",
        "field": "limit",
    }


def test_a_history_read_names_the_parameters_it_takes(client, alice, deal):
    client.force_login(alice)

    response = client.get(f"/api/v1/deals/{deal.pk}/history?page=2")

    assert response.status_code == 422
    assert response.json()["message"] == (
        f"unknown query parameter page: GET /api/v1/deals/{deal.pk}/history "
        "takes after, limit"
    )


def test_every_unknown_parameter_is_named(client, alice, lead):
    client.force_login(alice)

    response = client.get(f"/api/v1/leads/{lead.pk}?fields=name&expand=owner")

    assert response.status_code == 422
    assert response.json()["field"] == "fields"
    assert "unknown query parameters fields, expand" in response.json()["message"]


def test_a_write_with_an_unknown_parameter_changes_nothing(client, alice, deal):
    client.force_login(alice)

    response = client.post(
        f"/api/v1/deals/{deal.pk}/move?dry_run=1",
        {"to": "proposal", "version": 1},
        content_type="application/json",
    )

    assert (response.status_code, response.json()["field"]) == (422, "dry_run")
    assert Deal.objects.get(pk=deal.pk).version == 1


def test_a_read_without_parameters_is_answered(client, alice, deal):
    client.force_login(alice)

    assert client.get(f"/api/v1/deals/{deal.pk}/history").status_code == 200
