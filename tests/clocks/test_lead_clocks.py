"""A lead's response window is a clock: assignment starts it, the owner's first
outbound call, email or meeting meets it, a reassignment hands it on, closing
the lead unanswered cancels it."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Clock
from dealgate.clocks.services import lead_key
from dealgate.leads import assign
from dealgate.leads.services import (
    assign_lead,
    capture_lead,
    disqualify_lead,
    record_response,
)

from .conftest import berlin

RULES = [{"name": "everyone", "to": "user:alice", "fallback": True}]


@pytest.fixture
def routed(windows, alice, bob, max_manager):
    assign.forget_cached()
    windows.settings = {"routing": RULES}
    windows.save()
    return windows


def capture(pipeline, n: int = 1):
    data = {
        "name": f"Person {n}",
        "email": f"person{n}@company{n}.example",
        "company": f"Company {n} GmbH",
        "country": "DE",
    }
    return capture_lead(data, source="api", pipeline=pipeline).lead


def window_of(lead) -> list[Clock]:
    return list(Clock.objects.filter(lead=lead).order_by("id"))


def test_an_assigned_lead_runs_its_response_window(routed, alice, clock):
    clock.to(berlin(10, 16, 50))
    lead = capture(routed)

    (window,) = window_of(lead)
    assert window.kind == Clock.Kind.RESPONSE
    assert window.state == Clock.State.RUNNING
    assert window.responsible == alice
    assert window.started_at == lead.assigned_at
    # The lead app's own due time, 15 business minutes: 10 today, 5 tomorrow.
    assert window.due_at == lead.response_due_at == berlin(11, 9, 5)
    assert window.handoff.to_stage.key == "inquiry"
    # Written with the lead in one statement: the same clock that saving the
    # lead would start, under the key that later saves of the lead look for.
    assert window.key == lead_key(lead.pk)
    assert (window.window_minutes, window.pipeline_id) == (15, routed.pk)
    assert window.is_open


def test_the_owners_first_outbound_email_meets_the_window(routed, alice, clock):
    lead = capture(routed)
    clock.forward(minutes=5)

    record_response(lead.pk, kind="email", by=alice, subject="Hello")

    (window,) = window_of(lead)
    assert window.state == Clock.State.MET
    assert window.ended_at == clock.now


def test_reassigning_the_lead_hands_its_window_to_the_new_owner_as_it_stands(
    routed, bob, max_manager, clock
):
    lead = capture(routed)
    started, due = clock.now, lead.response_due_at
    clock.forward(minutes=5)

    assign_lead(lead.pk, bob, by=max_manager)

    (window,) = window_of(lead)
    assert (window.state, window.responsible) == (Clock.State.RUNNING, bob)
    assert (window.started_at, window.due_at) == (started, due)


def test_disqualifying_an_unanswered_lead_cancels_its_window(routed, alice, clock):
    lead = capture(routed)

    disqualify_lead(lead.pk, "a student project", by=alice)

    (window,) = window_of(lead)
    assert (window.state, window.note) == (Clock.State.CANCELLED, "lead disqualified")


def test_saving_an_unchanged_lead_keeps_its_one_window(routed, clock):
    lead = capture(routed)
    lead.save()
    lead.save(update_fields=["message"])

    assert len(window_of(lead)) == 1


def test_editing_a_lead_whose_window_ran_out_does_not_start_it_again(routed, clock):
    from dealgate.clocks.sweep import sweep

    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 12))
    assert sweep().breached == 1

    lead.message = "Any news?"
    lead.save()

    (window,) = window_of(lead)
    assert (window.state, window.is_open) == (Clock.State.BREACHED, True)
    assert sweep().due == 0
