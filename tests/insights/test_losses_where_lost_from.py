"""Losses and closed deals stay at the stage they closed from after a
redesign moves them.

A lost deal's "stage lost from" is where the buyer left, which its history
keeps. Removing that stage with `--move OLD=NEW` sends its closed deals to
NEW (docs/pipeline-file.md: they keep their outcome); the losses table, the
bottlenecks report's "where lost deals leave" and the weekly review's deals
then said they were lost from NEW, a stage they never reached, while time in
stage still lists the retired stage's stays. The daily rollup, keyed by the
stage a deal stands in, must answer the same as the scan of the deals.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from dealgate.deals.models import Deal
from dealgate.insights import queries, reports, rollups, sql
from dealgate.insights import review as rv
from dealgate.insights.models import DealChange
from dealgate.insights.queries import fetch
from tests.conftest import NOW

from .conftest import filters_for
from .test_retired_stages import apply_redesign, example, manager  # noqa: F401

pytestmark = pytest.mark.django_db


def _losses(pipeline, **params: str) -> dict[tuple[str, str], int]:
    return {
        (row.stage.key, row.reason): row.deals
        for row in queries.losses(filters_for(pipeline, **params))
    }


def test_losses_keep_the_stage_a_deal_was_lost_from_after_it_is_removed(
    example,  # noqa: F811
):
    # Deal 12 went inquiry -> discovery -> lost; deal 7 was lost from inquiry.
    apply_redesign(rename={}, drop={"discovery"}, moves={"discovery": "inquiry"})

    found = _losses(example)

    assert found.get(("inquiry", "price")) == 1, found
    assert found.get(("discovery", "price")) == 1, found


def test_a_loss_moved_onto_another_stage_is_not_counted_there(
    example,  # noqa: F811
):
    # Deal 9 was lost from contract; nothing was lost from review.
    apply_redesign(rename={}, drop={"contract"}, moves={"contract": "review"})

    found = _losses(example)

    assert found.get(("contract", "price")) == 1, found
    assert ("review", "price") not in found, found
    assert sum(found.values()) == 4


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2026-03-10", "to": "2026-03-20"},
        {"from": "2026-03-10", "to": "2026-03-14"},
    ],
    ids=["all time", "whole days", "a cut day"],
)
def test_the_rollup_answers_as_the_scan_after_the_redesign_folded_or_not(
    example,  # noqa: F811
    params,
):
    # Deal 9 was lost on 14 March at 10:00 in Berlin: in the rollup's whole
    # days, or in the day the period's end cuts (read from the deals).
    apply_redesign(rename={}, drop={"contract"}, moves={"contract": "review"})
    dialect = queries.dialect()
    scope = filters_for(example, **params).scope()
    contract = example.stages.get(key="contract").pk

    def both() -> tuple[dict, dict]:
        direct = {(s, r): n for s, r, n in fetch(sql.lost_by_stage(dialect, scope))}
        query = rollups.lost_by_stage(dialect, scope)
        assert query is not None
        return {(s, r): int(n) for s, r, n in fetch(query)}, direct

    unfolded, direct = both()
    assert DealChange.objects.exists()
    assert unfolded == direct
    assert direct[(contract, "price")] == 1
    queries.fold()
    folded, direct = both()
    assert folded == direct


def test_the_bottlenecks_report_says_where_lost_deals_left(
    example,  # noqa: F811
):
    apply_redesign(rename={}, drop={"contract"}, moves={"contract": "review"})

    table = reports.bottlenecks(filters_for(example), NOW).table("lost_from")
    lost = {row[0]: row[1] for row in table.rows}

    assert lost["Contract requested (retired)"] == 1
    assert lost["Proposal reviewed by the buyer"] == 0


@pytest.mark.parametrize(
    ("metric", "title"),
    [("lost_deals", "Deal 9"), ("win_rate", "Deal 1")],
)
def test_the_weekly_review_lists_a_closed_deal_at_the_stage_it_closed_from(
    example,  # noqa: F811
    metric,
    title,
):
    apply_redesign(rename={}, drop={"contract"}, moves={"contract": "review"})
    deal = Deal.objects.get(title=title)
    filters = filters_for(example)
    week = rv.this_week(filters.facts, deal.closed_at)

    page = reports.weekly_review(filters, NOW, week=week, metric=metric)
    table = page.report.table("behind")
    shown = {row[0][1]: row[2] for row in table.rows}

    assert table.columns[2].label == "Closed from"
    assert shown[title] == "Contract requested (retired)"


def test_the_losses_a_redesign_moved_are_found_through_their_own_index(
    example,  # noqa: F811
):
    apply_redesign(rename={}, drop={"contract"}, moves={"contract": "review"})
    query = sql.lost_moved(queries.dialect(), None, None, filters_for(example).scope())

    with transaction.atomic(), connection.cursor() as cursor:
        postgres = connection.vendor == "postgresql"
        if postgres:
            # Tables this small are read whole; ask whether the index serves.
            cursor.execute("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
        cursor.execute(f"{explain} {query.sql}", query.params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        transaction.set_rollback(True)

    assert "event_lost_moves" in plan, plan
