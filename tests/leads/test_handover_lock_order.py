"""A hand-over takes the leads and clocks of the person leaving without
deadlocking with the sweep or with an ordinary change of a lead.

The sweep claims clocks first (FOR UPDATE SKIP LOCKED) and then locks their
deals and leads, skipping busy ones (clocks.sweep); every other writer locks
the lead first and then writes its clock. No one order of the two suits both, so the
hand-over (`accounts.handover.hold`) takes all of them at once or none: when
one is busy it lets go of what it took, waits for the busy one's holder, and
tries again. Two real sessions on PostgreSQL, each step released by the
other's lock wait, with no sleeping.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from dealgate.accounts import services
from dealgate.clocks.models import Clock
from dealgate.leads.models import Lead
from dealgate.leads.services import assign_lead, capture_lead, record_response
from tests.locking import OtherSession, until

from .conftest import inquiry
from .test_routing_leavers import Worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alices_lead(routed, alice, bob, max_manager, olivia, now) -> Lead:
    """alice's lead (round robin: her turn) with its running response clock."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises "
            "writers, and its test database is private to one thread"
        )
    lead = capture_lead(inquiry(), source="api").lead
    assert lead.owner == alice
    return lead


def _run_against_hand_over(first_step, second_step, olivia) -> tuple[str, str]:
    """Run `first_step` in a transaction, then the hand-over of alice to max
    until it waits for a lock, then `second_step` in the first transaction:
    the order in which a deadlock would form. Returns both outcomes."""
    started, go = threading.Event(), threading.Event()

    def other() -> None:
        with transaction.atomic():
            first_step()
            started.set()
            assert go.wait(20)
            second_step()

    writer = Worker(other)
    leaver = Worker(
        lambda: services.change_user("alice", active=False, hand_to="max", by=olivia)
    )
    with OtherSession.opened() as watcher:
        writer.start()
        assert started.wait(20)
        leaver.start()
        until(lambda: watcher.waiting_for_locks() >= 1)
        go.set()
        writer.join()
        leaver.join()
    return writer.outcome, leaver.outcome


def test_a_hand_over_while_the_sweep_reassigns_the_lead_finishes_both(
    alices_lead, olivia
):
    clock = Clock.objects.get(lead=alices_lead, state=Clock.State.RUNNING)

    def claim() -> None:
        # As the sweep claims a clock past its second window.
        claimed = Clock.objects.select_for_update(skip_locked=True).filter(pk=clock.pk)
        assert list(claimed.values_list("pk", flat=True)) == [clock.pk]

    def reassign() -> None:
        assign_lead(alices_lead.pk, None, by=None, note="window ran out twice")

    outcomes = _run_against_hand_over(claim, reassign, olivia)

    assert outcomes == ("written", "written")
    lead = Lead.objects.get(pk=alices_lead.pk)
    # The sweep routed it on (skipping alice) before the hand-over read it.
    assert lead.owner.username == "bob"
    assert not Clock.objects.filter(responsible__username="alice", is_open=True)


def test_a_hand_over_while_the_owner_answers_the_lead_finishes_both(
    alices_lead, alice, olivia
):
    def lock_lead() -> None:
        # As every change of a lead starts: its row first, its clock after.
        list(Lead.objects.select_for_update().filter(pk=alices_lead.pk))

    def answer() -> None:
        record_response(alices_lead.pk, kind="call", by=alice)

    outcomes = _run_against_hand_over(lock_lead, answer, olivia)

    assert outcomes == ("written", "written")
    lead = Lead.objects.get(pk=alices_lead.pk)
    assert (lead.status, lead.owner.username) == (Lead.Status.ANSWERED, "max")
