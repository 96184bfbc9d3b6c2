"""The windows-and-limits table keeps the clocks of stays that began in
Dealgate apart from those of stays an import brought in, so deals that
arrived already past their age limit do not count as missed by the team."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealgate.clocks.models import Clock
from dealgate.clocks.services import start_missing_clocks
from dealgate.deals.models import Deal, StageEvent
from dealgate.insights import queries, reports
from tests.conftest import NOW

from .conftest import START, day, filters_for, open_deal

pytestmark = pytest.mark.django_db

IMPORTED_AT = day(10)


def imported_deal(pipeline, entered: dt.datetime, owner) -> Deal:
    """An open deal as an import writes it: no signals, its entry into the
    stage recorded as an event of source "import" at the file's date."""
    stage = pipeline.stages.get(key="inquiry")
    [deal] = Deal.objects.bulk_create(
        [
            Deal(
                pipeline=pipeline,
                stage=stage,
                title="Imported",
                owner=owner,
                value=Decimal(1000),
                created_at=entered,
                stage_entered_at=entered,
            )
        ]
    )
    StageEvent.objects.create(
        deal=deal,
        to_stage=stage,
        from_status="",
        to_status="open",
        at=entered,
        source="import",
    )
    return deal


def decide(deal: Deal, state: str, at: dt.datetime) -> None:
    """End the deal's age clock as the sweep (breached) or a move (met) does."""
    clocks = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
    assert clocks.count() == 1
    clocks.update(state=state, ended_at=at, is_open=state == Clock.State.BREACHED)


@pytest.fixture
def both_kinds(pipeline, alice):
    """Four deals in Inquiry (a two-day limit): two entered it in Dealgate,
    one of them left to run out; two were imported mid-stay, one entered
    weeks before the import (already past its limit when it arrived) and one
    an hour before it, then moved on in time."""
    ran_out = open_deal(pipeline, "inquiry", START, owner=alice)
    moved_on = open_deal(pipeline, "inquiry", day(1), owner=alice)
    arrived_late = imported_deal(pipeline, START - dt.timedelta(days=20), alice)
    arrived_fresh = imported_deal(pipeline, IMPORTED_AT - dt.timedelta(hours=1), alice)
    assert start_missing_clocks(apply=True, now=IMPORTED_AT).overdue == 1
    decide(ran_out, Clock.State.BREACHED, day(5))
    decide(moved_on, Clock.State.MET, day(2))
    decide(arrived_late, Clock.State.BREACHED, IMPORTED_AT + dt.timedelta(minutes=1))
    decide(arrived_fresh, Clock.State.MET, IMPORTED_AT + dt.timedelta(days=1))
    return pipeline


def test_clocks_of_imported_stays_are_counted_apart_from_the_teams(both_kinds):
    [tally] = queries.clock_tallies(filters_for(both_kinds))

    assert (tally.stage.key, tally.kind) == ("inquiry", "age")
    assert (tally.kept, tally.missed) == (1, 1)
    assert (tally.imported_kept, tally.imported_missed) == (1, 1)
    assert tally.missed_share == pytest.approx(0.5)


def test_the_missed_share_leaves_out_deals_that_arrived_past_their_limit(
    pipeline, alice
):
    moved_on = open_deal(pipeline, "inquiry", START, owner=alice)
    arrived_late = imported_deal(pipeline, START - dt.timedelta(days=20), alice)
    start_missing_clocks(apply=True, now=IMPORTED_AT)
    decide(moved_on, Clock.State.MET, day(1))
    decide(arrived_late, Clock.State.BREACHED, IMPORTED_AT + dt.timedelta(minutes=1))

    [tally] = queries.clock_tallies(filters_for(pipeline))

    assert tally.missed_share == 0
    assert tally.imported_missed == 1


def test_the_clock_table_names_imported_stays_and_says_what_the_share_is_of(
    both_kinds,
):
    table = reports.bottlenecks(filters_for(both_kinds), NOW).table("clocks")

    assert table.headers()[2:] == [
        "Kept (clocks)",
        "Missed (clocks)",
        "Missed (%)",
        "Imported stays kept (clocks)",
        "Imported stays missed (clocks)",
    ]
    assert [cell.text for cell in table.cells()[0][2:]] == ["1", "1", "50.0%", "1", "1"]
    assert "of stays that began in Dealgate" in table.note
    assert "arrived already past it" in table.note
    assert "counts as missed" not in table.note
