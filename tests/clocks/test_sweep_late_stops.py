"""A sweep that finds a clock's obligation over (its deal moved or closed,
its window answered, its task done, its lead reassigned or closed, all
written without the hooks) stops it at the time the history records for
that, not at the sweep's: met or cancelled when it came in time, breached
and put right when it came after the due time, with nothing sent. Where the
history keeps no time, the sweep's own is all there is."""

from __future__ import annotations

import logging

import pytest

from dealgate.clocks.models import Clock, Delivery, Notice
from dealgate.clocks.sweep import SweepResult, sweep
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.insights import queries
from dealgate.leads import assign
from dealgate.leads.models import Lead, LeadActivity, LeadAssignment
from dealgate.leads.services import capture_lead
from tests.insights.conftest import filters_for

from .conftest import berlin, place_deal

BREACHED, MET, CANCELLED = (
    Clock.State.BREACHED,
    Clock.State.MET,
    Clock.State.CANCELLED,
)


def stage_clock(deal, kind: str, stage: str = "inquiry") -> Clock:
    return Clock.objects.get(deal=deal, kind=kind, stage__key=stage)


def moved_without_hooks(deal, to: str, at, status: str = "open") -> None:
    """A move or close as an import or a script writes it: the deal row and
    its stage event, and no clock hook. A close keeps the deal's stage."""
    before = Deal.objects.get(pk=deal.pk)
    target = before.stage if status != "open" else deal.pipeline.stages.get(key=to)
    closed = None if status == "open" else at
    Deal.objects.filter(pk=deal.pk).update(
        stage=target, stage_entered_at=at, status=status, closed_at=closed
    )
    event = StageEvent(
        deal=deal,
        from_stage=before.stage,
        to_stage=target,
        from_status="open",
        to_status=status,
        at=at,
    )
    StageEvent.objects.bulk_create([event])


def assert_missed_and_put_right(clock: Clock, at, note: str) -> None:
    assert (clock.state, clock.note, clock.is_open) == (BREACHED, note, False)
    assert clock.ended_at == clock.resolved_at == at
    assert (clock.at_risk, clock.actions, clock.escalate_at) == (False, "", None)


def assert_nothing_sent() -> None:
    assert Notice.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert not Activity.objects.filter(tag="follow-up").exists()


# --- deals ----------------------------------------------------------------------


def test_a_deal_moved_on_after_its_limit_ran_out_is_breached_at_the_move(
    windows, alice, max_manager, clock
):
    # Monday 9:00 into inquiry: its window ran out at 9:15, its limit on
    # Tuesday at 17:00. Moved on Wednesday at 10:00; the sweep runs at 14:00.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_at = berlin(10, 10)
    moved_without_hooks(deal, "discovery", moved_at)

    result = sweep()

    assert_missed_and_put_right(stage_clock(deal, "age"), moved_at, "left the stage")
    assert_missed_and_put_right(
        stage_clock(deal, "response"), moved_at, "left the stage"
    )
    assert (result.due, result.breached, result.over, result.notices) == (2, 2, 2, 0)
    assert result.tasks == 0
    assert "2 breached (2 over already, nothing sent), 0 met" in result.summary()
    assert_nothing_sent()


