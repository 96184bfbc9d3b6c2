"""A reassignment on a second breach happens once per obligation: routing that
gives the lead back to its owner is no reassignment, a lead or deal already
reassigned is escalated to the manager instead of bounced again, and the
inquirer's due time never moves. Several sweeps run over injected times and
count what each person was told."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from dealgate.clocks.models import Clock, Delivery, Notice
from dealgate.clocks.sweep import sweep
from dealgate.leads import assign
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead, record_response

from .conftest import berlin, place_deal

REASSIGN = {"handoffs": {"lead->inquiry": {"on_breach": ["notify", "reassign"]}}}
# Every quarter hour of a working day and the next morning: a sweeper that
# runs on and on.
TICKS = [berlin(10, 10, 16) + dt.timedelta(minutes=15 * n) for n in range(20)]
TICKS.append(berlin(11, 9, 30))


@pytest.fixture(autouse=True)
def _webhook_on(settings) -> None:
    # Notices are queued for the webhook: its rows count the messages sent.
    settings.WEBHOOK_URL = "http://127.0.0.1:8130/hook"


def routed_by(pipeline, routing: list[dict]) -> None:
    assign.forget_cached()
    pipeline.settings = {"routing": routing, "breach": REASSIGN}
    pipeline.save()


def capture(pipeline) -> Lead:
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    return capture_lead(data, source="api", pipeline=pipeline).lead


def told() -> Counter:
    """(username, kind) of every notice written, counted."""
    return Counter(Notice.objects.values_list("user__username", "kind"))


def sweep_all_day(clock) -> None:
    for tick in TICKS:
        clock.to(tick)
        sweep()


def test_a_lead_routing_gives_back_to_its_owner_is_escalated_once_and_never_restarted(
    windows, alice, max_manager, clock
):
    # The only rule is alice's fallback: routing "again" can only name her.
    routed_by(windows, [{"name": "all", "to": "user:alice", "fallback": True}])
    clock.to(berlin(10, 10))
    lead = capture(windows)

    sweep_all_day(clock)

    assert told() == {("alice", "breach"): 1, ("max", "escalation"): 1}
    assert Delivery.objects.count() == 2  # one webhook message each
    lead.refresh_from_db()
    assert (lead.owner, lead.assignments.count()) == (alice, 1)
    assert lead.response_due_at == berlin(10, 10, 15)
    (window,) = Clock.objects.filter(lead=lead)
    assert (window.state, window.due_at) == (Clock.State.BREACHED, berlin(10, 10, 15))
    assert window.escalated_at == berlin(10, 10, 31)
    assert window.note == "nobody to reassign to and escalated to the manager"


def test_a_lead_is_reassigned_once_then_its_new_owners_manager_is_told(
    windows, alice, bob, max_manager, clock
):
    routed_by(
        windows,
        [{"name": "team", "to": ["user:alice", "user:bob"], "how": "round-robin"}],
    )
    clock.to(berlin(10, 10))
    lead = capture(windows)
    first = lead.owner
    second = bob if first == alice else alice

    sweep_all_day(clock)

    f, s = first.username, second.username
    assert told() == {
        (f, "breach"): 1,  # 10:16, the window ran out
        (f, "reassigned"): 1,  # 10:31, handed to the colleague
        (s, "reassigned"): 1,
        ("max", "escalation"): 1,  # 10:46, the colleague's window ran out too
    }
    assert Delivery.objects.count() == 4
    lead.refresh_from_db()
    assert (lead.owner, lead.assignments.count()) == (second, 2)
    assert lead.response_due_at == berlin(10, 10, 15)
    (window,) = Clock.objects.filter(lead=lead)
    assert (window.state, window.responsible) == (Clock.State.BREACHED, second)
    assert window.due_at == berlin(10, 10, 15)
    assert window.escalated_at == berlin(10, 10, 46)
    (escalation,) = Notice.objects.filter(kind="escalation")
    assert second.display_name in escalation.body


def test_a_deal_is_reassigned_once_then_its_new_persons_manager_is_told(
    windows, alice, bob, max_manager, clock
):
    windows.settings = {
        "breach": {"handoffs": {"lead->inquiry": {"on_breach": ["notify", "reassign"]}}}
    }
    windows.save()
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 10))

    sweep_all_day(clock)

    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert (window.responsible, window.due_at) == (bob, berlin(10, 10, 15))
    assert window.escalated_at == berlin(10, 10, 46)
    assert told() == {
        ("alice", "breach"): 1,
        ("alice", "reassigned"): 1,
        ("bob", "reassigned"): 1,
        ("max", "escalation"): 1,
    }
    deal.refresh_from_db()
    assert deal.responsible == bob


def test_a_rule_that_reassigns_and_escalates_tells_the_manager_once_at_the_handover(
    windows, alice, bob, max_manager, clock
):
    both = ["notify", "reassign", "escalate"]
    windows.settings = {"breach": {"handoffs": {"lead->inquiry": {"on_breach": both}}}}
    windows.save()
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 10))

    sweep_all_day(clock)

    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert (window.responsible, window.escalated_at) == (bob, berlin(10, 10, 31))
    assert window.note == "reassigned and escalated to the manager"
    assert told() == {
        ("alice", "breach"): 1,
        ("alice", "reassigned"): 1,
        ("bob", "reassigned"): 1,
        ("max", "escalation"): 1,
    }


# Every clock of a deal reassigns after one more hour: the response window
# (15 min) and the stage's age limit (2 days) of a deal in "inquiry".
EVERY_CLOCK = {"on_breach": ["notify", "reassign"], "escalate_after": "1h"}


def reassigned_to() -> Counter:
    """Who was told a deal or lead became theirs ("Now yours"), counted."""
    return Counter(
        Notice.objects.filter(
            kind="reassigned", title__startswith="Now yours"
        ).values_list("user__username", flat=True)
    )


@pytest.mark.parametrize("batch_size", [1, 1_000])
def test_two_clocks_of_one_deal_past_their_second_windows_reassign_it_once(
    windows, alice, bob, max_manager, batch_size
):
    windows.settings = {"breach": EVERY_CLOCK}
    windows.save()
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))

    # Both its clocks ran out and are past their second windows: one sweep
    # decides once whom the deal goes to.
    result = sweep(now=berlin(10, 12), batch_size=batch_size)

    deal.refresh_from_db()
    assert deal.responsible == bob
    assert result.reassigned == 1
    assert reassigned_to() == {"bob": 1}
    clocks = Clock.objects.filter(deal=deal).order_by("due_at")
    assert [c.responsible for c in clocks] == [bob, bob]
    response, age = clocks
    assert response.note == "reassigned to bob"
    assert age.note == "reassigned before and escalated to the manager"
    assert told()[("max", "escalation")] == 1


def test_a_deal_reassigned_for_one_clock_is_not_bounced_back_for_another(
    windows, alice, bob, max_manager
):
    windows.settings = {"breach": EVERY_CLOCK}
    windows.save()
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(8, 9))
    sweep(now=berlin(8, 10, 20))  # the response window: alice's, to bob
    deal.refresh_from_db()
    assert deal.responsible == bob

    # Two days on the age limit, alice's obligation too, is past its second
    # window: the deal stays with bob, whose manager is told.
    for day in (9, 10, 11):
        result = sweep(now=berlin(day, 12))
        assert result.reassigned == 0

    deal.refresh_from_db()
    assert deal.responsible == bob
    assert reassigned_to() == {"bob": 1}
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert (age.responsible, age.note) == (
        bob,
        "reassigned before and escalated to the manager",
    )


def test_a_lead_is_never_routed_back_to_an_owner_it_was_taken_from(
    windows, alice, bob, max_manager, clock
):
    # Its window asks for a follow-up task and a reassignment; the task's
    # own next-step clock reassigns too.
    assign.forget_cached()
    windows.settings = {
        "routing": [
            {"name": "team", "to": ["user:alice", "user:bob"], "how": "round-robin"}
        ],
        "breach": {
            "handoffs": {
                "lead->inquiry": {"on_breach": ["notify", "task", "reassign"]}
            },
            "next_steps": {"on_breach": ["notify", "reassign"]},
        },
    }
    windows.save()
    clock.to(berlin(10, 10))
    lead = capture(windows)
    first = lead.owner
    sweep(now=berlin(10, 10, 16))  # the window ran out: a task for its owner
    sweep(now=berlin(10, 10, 31))  # the task is late; the lead is reassigned
    lead.refresh_from_db()
    second = lead.owner
    assert second != first
    clock.to(berlin(10, 10, 35))
    record_response(lead.pk, kind="call", by=second)

    # The first owner's task is past its second window: routing again has
    # nobody but the owner the lead was taken from.
    result = sweep(now=berlin(10, 11))

    lead.refresh_from_db()
    assert lead.owner == second
    assert result.reassigned == 0
    assert reassigned_to() == {second.username: 1}
    task_clock = Clock.objects.get(lead=lead, kind=Clock.Kind.NEXT_STEP)
    assert task_clock.note == "nobody to reassign to and escalated to the manager"


def test_a_reassignment_says_the_window_ran_out_once_and_the_time_after_passed(
    windows, alice, bob, max_manager, clock
):
    routed_by(
        windows,
        [{"name": "team", "to": ["user:alice", "user:bob"], "how": "round-robin"}],
    )
    clock.to(berlin(10, 10))
    lead = capture(windows)

    sweep(now=berlin(10, 10, 16))  # the window ran out: its owner is told
    sweep(now=berlin(10, 10, 31))  # one more window passed: reassigned

    lead.refresh_from_db()
    why = "window ran out and the time allowed after it passed without action"
    assert lead.routing_reason.startswith(f"routed again (response {why}): ")
    mine = Notice.objects.get(user=lead.owner, kind="reassigned")
    assert mine.body == f"lead {lead.label} was reassigned to you: its {why}."
    assert "twice" not in lead.routing_reason + mine.body
