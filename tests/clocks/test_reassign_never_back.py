"""Never back: once the sweep has taken a deal or lead from a person, no later
reassignment by the sweep gives it back to them, also after the clock that
moved it is closed and another clock of the same deal runs out. Who it was
taken from is kept (`Reassignment`), not read from the clocks still open."""

from __future__ import annotations

from collections import Counter
from importlib import import_module

import pytest
from django.apps import apps

from dealgate.clocks.models import Clock, Notice, Reassignment
from dealgate.clocks.sweep import sweep, taken_from
from dealgate.deals.services import log_activity

from .conftest import berlin, place_deal

MIGRATION = import_module("dealgate.clocks.migrations.0016_reassignment")

# The deal's response window and its next steps reassign once their second
# window (as long as the window) has passed.
REASSIGN = {"on_breach": ["notify", "reassign"]}
RULES = {"handoffs": {"lead->inquiry": REASSIGN}, "next_steps": REASSIGN}


@pytest.fixture
def reassigning(windows):
    windows.settings = {"breach": RULES}
    windows.save()
    return windows


def gained() -> Counter:
    """Who was told a deal became theirs ("Now yours"), counted."""
    return Counter(
        Notice.objects.filter(
            kind="reassigned", title__startswith="Now yours"
        ).values_list("user__username", flat=True)
    )


def taken_from_alice_then_answered(pipeline, alice, bob, clock):
    """A deal of alice's whose response window the sweep gave to bob, who
    answered the buyer (the window is put right: no clock the sweep
    reassigned is open any more) and set a next step due at 11:00."""
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(10, 10))
    sweep(now=berlin(10, 10, 16))  # the window ran out: alice told
    sweep(now=berlin(10, 10, 31))  # its second window passed: to bob
    deal.refresh_from_db()
    assert deal.responsible == bob
    clock.to(berlin(10, 10, 40))
    log_activity(deal.pk, kind="call", subject="Called back", by=bob)
    log_activity(
        deal.pk, kind="task", subject="Send the offer", by=bob, due_at=berlin(10, 11)
    )
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert not window.is_open
    step = Clock.objects.get(deal=deal, kind=Clock.Kind.NEXT_STEP)
    assert step.responsible == bob
    return deal


def test_the_sweep_records_whom_it_took_a_deal_from(
    reassigning, alice, bob, max_manager, clock
):
    deal = taken_from_alice_then_answered(reassigning, alice, bob, clock)

    (row,) = Reassignment.objects.all()
    assert (row.deal, row.lead, row.taken_from, row.given_to) == (
        deal,
        None,
        alice,
        bob,
    )
    assert row.at == berlin(10, 10, 31)
    assert taken_from(deal_id=deal.pk) == {alice.pk}


def test_a_deal_is_not_given_back_once_the_clock_that_moved_it_is_closed(
    reassigning, alice, bob, max_manager, clock
):
    deal = taken_from_alice_then_answered(reassigning, alice, bob, clock)

    # Bob's next step ran out at 11:00 and its second window (20 minutes)
    # at 11:20: alice carries the lightest load and the lowest id, but the
    # deal was taken from her, so it goes to the only other colleague.
    sweep(now=berlin(10, 11, 1))
    result = sweep(now=berlin(10, 11, 21))

    deal.refresh_from_db()
    assert result.reassigned == 1
    assert deal.responsible == max_manager
    assert gained() == {"bob": 1, "max": 1}
    step = Clock.objects.get(deal=deal, kind=Clock.Kind.NEXT_STEP)
    assert (step.responsible, step.note) == (max_manager, "reassigned to max")
    assert taken_from(deal_id=deal.pk) == {alice.pk, bob.pk}


def test_with_nobody_left_but_whom_it_was_taken_from_the_manager_is_told(
    reassigning, alice, bob, max_manager, clock
):
    deal = taken_from_alice_then_answered(reassigning, alice, bob, clock)
    # Max leads the team and takes no deals of its reps here.
    max_manager.team = None
    max_manager.save()

    sweep(now=berlin(10, 11, 1))
    result = sweep(now=berlin(10, 11, 21))

    deal.refresh_from_db()
    assert result.reassigned == 0
    assert deal.responsible == bob
    assert gained() == {"bob": 1}
    step = Clock.objects.get(deal=deal, kind=Clock.Kind.NEXT_STEP)
    assert step.responsible == bob
    assert step.note == "nobody to reassign to and escalated to the manager"
    assert Notice.objects.filter(user=max_manager, kind="escalation").count() == 1


def test_the_migration_fills_in_whom_the_sweep_took_a_deal_from_by_its_notices(
    reassigning, alice, bob, max_manager, clock
):
    deal = taken_from_alice_then_answered(reassigning, alice, bob, clock)
    (made,) = Reassignment.objects.values_list(
        "deal", "clock", "taken_from", "given_to", "at"
    )
    Reassignment.objects.all().delete()  # as a sweep before the migration

    MIGRATION.fill_in(apps, None)

    assert list(
        Reassignment.objects.values_list(
            "deal", "clock", "taken_from", "given_to", "at"
        )
    ) == [made]
    sweep(now=berlin(10, 11, 1))
    sweep(now=berlin(10, 11, 21))
    deal.refresh_from_db()
    assert deal.responsible == max_manager


def test_the_migration_reads_digests_of_several_reassigned_deals(
    reassigning, alice, bob, max_manager, clock
):
    deals = [
        place_deal(reassigning, "inquiry", owner=alice, entered=berlin(10, 10))
        for _ in range(2)
    ]
    sweep(now=berlin(10, 10, 16))
    sweep(now=berlin(10, 10, 31))  # to bob and max: alice told in a digest
    assert Notice.objects.get(user=alice, kind="reassigned").items
    made = sorted(Reassignment.objects.values_list("deal", "taken_from", "given_to"))
    Reassignment.objects.all().delete()

    MIGRATION.fill_in(apps, None)

    found = Reassignment.objects.values_list("deal", "taken_from", "given_to")
    assert sorted(found) == made
    assert [(deal, taken) for deal, taken, _ in made] == [
        (deal.pk, alice.pk) for deal in deals
    ]
