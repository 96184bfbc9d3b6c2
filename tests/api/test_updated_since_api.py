"""`updated_since` on GET /api/v1/deals and /api/v1/leads: the rows changed
at or after an instant, in the order they changed (updated_at, then id), a
page at a time from a cursor of both, so a row changed while a client pages
comes again later and none goes missing."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.db.models import F

from dealgate import timesource
from dealgate.deals.models import Deal
from dealgate.leads.models import ApiToken
from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import create_token
from tests.conftest import NOW
from tests.leads.conftest import CENTRAL_RULES, inquiry
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


def _at(hours: float) -> dt.datetime:
    return NOW + dt.timedelta(hours=hours)


def _iso(at: dt.datetime) -> str:
    return quote(at.isoformat())


@pytest.fixture
def headers(alice) -> dict[str, str]:
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    return {"Authorization": f"Bearer {secret}"}


def _page(client, url: str, headers) -> dict:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.content
    return response.json()


def _touch(deal: Deal, hours: float) -> None:
    with timesource.frozen_at(_at(hours)):
        Deal.objects.filter(pk=deal.pk).update(version=F("version") + 1)


def test_deals_changed_since_are_listed_in_the_order_they_changed(
    client, pipeline, alice, headers
):
    with timesource.frozen_at(_at(0)):
        old, first, second = (make_deal(pipeline, "inquiry") for _ in range(3))
    _touch(second, 1)
    _touch(first, 2)

    page = _page(client, f"/api/v1/deals?updated_since={_iso(_at(1))}", headers)

    assert [d["id"] for d in page["items"]] == [second.pk, first.pk]
    assert page["items"][1]["updated_at"] == "2026-06-10T14:00:00Z"
    assert old.pk not in [d["id"] for d in page["items"]]


def test_a_deal_changed_while_a_client_pages_comes_again_and_none_is_missed(
    client, pipeline, alice, headers
):
    with timesource.frozen_at(_at(0)):
        deals = [make_deal(pipeline, "inquiry") for _ in range(5)]
    since = _iso(_at(0))

    first = _page(client, f"/api/v1/deals?updated_since={since}&limit=2", headers)
    assert [d["id"] for d in first["items"]] == [deals[0].pk, deals[1].pk]
    assert first["next"] == (
        f"/api/v1/deals?updated_since={quote(_at(0).isoformat(), safe='')}"
        f"&limit=2&after={deals[1].pk}"
    )
    # Changed meanwhile: one already read, one not yet read.
    _touch(deals[0], 1)
    _touch(deals[2], 1)
    seen = [d["id"] for d in first["items"]]
    following = first["next"]
    while following:
        page = _page(client, following, headers)
        seen += [d["id"] for d in page["items"]]
        following = page["next"]

    assert seen == [
        deals[0].pk,
        deals[1].pk,
        deals[3].pk,
        deals[4].pk,
        deals[0].pk,
        deals[2].pk,
    ]


def test_a_sync_resumes_after_the_last_row_it_read(client, pipeline, alice, headers):
    with timesource.frozen_at(_at(0)):
        one, two = make_deal(pipeline, "inquiry"), make_deal(pipeline, "inquiry")
    url = f"/api/v1/deals?updated_since={_iso(_at(0))}&after={one.pk}"
    assert [d["id"] for d in _page(client, url, headers)["items"]] == [two.pk]


def test_an_unreadable_updated_since_is_refused_naming_it(client, pipeline, headers):
    response = client.get("/api/v1/deals?updated_since=yesterday", headers=headers)
    assert response.status_code == 422
    assert "updated_since" in response.content.decode()


def test_leads_changed_since_are_listed_in_the_order_they_changed(
    client, pipeline, olivia, alice, bob, headers
):
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    with timesource.frozen_at(_at(0)):
        old = capture_lead(inquiry(1), source="form").lead
    with timesource.frozen_at(_at(2)):
        later = capture_lead(inquiry(2), source="form").lead
    with timesource.frozen_at(_at(3)):
        old.name = "Renamed"
        old.save(update_fields=["name"])

    page = _page(client, f"/api/v1/leads?updated_since={_iso(_at(1))}&limit=1", headers)
    assert [lead["id"] for lead in page["items"]] == [later.pk]
    assert page["items"][0]["updated_at"] == "2026-06-10T14:00:00Z"
    rest = _page(client, page["next"], headers)
    assert [lead["id"] for lead in rest["items"]] == [old.pk]
    assert rest["next"] is None
