"""The stage-exit indexes leave out entry events (those with no from_stage,
most of an import's) and must still serve the insights that read exits: the
planner has to prove that a query's from_stage condition implies the
indexes' own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection, transaction

from dealgate.insights import queries

from .conftest import START, day, filters_for, move, open_deal

pytestmark = pytest.mark.django_db


def _event_queries(monkeypatch, run: Callable[[], object]) -> list[tuple[str, list]]:
    """The SQL `run` sends that reads stage events."""
    seen = []
    fetch = queries.fetch

    def spy(query):
        seen.append((query.sql, list(query.params)))
        return fetch(query)

    monkeypatch.setattr(queries, "fetch", spy)
    run()
    monkeypatch.setattr(queries, "fetch", fetch)
    return [(sql, params) for sql, params in seen if "deals_stageevent" in sql]


def _plans(found: list[tuple[str, list]], *, without: str = "") -> list[str]:
    """Each query's plan, `without` one index (dropped in a savepoint)."""
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        if without:
            cursor.execute(f"DROP INDEX {without}")
        postgres = connection.vendor == "postgresql"
        if postgres:
            # Tables this small are read whole; ask whether an index can
            # serve the query at all.
            cursor.execute("SET LOCAL enable_seqscan = off")
        for sql, params in found:
            cursor.execute(f"EXPLAIN {'' if postgres else 'QUERY PLAN '}{sql}", params)
            plans.append(" ".join(str(row[-1]) for row in cursor.fetchall()))
        transaction.set_rollback(True)
    return plans


@pytest.fixture
def moved(pipeline):
    for n in range(3):
        deal = open_deal(pipeline, "inquiry", START)
        move(deal, "discovery", day(n + 1))
        move(deal, "inquiry", day(n + 2))  # backward: the funnel reads it
    return pipeline


def test_the_funnels_backward_moves_are_read_through_event_backward(monkeypatch, moved):
    found = _event_queries(monkeypatch, lambda: queries.funnel(filters_for(moved)))

    [plan] = _plans(found, without="event_exits")

    assert "event_backward" in plan, plan


def test_time_in_stage_reads_exits_through_event_exits(monkeypatch, moved):
    found = _event_queries(
        monkeypatch, lambda: queries.time_in_stage(filters_for(moved))
    )

    # Without event_backward, which serves the same condition as well: which
    # of the two the planner takes turned on the table's statistics.
    plans = _plans(found, without="event_backward")

    assert plans
    for plan in plans:
        assert "event_exits" in plan, plan


def test_the_pipeline_at_an_earlier_instant_reads_only_the_later_deals_events(
    monkeypatch, moved
):
    found = _event_queries(
        monkeypatch, lambda: queries.pipeline_now(filters_for(moved), day(1.5))
    )

    plans = _plans(found)

    assert len(plans) == 2  # the counts and the ages
    for plan in plans:
        # The events after the instant by stage and time; those deals'
        # histories by deal: never a scan of the whole log.
        assert "event_to_stage_at" in plan, plan
        assert "event_deal_at" in plan, plan
