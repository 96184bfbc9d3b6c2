"""A lead's window that ran out and is then given to someone else by hand is
the new owner's, with a second window of their own from the takeover. Today
and the deadlines show that window at once, as the next sweep then
schedules it, not the escalation as due until that sweep runs."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Clock
from dealgate.clocks.queries import today_for
from dealgate.clocks.sweep import sweep
from dealgate.leads import assign
from dealgate.leads.services import assign_lead, capture_lead

from .conftest import berlin


@pytest.fixture
def to_alice(windows, alice, bob, max_manager):
    """Every lead goes to alice; its 15-minute window escalates after one
    more window (the default rules)."""
    assign.forget_cached()
    windows.settings = {
        "routing": [{"name": "all", "to": "user:alice", "fallback": True}]
    }
    windows.save()
    return windows


def given_to_bob_after_it_ran_out(pipeline, bob, max_manager, clock):
    """A lead captured at 10:00, breached at 10:16 (alice told, her second
    window to 10:31), and given to bob by hand at 10:20."""
    clock.to(berlin(10, 10))
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    lead = capture_lead(data, source="api", pipeline=pipeline).lead
    clock.to(berlin(10, 10, 16))
    sweep()
    clock.to(berlin(10, 10, 20))
    assign_lead(lead.pk, bob, by=max_manager, now=clock.now)
    return Clock.objects.get(lead=lead, kind=Clock.Kind.RESPONSE)


def windows_text(person, now) -> str:
    (deadline,) = today_for([person], now).windows.deadlines
    return deadline.text


def test_today_shows_the_new_owners_second_window_before_the_next_sweep(
    to_alice, bob, max_manager, clock
):
    window = given_to_bob_after_it_ran_out(to_alice, bob, max_manager, clock)
    assert window.responsible == bob
    clock.to(berlin(10, 10, 22))

    shown = windows_text(bob, clock.now)

    # Bob's own 15 minutes from 10:20 end at 10:35.
    assert shown == (
        "no answer, 7 business minutes over the window, "
        "escalates within 13 business minutes"
    )


def test_the_next_sweep_schedules_the_window_today_showed(
    to_alice, bob, max_manager, clock
):
    window = given_to_bob_after_it_ran_out(to_alice, bob, max_manager, clock)
    clock.to(berlin(10, 10, 22))
    before = windows_text(bob, clock.now)

    sweep()

    window.refresh_from_db()
    assert window.escalate_at == berlin(10, 10, 35)
    assert window.note == "taken over by bob after it ran out, told"
    assert windows_text(bob, clock.now) == before


def test_a_sweep_after_the_new_owners_window_too_tells_and_escalates_once(
    to_alice, bob, max_manager, clock
):
    window = given_to_bob_after_it_ran_out(to_alice, bob, max_manager, clock)
    clock.to(berlin(10, 11))  # the sweeper was down since 10:16

    result = sweep()

    window.refresh_from_db()
    assert (window.escalate_at, window.escalated_at) == (
        berlin(10, 10, 35),
        berlin(10, 11),
    )
    assert (result.due, result.taken_over, result.escalated) == (1, 1, 1)
