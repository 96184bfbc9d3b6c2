"""The sweep reassigns a deal only to a colleague it has just read active,
under the lock a deactivation's hand-over conflicts with: one deactivated
since the loads were read is passed over, and on PostgreSQL one being
deactivated at that moment is passed over at once, without waiting for the
hand-over (as routing passes them over: dealgate.leads.assign._people)."""

from __future__ import annotations

import pytest
from django.db import connection

from dealgate.accounts.models import User
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.deals import services as deals
from tests.leads.test_routing_leavers import SHORT_WAIT, Worker
from tests.locking import until

from .conftest import berlin, place_deal

REASSIGN = {"breach": {"on_breach": ["notify", "reassign"], "escalate_after": "1h"}}


@pytest.fixture
def alices_deal(pipeline, alice, bob, max_manager):
    """alice's deal in "inquiry" since Monday 9:00: its 2-day age limit ran
    out Wednesday 9:00, its second window at 10:00. bob is the least loaded
    of her colleagues (tied with max, and first by id)."""
    pipeline.settings = {**pipeline.settings, **REASSIGN}
    pipeline.save()
    return place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))


def test_a_colleague_deactivated_after_the_loads_were_read_is_passed_over(
    alices_deal, alice, bob, max_manager, monkeypatch
):
    read = deals.team_loads(alice.team_id)
    assert bob.pk in read
    User.objects.filter(pk=bob.pk).update(is_active=False)
    # The loads as read before bob left (a read that came first, or kept).
    monkeypatch.setattr(deals, "team_loads", lambda team_id: dict(read))

    result = sweep(now=berlin(10, 12))

    alices_deal.refresh_from_db()
    assert alices_deal.responsible == max_manager
    assert result.reassigned == 1
    limit = Clock.objects.get(deal=alices_deal, kind=Clock.Kind.AGE)
    assert (limit.responsible, limit.note) == (max_manager, "reassigned to max")
    assert not Notice.objects.filter(user=bob).exists()


def test_nobody_active_left_to_reassign_to_is_escalated_not_reassigned(
    alices_deal, alice, bob, max_manager, olivia, monkeypatch
):
    read = deals.team_loads(alice.team_id)
    User.objects.filter(pk__in=[bob.pk, max_manager.pk]).update(is_active=False)
    monkeypatch.setattr(deals, "team_loads", lambda team_id: dict(read))

    result = sweep(now=berlin(10, 12))

    alices_deal.refresh_from_db()
    assert alices_deal.responsible == alice
    assert result.reassigned == 0
    limit = Clock.objects.get(deal=alices_deal, kind=Clock.Kind.AGE)
    assert limit.responsible == alice
    assert limit.note.startswith("nobody to reassign to and escalated to an admin")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks between sessions; SQLite serialises writers whole",
)
def test_a_colleague_being_deactivated_is_passed_over_without_waiting(
    alices_deal, bob, max_manager, other
):
    # bob's deactivation holds his row (accounts.handover.hold) while it
    # hands over his work; the sweep must not wait for it, nor give him
    # the deal its hand-over has already passed.
    other.lock_row(User._meta.db_table, bob.pk)
    sweeper = Worker(lambda: sweep(now=berlin(10, 12)), wait=SHORT_WAIT)
    sweeper.start()
    until(lambda: not sweeper.is_alive() or other.waiting_for_locks() >= 1)
    waited = other.waiting_for_locks()
    other.release()
    sweeper.join(20)

    assert (sweeper.outcome, waited) == ("written", 0)
    alices_deal.refresh_from_db()
    assert alices_deal.responsible == max_manager
