"""The insights pages: access, filters, charts with their tables, and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from dealgate.insights import sql
from dealgate.insights.models import WeeklyReview
from tests.web.helpers import text_of

from .conftest import walk

pytestmark = pytest.mark.django_db

PAGES = ["insights:overview", "insights:bottlenecks", "insights:review"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_send_anonymous_visitors_to_log_in(client, db, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_charts_with_labelled_axes(signed_in, pipeline, now, name):
    walk(pipeline, ["inquiry", "discovery", "won"])
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "discovery"])

    page = signed_in.get(reverse(name)).content.decode()

    charts = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert charts
    for chart in charts:
        assert 'role="img"' in chart
        # An axis title names its unit in brackets: "Open deals now (count)".
        assert re.search(r">[A-Z][^<]*\([^)<]+\)</text>", chart)


def test_the_overview_explains_its_definitions_and_the_two_views(
    signed_in, pipeline, now
):
    text = text_of(signed_in.get(reverse("insights:overview")))

    assert "A skipped stage counts as passed" in text
    assert "The funnel follows a population" in text
    assert "what to act on today" in text


@pytest.mark.parametrize("name", ["insights:overview", "insights:bottlenecks"])
def test_the_as_of_date_is_the_pipelines_local_day(signed_in, pipeline, name):
    # 22:30 UTC on 9 June is half past midnight on 10 June in Berlin.
    with timesource.frozen_at(dt.datetime(2026, 6, 9, 22, 30, tzinfo=dt.UTC)):
        page = text_of(signed_in.get(reverse(name)))

    assert "as of 10 Jun 2026" in page


def test_the_overview_shows_the_funnel_beside_the_pipeline(signed_in, pipeline, now):
    walk(pipeline, ["inquiry", "discovery", "won"])
    walk(pipeline, ["inquiry", "lost"])

    text = text_of(signed_in.get(reverse("insights:overview")))

    assert "Inquiry received 2 1 50.0% 1 0" in text
    assert "Won: 1 of the 2 deals that entered (50.0%)" in text


def test_every_table_downloads_as_csv(signed_in, pipeline, now):
    walk(pipeline, ["inquiry", "discovery", "won"])
    page = signed_in.get(reverse("insights:overview")).content.decode()
    keys = re.findall(r"format=csv&amp;table=(\w+)", page)

    assert set(keys) >= {"headline", "funnel", "pipeline", "time_in_stage", "losses"}
    for key in keys:
        response = signed_in.get(
            reverse("insights:overview"), {"format": "csv", "table": key}
        )
        assert response.status_code == 200
        assert response["Content-Disposition"].endswith(f'-{key}.csv"')


def test_the_funnel_csv_keeps_full_precision_with_units_in_the_header(
    signed_in, pipeline, now
):
    walk(pipeline, ["inquiry", "won"])
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "discovery", "lost"])

    response = signed_in.get(
        reverse("insights:overview"), {"format": "csv", "table": "funnel"}
    )
    rows = response.content.decode().splitlines()

    assert rows[0] == (
        "Stage,Reached (deals),Passed (deals),Conversion (%),"
        "Lost here (deals),Still open here (deals)"
    )
    assert rows[1] == "Inquiry received,3,2,66.6667,1,0"


def test_the_headline_csv_writes_counts_as_whole_numbers(signed_in, pipeline, now):
    walk(pipeline, ["inquiry", "won"])
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "discovery"])

    response = signed_in.get(
        reverse("insights:overview"), {"format": "csv", "table": "headline"}
    )
    values = {
        row[0]: row[1] for row in csv.reader(io.StringIO(response.content.decode()))
    }

    assert values["Deals closed"] == "2"
    assert values["Open deals"] == "1"
    assert values["Win rate"] == "50.0"


def test_the_headline_csv_writes_velocity_and_average_won_value_to_the_cent(
    signed_in, pipeline, now
):
    walk(pipeline, ["inquiry", "won"], every=3, value=1000)
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "discovery"])

    response = signed_in.get(
        reverse("insights:overview"), {"format": "csv", "table": "headline"}
    )
    values = {
        row[0]: row[1] for row in csv.reader(io.StringIO(response.content.decode()))
    }
    page = text_of(signed_in.get(reverse("insights:overview")))

    # 1 open x 1/3 won x 1,000 / 3 days: 111.111... a day.
    assert values["Sales velocity"] == "111.11"
    assert values["Average won value"] == "1000.00"
    assert "Sales velocity 111.11 USD per day" in page


def test_the_past_reviews_csv_writes_a_count_metric_whole(signed_in, pipeline, now):
    WeeklyReview.objects.create(
        pipeline=pipeline,
        week=dt.date(2026, 6, 8),
        metric="new_deals",
        value=6716.0,
        unit="deals",
        decision="Hire a second rep.",
        recorded_at=now,
    )

    response = signed_in.get(
        reverse("insights:review"), {"format": "csv", "table": "history"}
    )
    (row,) = list(csv.reader(io.StringIO(response.content.decode())))[1:]

    assert row[1:4] == ["New deals", "6716", "deals"]


def test_the_past_reviews_csv_writes_a_money_metric_to_the_cent(
    signed_in, pipeline, now
):
    WeeklyReview.objects.create(
        pipeline=pipeline,
        week=dt.date(2026, 6, 8),
        metric="won_value",
        value=12345.678,
        unit="USD",
        decision="Price the audit higher.",
        recorded_at=now,
    )

    response = signed_in.get(
        reverse("insights:review"), {"format": "csv", "table": "history"}
    )
    (row,) = list(csv.reader(io.StringIO(response.content.decode())))[1:]

    assert row[1:4] == ["Won value", "12345.68", "USD"]


def test_an_unknown_table_names_the_tables_there_are(signed_in, pipeline, now):
    response = signed_in.get(
        reverse("insights:bottlenecks"), {"format": "csv", "table": "nope"}
    )

    assert response.status_code == 404
    assert "tables: width, oldest" in text_of(response)


def test_without_a_pipeline_the_page_says_what_to_do(signed_in):
    response = signed_in.get(reverse("insights:overview"))

    assert response.status_code == 404
    assert "there is no pipeline yet" in text_of(response)


def test_a_bad_period_is_refused_with_the_field_named(signed_in, pipeline, now):
    response = signed_in.get(reverse("insights:overview"), {"period": "forever"})

    assert response.status_code == 422
    assert "period must be one of 30d, 90d, 365d, all" in text_of(response)


@pytest.mark.parametrize(
    ("page", "params", "field"),
    [
        ("insights:overview", {"from": "0001-01-01"}, "from"),
        ("insights:overview", {"to": "9999-12-31"}, "to"),
        ("insights:review", {"week": "0001-01-01"}, "week"),
        ("insights:review", {"week": "9999-12-27"}, "week"),
    ],
)
def test_a_day_out_of_business_times_years_is_refused_not_a_crash(
    signed_in, pipeline, now, page, params, field
):
    response = signed_in.get(reverse(page), params)

    assert response.status_code == 422
    assert f"{field} must be a date between 1901 and 2198" in text_of(response)


def test_the_breakdown_follows_the_choice(signed_in, pipeline, now, alice):
    walk(pipeline, ["inquiry", "won"], owner=alice, source="web")

    owner = text_of(signed_in.get(reverse("insights:overview")))
    source = text_of(signed_in.get(reverse("insights:overview"), {"by": "source"}))

    assert "Outcomes by owner" in owner and "Alice Rep 1 1 100.0%" in owner
    assert "Outcomes by source" in source and "web 1 1 100.0%" in source


def test_the_bottlenecks_page_flags_wide_stages_and_lists_their_oldest_deals(
    signed_in, pipeline, now
):
    for n in range(3):
        walk(pipeline, ["inquiry"], title=f"Waiting {n}")
    walk(pipeline, ["inquiry", "proposal"], title="Moving")

    text = text_of(signed_in.get(reverse("insights:bottlenecks")))

    assert "Inquiry received 3 75.0% bottleneck" in text
    assert "Inquiry received Waiting 0" in text
    assert "Stages missing a rule" in text


def test_a_filtered_page_keeps_its_filters_in_links(signed_in, pipeline, now, alice):
    page = signed_in.get(
        reverse("insights:overview"), {"owner": "alice", "period": "90d"}
    ).content.decode()

    assert "owner=alice" in page
    assert "period=90d" in page


def test_the_sql_names_the_tables_the_models_use():
    from dealgate.accounts.models import User
    from dealgate.deals.models import Organization
    from dealgate.leads.models import Lead

    assert Deal._meta.db_table == sql.DEAL
    assert StageEvent._meta.db_table == sql.EVENT
    assert User._meta.db_table == sql.USER
    assert Organization._meta.db_table == sql.ORGANIZATION
    assert Lead._meta.db_table == sql.LEAD
