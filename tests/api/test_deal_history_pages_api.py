"""GET /api/v1/deals/ID/history answers a page at a time: the events in the
order they happened (`at`, then id), `limit` of them (50 unless asked, 200
at most), still as the list of events it always answered, and the next
page's address in a `Link` header (rel="next") naming the last event's time
and id, so an event recorded while a client pages comes on a later page and
none repeats. A page costs the same queries however many events it holds."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.deals.models import StageEvent
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice):
    return make_deal(pipeline, "inquiry", owner=alice)


@pytest.fixture
def api(client, alice):
    client.force_login(alice)
    return client


def _event(deal, to: str, minutes: int) -> StageEvent:
    return StageEvent.objects.create(
        deal=deal,
        to_stage=deal.pipeline.stages.get(key=to),
        to_status="open",
        at=WHEN + dt.timedelta(minutes=minutes),
    )


def _next(response) -> str | None:
    """The address the Link header names as the next page, or None."""
    link = response.headers.get("Link")
    if link is None:
        return None
    found = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert found, link
    return found[1]


def test_a_short_history_is_one_page_of_events_as_before(api, deal):
    event = _event(deal, "inquiry", 0)

    response = api.get(f"/api/v1/deals/{deal.pk}/history")

    assert response.status_code == 200
    assert "Link" not in response.headers
    assert response.json() == [
        {
            "id": event.pk,
            "from_stage": None,
            "to_stage": "inquiry",
            "from_status": None,
            "to_status": "open",
            "at": "2026-06-01T09:00:00Z",
            "by": None,
            "override_reason": "",
        }
    ]


def test_pages_follow_the_link_in_event_order_with_events_added_meanwhile(api, deal):
    events = [_event(deal, "inquiry", minutes) for minutes in (0, 10, 10, 20)]
    # Recorded later, but it happened before the others: its time places it.
    earliest = _event(deal, "inquiry", -5)

    first = api.get(f"/api/v1/deals/{deal.pk}/history?limit=2")
    assert [e["id"] for e in first.json()] == [earliest.pk, events[0].pk]
    assert _next(first) == (
        f"/api/v1/deals/{deal.pk}/history?limit=2"
        f"&after=2026-06-01T09%3A00%3A00%2B00%3A00%2C{events[0].pk}"
    )
    added = _event(deal, "discovery", 30)
    seen = [e["id"] for e in first.json()]
    following = _next(first)
    while following:
        page = api.get(following)
        assert page.status_code == 200, page.content
        seen += [e["id"] for e in page.json()]
        following = _next(page)

    assert seen == [earliest.pk, *(e.pk for e in events), added.pk]


def test_head_names_the_next_page_as_get_does(api, deal):
    for minutes in range(3):
        _event(deal, "inquiry", minutes)
    path = f"/api/v1/deals/{deal.pk}/history?limit=2"

    assert api.head(path)["Link"] == api.get(path)["Link"]


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=201", "limit", "less than or equal to 200"),
        ("limit=abc", "limit", "valid integer"),
        ("after=12", "after", "after must be a place in the deal's history"),
        ("after=2026-06-01T09:00:00,12", "after", "(TIME,ID: a time with its offset"),
        ("after=yesterday,12", "after", "got 'yesterday,12'"),
    ],
)
def test_a_page_that_cannot_be_read_is_refused_naming_it(api, deal, query, field, says):
    response = api.get(f"/api/v1/deals/{deal.pk}/history?{query}")

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert says in response.json()["message"]


def test_an_unknown_deals_history_is_404(api, deal):
    assert api.get("/api/v1/deals/999999/history?limit=5").status_code == 404


def _queries(api, deal) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"/api/v1/deals/{deal.pk}/history?limit=200").status_code == 200
    return len(queries)


def test_a_page_costs_the_same_queries_for_three_events_or_thirty(api, deal):
    for minutes in range(3):
        _event(deal, "inquiry", minutes)
    few = _queries(api, deal)
    for minutes in range(3, 30):
        _event(deal, "discovery", minutes)

    assert _queries(api, deal) == few


# Events are recorded at the clock's microseconds, as a move records one;
# JSON answers `at` to the millisecond.
EXACT = dt.datetime(2026, 6, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)


def _exact_events(deal, count: int) -> list[StageEvent]:
    inquiry = deal.pipeline.stages.get(key="inquiry")
    return [
        StageEvent.objects.create(
            deal=deal,
            to_stage=inquiry,
            to_status="open",
            at=EXACT + dt.timedelta(minutes=minutes),
        )
        for minutes in range(count)
    ]


def test_the_next_page_from_an_events_shown_at_and_id_starts_after_that_event(
    api, deal
):
    events = _exact_events(deal, 3)
    history = f"/api/v1/deals/{deal.pk}/history?limit=1"
    seen, page = [], api.get(history).json()
    # A client paging as the id's description says, bounded in case it loops.
    while page and len(seen) < 5:
        (event,) = page
        seen.append(event["id"])
        place = quote(f"{event['at']},{event['id']}")
        response = api.get(f"{history}&after={place}")
        assert response.status_code == 200, response.content
        page = response.json()

    assert seen == [e.pk for e in events]


def test_an_after_naming_no_event_of_the_deal_pages_from_its_time_as_given(
    api, deal, pipeline, alice
):
    first, second = _exact_events(deal, 2)
    other = _exact_events(make_deal(pipeline, "inquiry", owner=alice), 1)[0]
    # The other deal's event's id with the first event's time cut to the
    # millisecond: a place between the two events of this deal's, by time.
    shown = first.at.replace(microsecond=123000).isoformat()
    place = quote(f"{shown},{other.pk}")

    events = api.get(f"/api/v1/deals/{deal.pk}/history?after={place}").json()

    assert [e["id"] for e in events] == [first.pk, second.pk]
