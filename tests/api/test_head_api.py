"""HEAD under /api/ answers wherever GET does: the same status and headers,
no body; an address without GET refuses it, and every 405's Allow says what
the address really takes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory
from django.urls import resolve

from dealgate.deals.models import Deal
from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import create_token
from tests.conftest import PASSWORD
from tests.leads.conftest import CENTRAL_RULES, inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(pipeline, alice):
    when = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="discovery"),
        title="Firewall refresh",
        owner=alice,
        created_at=when,
        stage_entered_at=when,
    )


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


@pytest.mark.parametrize("suffix", ["", "/history"])
def test_head_on_a_deal_answers_as_get_does_without_the_body(api, deal, suffix):
    path = f"/api/v1/deals/{deal.pk}{suffix}"
    got = api.get(path)

    head = api.head(path)

    assert (head.status_code, got.status_code) == (200, 200)
    assert head["Content-Type"] == got["Content-Type"]
    assert head["Content-Type"].startswith("application/json")
    assert int(head["Content-Length"]) == len(got.content) > 0
    assert head.content == b""


def test_the_api_itself_sends_no_body_for_head(alice, deal):
    path = f"/api/v1/deals/{deal.pk}"
    request = RequestFactory().head(path)
    request.user = alice
    request._dont_enforce_csrf_checks = True

    response = resolve(path).func(request, **resolve(path).kwargs)

    # Not only the test client's stripping: the answer has no body at all.
    assert response.status_code == 200 and response.content == b""
    assert request.method == "HEAD"


def test_head_checks_as_get_does(client, api, deal):
    assert client.logout() is None
    assert client.head(f"/api/v1/deals/{deal.pk}").status_code == 401
    api.login(username="alice", password=PASSWORD)
    assert api.head("/api/v1/deals/999999").status_code == 404


def test_head_on_a_lead_with_a_token(client, pipeline, olivia, alice, bob, now):
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    lead = capture_lead(inquiry(), source="api", pipeline=pipeline).lead
    _, secret = create_token(olivia, "reader", scope="leads")

    response = client.head(
        f"/api/v1/leads/{lead.pk}", headers={"Authorization": f"Bearer {secret}"}
    )

    assert response.status_code == 200 and int(response["Content-Length"]) > 0


def test_head_on_the_schema(client, db):
    assert client.head("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "path, allowed",
    [("/api/v1/deals/bulk-move", "POST"), ("/api/v1/leads/1/convert", "POST")],
)
def test_head_where_there_is_no_get_is_a_405_naming_what_is_taken(api, path, allowed):
    response = api.head(path)

    assert response.status_code == 405
    assert response["Allow"] == allowed


def test_a_405_lists_head_beside_get(api, deal):
    response = api.delete(f"/api/v1/deals/{deal.pk}")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, PATCH"
    assert response.json()["message"].endswith("it takes GET, HEAD, PATCH")


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/v1/nope", 404),
        ("/api/v1/deals/abc", 404),
        ("/api/v1/deals/999999", 404),
        ("/api/v1/deals/bulk-move", 405),
        ("/api/v1/leads/1/convert", 405),
    ],
)
def test_a_head_refused_answers_the_headers_its_get_does(api, path, status):
    got = api.get(path)

    head = api.head(path)

    assert (head.status_code, got.status_code) == (status, status)
    assert dict(head.items()) == dict(got.items())
    assert int(head["Content-Length"]) == len(got.content) > 0


def test_a_head_refused_outside_the_api_views_carries_no_body(rf):
    from django.http import HttpResponseNotAllowed, HttpResponseNotFound

    from dealgate.api.routes import ApiErrorsMiddleware

    for refusal in (
        HttpResponseNotFound("<h1>Not Found</h1>"),
        HttpResponseNotAllowed(["POST"]),
    ):
        request = rf.head("/api/v1/deals/bulk-move")
        answer = ApiErrorsMiddleware(lambda request, refusal=refusal: refusal)(request)

        assert answer.content == b""
        assert int(answer["Content-Length"]) > 0
