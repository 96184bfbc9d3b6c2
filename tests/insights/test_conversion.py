"""Stage-to-stage conversion over synthetic histories with known answers.

The shared pipeline has five stages: inquiry, discovery, proposal, review,
contract. Histories are written by the product's move service.
"""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection

from dealgate.deals.models import Deal
from dealgate.insights import queries

from .conftest import day, filters_for, move, open_deal, walk

pytestmark = pytest.mark.django_db

STAGES = ["inquiry", "discovery", "proposal", "review", "contract"]


def steps(pipeline, **params):
    """(reached, passed, lost here, open here) per stage key."""
    found = queries.funnel(filters_for(pipeline, **params))
    return {
        row.stage.key: (
            row.step.entered,
            row.step.passed,
            row.step.lost_here,
            row.step.open_here,
        )
        for row in found.rows
    }


def test_a_deal_won_after_every_stage_passed_each_one_once(pipeline):
    walk(pipeline, [*STAGES, "won"])

    assert steps(pipeline) == {key: (1, 1, 0, 0) for key in STAGES}


def test_a_skipped_stage_counts_as_passed(pipeline):
    walk(pipeline, ["inquiry", "proposal", "lost"])

    found = steps(pipeline)

    assert found["discovery"] == (1, 1, 0, 0)
    assert found["proposal"] == (1, 0, 1, 0)
    assert found["review"] == (0, 0, 0, 0)


def test_a_deal_won_early_passed_the_stages_after_it_too(pipeline):
    walk(pipeline, ["inquiry", "won"])

    assert steps(pipeline)["contract"] == (1, 1, 0, 0)


def test_moving_back_and_forward_again_counts_once(pipeline):
    walk(
        pipeline,
        ["inquiry", "discovery", "proposal", "discovery", "proposal", "review"],
    )

    found = steps(pipeline)

    assert found["discovery"] == (1, 1, 0, 0)
    assert found["proposal"] == (1, 1, 0, 0)
    assert found["review"] == (1, 0, 0, 1)


def test_moving_back_keeps_the_furthest_stage_reached(pipeline):
    deal = walk(pipeline, ["inquiry", "discovery", "proposal", "discovery", "lost"])

    found = steps(pipeline)

    assert deal.stage.key == "discovery"
    assert found["discovery"] == (1, 1, 0, 0)
    assert found["proposal"] == (1, 0, 1, 0)


def test_a_loss_reopened_and_then_won_counts_as_won(pipeline):
    walk(pipeline, ["inquiry", "discovery", "lost", "proposal", "won"])

    assert steps(pipeline) == {key: (1, 1, 0, 0) for key in STAGES}


def test_a_win_that_was_reopened_no_longer_counts_as_won(pipeline):
    walk(pipeline, ["inquiry", "discovery", "won", "discovery"])

    found = queries.funnel(filters_for(pipeline))

    assert found.won == 0
    assert steps(pipeline)["discovery"] == (1, 0, 0, 1)


def test_a_deal_reopened_into_an_earlier_stage_keeps_its_furthest(pipeline):
    walk(pipeline, ["inquiry", "discovery", "proposal", "lost", "inquiry"])

    found = steps(pipeline)

    assert found["discovery"] == (1, 1, 0, 0)
    assert found["proposal"] == (1, 0, 0, 1)


def test_an_import_without_an_entry_event_reached_the_stage_it_stands_in(pipeline):
    open_deal(pipeline, "proposal", day(0), record_entry=False)

    found = steps(pipeline)

    assert found["inquiry"] == (1, 1, 0, 0)
    assert found["proposal"] == (1, 0, 0, 1)
    assert found["review"] == (0, 0, 0, 0)


def test_an_import_closed_without_history_counts_from_the_stage_it_closed_from(
    pipeline,
):
    deal = open_deal(pipeline, "discovery", day(0), record_entry=False)
    Deal.objects.filter(pk=deal.pk).update(status="lost", closed_at=day(3))

    found = steps(pipeline)

    assert found["inquiry"] == (1, 1, 0, 0)
    assert found["discovery"] == (1, 0, 1, 0)


def test_conversion_is_the_share_of_deals_reaching_a_stage_that_got_past_it(
    pipeline,
):
    walk(pipeline, ["inquiry", "discovery", "won"])
    walk(pipeline, ["inquiry", "discovery", "lost"])
    walk(pipeline, ["inquiry", "discovery"])
    walk(pipeline, ["inquiry", "lost"])

    found = {
        row.stage.key: row.step for row in queries.funnel(filters_for(pipeline)).rows
    }

    assert found["inquiry"].conversion == pytest.approx(3 / 4)
    assert found["discovery"].conversion == pytest.approx(1 / 3)


