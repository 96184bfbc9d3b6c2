"""The pipeline now: widths, bottlenecks, ages against limits, oldest deals."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.core import business_time
from dealgate.core import metrics as m
from dealgate.insights import queries
from dealgate.pipelines.calendars import calendar_for
from tests.conftest import NOW

from .conftest import filters_for, move, open_deal

pytestmark = pytest.mark.django_db


def now_by_stage(pipeline, **params):
    return {
        one.stage.key: one
        for one in queries.pipeline_now(filters_for(pipeline, **params), NOW)
    }


def entered(days_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days_ago)


def test_width_is_a_stage_share_of_the_open_deals(pipeline):
    for _ in range(3):
        open_deal(pipeline, "inquiry", entered(1))
    open_deal(pipeline, "proposal", entered(1))

    found = now_by_stage(pipeline)

    assert found["inquiry"].share == pytest.approx(0.75)
    assert found["proposal"].share == pytest.approx(0.25)
    assert found["inquiry"].wide and not found["proposal"].wide


def test_the_bottleneck_share_is_set_per_pipeline(pipeline):
    for _ in range(3):
        open_deal(pipeline, "inquiry", entered(1))
    open_deal(pipeline, "proposal", entered(1))
    pipeline.settings = {"bottleneck_share": 0.8}
    pipeline.save()

    assert not now_by_stage(pipeline)["inquiry"].wide


def test_open_deal_ages_are_business_days_at_the_median_and_80th_percentile(
    pipeline,
):
    starts = [entered(days) for days in (1, 3, 6, 10, 15)]
    for start in starts:
        open_deal(pipeline, "proposal", start)
    calendar = calendar_for(pipeline)
    ages = [business_time.business_days_between(calendar, s, NOW) for s in starts]

    found = now_by_stage(pipeline)["proposal"].age

    assert found.unit == "business days"
    assert found.median == pytest.approx(m.percentile(ages, 0.5))
    assert found.p80 == pytest.approx(m.percentile(ages, 0.8))


def test_an_even_number_of_open_deals_interpolates_the_median_age(pipeline):
    starts = [entered(days) for days in (1, 3, 6, 10)]
    for start in starts:
        open_deal(pipeline, "proposal", start)
    calendar = calendar_for(pipeline)
    ages = [business_time.business_days_between(calendar, s, NOW) for s in starts]

    found = now_by_stage(pipeline)["proposal"].age

    assert found.median == pytest.approx(m.percentile(ages, 0.5))


def test_deals_past_the_stage_age_limit_are_counted(pipeline):
    # inquiry allows 2 business days; NOW is a Wednesday noon.
    open_deal(pipeline, "inquiry", entered(0.5))
    open_deal(pipeline, "inquiry", entered(7))
    open_deal(pipeline, "inquiry", entered(30))

    found = now_by_stage(pipeline)["inquiry"]

    assert found.past_limit == 2
    assert found.over_limit


def test_a_stage_whose_median_age_is_within_its_limit_is_not_flagged(pipeline):
    open_deal(pipeline, "proposal", entered(1))

    assert not now_by_stage(pipeline)["proposal"].over_limit


def test_deals_with_an_unknown_entry_have_no_age(pipeline):
    open_deal(pipeline, "review", entered(1), record_entry=False)

    found = now_by_stage(pipeline)["review"]

    assert (found.count, found.unknown_entry, found.age) == (1, 1, None)


def test_the_oldest_deals_of_a_stage_come_first(pipeline):
    open_deal(pipeline, "inquiry", entered(2), title="middle")
    open_deal(pipeline, "inquiry", entered(9), title="oldest")
    open_deal(pipeline, "inquiry", entered(1), title="newest")
    open_deal(pipeline, "inquiry", entered(1), title="unknown", record_entry=False)
    filters = filters_for(pipeline)

    inquiry = pipeline.stages.get(key="inquiry")

    found = queries.oldest_open(filters, inquiry, NOW, limit=2)

    assert [old.deal.title for old in found] == ["oldest", "middle"]
    assert found[0].entered_at == entered(9)


def test_closed_deals_are_not_in_the_pipeline_view(pipeline):
    deal = open_deal(pipeline, "inquiry", entered(1))
    deal.status, deal.closed_at = "won", NOW
    deal.save()

    assert now_by_stage(pipeline)["inquiry"].count == 0


# -- as of an earlier instant ---------------------------------------------------


def by_stage_at(pipeline, at):
    return {
        one.stage.key: one for one in queries.pipeline_now(filters_for(pipeline), at)
    }


def test_a_deal_created_after_the_instant_is_not_in_the_pipeline_then(pipeline):
    open_deal(pipeline, "inquiry", entered(10))
    open_deal(pipeline, "inquiry", entered(2))

    found = by_stage_at(pipeline, entered(5))["inquiry"]

    assert found.count == 1


def test_a_deal_closed_after_the_instant_was_open_then(pipeline):
    deal = open_deal(pipeline, "inquiry", entered(10))
    move(deal, "won", entered(2))

    assert by_stage_at(pipeline, entered(5))["inquiry"].count == 1
    assert by_stage_at(pipeline, NOW)["inquiry"].count == 0


def test_a_deal_stands_in_the_stage_of_its_last_event_then_aged_from_it(pipeline):
    deal = open_deal(pipeline, "inquiry", entered(20))
    deal = move(deal, "discovery", entered(12))
    move(deal, "proposal", entered(2))
    at = entered(5)
    calendar = calendar_for(pipeline)

    found = by_stage_at(pipeline, at)

    assert (found["discovery"].count, found["proposal"].count) == (1, 0)
    assert found["discovery"].age.median == pytest.approx(
        business_time.business_days_between(calendar, entered(12), at)
    )


def test_a_deal_reopened_after_the_instant_was_closed_then(pipeline):
    deal = open_deal(pipeline, "inquiry", entered(20))
    deal = move(deal, "lost", entered(10))
    move(deal, "inquiry", entered(2))

    assert by_stage_at(pipeline, entered(5))["inquiry"].count == 0
    assert by_stage_at(pipeline, NOW)["inquiry"].count == 1


def test_ages_and_limits_then_count_to_the_instant_not_to_today(pipeline):
    # Inquiry allows 2 business days: at the earlier instant the deal had sat
    # there a few hours; today it would be past the limit.
    deal = open_deal(pipeline, "inquiry", entered(8))
    move(deal, "discovery", entered(1))

    found = by_stage_at(pipeline, entered(7.9))["inquiry"]

    assert (found.count, found.past_limit, found.over_limit) == (1, 0, False)
    assert found.age.median < 1


def test_a_deal_whose_history_begins_with_a_move_stood_where_that_move_left(
    pipeline,
):
    # An import that gave no stage entry records only the close: before it,
    # the deal was open in the stage it closed from, its entry unknown.
    deal = open_deal(pipeline, "proposal", entered(10), record_entry=False)
    move(deal, "won", entered(2))

    found = by_stage_at(pipeline, entered(5))["proposal"]

    assert (found.count, found.unknown_entry) == (1, 1)


def test_the_oldest_deals_then_are_those_that_had_sat_longest_then(pipeline):
    early = open_deal(pipeline, "inquiry", entered(20), title="left since")
    move(early, "discovery", entered(3))
    open_deal(pipeline, "inquiry", entered(6), title="there then")
    open_deal(
        pipeline, "inquiry", entered(30), title="entry unknown", record_entry=False
    )
    inquiry = pipeline.stages.get(key="inquiry")

    found = queries.oldest_open(filters_for(pipeline), inquiry, entered(5))

    assert [old.deal.title for old in found] == ["left since", "there then"]
    assert found[0].entered_at == entered(20)
