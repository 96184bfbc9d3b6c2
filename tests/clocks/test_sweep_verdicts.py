"""A sweep that finds a clock's obligation ended behind its back stops it as
the event's own hook would have: met when the deal went forward or was won,
cancelled when it went back or was lost; a lead's window met when the lead
was converted. One place decides (`services.stage_left`,
`services.window_ended`), so the insights count the same stop the same way
whichever of the two found it."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Clock
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal
from dealgate.leads import assign
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead, convert_lead

from .conftest import berlin, place_deal
from .test_sweep_late_stops import moved_without_hooks

# (stage the deal is in, where it goes, the status it goes to)
EVENTS = [
    ("discovery", "proposal", "open"),  # forward
    ("discovery", "inquiry", "open"),  # back
    ("discovery", "won", "won"),
    ("discovery", "lost", "lost"),
]


def age_clock(deal) -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, stage__key="discovery")


@pytest.mark.parametrize(("stage", "to", "status"), EVENTS)
def test_the_sweep_ends_a_stage_clock_as_the_moves_hook_does(
    windows, alice, clock, stage, to, status
):
    entered, moved_at = berlin(10, 9), berlin(10, 11)
    by_hook = place_deal(windows, stage, owner=alice, entered=entered, title="A")
    behind = place_deal(windows, stage, owner=alice, entered=entered, title="B")
    clock.to(moved_at)
    extra = {"loss_reason": "price"} if status == "lost" else {}
    move_deal(by_hook.pk, to, by=alice, expected_version=None, **extra)
    moved_without_hooks(behind, to, moved_at, status=status)
    # Past the stage's limit, so the sweep claims the clock left behind.
    clock.to(berlin(30, 9))

    sweep()

    hooked, swept = age_clock(by_hook), age_clock(behind)
    assert (swept.state, swept.note, swept.ended_at) == (
        hooked.state,
        hooked.note,
        hooked.ended_at,
    )
    forward = to in ("proposal", "won")
    assert hooked.state == (Clock.State.MET if forward else Clock.State.CANCELLED)


def test_the_sweep_meets_a_converted_leads_window_as_the_conversion_does(
    windows, alice, max_manager, clock
):
    assign.forget_cached()
    windows.settings = {"routing": [{"name": "alice", "to": "user:alice"}]}
    windows.save()
    clock.to(berlin(10, 10))
    lead = capture_lead(
        {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"},
        source="api",
        pipeline=windows,
    ).lead
    clock.to(berlin(10, 10, 5))
    # Converted behind the clock's back: the lead row only.
    Lead.objects.filter(pk=lead.pk).update(
        status=Lead.Status.CONVERTED, closed_at=clock.now
    )
    other = capture_lead(
        {"name": "Jonas", "email": "jonas@other.example", "company": "Other"},
        source="api",
        pipeline=windows,
    ).lead
    convert_lead(other.pk, by=alice)
    clock.to(berlin(10, 11))

    sweep()

    swept = Clock.objects.get(lead=lead)
    hooked = Clock.objects.get(lead=other)
    assert (swept.state, swept.note) == (hooked.state, hooked.note)
    assert (swept.state, swept.ended_at) == (Clock.State.MET, berlin(10, 10, 5))
    assert Deal.objects.count() == 1