def test_the_population_is_the_deals_that_entered_in_the_period(pipeline):
    open_deal(pipeline, "inquiry", dt.datetime(2026, 3, 1, 22, 30, tzinfo=dt.UTC))
    open_deal(pipeline, "inquiry", dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))
    open_deal(pipeline, "discovery", day(0), record_entry=False)

    found = queries.funnel(
        filters_for(pipeline, period="", **{"from": "2026-03-02", "to": "2026-03-31"})
    )

    # 23:30 UTC on 1 March is already 2 March in Berlin, the pipeline's zone.
    assert found.population == 1
    assert found.undated == 1


def test_a_filter_narrows_the_population(pipeline, alice, bob):
    walk(pipeline, ["inquiry", "won"], owner=alice)
    walk(pipeline, ["inquiry", "lost"], owner=bob)

    found = queries.funnel(filters_for(pipeline, owner="alice"))

    assert (found.population, found.won) == (1, 1)


def test_a_retired_stage_is_not_shown_but_still_counts_as_reached(pipeline):
    walk(pipeline, ["inquiry", "review", "lost"])
    pipeline.stages.filter(key="proposal").update(retired_at=day(10))

    found = steps(pipeline)

    assert "proposal" not in found
    assert found["discovery"] == (1, 1, 0, 0)
    assert found["review"] == (1, 0, 1, 0)


def test_moving_only_forward_reads_no_backward_events(pipeline):
    move(open_deal(pipeline, "inquiry", day(0)), "contract", day(1))

    assert steps(pipeline)["contract"] == (1, 0, 0, 1)


# -- as of an earlier instant ---------------------------------------------------


def steps_at(pipeline, at: dt.datetime):
    found = queries.funnel(filters_for(pipeline), at)
    return {
        row.stage.key: (row.step.entered, row.step.open_here, row.step.lost_here)
        for row in found.rows
    }, found


def test_as_of_an_instant_a_deal_won_later_is_still_open_where_it_stood(pipeline):
    walk(pipeline, ["inquiry", "discovery", "proposal", "won"], every=2)

    found, funnel = steps_at(pipeline, day(3))

    assert funnel.won == 0
    assert found["discovery"] == (1, 1, 0)
    assert found["proposal"] == (0, 0, 0)


def test_as_of_an_instant_deals_created_later_are_not_counted(pipeline):
    walk(pipeline, ["inquiry", "lost"])
    open_deal(pipeline, "inquiry", day(5))

    found, funnel = steps_at(pipeline, day(3))

    assert funnel.population == 1
    assert found["inquiry"] == (1, 0, 1)


def test_as_of_an_instant_a_stage_left_behind_later_was_not_reached_yet(pipeline):
    # Proposal on day 4, back to discovery on day 6: on day 3 the deal stood
    # in discovery and had never been further.
    walk(pipeline, ["inquiry", "discovery", "proposal", "discovery"], every=2)

    found, _ = steps_at(pipeline, day(3))

    assert found["discovery"] == (1, 1, 0)
    assert found["proposal"] == (0, 0, 0)


def test_moving_an_undated_import_does_not_make_it_enter_the_pipeline(pipeline):
    deal = open_deal(pipeline, "inquiry", day(0), record_entry=False)
    move(deal, "discovery", day(10))
    dated = open_deal(pipeline, "inquiry", day(9))

    found = queries.funnel(
        filters_for(pipeline, period="", **{"from": "2026-03-11", "to": "2026-03-31"})
    )

    assert Deal.objects.get(pk=deal.pk).stage_entered_at == day(10)
    assert (found.population, found.undated) == (1, 1)
    assert queries.funnel(filters_for(pipeline)).population == 2
    assert dated.created_at == day(9)


def test_a_dated_deal_keeps_its_entry_when_it_moves(pipeline):
    deal = open_deal(pipeline, "inquiry", day(0))
    move(deal, "discovery", day(10))

    later = queries.funnel(
        filters_for(pipeline, period="", **{"from": "2026-03-11", "to": "2026-03-31"})
    )
    first = queries.funnel(
        filters_for(pipeline, period="", **{"from": "2026-03-02", "to": "2026-03-03"})
    )

    assert (later.population, first.population) == (0, 1)


def test_a_deal_without_a_creation_date_enters_at_its_entry_event(pipeline):
    # Deals left so before migration deals/0014 are given their entry then.
    migration = importlib.import_module(
        "dealgate.deals.migrations.0014_entry_is_creation"
    )
    deal = open_deal(pipeline, "inquiry", day(0))
    Deal.objects.filter(pk=deal.pk).update(created_at=None)
    move(deal, "discovery", day(10))
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL)

    found = queries.funnel(
        filters_for(pipeline, period="", **{"from": "2026-03-02", "to": "2026-03-03"})
    )

    assert Deal.objects.get(pk=deal.pk).created_at == day(0)
    assert (found.population, found.undated) == (1, 0)
