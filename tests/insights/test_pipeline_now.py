"""The pipeline now: widths, bottlenecks, ages against limits, oldest deals."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.core import business_time
from dealgate.core import metrics as m
from dealgate.insights import queries
from dealgate.pipelines.calendars import calendar_for
from tests.conftest import NOW

from .conftest import filters_for, open_deal

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

    found = queries.oldest_open(filters, pipeline.stages.get(key="inquiry"), limit=2)

    assert [deal.title for deal in found] == ["oldest", "middle"]


def test_closed_deals_are_not_in_the_pipeline_view(pipeline):
    deal = open_deal(pipeline, "inquiry", entered(1))
    deal.status, deal.closed_at = "won", NOW
    deal.save()

    assert now_by_stage(pipeline)["inquiry"].count == 0
