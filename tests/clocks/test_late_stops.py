"""A clock stopped after its due time was missed, whatever stopped it: a move
(forward or back), a win or a loss, an answer, a lead's first response, its
conversion or reassignment, a task done late. It ends breached and put right,
as if the sweeper had come first, sends nothing, and the reports count it as
missed."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Activity
from dealgate.deals.services import move_deal
from dealgate.insights import queries
from dealgate.leads import assign
from dealgate.leads.services import (
    assign_lead,
    capture_lead,
    convert_lead,
    record_response,
)
from tests.insights.conftest import filters_for

from .conftest import berlin, place_deal

BREACHED, MET = Clock.State.BREACHED, Clock.State.MET


def age_clock(deal) -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, stage__key="inquiry")


def window_of(deal) -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE, stage__key="inquiry")


def assert_missed_and_put_right(clock: Clock, at, note: str) -> None:
    assert (clock.state, clock.note, clock.is_open) == (BREACHED, note, False)
    assert clock.ended_at == clock.resolved_at == at
    assert (clock.at_risk, clock.actions, clock.escalate_at) == (False, "", None)


@pytest.mark.parametrize("to", ["discovery", "won"])
def test_a_deal_going_forward_after_its_age_limit_ran_out_missed_it(
    windows, alice, clock, to
):
    # Two business days in inquiry ran out on Thursday; no sweep ran.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    moved_at = clock.to(berlin(15, 10))

    move_deal(deal.pk, to, by=alice, expected_version=1)

    assert_missed_and_put_right(
        age_clock(deal), moved_at, "left the stage" if to != "won" else "deal won"
    )
    assert Notice.objects.count() == 0


@pytest.mark.parametrize("to", ["inquiry", "lost"])
def test_a_deal_going_back_or_lost_after_its_age_limit_ran_out_missed_it(
    windows, alice, clock, to
):
    deal = place_deal(windows, "discovery", owner=alice, entered=berlin(1, 9))
    moved_at = clock.to(berlin(15, 10))  # five business days ran out on the 8th

    move_deal(deal.pk, to, by=alice, expected_version=1, loss_reason="price")

    (age,) = Clock.objects.filter(
        deal=deal, kind=Clock.Kind.AGE, stage__key="discovery"
    )
    assert (age.state, age.ended_at, age.resolved_at) == (BREACHED, moved_at, moved_at)


def test_a_move_in_time_still_meets_the_age_limit(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    clock.to(berlin(11, 16))  # a business hour before it runs out

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    assert age_clock(deal).state == MET


def test_a_move_after_the_sweep_breached_the_limit_keeps_the_breach(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    clock.to(berlin(12, 10))
    sweep()
    moved_at = clock.to(berlin(15, 10))

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    age = age_clock(deal)
    assert (age.state, age.resolved_at, age.at_risk) == (BREACHED, moved_at, False)
    assert age.ended_at == berlin(12, 10)  # when the sweeper breached it


def test_the_bottleneck_tally_counts_a_limit_missed_before_any_sweep_as_missed(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(1, 9))
    clock.to(berlin(8, 10))

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    tallies = {
        (one.stage.key, one.kind): (one.kept, one.missed)
        for one in queries.clock_tallies(filters_for(windows))
    }
    assert tallies[("inquiry", Clock.Kind.AGE)] == (0, 1)
    assert tallies[("inquiry", Clock.Kind.RESPONSE)] == (0, 1)


def test_a_call_logged_after_the_response_window_ran_out_missed_it(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    called = berlin(10, 9, 30)  # the window of 15 minutes ran out at 9:15

    Activity.objects.create(deal=deal, kind="call", done=True, at=called)

    call = Activity.objects.get(deal=deal, kind="call")
    assert_missed_and_put_right(window_of(deal), called, f"answered by call {call.pk}")


def test_a_task_done_after_its_due_date_missed_its_next_step(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send the offer",
        due_at=berlin(10, 11),
        at=clock.now,
    )
    task.done, task.done_at = True, berlin(10, 16)
    task.save()

    step = Clock.objects.get(activity=task)
    assert (step.state, step.ended_at, step.note) == (
        BREACHED,
        berlin(10, 16),
        "task done",
    )


def test_a_next_step_moved_to_a_later_date_after_it_fell_due_missed_the_first(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    task = Activity.objects.create(
        deal=deal, kind="task", subject="Call", due_at=berlin(10, 11), at=clock.now
    )
    clock.to(berlin(10, 12))

    task.due_at = berlin(11, 11)
    task.save()

    first, second = Clock.objects.filter(activity=task).order_by("id")
    assert (first.state, first.note, first.resolved_at) == (
        BREACHED,
        "restarted",
        berlin(10, 12),
    )
    assert (second.state, second.due_at) == (Clock.State.RUNNING, berlin(11, 11))


def test_a_next_step_moved_before_it_fell_due_cancels_the_first(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    task = Activity.objects.create(
        deal=deal, kind="task", subject="Call", due_at=berlin(10, 16), at=clock.now
    )

    task.due_at = berlin(11, 11)
    task.save()

    first = Clock.objects.filter(activity=task).order_by("id").first()
    assert (first.state, first.note) == (Clock.State.CANCELLED, "restarted")


RULES = [{"name": "everyone", "to": "user:alice", "fallback": True}]


@pytest.fixture
def routed(windows, alice, bob, max_manager):
    assign.forget_cached()
    windows.settings = {"routing": RULES}
    windows.save()
    return windows


def capture(pipeline):
    data = {
        "name": "Person 1",
        "email": "person1@company1.example",
        "company": "Company 1 GmbH",
        "country": "DE",
    }
    return capture_lead(data, source="api", pipeline=pipeline).lead


def lead_window(lead) -> Clock:
    return Clock.objects.filter(lead=lead).order_by("id").first()


def test_a_lead_first_answered_after_its_window_ran_out_missed_it(routed, alice, clock):
    clock.to(berlin(10, 10))
    lead = capture(routed)
    answered = clock.to(berlin(10, 11))

    record_response(lead.pk, kind="email", by=alice, subject="Hello")

    window = lead_window(lead)
    assert (window.state, window.ended_at, window.note) == (
        BREACHED,
        answered,
        "answered",
    )
    assert Notice.objects.count() == 0


def test_a_lead_converted_after_its_window_ran_out_missed_it(routed, alice, clock):
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 11))

    convert_lead(lead.pk, by=alice)

    assert lead_window(lead).state == BREACHED


def test_a_lead_reassigned_after_its_window_ran_out_hands_over_the_breach(
    routed, bob, max_manager, clock
):
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 11))
    sweep()

    lead = assign_lead(lead.pk, bob, by=max_manager)

    # The inquirer has waited since 10:00: bob takes the window as it is.
    (window,) = Clock.objects.filter(lead=lead)
    assert (window.state, window.is_open, window.responsible) == (BREACHED, True, bob)
    assert window.due_at == berlin(10, 10, 15)
    assert lead.response_due_at == berlin(10, 10, 15)


def test_a_lead_reassigned_in_time_keeps_its_due_time(routed, bob, max_manager, clock):
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 5))

    lead = assign_lead(lead.pk, bob, by=max_manager)

    window = lead_window(lead)
    assert (window.state, window.responsible) == (Clock.State.RUNNING, bob)
    assert (window.started_at, window.due_at) == (berlin(10, 10), berlin(10, 10, 15))
    lead.refresh_from_db()
    assert lead.response_due_at == berlin(10, 10, 15)


def relabel_stored_clocks() -> None:
    from importlib import import_module

    from django.apps import apps

    import_module("dealgate.clocks.migrations.0010_late_stops_breached").relabel(
        apps, None
    )


def stored_as_before(clock: Clock, state: str) -> None:
    """The row as the earlier code wrote it: met or cancelled, never breached."""
    Clock.objects.filter(pk=clock.pk).update(state=state, resolved_at=None)


def test_the_upgrade_relabels_clocks_a_late_move_stored_as_met(windows, alice, clock):
    late = place_deal(windows, "inquiry", owner=alice, entered=berlin(1, 9))
    in_time = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_at = clock.to(berlin(8, 9, 10))
    for deal in (late, in_time):
        move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    stored_as_before(age_clock(late), MET)
    stored_as_before(window_of(late), MET)

    relabel_stored_clocks()

    assert_missed_and_put_right(age_clock(late), moved_at, "left the stage")
    assert window_of(late).state == BREACHED
    assert (age_clock(in_time).state, window_of(in_time).state) == (MET, MET)


def test_the_upgrade_leaves_a_clock_a_sweep_stopped_at_its_own_time(
    windows, alice, clock
):
    # A sweep that found the deal gone from the stage stopped the clock at
    # the sweep's time, not the move's: when the deal left is not known.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(1, 9))
    move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    Clock.objects.filter(pk=age_clock(deal).pk).update(
        state=Clock.State.CANCELLED, resolved_at=None, ended_at=berlin(9, 10)
    )

    relabel_stored_clocks()

    assert age_clock(deal).state == Clock.State.CANCELLED


def test_the_upgrade_relabels_a_lead_window_answered_late(routed, alice, clock):
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 11))
    record_response(lead.pk, kind="email", by=alice, subject="Hello")
    stored_as_before(lead_window(lead), MET)

    relabel_stored_clocks()

    assert lead_window(lead).state == BREACHED
