"""The insights owner filter has "no owner", as the board's has: owner=(none)
keeps the deals (and leads) no one owns, on every path a figure is read by
(the deals and events in SQL, the rollups and their log of changes, the ORM),
on the pages and in `dealgate report`."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal
from dealgate.deals.queries import NO_OWNER
from dealgate.insights import queries, reports, sql
from tests.conftest import NOW
from tests.web.helpers import make_deal, text_of

from .conftest import START, day, filters_for, move, open_deal, walk
from .test_leaks_and_responses import lead

pytestmark = pytest.mark.django_db

NONE = NO_OWNER.username


def test_none_reads_as_the_filter_for_the_deals_no_one_owns(pipeline):
    filters = filters_for(pipeline, owner=NONE)

    assert filters.owner is NO_OWNER
    assert filters.scope().owner_id == sql.NO_OWNER_ID
    assert filters.describe() == "all time, no owner"
    assert "owner=%28none%29" in filters.query()


def test_time_in_stage_keeps_only_the_stays_of_deals_no_one_owns(pipeline, alice):
    move(open_deal(pipeline, "inquiry", START, owner=alice), "discovery", day(1))
    move(open_deal(pipeline, "inquiry", START), "discovery", day(3))

    found = {
        one.stage.key: one
        for one in queries.time_in_stage(filters_for(pipeline, owner=NONE))
    }["inquiry"]

    assert found.exits == 1
    assert found.spread.median == pytest.approx(3.0)


@pytest.mark.parametrize("folded", [False, True])
def test_outcomes_count_only_deals_no_one_owns_from_the_log_or_the_rollups(
    pipeline, alice, folded
):
    walk(pipeline, ["inquiry", "won"], owner=alice)
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "won"])
    if folded:
        queries.fold()

    (total,) = queries.outcomes(filters_for(pipeline, owner=NONE))

    assert (total.won, total.lost) == (1, 1)


def test_the_orm_path_keeps_only_deals_no_one_owns(pipeline, alice):
    open_deal(pipeline, "inquiry", START, owner=alice)
    nobodys = open_deal(pipeline, "inquiry", START)

    found = queries.filtered_deals(filters_for(pipeline, owner=NONE))

    assert list(found) == [nobodys]


def test_lead_response_keeps_only_leads_no_one_owns(pipeline, alice):
    lead(pipeline, alice, 2)
    lead(pipeline, None, 90)

    assert queries.response_times(filters_for(pipeline, owner=NONE)).leads == 1


def test_the_page_offers_no_owner_and_shows_it_chosen(signed_in, pipeline, now):
    response = signed_in.get(reverse("insights:overview"), {"owner": NONE})

    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="(none)" selected>No owner</option>' in page
    assert "no owner" in text_of(response)
    assert Deal.objects.count() == 0


def test_the_oldest_deals_in_a_bottleneck_say_when_no_one_owns_one(
    signed_in, pipeline, alice, now
):
    make_deal(pipeline, "inquiry", title="Network Gulf", owner=None, days_in_stage=3)
    make_deal(pipeline, "inquiry", title="Firewall for Echo", owner=alice)
    make_deal(pipeline, "discovery", title="Laptops for Foxtrot", owner=alice)

    text = text_of(signed_in.get(reverse("insights:bottlenecks")))

    row = re.search(r"Inquiry received Network Gulf\s*(\D*?)\s*\d{4}-\d{2}-\d{2}", text)
    assert row is not None, text
    assert row.group(1) == "no owner"


def test_the_outcomes_by_owner_name_the_deals_no_one_owns_as_the_board_does(
    pipeline, alice
):
    walk(pipeline, ["inquiry", "won"], owner=alice)
    walk(pipeline, ["inquiry", "lost"])

    report = reports.overview(filters_for(pipeline), NOW, by="owner")

    assert sorted(row[0] for row in report.table("by_owner").rows) == [
        "Alice Rep",
        "no owner",
    ]


def test_the_deals_behind_a_review_value_say_when_no_one_owns_one(pipeline, now):
    walk(pipeline, ["inquiry", "won"])

    page = reports.weekly_review(
        filters_for(pipeline), NOW, week=day(1).date(), metric="win_rate"
    )

    assert [row[1] for row in page.report.table("behind").rows] == ["no owner"]
