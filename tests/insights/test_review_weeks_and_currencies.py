"""The weekly review's figures say what they leave out: weeks that have not
started have no value, the current week is so far, and won deals in other
currencies are counted and shown in their own currency."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate import cli, timesource
from dealgate.insights import reports
from dealgate.insights import review as rv
from dealgate.insights.services import record_review
from tests.conftest import NOW
from tests.web.helpers import text_of

from .conftest import filters_for, move, open_deal

pytestmark = pytest.mark.django_db

THIS_WEEK = dt.date(2026, 6, 8)  # NOW is Wednesday 10 June 2026
BERLIN_MONDAY = dt.datetime(2026, 6, 7, 22, 0, tzinfo=dt.UTC)  # 8 June, 00:00
IN_TWO_WEEKS = THIS_WEEK + dt.timedelta(weeks=2)


def won(pipeline, at: dt.datetime, **fields):
    deal = open_deal(pipeline, "inquiry", at - dt.timedelta(days=5), **fields)
    return move(deal, "won", at)


def review(pipeline, metric: str, week: dt.date = THIS_WEEK):
    return reports.weekly_review(filters_for(pipeline), NOW, week=week, metric=metric)


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# -- won deals in other currencies ------------------------------------------------


def test_the_won_value_counts_the_won_deals_in_other_currencies_it_leaves_out(
    pipeline,
):
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=1), value=1000)
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=2), value=2000, currency="EUR")

    series = review(pipeline, "won_value").report.table("series")

    assert series.headers()[-1] == "In other currencies, left out (deals)"
    assert series.rows[-1] == ["2026-06-08", 1000.0, 1, 1]
    assert series.rows[-2][1:] == [0.0, 0, 0]
    assert "Left out of the week reviewed: 1 won deal in another currency" in (
        series.note
    )


def test_the_deals_behind_the_won_value_show_each_value_in_its_own_currency(
    pipeline,
):
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=1), value=2000, currency="EUR")

    page = review(pipeline, "won_value")
    behind = page.report.table("behind")

    assert page.report.table("series").rows[-1] == ["2026-06-08", 0.0, 0, 1]
    assert behind.rows[0][4:6] == [Decimal("2000.00"), "EUR"]
    assert behind.note == (
        "1 in all: 0 in the won value, 1 in other currencies (left out of USD)."
    )
    assert rows_of(behind.csv())[1][4:6] == ["2000.00", "EUR"]
    assert re.search(r"2,000 +EUR", behind.text())


def test_the_list_behind_the_won_value_accounts_for_every_deal_the_row_leaves_out(
    pipeline,
):
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=1), value=500)
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=2), value=1000, currency="EUR")
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=3), value=None)

    page = review(pipeline, "won_value")

    assert page.report.table("series").rows[-1] == ["2026-06-08", 500.0, 1, 1]
    assert page.report.table("behind").note == (
        "3 in all: 1 in the won value, 1 in other currencies (left out of USD), "
        "1 without a value."
    )


def test_other_metrics_say_nothing_of_currencies(pipeline):
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=1), value=2000, currency="EUR")

    page = review(pipeline, "win_rate")

    assert len(page.report.table("series").columns) == 3
    assert page.report.table("behind").note == "1 in all."


# -- weeks not started, and the current week ---------------------------------------


@pytest.mark.parametrize("metric", ["new_deals", "won_value", "lost_deals"])
def test_weeks_that_have_not_started_have_no_value(pipeline, metric):
    won(pipeline, BERLIN_MONDAY + dt.timedelta(hours=1))

    series = rv.weekly_series(filters_for(pipeline), rv.BY_KEY[metric], IN_TWO_WEEKS)

    assert [one.week for one in series[-2:]] == [
        THIS_WEEK + dt.timedelta(weeks=1),
        IN_TWO_WEEKS,
    ]
    assert [(one.value, one.started) for one in series[-2:]] == [(None, False)] * 2
    assert series[-3].started and series[-3].value is not None


def test_a_week_to_come_is_blank_in_the_table_and_its_csv(pipeline):
    open_deal(pipeline, "inquiry", BERLIN_MONDAY + dt.timedelta(hours=1))

    page = review(pipeline, "new_deals", IN_TWO_WEEKS)
    series = page.report.table("series")
    lines = series.csv().splitlines()

    assert lines[-3:] == ["2026-06-08,1,1", "2026-06-15,,", "2026-06-22,,"]
    assert series.note.endswith(
        "The week starting 2026-06-08 is the current one, so far. "
        "Weeks that have not started yet have no value."
    )
    assert "(not started yet)" in page.report.scope


def test_the_page_shows_no_value_for_a_week_to_come(signed_in, pipeline, now):
    open_deal(pipeline, "inquiry", BERLIN_MONDAY + dt.timedelta(hours=1))

    response = signed_in.get(
        reverse("insights:review"),
        {"week": IN_TWO_WEEKS.isoformat(), "metric": "new_deals"},
    )
    download = signed_in.get(
        reverse("insights:review"),
        {
            "week": IN_TWO_WEEKS.isoformat(),
            "metric": "won_value",
            "format": "csv",
            "table": "series",
        },
    )
    text = text_of(response)

    assert "2026-06-15 – –" in text and "2026-06-22 – –" in text
    assert "2026-06-08 1 1" in text
    assert download.content.decode().splitlines()[-1] == "2026-06-22,,,"


def test_the_report_command_shows_no_value_for_a_week_to_come(capsys, pipeline):
    open_deal(pipeline, "inquiry", BERLIN_MONDAY + dt.timedelta(hours=1))

    with timesource.frozen_at(NOW):
        status = cli.main(
            ["report", "review", "--week", IN_TWO_WEEKS.isoformat(), "--metric"]
            + ["new_deals"]
        )
    out = capsys.readouterr().out

    assert status == 0
    assert re.search(r"^2026-06-22 +– +–$", out, flags=re.M)
    assert re.search(r"^2026-06-08 +1 +1$", out, flags=re.M)


def test_the_current_week_is_still_said_to_be_so_far(pipeline):
    series = review(pipeline, "new_deals").report.table("series")

    assert series.note.endswith("The last week is the current one, so far.")
    assert series.rows[-1] == ["2026-06-08", 0.0, 0]


# -- the decision --------------------------------------------------------------------


def test_the_decision_names_the_metric_it_looked_at_by_its_label(
    client, pipeline, max_manager
):
    with timesource.frozen_at(NOW):
        record_review(
            filters_for(pipeline),
            week=THIS_WEEK,
            metric="won_value",
            decision="Chase the renewals",
            by=max_manager,
        )
    client.force_login(max_manager)

    with timesource.frozen_at(NOW):
        text = text_of(client.get(reverse("insights:review")))

    assert "looking at Won value:" in text
    assert "won_value" not in text
