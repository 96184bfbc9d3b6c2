"""Round robin between equals, across days and restarts, and after leave."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.leads import assign
from dealgate.leads.models import Availability, Lead, RoutingState
from dealgate.leads.services import capture_lead

from .conftest import inquiry

START = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def routed(routed):
    """The routed pipeline, open round the clock: a lead a day, weekends too."""
    routed.calendar = {"timezone": "Europe/Berlin", "always_open": True}
    routed.save()
    return routed


def _counts(alice, bob) -> tuple[int, int]:
    return (
        Lead.objects.filter(owner=alice).count(),
        Lead.objects.filter(owner=bob).count(),
    )


def test_two_equal_reps_share_thirty_daily_leads_evenly(routed, alice, bob):
    for day in range(30):
        with timesource.frozen_at(START + dt.timedelta(days=day)):
            capture_lead(inquiry(day), source="api")
        a, b = _counts(alice, bob)
        assert abs(a - b) <= 1, f"after day {day + 1}: alice {a}, bob {b}"

    assert _counts(alice, bob) == (15, 15)


def test_the_rotation_survives_a_restart(routed, alice, bob):
    with timesource.frozen_at(START):
        capture_lead(inquiry(1), source="api")
    # A restarted server has no memory but the database.
    assign.forget_cached()
    with timesource.frozen_at(START + dt.timedelta(hours=1)):
        second = capture_lead(inquiry(2), source="api").lead

    assert second.owner == bob
    assert RoutingState.objects.get(rule="DACH").turns == 2


def test_a_rep_back_from_leave_is_not_flooded(routed, alice, bob):
    Availability.objects.create(user=alice, away_until=START + dt.timedelta(days=10))
    for day in range(10):
        with timesource.frozen_at(START + dt.timedelta(days=day)):
            lead = capture_lead(inquiry(day), source="api").lead
        assert lead.owner == bob
        assert "skipped Alice Rep (away until 2026-06-11 12:00 Europe/Berlin)" in (
            lead.routing_reason
        )

    owners = []
    for day in range(10, 20):
        with timesource.frozen_at(START + dt.timedelta(days=day)):
            owners.append(capture_lead(inquiry(day), source="api").lead.owner)

    assert owners.count(alice) == 5, "she takes turns, she does not catch up"
    assert all(a != b for a, b in zip(owners, owners[1:], strict=False))


def test_everyone_away_falls_back_to_the_fallback_owner(routed, alice, bob, olivia):
    until = START + dt.timedelta(days=3)
    for person in (alice, bob):
        Availability.objects.create(user=person, away_until=until)
    with timesource.frozen_at(START):
        lead = capture_lead(inquiry(), source="api").lead

    assert lead.owner == olivia
    assert lead.rule == "everyone else"
    assert "Passed over" in lead.routing_reason
    assert "nobody in alice, bob is available" in lead.routing_reason


def test_people_outside_their_hours_or_at_capacity_are_skipped(routed, alice, bob):
    # Alice works mornings in Berlin only; bob takes at most one open lead.
    alice.calendar = {"timezone": "Europe/Berlin", "hours": {"mon": ["08:00-12:00"]}}
    alice.save()
    Availability.objects.create(user=bob, capacity=1)
    monday_afternoon = dt.datetime(2026, 6, 1, 13, 0, tzinfo=dt.UTC)
    with timesource.frozen_at(monday_afternoon):
        first = capture_lead(inquiry(1), source="api").lead
        second = capture_lead(inquiry(2), source="api").lead

    assert first.owner == bob
    assert "outside their working hours" in first.routing_reason
    assert second.rule == "everyone else"
    assert "at capacity (1 of 1 open leads)" in second.routing_reason


def test_weighted_rotation_follows_the_weights(routed, alice, bob):
    routed.settings = {
        "routing": [
            {
                "name": "weighted",
                "to": ["user:alice", "user:bob"],
                "how": "weighted",
                "weights": {"alice": 2},
            }
        ]
    }
    routed.save()
    for n in range(30):
        with timesource.frozen_at(START + dt.timedelta(hours=n)):
            capture_lead(inquiry(n), source="api")

    assert _counts(alice, bob) == (20, 10)


def test_least_loaded_goes_to_the_person_with_fewest_open_leads(
    routed, alice, bob, max_manager
):
    routed.settings = {
        "routing": [{"name": "load", "to": "team:Central", "how": "least-loaded"}]
    }
    routed.save()
    with timesource.frozen_at(START):
        leads = [capture_lead(inquiry(n), source="api").lead for n in range(3)]
    assert {lead.owner for lead in leads} == {alice, bob, max_manager}

    Lead.objects.filter(pk=leads[0].pk).update(status=Lead.Status.DISQUALIFIED)
    with timesource.frozen_at(START):
        fourth = capture_lead(inquiry(9), source="api").lead

    assert fourth.owner == leads[0].owner
    assert "least loaded" in fourth.routing_reason


def test_outside_the_pipelines_hours_the_rules_place_the_lead_for_the_next_opening(
    routed, alice, olivia
):
    routed.calendar = {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}}
    routed.save()
    sunday = dt.datetime(2026, 6, 7, 10, 0, tzinfo=dt.UTC)
    with timesource.frozen_at(sunday):
        lead = capture_lead(inquiry(), source="api").lead

    # Not the fallback owner: the DACH rotation, as it stands when the
    # window starts to run on Monday at 09:00.
    assert (lead.owner, lead.rule) == (alice, "DACH")
    assert (
        "Outside the pipeline's working hours: availability as of its next "
        "opening, Mon 8 Jun 09:00 (Europe/Berlin)" in lead.routing_reason
    )
    assert lead.response_due_at == dt.datetime(2026, 6, 8, 7, 15, tzinfo=dt.UTC)


def test_who_is_away_at_the_next_opening_is_skipped_for_a_lead_of_the_night(
    routed, alice, bob
):
    routed.calendar = {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}}
    routed.save()
    # Alice is back on Monday at noon; the window starts at 09:00.
    Availability.objects.create(
        user=alice, away_until=dt.datetime(2026, 6, 8, 10, 0, tzinfo=dt.UTC)
    )
    sunday = dt.datetime(2026, 6, 7, 22, 0, tzinfo=dt.UTC)
    with timesource.frozen_at(sunday):
        lead = capture_lead(inquiry(), source="api").lead

    assert lead.owner == bob
    assert (
        "Alice Rep (away until 2026-06-08 12:00 Europe/Berlin)" in lead.routing_reason
    )
    assert "availability as of its next opening, Mon 8 Jun 09:00" in (
        lead.routing_reason
    )


def test_a_colleague_at_work_in_another_zone_takes_a_lead_of_the_night_now(
    routed, alice, bob
):
    routed.calendar = {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}}
    routed.save()
    # Bob works New York hours: at 20:00 in Berlin he is at his desk, but at
    # the pipeline's next opening (Monday next week, 03:00 in New York) not.
    bob.calendar = {"timezone": "America/New_York", "hours": {"mon": ["09:00-17:00"]}}
    bob.save()
    Availability.objects.create(
        user=alice, away_until=dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
    )
    monday_evening = dt.datetime(2026, 6, 8, 18, 0, tzinfo=dt.UTC)
    with timesource.frozen_at(monday_evening):
        lead = capture_lead(inquiry(), source="api").lead

    assert lead.owner == bob
    # Taken now, so the routing reason does not speak of the next opening.
    assert "next opening" not in lead.routing_reason
    # Taken now, so the routing reason does not speak of the next opening.
    assert "next opening" not in lead.routing_reason


@pytest.mark.django_db(transaction=True)
def test_a_turn_is_never_taken_outside_a_transaction(routed):
    from django.db import connection
    from django.db.transaction import TransactionManagementError

    if not connection.features.has_select_for_update:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; no row lock")
    facts = {"country": "DE", "source": "api", "channel": "api"}

    with pytest.raises(TransactionManagementError):
        assign.route(routed, facts, START)


def test_a_lead_waiting_for_an_owner_goes_out_on_the_sweep_once_someone_is_back(
    routed, alice, bob
):
    from dealgate.clocks.models import Clock
    from dealgate.clocks.runner import run_once

    routed.settings = {
        "routing": [{"name": "alice only", "to": "user:alice", "when": {}}]
    }
    routed.save()
    away = Availability.objects.create(
        user=alice, away_until=START + dt.timedelta(days=1)
    )
    with timesource.frozen_at(START):
        lead = capture_lead(inquiry(), source="api").lead
        assert (lead.status, lead.owner) == (Lead.Status.NEW, None)
        # Still away: the sweep leaves it waiting, and writes nothing.
        assert run_once(send=False).placed == 0
    lead.refresh_from_db()
    assert lead.owner is None and not lead.assignments.exists()

    away.delete()
    # An imported record of a past inquiry is never routed.
    past = Lead.objects.create(
        pipeline=routed,
        status=Lead.Status.NEW,
        name="From last year",
        channel="import",
        historic=True,
        created_at=START,
    )
    back = START + dt.timedelta(hours=1)
    with timesource.frozen_at(back):
        tick = run_once(send=False)

    lead.refresh_from_db()
    assert tick.placed == 1
    assert (lead.status, lead.owner, lead.assigned_at) == ("assigned", alice, back)
    assert "routed again (it was waiting)" in lead.routing_reason
    assert lead.assignments.get().owner == alice
    # The window it ran while waiting is alice's now, due as it was.
    assert Clock.objects.filter(lead=lead, is_open=True, responsible=alice).exists()
    past.refresh_from_db()
    assert past.owner is None


def test_the_sweep_command_counts_one_routed_waiting_lead_in_the_singular(
    routed, alice, capsys
):
    from dealgate.cli import main

    routed.settings = {
        "routing": [{"name": "alice only", "to": "user:alice", "when": {}}]
    }
    routed.save()
    away = Availability.objects.create(
        user=alice, away_until=START + dt.timedelta(days=1)
    )
    with timesource.frozen_at(START):
        capture_lead(inquiry(), source="api")
    away.delete()

    with timesource.frozen_at(START + dt.timedelta(hours=1)):
        assert main(["sweep", "--no-send"]) == 0

    assert "leads: routed 1 lead that waited for an owner" in capsys.readouterr().out


def test_routing_a_waiting_lead_again_that_finds_nobody_says_so_and_changes_nothing(
    routed, alice, max_manager
):
    from dealgate.errors import Conflict
    from dealgate.leads.services import assign_lead

    routed.settings = {"routing": [{"name": "alice", "to": "user:alice"}]}
    routed.save()
    Availability.objects.create(user=alice, away_until=START + dt.timedelta(days=9))
    with timesource.frozen_at(START):
        lead = capture_lead(inquiry(), source="api").lead
        reason = lead.routing_reason

        with pytest.raises(Conflict, match="stays waiting for an owner"):
            assign_lead(lead.pk, None, by=max_manager)

    lead.refresh_from_db()
    assert (lead.owner, lead.routing_reason) == (None, reason)
