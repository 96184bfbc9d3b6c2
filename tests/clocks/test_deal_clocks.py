"""Deals start and stop their clocks: entering a stage starts its age limit and
the handoff's response window, leaving stops them, a logged answer meets the
window, a dated task runs a next-step clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from dealgate.clocks.models import Clock
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Activity
from dealgate.deals.services import move_deal

from .conftest import berlin, place_deal

RUNNING = Clock.State.RUNNING


def clocks_of(deal, **filters):
    return list(Clock.objects.filter(deal=deal, **filters).order_by("id"))


def test_a_new_deal_runs_its_stage_age_limit_in_business_days(windows, alice, clock):
    # Entered Wednesday 14:00; the inquiry stage allows 2 business days:
    # 16 working hours later is Friday 14:00.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 14))

    (age,) = clocks_of(deal, kind=Clock.Kind.AGE)
    assert age.state == RUNNING
    assert age.responsible == alice
    assert age.due_at == berlin(12, 14)
    assert age.window_minutes == 2 * 8 * 60


def test_a_new_deal_not_from_a_lead_gets_the_new_lead_window(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 16, 50))

    (window,) = clocks_of(deal, kind=Clock.Kind.RESPONSE)
    # 10 minutes before closing, 5 the next morning.
    assert window.due_at == berlin(11, 9, 5)
    assert window.key == f"deal:{deal.pk}:response"


def test_a_deal_converted_from_a_lead_does_not_restart_the_lead_window(
    windows, alice, clock
):
    deal = place_deal(
        windows, "inquiry", owner=alice, entered=berlin(10, 14), source="lead"
    )

    assert clocks_of(deal, kind=Clock.Kind.RESPONSE) == []
    assert len(clocks_of(deal, kind=Clock.Kind.AGE)) == 1


def test_moving_forward_meets_the_old_stage_clocks_and_starts_the_new_ones(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 15))
    # Within the new lead's window of 15 minutes.
    clock.to(berlin(10, 15, 10))

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    old = clocks_of(deal, stage__key="inquiry")
    assert {c.state for c in old} == {Clock.State.MET}
    assert {c.ended_at for c in old} == {berlin(10, 15, 10)}
    new = {c.kind: c for c in clocks_of(deal, state=RUNNING)}
    assert new[Clock.Kind.AGE].due_at == berlin(17, 15, 10)  # 5 business days
    # inquiry -> discovery: 2h; 1h50 left today, 10 minutes the next morning.
    assert new[Clock.Kind.RESPONSE].due_at == berlin(11, 9, 10)
    assert new[Clock.Kind.RESPONSE].handoff.from_stage.key == "inquiry"


def test_moving_back_cancels_the_stage_clocks(windows, alice, max_manager, clock):
    deal = place_deal(windows, "discovery", owner=alice, entered=berlin(10, 9))

    move_deal(deal.pk, "inquiry", by=alice, expected_version=1)

    assert {c.state for c in clocks_of(deal, stage__key="discovery")} == {
        Clock.State.CANCELLED
    }
    # No handoff window going back, but the age limit of the stage entered.
    (running,) = clocks_of(deal, state=RUNNING)
    assert running.kind == Clock.Kind.AGE


def test_losing_a_deal_cancels_every_clock_next_steps_included(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    Activity.objects.create(
        deal=deal, kind="task", subject="Call back", due_at=berlin(11, 10), at=clock.now
    )

    move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="price")

    assert clocks_of(deal, state=RUNNING) == []
    assert {c.note for c in clocks_of(deal)} == {"deal lost"}


def test_winning_meets_the_running_clocks(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    clock.to(berlin(10, 9, 10))  # within the 15 minutes of the new lead's window

    move_deal(deal.pk, "won", by=alice, expected_version=1)

    assert {c.state for c in clocks_of(deal)} == {Clock.State.MET}


def test_a_logged_call_meets_the_response_window(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 14))

    Activity.objects.create(
        deal=deal, kind="call", subject="Called back", done=True, at=berlin(10, 14, 5)
    )

    (window,) = clocks_of(deal, kind=Clock.Kind.RESPONSE)
    assert window.state == Clock.State.MET
    assert window.ended_at == berlin(10, 14, 5)
    # The age limit is about leaving the stage, not about answering.
    assert clocks_of(deal, kind=Clock.Kind.AGE)[0].state == RUNNING


def test_a_dated_task_runs_a_next_step_clock_that_follows_its_due_date(
    windows, alice, clock
):
    deal = place_deal(
        windows, "inquiry", owner=alice, entered=berlin(10, 9), source="lead"
    )
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send agenda",
        due_at=berlin(11, 12),
        at=clock.now,
    )
    (step,) = clocks_of(deal, kind=Clock.Kind.NEXT_STEP)
    assert (step.due_at, step.activity_id, step.state) == (
        berlin(11, 12),
        task.pk,
        RUNNING,
    )

    task.due_at = berlin(12, 12)
    task.save()
    task.done = True
    task.save()

    steps = clocks_of(deal, kind=Clock.Kind.NEXT_STEP)
    assert [(s.due_at, s.state) for s in steps] == [
        (berlin(11, 12), Clock.State.CANCELLED),
        (berlin(12, 12), Clock.State.MET),
    ]


def test_saving_the_same_task_again_keeps_one_clock(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send agenda",
        due_at=berlin(11, 12),
        at=clock.now,
    )
    task.subject = "Send the agenda"
    task.save()

    assert len(clocks_of(deal, kind=Clock.Kind.NEXT_STEP)) == 1


def test_a_deal_without_a_stage_entry_time_gets_no_age_clock(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=None)

    assert clocks_of(deal, kind=Clock.Kind.AGE) == []


def test_the_window_of_a_team_handoff_goes_to_the_team_manager_if_not_in_team(
    windows, alice, max_manager, clock
):
    from dealgate.accounts.models import Team
    from dealgate.pipelines.models import Handoff

    Team.objects.create(name="Solutions", manager=max_manager)
    Handoff.objects.filter(to_stage__key="discovery").update(
        responsible="team:Solutions"
    )
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    (window,) = clocks_of(deal, kind=Clock.Kind.RESPONSE, state=RUNNING)
    assert window.responsible == max_manager
    assert window.due_at - window.started_at == dt.timedelta(hours=2)


def test_leaving_a_stage_puts_right_its_breached_window_as_it_stops_the_age_clock(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    (window,) = clocks_of(deal, kind=Clock.Kind.RESPONSE)
    # The sweeper found the new-lead window run out at 09:15.
    Clock.objects.filter(pk=window.pk).update(
        state=Clock.State.BREACHED, at_risk=True, ended_at=berlin(10, 9, 15)
    )
    clock.to(berlin(10, 15))

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    window.refresh_from_db()
    assert window.state == Clock.State.BREACHED
    assert (window.at_risk, window.resolved_at) == (False, berlin(10, 15))
    assert window.ended_at == berlin(10, 9, 15)
    (age,) = clocks_of(deal, kind=Clock.Kind.AGE, stage__key="inquiry")
    assert (age.state, age.ended_at, age.note) == (
        Clock.State.MET,
        berlin(10, 15),
        "left the stage",
    )
    assert (age.at_risk, age.resolved_at) == (False, None)


def test_a_start_that_meets_a_clock_started_meanwhile_gets_that_clock(
    windows, alice, clock
):
    from django.db import transaction

    from dealgate.clocks.services import start_clock

    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    (age,) = clocks_of(deal, kind=Clock.Kind.AGE)

    with transaction.atomic():
        # As if a backfill had started it after the caller stopped the old one.
        again = start_clock(
            kind=Clock.Kind.AGE,
            key=age.key,
            pipeline=windows,
            deal=deal,
            stage=deal.stage,
            responsible_id=alice.pk,
            started_at=berlin(10, 10),
            due_at=berlin(12, 10),
            window_minutes=960,
            none_running=True,
        )
        # The conflict left the transaction usable.
        assert clocks_of(deal, kind=Clock.Kind.AGE) == [age]

    assert again.pk == age.pk
    assert again.started_at == berlin(10, 9)


def test_the_window_of_a_handoff_to_a_named_person_goes_to_them(
    windows, alice, bob, clock
):
    from dealgate.pipelines.models import Handoff

    Handoff.objects.filter(to_stage__key="discovery").update(responsible="user:bob")
    windows.save()
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    (window,) = clocks_of(deal, kind=Clock.Kind.RESPONSE, state=RUNNING)
    assert window.responsible == bob


def test_the_window_of_a_team_handoff_stays_with_a_responsible_in_that_team(
    windows, alice, max_manager, clock
):
    from dealgate.pipelines.models import Handoff

    Handoff.objects.filter(to_stage__key="discovery").update(
        responsible=f"team:{alice.team.name}"
    )
    windows.save()
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    (window,) = clocks_of(deal, kind=Clock.Kind.RESPONSE, state=RUNNING)
    assert window.responsible == alice


def task_that_ran_out(pipeline, owner, clock):
    """A deal with a task due at 10:00 and, at 11:00, a sweep: the task's
    next-step clock is breached, at risk, its second window set."""
    deal = place_deal(
        pipeline, "inquiry", owner=owner, entered=berlin(10, 9), source="lead"
    )
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send agenda",
        due_at=berlin(10, 10),
        at=clock.now,
    )
    clock.to(berlin(10, 11))
    assert sweep().breached == 1
    return deal, task


def test_a_next_step_moved_after_it_ran_out_puts_the_breached_one_right(
    windows, alice, clock
):
    deal, task = task_that_ran_out(windows, alice, clock)

    task.due_at = berlin(12, 12)
    task.save()

    old, new = clocks_of(deal, kind=Clock.Kind.NEXT_STEP)
    assert (old.state, old.is_open, old.at_risk) == (Clock.State.BREACHED, False, False)
    assert old.resolved_at == clock.now
    assert (new.state, new.is_open, new.due_at) == (RUNNING, True, berlin(12, 12))
    # The old one's second window passes with nothing to escalate.
    clock.to(berlin(12, 11))
    assert sweep().escalated == 0


def test_a_clock_cannot_be_closed_and_open_at_once(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    (age,) = clocks_of(deal, kind=Clock.Kind.AGE)

    with pytest.raises(IntegrityError), transaction.atomic():
        Clock.objects.filter(pk=age.pk).update(state=Clock.State.MET)


def test_an_overdue_task_saved_again_keeps_its_breached_clock(windows, alice, clock):
    deal, task = task_that_ran_out(windows, alice, clock)

    task.subject = "Send the agenda"
    task.save()

    (step,) = clocks_of(deal, kind=Clock.Kind.NEXT_STEP)
    assert (step.state, step.is_open) == (Clock.State.BREACHED, True)
    assert sweep().due == 0
