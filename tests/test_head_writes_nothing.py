"""A HEAD request changes nothing stored, on any page or API address that
answers GET: it asks only what a GET would answer. What a GET records as
it reads (an API token's time of last use) a HEAD does not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate import timesource
from dealgate.insights.models import DealChange
from dealgate.leads import assign
from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import TOUCH_EVERY, create_token
from tests.conftest import NOW
from tests.leads.conftest import CENTRAL_RULES, inquiry
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(WRITES)
    ]


@pytest.fixture
def world(pipeline, olivia, alice, bob, now):
    """A pipeline that routes, a deal, a lead, an API token."""
    assign.forget_cached()
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    deal = make_deal(pipeline, "discovery", owner=alice, organization="Acme")
    lead = capture_lead(inquiry(1), source="api").lead
    _, secret = create_token(olivia, "reader", scope="leads")
    return {"deal": deal.pk, "lead": lead.pk, "key": pipeline.key, "secret": secret}


PAGES = [
    "/",
    "/deals/new/",
    "/deals/{deal}/",
    "/today/",
    "/today/more/?section=windows",
    "/notices/",
    "/leads/",
    "/leads/new/",
    "/leads/{lead}/",
    "/leads/decisions/",
    "/leads/routing/",
    "/leads/report/",
    "/leads/form/{key}/",
    "/insights/",
    "/insights/bottlenecks/",
    "/insights/review/",
    "/pipelines/",
    "/pipelines/{key}/",
    "/pipelines/{key}/picture.svg",
    "/pipelines/{key}/pipeline.toml",
    "/pipelines/{key}/blueprint/",
    "/pipelines/{key}/blueprint.toml",
    "/pipelines/{key}/edit/",
    "/pipelines/{key}/edit/stages/discovery/",
    "/pipelines/{key}/edit/handoffs/",
    "/pipelines/{key}/edit/file/",
    "/pipelines/{key}/apply/",
    "/api/v1/deals/{deal}",
    "/api/v1/deals/{deal}/history",
    "/api/v1/leads/{lead}",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/admin/",
    "/login/",
]


@pytest.mark.parametrize("page", PAGES)
def test_head_on_a_page_writes_nothing(client, world, olivia, page):
    client.force_login(olivia)
    path = page.format(**world)

    with CaptureQueriesContext(connection) as queries:
        response = client.head(path)

    assert response.status_code < 500
    assert _writes(queries) == []


@pytest.mark.parametrize("page", ["/deals/new/", "/leads/form/{key}/"])
def test_pages_that_take_a_form_answer_head_as_their_get(client, world, olivia, page):
    client.force_login(olivia)
    path = page.format(**world)

    leads = Lead.objects.count()
    head, get = client.head(path), client.get(path)

    assert head.status_code == get.status_code == 200
    assert head["Content-Type"] == get["Content-Type"]
    assert Lead.objects.count() == leads


def test_head_with_an_api_token_writes_nothing(client, world):
    path = f"/api/v1/leads/{world['lead']}"
    bearer = {"Authorization": f"Bearer {world['secret']}"}

    with CaptureQueriesContext(connection) as queries:
        response = client.head(path, headers=bearer)

    assert response.status_code == 200
    assert _writes(queries) == []
    assert ApiToken.objects.get().last_used_at is None


def test_get_with_an_api_token_still_records_its_use(client, world):
    path = f"/api/v1/leads/{world['lead']}"
    bearer = {"Authorization": f"Bearer {world['secret']}"}
    later = NOW + TOUCH_EVERY + dt.timedelta(seconds=1)

    client.head(path, headers=bearer)
    with timesource.frozen_at(later):
        assert client.get(path, headers=bearer).status_code == 200

    assert ApiToken.objects.get().last_used_at == later


def test_head_on_insights_answers_as_get_from_the_log_not_folded(client, world, olivia):
    client.force_login(olivia)
    waiting = DealChange.objects.count()
    assert waiting > 0

    head = client.head("/insights/")
    assert DealChange.objects.count() == waiting
    got = client.get("/insights/")

    assert int(head["Content-Length"]) == len(got.content)
    assert DealChange.objects.count() == 0  # the GET folded the log


def test_head_leaves_a_pages_messages_unread_for_the_get(client, world, alice):
    client.force_login(alice)
    client.post(f"/leads/{world['lead']}/activity/", {"kind": "note"})
    waiting = client.cookies["messages"].value

    head = client.head(f"/leads/{world['lead']}/")

    assert "messages" not in head.cookies
    assert client.cookies["messages"].value == waiting
    page = client.get(f"/leads/{world['lead']}/").content.decode()
    assert "Activity recorded." in page
