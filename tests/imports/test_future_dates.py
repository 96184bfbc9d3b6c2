"""Creation, stage entry and close happened: a file's date for them decades
ahead is a typo and a bad value; a day ahead may be a time zone, kept."""

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

BEGAN = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)
MAPPING = """
source = "crm"
loss_reason = "not-recorded"
date_format = "YYYY-MM-DD HH:MM"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
created_at = "Created"
stage_entered_at = "Entered"
close_date = "Closed"
[stages]
Open = "prospecting"
Won = { stage = "engaging", status = "won" }
Lost = { stage = "engaging", status = "lost" }
"""
HEADER = "Id,Deal,Stage,Created,Entered,Closed\n"
NOT_YET = "has not happened yet: it is more than 2 days after the import began, "


def imported(tmp_path, *rows: str, timezone: str = "UTC"):
    sales = make_import_pipeline(timezone=timezone)
    path = write_csv(tmp_path, HEADER + "".join(rows))
    mapping = write_mapping(tmp_path, MAPPING)
    with timesource.frozen_at(BEGAN):
        return import_deals(path, mapping, pipeline=sales, all_or_nothing=False)


def bad_rows(report) -> list[str]:
    return [str(bad) for bad in report.bad_rows]


def test_a_won_or_lost_deal_closed_decades_ahead_is_a_bad_row(tmp_path):
    report = imported(
        tmp_path,
        "D1,Orbit,Won,2026-03-02 10:00,2026-03-02 10:00,2062-04-14 00:00\n",
        "D2,Helix,Lost,2026-03-02 10:00,2026-03-02 10:00,2090-01-31 00:00\n",
        "D3,Vega,Won,2026-03-02 10:00,2026-03-02 10:00,2026-04-14 00:00\n",
    )
    assert bad_rows(report) == [
        f"line 2: Closed: '2062-04-14 00:00' {NOT_YET}2026-06-10 15:00 UTC",
        f"line 3: Closed: '2090-01-31 00:00' {NOT_YET}2026-06-10 15:00 UTC",
    ]
    assert list(Deal.objects.values_list("external_id", flat=True)) == ["D3"]


def test_a_creation_or_stage_entry_decades_ahead_is_a_bad_row_too(tmp_path):
    report = imported(
        tmp_path,
        "D1,Orbit,Open,2062-03-02 10:00,,\n",
        "D2,Helix,Open,,2062-03-02 10:00,\n",
    )
    assert bad_rows(report) == [
        f"line 2: Created: '2062-03-02 10:00' {NOT_YET}2026-06-10 15:00 UTC",
        f"line 3: Entered: '2062-03-02 10:00' {NOT_YET}2026-06-10 15:00 UTC",
    ]


def test_up_to_two_days_ahead_is_kept_and_counted_as_in_the_future(tmp_path):
    report = imported(
        tmp_path,
        "D1,Orbit,Won,2026-06-09 10:00,2026-06-11 09:00,2026-06-12 15:00\n",
        "D2,Helix,Won,2026-06-09 10:00,2026-06-09 10:00,2026-06-12 15:01\n",
    )
    assert bad_rows(report) == [
        f"line 3: Closed: '2026-06-12 15:01' {NOT_YET}2026-06-10 15:00 UTC"
    ]
    assert {k: v for k, v in report.warnings.items() if "future" in k} == {
        "Entered after 2026-06-10 15:00 UTC, in the future; kept as written": 1,
        "Closed after 2026-06-10 15:00 UTC, in the future; kept as written": 1,
    }
    assert Deal.objects.get().closed_at == dt.datetime(
        2026, 6, 12, 15, 0, tzinfo=dt.UTC
    )


def test_today_where_the_file_was_written_is_not_refused_in_a_zone_behind_it(
    tmp_path,
):
    # At 15:00 UTC it is already 05:00 on 2026-06-11 in Kiritimati (UTC+14);
    # read at midnight in Honolulu (UTC-10), that day starts 19 hours ahead.
    report = imported(
        tmp_path,
        "D1,Orbit,Won,2026-06-01 00:00,2026-06-01 00:00,2026-06-11 00:00\n",
        timezone="Pacific/Honolulu",
    )
    assert report.committed and not report.bad_rows
    assert Deal.objects.get().closed_at == dt.datetime(
        2026, 6, 11, 10, 0, tzinfo=dt.UTC
    )


def test_an_open_deals_close_date_is_a_forecast_and_may_be_years_ahead(tmp_path):
    report = imported(tmp_path, "D1,Orbit,Open,2026-06-01 00:00,,2029-12-31 00:00\n")
    assert not report.bad_rows
    assert not [k for k in report.warnings if "future" in k]
    assert Deal.objects.get().expected_close_date == dt.date(2029, 12, 31)
