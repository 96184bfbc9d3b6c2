"""PostgreSQL: an assignment, a conversion, a merge or a task marked done
waits for another writer's lock on the lead and then judges the version its
page read by the row as that writer left it: a lead that changed hands
meanwhile is refused, never given away again, converted, merged or its task
done unseen."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from dealgate.deals.models import Deal
from dealgate.errors import Conflict
from dealgate.leads.models import Lead, LeadActivity
from dealgate.leads.services import (
    assign_lead,
    capture_lead,
    complete_lead_task,
    convert_lead,
    merge_lead,
)
from dealgate.leads.versions import lead_version
from tests.locking import OtherSession, until

from .conftest import inquiry

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks between sessions; SQLite serialises writers whole",
    ),
]


def _refused_after_the_other_writer(
    other: OtherSession, lead: Lead, new_owner: int, act: Callable[[], object]
) -> list[Conflict]:
    """Run `act` while `other` holds the lead's row, having given it to
    `new_owner`; let `act` wait for the lock, commit, and return its refusals."""
    table = Lead._meta.db_table
    other.lock_row(table, lead.pk)
    other.raw.execute(
        f"UPDATE {table} SET owner_id = %s WHERE id = %s", [new_owner, lead.pk]
    )
    refused: list[Conflict] = []

    def run() -> None:
        try:
            act()
        except Conflict as exc:
            refused.append(exc)
        finally:
            connection.close()

    acting = threading.Thread(target=run)
    acting.start()
    until(lambda: other.waiting_for_locks() == 1)
    other.raw.execute("COMMIT")
    acting.join(10)
    return refused


def test_an_assignment_waiting_on_a_hand_over_is_refused_naming_the_owner(
    routed, alice, bob, olivia, max_manager, other, now
):
    lead = capture_lead(inquiry(1), source="form").lead
    seen = lead_version(lead)

    refused = _refused_after_the_other_writer(
        other,
        lead,
        bob.pk,
        lambda: assign_lead(lead.pk, olivia, by=max_manager, version=seen),
    )

    assert len(refused) == 1
    assert "owner (now bob) changed meanwhile" in refused[0].message
    lead.refresh_from_db()
    assert lead.owner == bob


def test_a_conversion_waiting_on_a_hand_over_makes_no_deal(
    routed, alice, bob, max_manager, other, now
):
    lead = capture_lead(inquiry(1), source="form").lead
    seen = lead_version(lead)

    refused = _refused_after_the_other_writer(
        other,
        lead,
        bob.pk,
        lambda: convert_lead(lead.pk, by=max_manager, version=seen),
    )

    assert len(refused) == 1
    assert not Deal.objects.exists()


def test_a_merge_waiting_on_a_hand_over_merges_nothing(
    routed, alice, bob, max_manager, other, now
):
    lead = capture_lead(inquiry(1), source="form").lead
    into = capture_lead(inquiry(2), source="form").lead
    seen = lead_version(lead)

    refused = _refused_after_the_other_writer(
        other,
        lead,
        bob.pk,
        lambda: merge_lead(lead.pk, by=max_manager, into_lead=into.pk, version=seen),
    )

    assert len(refused) == 1
    assert "owner (now bob) changed meanwhile" in refused[0].message
    lead.refresh_from_db()
    assert lead.is_open


def test_a_task_done_waiting_on_a_hand_over_leaves_it_open(
    routed, alice, bob, max_manager, other, now
):
    lead = capture_lead(inquiry(1), source="form").lead
    task = LeadActivity.objects.create(
        lead=lead, kind=LeadActivity.Kind.TASK, subject="Call", due_at=now, at=now
    )
    seen = lead_version(lead)

    refused = _refused_after_the_other_writer(
        other,
        lead,
        bob.pk,
        lambda: complete_lead_task(task.pk, by=max_manager, version=seen),
    )

    assert len(refused) == 1
    task.refresh_from_db()
    assert not task.done
