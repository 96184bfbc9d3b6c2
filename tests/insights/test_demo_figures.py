"""On the Maven CRM demo data the insights show true figures: each is
recomputed here independently, straight from the CSV files, and compared.

The data set's conventions (PROVENANCE.md): dates are days; the import puts
them at midnight in the pipeline's zone (New York here); won and lost deals
closed from "engaging"; prospecting deals carry no dates at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from collections import defaultdict
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from dealgate.accounts.models import Team, User
from dealgate.core import business_time
from dealgate.deals.models import Product
from dealgate.imports.mappings import MAVEN_DEMO_DIR
from dealgate.imports.services import import_deals
from dealgate.insights import queries
from dealgate.insights.filters import read_filters
from dealgate.pipelines.calendars import calendar_for
from tests.importing import make_import_pipeline

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
AS_OF = dt.datetime(2017, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


@cache
def opportunities() -> list[dict[str, str]]:
    with (MAVEN_DEMO_DIR / "sales_pipeline.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def side_file(name: str, key: str) -> dict[str, dict[str, str]]:
    with (MAVEN_DEMO_DIR / name).open(newline="") as handle:
        return {row[key]: row for row in csv.DictReader(handle)}


def midnight(day: str) -> dt.datetime:
    # In UTC: Python subtracts two instants of one zone by their wall clocks.
    local = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), NEW_YORK)
    return local.astimezone(dt.UTC)


def win_rates(rows, key) -> dict[str, float]:
    won, closed = defaultdict(int), defaultdict(int)
    for row in rows:
        if row["deal_stage"] in ("Won", "Lost"):
            closed[key(row)] += 1
            won[key(row)] += row["deal_stage"] == "Won"
    return {name: won[name] / closed[name] for name in closed}


@pytest.fixture
def maven(db):
    pipeline = make_import_pipeline(
        "maven",
        timezone="America/New_York",
        loss_reasons=[{"key": "not-recorded", "label": "Not recorded"}],
    )
    report = import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=pipeline)
    assert report.committed
    return pipeline


def filters(pipeline, **params):
    params.setdefault("period", "all")
    return read_filters({"pipeline": pipeline.key, **params}, now=AS_OF)


def test_win_rate_per_sales_agent_matches_the_file(maven):
    expected = win_rates(opportunities(), lambda row: row["sales_agent"])
    names = {user.pk: user.display_name for user in User.objects.all()}

    found = {
        names[row.key]: row.win_rate
        for row in queries.outcomes(filters(maven), "owner")
    }

    assert len(found) == 30
    assert found == pytest.approx(expected)


def test_win_rate_per_product_matches_the_file(maven):
    # The deals file spells "GTXPro" what products.csv calls "GTX Pro".
    expected = win_rates(opportunities(), lambda row: row["product"].replace(" ", ""))
    names = dict(Product.objects.values_list("pk", "name"))

    found = {
        names[row.key].replace(" ", ""): row.win_rate
        for row in queries.outcomes(filters(maven), "product")
    }

    assert found == pytest.approx(expected)


def test_median_days_from_engagement_to_close_of_won_deals_matches_the_file(maven):
    won = [row for row in opportunities() if row["deal_stage"] == "Won"]
    whole_days = [
        (
            dt.date.fromisoformat(r["close_date"])
            - dt.date.fromisoformat(r["engage_date"])
        ).days
        for r in won
    ]

    found = queries.outcomes(filters(maven))[0]

    # Calendar days in the pipeline's zone: midnight to midnight is a whole
    # number of days even across a daylight-saving change (23 or 25 hours).
    assert found.cycle.n == len(won) == 4238
    assert found.cycle.median == pytest.approx(statistics.median(whole_days))
    assert found.cycle_mean == pytest.approx(statistics.fmean(whole_days))


def test_win_rate_and_average_won_value_of_a_quarter_match_the_file(maven):
    quarter = [
        row
        for row in opportunities()
        if row["close_date"] and "2017-04-01" <= row["close_date"] <= "2017-06-30"
    ]
    won = [int(row["close_value"]) for row in quarter if row["deal_stage"] == "Won"]

    found = queries.outcomes(
        filters(maven, period="", **{"from": "2017-04-01", "to": "2017-06-30"})
    )[0]

    assert found.closed == len(quarter)
    assert found.win_rate == pytest.approx(len(won) / len(quarter))
    assert found.average_won_value == pytest.approx(statistics.fmean(won))


def test_a_team_and_a_segment_filter_match_the_file(maven):
    teams = side_file("sales_teams.csv", "sales_agent")
    sectors = side_file("accounts.csv", "account")
    team = Team.objects.get(name="Central (Dustin Brinkmann)")

    by_team = win_rates(opportunities(), lambda r: teams[r["sales_agent"]]["manager"])
    by_sector = win_rates(
        [row for row in opportunities() if row["account"]],
        lambda r: sectors[r["account"]]["sector"],
    )

    team_rate = queries.outcomes(filters(maven, team=str(team.pk)))[0].win_rate
    retail_rate = queries.outcomes(filters(maven, segment="retail"))[0].win_rate
    assert team_rate == pytest.approx(by_team["Dustin Brinkmann"])
    assert retail_rate == pytest.approx(by_sector["retail"])


def test_the_funnel_counts_every_opportunity_from_the_stage_it_reached(maven):
    stages = defaultdict(int)
    for row in opportunities():
        stages[row["deal_stage"]] += 1

    found = {row.stage.key: row.step for row in queries.funnel(filters(maven)).rows}

    assert (found["prospecting"].entered, found["prospecting"].passed) == (8800, 8300)
    assert (found["engaging"].entered, found["engaging"].passed) == (
        8800 - stages["Prospecting"],
        stages["Won"],
    )
    assert found["engaging"].lost_here == stages["Lost"] == 2473


def test_the_pipeline_view_and_the_bottleneck_match_the_open_deals(maven):
    found = {one.stage.key: one for one in queries.pipeline_now(filters(maven), AS_OF)}

    assert (found["prospecting"].count, found["engaging"].count) == (500, 1589)
    assert found["engaging"].share == pytest.approx(1589 / 2089)
    assert found["engaging"].wide and not found["prospecting"].wide
    # Prospecting deals have no dates in the file, so no age.
    assert found["prospecting"].unknown_entry == 500


def test_the_pipeline_as_of_an_earlier_day_holds_the_deals_open_then(maven):
    at = dt.datetime(2017, 6, 30, 23, 59, 59, tzinfo=dt.UTC)
    calendar = calendar_for(maven)
    entries = [
        midnight(row["engage_date"])
        for row in opportunities()
        if row["engage_date"]
        and midnight(row["engage_date"]) <= at
        and not (row["close_date"] and midnight(row["close_date"]) <= at)
    ]
    ages = [business_time.business_days_between(calendar, e, at) for e in entries]

    found = {one.stage.key: one for one in queries.pipeline_now(filters(maven), at)}

    assert found["engaging"].count == len(entries)
    assert found["engaging"].age.median == pytest.approx(statistics.median(ages))
    # Prospecting deals have no dates at all: they stand where the file puts
    # them, entry unknown, whatever the day.
    assert (found["prospecting"].count, found["prospecting"].unknown_entry) == (
        500,
        500,
    )


def test_median_age_of_engaging_deals_matches_the_file(maven):
    calendar = calendar_for(maven)
    ages = [
        business_time.business_days_between(
            calendar, midnight(row["engage_date"]), AS_OF
        )
        for row in opportunities()
        if row["deal_stage"] == "Engaging"
    ]

    found = {one.stage.key: one for one in queries.pipeline_now(filters(maven), AS_OF)}

    assert found["engaging"].age.median == pytest.approx(statistics.median(ages))


def test_time_in_engaging_matches_the_file(maven):
    closed = [row for row in opportunities() if row["deal_stage"] in ("Won", "Lost")]
    found = {one.stage.key: one for one in queries.time_in_stage(filters(maven))}
    engaging = found["engaging"].spread
    if engaging.unit == "business days":
        calendar = calendar_for(maven)
        stays = [
            business_time.business_days_between(
                calendar, midnight(r["engage_date"]), midnight(r["close_date"])
            )
            for r in closed
        ]
    else:
        # Calendar days: the dates between, in the pipeline's zone.
        stays = [
            (
                dt.date.fromisoformat(r["close_date"])
                - dt.date.fromisoformat(r["engage_date"])
            ).days
            for r in closed
        ]

    assert engaging.n == len(closed)
    assert engaging.median == pytest.approx(statistics.median(stays))


def test_every_loss_left_from_engaging_with_no_recorded_reason(maven):
    found = [
        (row.stage.key, row.reason, row.deals) for row in queries.losses(filters(maven))
    ]

    assert found == [("engaging", "not-recorded", 2473)]
