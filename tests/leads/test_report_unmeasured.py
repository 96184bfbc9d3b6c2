"""A lead answered behind Dealgate's back (by SQL, or an old row) has a first
response but no stored response time: the report leaves it out of the median
and says how many it left out, on the command line and on the page."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.cli import main
from dealgate.leads.models import Lead
from dealgate.leads.report import lead_report
from dealgate.leads.services import capture_lead, record_response
from tests.web.helpers import text_of

from .conftest import inquiry

LEFT_OUT = (
    "a stored response time (answered outside Dealgate: by SQL, or in an old row)"
)


def answered_by_sql(lead: Lead, at: dt.datetime) -> None:
    Lead.objects.filter(pk=lead.pk).update(
        status=Lead.Status.ANSWERED, first_response_at=at
    )


@pytest.fixture
def answered(routed, alice, bob, now):
    """Two leads answered in Dealgate (6 and 10 minutes) and one by SQL, read
    once all three answers are given: the report counts those given by its
    instant."""
    first = capture_lead(inquiry(1), source="api").lead  # alice
    second = capture_lead(inquiry(2), source="api").lead  # bob
    third = capture_lead(inquiry(3), source="api").lead
    with timesource.frozen_at(now + dt.timedelta(minutes=6)):
        record_response(first.pk, kind="email", by=alice)
    with timesource.frozen_at(now + dt.timedelta(minutes=10)):
        record_response(second.pk, kind="call", by=bob)
    answered_by_sql(third, now + dt.timedelta(minutes=3))
    with timesource.frozen_at(now + dt.timedelta(minutes=10)):
        yield routed


def test_a_lead_without_a_stored_response_time_is_left_out_of_the_median(answered, now):
    report = lead_report(answered)

    assert (report.answered, report.answered_unmeasured) == (3, 1)
    assert report.response_business_median == pytest.approx(8)
    assert report.response_wall_median_minutes == pytest.approx(8)


def test_the_command_says_how_many_it_left_out(answered, now, capsys):
    assert main(["leads", "report"]) == 0

    out = capsys.readouterr().out
    assert (
        "answered: 3, 2 within 15 business min of arriving; buyers waited a "
        "median 8 business min"
    ) in out
    assert f"left out of the median: 1 answered without {LEFT_OUT}" in out


def test_the_page_says_how_many_it_left_out(client, answered, alice, now):
    client.force_login(alice)

    text = text_of(client.get("/leads/report/"))

    assert "Buyers waited a median 8 business minutes (8 minutes of wall time)" in text
    assert f"leaving out 1 without {LEFT_OUT}" in text


def test_with_no_stored_response_time_at_all_there_is_no_median(
    client, routed, alice, now, capsys
):
    lead = capture_lead(inquiry(1), source="api").lead
    answered_by_sql(lead, now + dt.timedelta(minutes=3))
    client.force_login(alice)

    with timesource.frozen_at(now + dt.timedelta(minutes=3)):
        assert main(["leads", "report"]) == 0
        text = text_of(client.get("/leads/report/"))
    out = capsys.readouterr().out
    assert "answered: 1, 0 within 15 business min of arriving; no median" in out
    assert f"left out of the median: 1 answered without {LEFT_OUT}" in out
    assert f"No median wait: none of them has {LEFT_OUT}." in text
