"""GET /api/v1/leads lists the leads a token's person may read, oldest
first, a page at a time with the address of the next, narrowed by
pipeline, status (or all open ones), owner and creation time; each as its
GET answers it, with whether repeat inquiries offer it values. A page is a
fixed number of queries, however many leads or offers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate import timesource
from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.services import capture_lead, disqualify_lead
from dealgate.leads.tokens import create_token

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(olivia) -> dict[str, str]:
    secret = create_token(olivia, "crm", scope=ApiToken.Scope.LEADS)[1]
    return {"Authorization": f"Bearer {secret}"}


def _capture(n: int, **fields) -> Lead:
    return capture_lead(inquiry(n, **fields), source="form").lead


def _ids(client, query: str, headers) -> list[int]:
    response = client.get(f"/api/v1/leads?{query}", headers=headers)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_a_listed_lead_is_its_read_with_whether_it_has_offers(
    client, routed, now, headers
):
    lead = _capture(1, company=None)
    capture_lead(inquiry(1, company="Initech GmbH"), source="form")

    listed = client.get("/api/v1/leads", headers=headers).json()["items"]
    single = client.get(f"/api/v1/leads/{lead.pk}", headers=headers).json()

    assert len(listed) == 1 and listed[0]["has_offers"] is True
    assert single["offers"][0]["values"] == {"company": "Initech GmbH"}
    del single["offers"]
    del listed[0]["has_offers"]
    assert listed[0] == single


def test_the_filters_narrow_the_list(client, routed, alice, olivia, now, headers):
    first = _capture(1)
    disqualified = _capture(2)
    disqualify_lead(disqualified.pk, "a student project", by=olivia)
    with timesource.frozen_at(now + dt.timedelta(days=2)):
        later = _capture(3)

    assert _ids(client, "", headers) == [first.pk, disqualified.pk, later.pk]
    assert _ids(client, "status=open", headers) == [first.pk, later.pk]
    assert _ids(client, "status=disqualified", headers) == [disqualified.pk]
    alices = [
        lead.pk
        for lead in (first, disqualified, later)
        if Lead.objects.get(pk=lead.pk).owner == alice
    ]
    assert alices
    assert _ids(client, f"pipeline={routed.key}&owner=alice", headers) == alices
    since = (now + dt.timedelta(days=1)).date().isoformat()
    assert _ids(client, f"created_since={since}", headers) == [later.pk]


def test_pages_follow_next(client, routed, now, headers):
    leads = [_capture(n) for n in range(1, 6)]

    page = client.get("/api/v1/leads?limit=3", headers=headers).json()
    rest = client.get(page["next"], headers=headers).json()

    assert page["next"] == f"/api/v1/leads?limit=3&after={leads[2].pk}"
    assert [lead["id"] for lead in page["items"] + rest["items"]] == [
        lead.pk for lead in leads
    ]
    assert rest["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=closed", "status"),
        ("owner=nobody", "owner"),
        ("pipeline=nowhere", "pipeline"),
        ("limit=1000", "limit"),
        ("q=initech", "q"),
    ],
)
def test_a_filter_that_cannot_be_read_is_refused_naming_it(
    client, routed, now, headers, query, field
):
    response = client.get(f"/api/v1/leads?{query}", headers=headers)

    assert (response.status_code, response.json()["field"]) == (422, field)


def test_a_capture_only_token_cannot_list_leads(client, routed, olivia, now):
    _capture(1)
    secret = create_token(olivia, "website")[1]

    response = client.get(
        "/api/v1/leads", headers={"Authorization": f"Bearer {secret}"}
    )

    assert response.status_code == 403


def _queries(client, headers) -> int:
    url = "/api/v1/leads?status=open&owner=alice&limit=200"
    client.get(url, headers=headers)  # records the token's first use
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, headers=headers).status_code == 200
    return len(queries)


def test_a_page_costs_the_same_queries_for_few_leads_or_many(
    client, routed, alice, now, headers
):
    def capture(numbers: range) -> None:
        for n in numbers:
            _capture(n, company=None)
            capture_lead(inquiry(n, company=f"Company {n}"), source="form")

    capture(range(1, 3))
    few = _queries(client, headers)
    capture(range(3, 15))

    # The token, the owner, the page.
    assert few == _queries(client, headers) == 3


def test_a_closed_lead_is_listed_without_offers_as_its_read_shows_none(
    client, routed, olivia, headers
):
    """A disqualified (or converted) lead's GET answers no offers, as the
    page shows none; the list must not say it has some."""
    lead = _capture(1, company=None)
    capture_lead(inquiry(1, company="Initech GmbH"), source="form")
    disqualify_lead(lead.pk, "a student project", by=olivia)

    listed = client.get("/api/v1/leads", headers=headers).json()["items"]
    single = client.get(f"/api/v1/leads/{lead.pk}", headers=headers).json()

    assert single["offers"] == []
    assert listed[0]["has_offers"] is False