def test_a_late_stop_found_by_the_sweep_is_logged_with_its_deal_and_time(
    windows, alice, clock, caplog
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_without_hooks(deal, "discovery", berlin(10, 10))
    age = stage_clock(deal, "age")

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    assert (
        f"clock {age.pk} on deal {deal.pk} breached: left the stage at "
        "2026-06-10T08:00:00+00:00, after it ran out; nothing sent"
    ) in [record.getMessage() for record in caplog.records]


def test_a_late_stop_found_by_the_sweep_is_never_escalated(
    windows, alice, max_manager, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_without_hooks(deal, "discovery", berlin(10, 10))
    sweep()
    clock.to(berlin(30, 12))  # far past any second window

    again = sweep()

    assert (again.due, again.escalated) == (0, 0)
    assert_nothing_sent()


def test_a_deal_moved_on_in_time_is_met_at_the_move_not_at_the_sweep(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_at = berlin(9, 12)  # before the limit ran out on Tuesday at 17:00
    moved_without_hooks(deal, "discovery", moved_at)

    result = sweep()

    age = stage_clock(deal, "age")
    # Forward, as a move with its hooks would have met it.
    assert (age.state, age.note, age.ended_at, age.resolved_at) == (
        MET,
        "left the stage",
        moved_at,
        None,
    )
    # Its response window had run out on Monday at 9:15.
    assert stage_clock(deal, "response").state == BREACHED
    assert (result.met, result.breached, result.over) == (1, 1, 1)


def test_a_deal_moved_without_a_stage_event_is_stopped_at_the_sweeps_time(
    windows, alice, clock
):
    # Raw SQL left no trace of when: the sweep can only say it is over now.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    discovery = windows.stages.get(key="discovery")
    Deal.objects.filter(pk=deal.pk).update(stage=discovery)

    result = sweep()

    age = stage_clock(deal, "age")
    assert (age.state, age.ended_at, age.resolved_at) == (MET, clock.now, None)
    assert (result.met, result.cancelled, result.breached) == (2, 0, 0)
    assert_nothing_sent()


def test_a_deal_closed_after_its_limit_ran_out_is_breached_at_its_close_date(
    windows, alice, clock
):
    # No stage event either: the deal's close date is the time kept.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    lost_at = berlin(10, 9, 30)
    Deal.objects.filter(pk=deal.pk).update(status="lost", closed_at=lost_at)

    sweep()

    assert_missed_and_put_right(stage_clock(deal, "age"), lost_at, "deal lost")
    assert_nothing_sent()


def test_a_stage_clock_ends_when_the_deal_left_the_stage_not_when_it_closed(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    left_at, won_at = berlin(9, 12), berlin(10, 10)
    moved_without_hooks(deal, "discovery", left_at)
    moved_without_hooks(deal, "won", won_at, status="won")

    sweep()

    age = stage_clock(deal, "age")
    assert (age.state, age.note, age.ended_at) == (MET, "left the stage", left_at)


def test_a_next_step_of_a_deal_closed_late_is_breached_at_the_close(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send the offer",
        due_at=berlin(10, 11),
        at=clock.now,
    )
    won_at = berlin(10, 13)
    moved_without_hooks(deal, "won", won_at, status="won")

    sweep()

    assert_missed_and_put_right(Clock.objects.get(activity=task), won_at, "deal won")


def test_a_window_answered_late_is_breached_at_the_first_answer(windows, alice, clock):
    # Into inquiry at 13:00: the window of 15 minutes ran out at 13:15.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 13))
    Activity.objects.bulk_create(
        Activity(deal=deal, kind="email", subject="Re", done=True, at=at)
        for at in (berlin(10, 12), berlin(10, 13, 50), berlin(10, 13, 40))
    )

    result = sweep()

    assert_missed_and_put_right(
        stage_clock(deal, "response"), berlin(10, 13, 40), "answered"
    )
    assert (result.breached, result.over, result.met) == (1, 1, 0)
    assert_nothing_sent()


def test_a_window_answered_in_time_is_met_at_the_answer(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 13))
    answered = berlin(10, 13, 5)
    Activity.objects.bulk_create(
        [Activity(deal=deal, kind="call", subject="Hi", done=True, at=answered)]
    )

    sweep()

    window = stage_clock(deal, "response")
    assert (window.state, window.ended_at, window.resolved_at) == (MET, answered, None)


def test_a_task_marked_done_late_is_breached_at_its_done_time(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send the offer",
        due_at=berlin(10, 11),
        at=clock.now,
    )
    done_at = berlin(10, 12)
    Activity.objects.filter(pk=task.pk).update(done=True, done_at=done_at)

    sweep()

    step = Clock.objects.get(activity=task)
    assert_missed_and_put_right(step, done_at, "task done")
    # Its deal's response window ran out and was told; the task was not.
    assert [n.clock_ids for n in Notice.objects.all()] == [
        [stage_clock(deal, "response").pk]
    ]


def test_a_task_marked_done_without_a_time_is_met_at_the_sweeps_time(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send the offer",
        due_at=berlin(10, 11),
        at=clock.now,
    )
    Activity.objects.filter(pk=task.pk).update(done=True, done_at=None)

    sweep()

    step = Clock.objects.get(activity=task)
    assert (step.state, step.ended_at) == (MET, clock.now)


def test_an_end_dated_after_the_sweeps_time_is_taken_as_now(windows, alice, clock):
    # A sweep judging an earlier instant (a demo's date) than the data.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_without_hooks(deal, "discovery", berlin(12, 10))

    sweep()

    assert_missed_and_put_right(stage_clock(deal, "age"), clock.now, "left the stage")


def test_the_tallies_count_a_late_stop_found_by_the_sweep_as_missed(
    windows, alice, clock
):
    late = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    in_time = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 13))
    moved_without_hooks(late, "discovery", berlin(10, 10))
    Activity.objects.bulk_create(
        [Activity(deal=in_time, kind="call", done=True, at=berlin(10, 13, 5))]
    )

    sweep()

    tallies = {
        (one.stage.key, one.kind): (one.kept, one.missed)
        for one in queries.clock_tallies(filters_for(windows))
    }
    assert tallies[("inquiry", Clock.Kind.AGE)] == (0, 1)
    assert tallies[("inquiry", Clock.Kind.RESPONSE)] == (1, 1)


# --- leads ----------------------------------------------------------------------

RULES = [{"name": "everyone", "to": "user:alice", "fallback": True}]


@pytest.fixture
def routed(windows, alice, bob, max_manager):
    assign.forget_cached()
    windows.settings = {"routing": RULES}
    windows.save()
    return windows


def captured(pipeline, clock) -> Lead:
    """A lead assigned to alice on Wednesday at 10:00: answer due 10:15."""
    clock.to(berlin(10, 10))
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    return capture_lead(data, source="api", pipeline=pipeline).lead


def lead_window(lead) -> Clock:
    return Clock.objects.filter(lead=lead).order_by("id").first()


def test_a_lead_answered_late_is_breached_at_its_first_response(routed, clock):
    lead = captured(routed, clock)
    answered = berlin(10, 10, 40)
    Lead.objects.filter(pk=lead.pk).update(
        status="answered", first_response_at=answered
    )
    clock.to(berlin(10, 11))

    result = sweep()

    assert_missed_and_put_right(lead_window(lead), answered, "answered")
    assert (result.breached, result.over) == (1, 1)
    assert_nothing_sent()


def test_a_lead_disqualified_in_time_is_cancelled_when_it_was_closed(routed, clock):
    lead = captured(routed, clock)
    closed = berlin(10, 10, 5)
    Lead.objects.filter(pk=lead.pk).update(status="disqualified", closed_at=closed)
    clock.to(berlin(10, 11))

    sweep()

    window = lead_window(lead)
    assert (window.state, window.note, window.ended_at) == (
        CANCELLED,
        "lead disqualified",
        closed,
    )


def test_a_lead_reassigned_late_is_breached_at_the_assignment(routed, bob, clock):
    lead = captured(routed, clock)
    moved = berlin(10, 10, 30)
    # The assignment row alone dates it: the lead keeps its first assigned_at.
    Lead.objects.filter(pk=lead.pk).update(owner=bob)
    LeadAssignment.objects.bulk_create(
        [LeadAssignment(lead=lead, owner=bob, reason="by hand", at=moved)]
    )
    clock.to(berlin(10, 11))

    sweep()

    assert_missed_and_put_right(lead_window(lead), moved, "reassigned")
    assert_nothing_sent()


def test_a_lead_reassigned_without_an_assignment_row_is_dated_by_the_lead(
    routed, bob, clock
):
    lead = captured(routed, clock)
    moved = berlin(10, 10, 10)
    Lead.objects.filter(pk=lead.pk).update(owner=bob, assigned_at=moved)
    clock.to(berlin(10, 11))

    sweep()

    window = lead_window(lead)
    assert (window.state, window.note, window.ended_at) == (
        CANCELLED,
        "reassigned",
        moved,
    )


def test_a_breached_lead_answered_later_is_put_right_when_answered(
    routed, alice, max_manager, clock
):
    lead = captured(routed, clock)
    clock.to(berlin(10, 10, 20))
    sweep()  # breached, escalates after one more window of 15 minutes
    answered = berlin(10, 10, 25)
    Lead.objects.filter(pk=lead.pk).update(
        status="answered", first_response_at=answered
    )
    clock.to(berlin(10, 11))

    result = sweep()

    window = lead_window(lead)
    assert (window.state, window.resolved_at, window.note) == (
        BREACHED,
        answered,
        "answered",
    )
    assert (window.ended_at, window.at_risk) == (berlin(10, 10, 20), False)
    assert result.escalated == 0
    assert not Notice.objects.filter(kind="escalation").exists()


def test_a_lead_task_done_late_is_breached_at_its_done_time(routed, clock):
    routed.settings = {
        **routed.settings,
        "breach": {"handoffs": {"lead->inquiry": {"on_breach": ["notify", "task"]}}},
    }
    routed.save()
    lead = captured(routed, clock)
    clock.to(berlin(10, 10, 16))
    sweep()
    task = LeadActivity.objects.get(lead=lead, kind="task")
    done_at = task.due_at + (task.due_at - clock.now)
    LeadActivity.objects.filter(pk=task.pk).update(done=True, done_at=done_at)
    clock.to(berlin(12, 10))

    sweep()

    assert_missed_and_put_right(Clock.objects.get(lead_task=task), done_at, "task done")
    assert Notice.objects.filter(kind="breach").count() == 1  # the window's only


def test_the_summary_counts_late_stops_among_the_breached():
    result = SweepResult(due=3, breached=2, over=1, met=1)

    assert result.summary().startswith(
        "3 due clocks: 2 breached (1 over already, nothing sent), 1 met, 0 cancelled;"
    )


# --- the upgrade: stops earlier sweeps stored at their own time ---------------


def redate_stored_clocks() -> None:
    from importlib import import_module

    from django.apps import apps

    import_module("dealgate.clocks.migrations.0011_sweep_stops_dated").redate(
        apps, None
    )


def stored_by_an_earlier_sweep(clock: Clock, state: str, note: str, at) -> None:
    """The row as a sweep before this rule wrote it: met or cancelled at the
    sweep's own time, whenever the obligation ended."""
    Clock.objects.filter(pk=clock.pk).update(
        state=state, note=note, ended_at=at, resolved_at=None, is_open=False
    )


def test_the_upgrade_dates_a_swept_stop_by_its_move_and_relabels_it_if_late(
    windows, alice, clock
):
    late = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    in_time = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_without_hooks(late, "discovery", berlin(10, 10))
    moved_without_hooks(in_time, "discovery", berlin(9, 12))
    for deal in (late, in_time):
        stored_by_an_earlier_sweep(
            stage_clock(deal, "age"), CANCELLED, "left the stage", clock.now
        )

    redate_stored_clocks()

    assert_missed_and_put_right(
        stage_clock(late, "age"), berlin(10, 10), "left the stage"
    )
    kept = stage_clock(in_time, "age")
    assert (kept.state, kept.ended_at, kept.resolved_at) == (
        CANCELLED,
        berlin(9, 12),
        None,
    )


def test_the_upgrade_relabels_a_swept_lead_answered_late(routed, clock):
    lead = captured(routed, clock)
    answered = berlin(10, 10, 40)
    Lead.objects.filter(pk=lead.pk).update(
        status="answered", first_response_at=answered
    )
    stored_by_an_earlier_sweep(lead_window(lead), MET, "answered", berlin(10, 11))

    redate_stored_clocks()

    assert_missed_and_put_right(lead_window(lead), answered, "answered")


def test_the_upgrade_leaves_a_swept_stop_whose_time_the_history_lacks(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    discovery = windows.stages.get(key="discovery")
    Deal.objects.filter(pk=deal.pk).update(stage=discovery)  # no stage event
    stored_by_an_earlier_sweep(
        stage_clock(deal, "age"), CANCELLED, "left the stage", clock.now
    )

    redate_stored_clocks()

    age = stage_clock(deal, "age")
    assert (age.state, age.ended_at) == (CANCELLED, clock.now)


def test_the_upgrade_leaves_stops_no_sweep_writes(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    moved_without_hooks(deal, "discovery", berlin(10, 10))
    stored_by_an_earlier_sweep(
        stage_clock(deal, "age"), CANCELLED, "stage 'inquiry' removed", clock.now
    )

    redate_stored_clocks()

    assert stage_clock(deal, "age").state == CANCELLED
