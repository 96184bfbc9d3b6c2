"""The lead report counts leads in the calendar month of the pipeline's zone,
not UTC's: a lead created just after local midnight on the 1st belongs to the
new month, one just before it to the old, far east and far west of UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dealgate.leads.models import Lead
from dealgate.leads.report import lead_report


def local(zone: str, *parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    "zone",
    [
        "Pacific/Auckland",  # UTC+13 in summer: 1 Feb 00:30 is 31 Jan in UTC
        "America/Los_Angeles",  # UTC-8: 31 Jan 20:00 is 1 Feb in UTC
    ],
)
def test_leads_count_in_the_month_of_their_local_day(pipeline, zone):
    pipeline.calendar = {**pipeline.calendar, "timezone": zone}
    pipeline.save()
    for n, created in enumerate(
        [
            local(zone, 2026, 1, 31, 20, 0),
            local(zone, 2026, 1, 31, 23, 59),
            local(zone, 2026, 2, 1, 0, 30),
            local(zone, 2026, 4, 1, 0, 5),
        ]
    ):
        Lead.objects.create(
            pipeline=pipeline, name=f"Lead {n}", channel="api", created_at=created
        )

    report = lead_report(pipeline)

    assert report.months == [("2026-01", 2, 0), ("2026-02", 1, 0), ("2026-04", 1, 0)]
    assert f"By month of first contact, {zone} time (leads, won)" in report.lines()


def test_a_pipeline_without_leads_has_no_months(pipeline):
    report = lead_report(pipeline)

    assert (report.leads, report.months) == (0, [])


def test_the_report_page_names_the_zone_of_its_months(client, pipeline, olivia):
    pipeline.calendar = {**pipeline.calendar, "timezone": "Pacific/Auckland"}
    pipeline.save()
    Lead.objects.create(
        pipeline=pipeline,
        name="Lead",
        channel="api",
        created_at=local("Pacific/Auckland", 2026, 2, 1, 0, 30),
    )
    client.force_login(olivia)

    page = client.get("/leads/report/").content.decode()

    assert "By month of first contact, Pacific/Auckland time" in page
    assert "<td>2026-02</td>" in page
