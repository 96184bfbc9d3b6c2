"""What the headline figures say beside them: sales velocity when nothing
was won or nothing closed, and the won deals in other currencies that the
average won value leaves out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.insights import reports

from .conftest import START, day, filters_for, move, open_deal

pytestmark = pytest.mark.django_db

FORMULA = "open deals x win rate x average won value / mean cycle"


def headline(pipeline, now):
    report = reports.overview(filters_for(pipeline), now)
    return {row[0]: row for row in report.table("headline").rows}


def stale_open_deals(pipeline) -> None:
    """Three open deals in discovery since day 1: on day 20 all are past its
    limit of 5 business days."""
    for _ in range(3):
        open_deal(pipeline, "discovery", day(1))


def test_with_deals_closed_and_none_won_velocity_is_zero_a_day(pipeline):
    move(open_deal(pipeline, "inquiry", START), "lost", day(10))
    stale_open_deals(pipeline)

    rows = headline(pipeline, day(20))

    assert rows["Win rate"][1] == 0
    assert rows["Sales velocity"][1] == Decimal("0.00")
    assert rows["Sales velocity"][3] == (
        f"{FORMULA}; no deal closed in the period was won"
    )


def test_with_nothing_closed_velocity_is_unknown_and_says_why(pipeline):
    stale_open_deals(pipeline)

    rows = headline(pipeline, day(20))

    assert rows["Sales velocity"][1] is None
    assert rows["Sales velocity"][3] == (
        f"{FORMULA}; no deal closed in the period, so there is no win rate"
    )


def test_velocity_unknown_for_want_of_a_value_says_so_not_likely_high(pipeline):
    move(open_deal(pipeline, "inquiry", START, currency="EUR"), "won", day(10))
    stale_open_deals(pipeline)

    rows = headline(pipeline, day(20))

    assert rows["Sales velocity"][1] is None
    assert rows["Sales velocity"][3] == (f"{FORMULA}; no won deal has a value in USD")


def test_the_average_won_value_counts_the_won_deals_in_other_currencies(
    pipeline,
):
    move(open_deal(pipeline, "inquiry", START, value=1000), "won", day(10))
    move(
        open_deal(pipeline, "inquiry", START, value=2000, currency="EUR"),
        "won",
        day(11),
    )
    move(open_deal(pipeline, "inquiry", START, value=None), "won", day(12))

    rows = headline(pipeline, day(20))

    assert rows["Average won value"][1] == Decimal("1000.00")
    assert rows["Average won value"][3] == (
        "over 1 won deal with a value in USD; left out: 1 won deal in another currency"
    )


def test_the_average_won_value_counts_only_other_currencies_won_in_the_period(
    pipeline,
):
    move(open_deal(pipeline, "inquiry", START, currency="EUR"), "won", day(1))
    move(open_deal(pipeline, "inquiry", START, currency="EUR"), "lost", day(40))
    move(open_deal(pipeline, "inquiry", START), "won", day(41))

    report = reports.overview(
        filters_for(pipeline, period="", **{"from": "2026-04-01"}), day(50)
    )
    rows = {row[0]: row for row in report.table("headline").rows}

    assert rows["Average won value"][3] == "over 1 won deal with a value in USD"
