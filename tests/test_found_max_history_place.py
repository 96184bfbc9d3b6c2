"""Found by max: a history event's `at` and id, written as `after`, answer it again.

The field description of a deal history event's `id` says that with its `at`
it is the event's place: `after=TIME,ID` of them answers the events after it.
But `at` is answered to the millisecond while the events are stored (and
the Link header's `after` written) to the microsecond. A client that pages
by the last event's `at` and id, as told, gets that event again on every
page: with `limit=1` the same event forever, with more a repeat on each page.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest

from dealgate.deals.models import StageEvent
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db

# Events are recorded at the clock's microseconds, as a move records one.
WHEN = dt.datetime(2026, 6, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.mark.xfail(
    strict=True,
    reason="history events answer `at` to the millisecond; the place compares "
    "microseconds, so the last event read comes again",
)
def test_the_next_page_from_an_events_at_and_id_starts_after_that_event(
    client, pipeline, alice
):
    client.force_login(alice)
    deal = make_deal(pipeline, "inquiry", owner=alice)
    inquiry = pipeline.stages.get(key="inquiry")
    for minutes in (0, 1):
        StageEvent.objects.create(
            deal=deal,
            to_stage=inquiry,
            to_status="open",
            at=WHEN + dt.timedelta(minutes=minutes),
        )
    history = f"/api/v1/deals/{deal.pk}/history"
    (first,) = client.get(f"{history}?limit=1").json()

    place = quote(f"{first['at']},{first['id']}")
    following = client.get(f"{history}?limit=1&after={place}")

    assert following.status_code == 200, following.content
    assert [e["id"] for e in following.json()] != [first["id"]]
