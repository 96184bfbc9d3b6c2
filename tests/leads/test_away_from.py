"""`dealgate leads away` records when leave starts as well as when it ends:
now by default, or `--from`. Routing of a lead received before the leave
began does not skip the person, nor give an absence as the reason."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.cli import main
from dealgate.leads.models import Availability, Lead
from dealgate.leads.services import capture_lead

from .conftest import inquiry


def test_leave_starts_now_unless_told_otherwise(alice, capsys, now):
    assert main(["leads", "away", "alice", "--until", "2026-06-20"]) == 0

    availability = Availability.objects.get(user=alice)
    assert availability.away_from == now
    assert "alice is away from 2026-06-10 12:00 until 2026-06-21 00:00 (UTC)" in (
        capsys.readouterr().out
    )


def test_leave_from_a_day_starts_at_that_days_beginning_where_they_work(
    routed, alice, capsys, now
):
    args = ["leads", "away", "alice", "--from", "2026-06-15", "--until", "2026-06-19"]
    assert main(args) == 0

    availability = Availability.objects.get(user=alice)
    # Berlin's calendar: the 15th begins at 22:00 UTC on the 14th.
    assert availability.away_from.isoformat() == "2026-06-14T22:00:00+00:00"
    assert availability.away_until.isoformat() == "2026-06-19T22:00:00+00:00"


def test_leave_from_an_instant_is_kept_as_given(alice, now):
    args = ["leads", "away", "alice", "--from", "2026-06-01T08:00:00+00:00"]
    assert main([*args, "--until", "2026-06-20"]) == 0

    assert Availability.objects.get(user=alice).away_from == dt.datetime(
        2026, 6, 1, 8, tzinfo=dt.UTC
    )


def test_leave_that_would_end_before_it_starts_is_refused(alice, capsys, now):
    args = ["leads", "away", "alice", "--from", "2026-06-25", "--until", "2026-06-20"]
    assert main(args) == 2

    assert "--from 2026-06-25 is not before --until 2026-06-20" in (
        capsys.readouterr().err
    )
    assert not Availability.objects.filter(user=alice).exists()


def test_a_from_that_does_not_read_is_refused_naming_the_option(alice, capsys, now):
    args = ["leads", "away", "alice", "--from", "next week", "--until", "2026-06-20"]
    assert main(args) == 2

    assert "--from must be a date (2026-12-24) or an ISO instant" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("option", "text", "year"),
    [
        ("--until", "2199-01-01", 2199),
        ("--until", "9999-12-31", 9999),
        ("--until", "2199-06-01T08:00:00+00:00", 2199),
        ("--from", "1900-12-31", 1900),
        ("--from", "0001-01-01T00:00:00+00:00", 1),
    ],
)
def test_a_day_outside_the_products_years_is_refused_naming_the_option(
    alice, capsys, now, option, text, year
):
    days = {"--from": "2026-06-15", "--until": "2026-06-20", option: text}
    args = ["leads", "away", "alice"]
    assert main([*args, "--from", days["--from"], "--until", days["--until"]]) == 2

    error = capsys.readouterr().err
    assert f"{option} must lie between 1901 and 2198, not in {year}" in error
    assert not Availability.objects.filter(user=alice).exists()


def test_a_backlog_lead_received_before_the_leave_is_routed_as_if_present(
    routed, alice, bob, now
):
    assert main(["leads", "away", "alice", "--until", "2026-06-20"]) == 0
    # Monday 8 June, 12:00 in Berlin: two days before the leave began.
    received = dt.datetime(2026, 6, 8, 10, tzinfo=dt.UTC)

    for n in (1, 2):
        capture_lead(inquiry(n), source="import", pipeline=routed, at=received)

    leads = Lead.objects.order_by("id")
    assert {lead.owner for lead in leads} == {alice, bob}
    assert not any("away" in lead.routing_reason for lead in leads)


def test_a_lead_received_during_the_leave_skips_the_person(routed, alice, bob, now):
    assert main(["leads", "away", "alice", "--until", "2026-06-20"]) == 0

    for n in (1, 2):
        capture_lead(inquiry(n), source="api", pipeline=routed)

    assert {lead.owner for lead in Lead.objects.all()} == {bob}
