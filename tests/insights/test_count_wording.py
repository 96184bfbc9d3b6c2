"""The notes beside the figures say a count of one in the singular: noun,
verb and pronoun agree with the number ("1 of the 4 open deals is past its
stage's age limit"), as they do for any other count."""

from __future__ import annotations

import pytest

from dealgate.insights import reports
from tests.conftest import NOW

from .conftest import START, day, filters_for, move, open_deal
from .test_leaks_and_responses import lead

pytestmark = pytest.mark.django_db


def overview_note(pipeline, table: str, now=NOW, **params) -> str:
    return reports.overview(filters_for(pipeline, **params), now).table(table).note


def headline_notes(pipeline, now) -> dict[str, str]:
    report = reports.overview(filters_for(pipeline), now)
    return {row[0]: row[3] for row in report.table("headline").rows}


def test_one_open_deal_past_its_limit_is_said_in_the_singular(pipeline):
    move(open_deal(pipeline, "inquiry", START, value=3000), "won", day(10))
    open_deal(pipeline, "discovery", day(1))
    for _ in range(3):
        open_deal(pipeline, "discovery", day(19))

    # Discovery's limit is 5 business days: on day 20 one of the four is past.
    assert headline_notes(pipeline, day(20))["Sales velocity"].endswith(
        "; 1 of the 4 open deals is past its stage's age limit, so this is likely high"
    )


def test_one_won_deal_behind_the_average_and_the_cycle_is_one_deal(pipeline):
    move(open_deal(pipeline, "inquiry", START, value=1000), "won", day(10))

    notes = headline_notes(pipeline, day(20))

    assert notes["Average won value"] == "over 1 won deal with a value in USD"
    assert notes["Sales cycle, median"] == "over 1 won deal with a creation date"


def test_two_won_deals_behind_the_average_are_deals(pipeline):
    for at in (10, 11):
        move(open_deal(pipeline, "inquiry", START, value=1000), "won", day(at))

    notes = headline_notes(pipeline, day(20))

    assert notes["Average won value"] == "over 2 won deals with a value in USD"


def test_the_funnel_says_one_deal_that_entered_and_one_left_out(pipeline):
    open_deal(pipeline, "inquiry", day(1))
    open_deal(pipeline, "discovery", day(0), record_entry=False)

    note = overview_note(
        pipeline, "funnel", period="", **{"from": "2026-03-02", "to": "2026-03-31"}
    )

    assert note == (
        "Won: 0 of the 1 deal that entered (0.0%). Left out: 1 deal with no "
        "date to place its entry in a period (choose all time to include it)."
    )


def test_one_lead_answered_in_a_minute_is_said_in_the_singular(pipeline, alice):
    lead(pipeline, alice, 1)

    note = overview_note(pipeline, "responses")

    assert note == (
        "1 lead assigned in the period; windows in business time. Median "
        "response: 1 business minute (1 minute of wall-clock time)."
    )


def test_two_leads_are_leads(pipeline, alice):
    lead(pipeline, alice, 2)
    lead(pipeline, alice, 2)

    note = overview_note(pipeline, "responses")

    assert note.startswith("2 leads assigned in the period;")
    assert "Median response: 2 business minutes (2 minutes of" in note


def test_won_deals_left_out_are_counted_in_the_number_they_are(pipeline):
    move(open_deal(pipeline, "inquiry", START, value=1000), "won", day(10))
    for at in (11, 12):
        euros = open_deal(pipeline, "inquiry", START, value=2000, currency="EUR")
        move(euros, "won", day(at))

    notes = headline_notes(pipeline, day(20))

    assert notes["Average won value"] == (
        "over 1 won deal with a value in USD; left out: 2 won deals in other currencies"
    )
