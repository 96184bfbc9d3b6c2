"""Splitting and merging leads by hand: a split lead gets a fresh response
window, and two crossed merges cannot close both leads."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.clocks.sweep import sweep
from dealgate.errors import Conflict
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead, merge_lead, split_lead

from .conftest import inquiry


def _capture(pipeline, n: int) -> Lead:
    return capture_lead(inquiry(n, country="FR"), source="api", pipeline=pipeline).lead


def test_a_split_merged_lead_gets_a_whole_window_from_the_split(routed, olivia, now):
    first, second = _capture(routed, 1), _capture(routed, 2)
    decision = merge_lead(second.pk, by=olivia, into_lead=first.pk)
    # A day later, long after the window it had when it was merged.
    later = now + dt.timedelta(days=1)
    with timesource.frozen_at(later):
        reopened = split_lead(decision.pk, by=olivia)
        sweep()

    reopened.refresh_from_db()
    assert reopened.status == Lead.Status.ASSIGNED
    assert reopened.assigned_at == later
    assert reopened.response_due_at > later
    window = Clock.objects.get(lead=reopened, state=Clock.State.RUNNING)
    assert window.started_at == later
    assert window.due_at == reopened.response_due_at
    assert not Clock.objects.filter(lead=reopened, state=Clock.State.BREACHED).exists()


def test_a_lead_cannot_be_merged_into_one_already_merged(routed, olivia, now):
    first, second = _capture(routed, 1), _capture(routed, 2)
    merge_lead(first.pk, by=olivia, into_lead=second.pk)

    with pytest.raises(Conflict):
        merge_lead(second.pk, by=olivia, into_lead=first.pk)

    assert Lead.objects.get(pk=second.pk).is_open


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): the test database on "
    "SQLite is in memory and private to one thread",
)
@pytest.mark.django_db(transaction=True)
def test_crossed_merges_at_once_leave_one_lead_open(routed, olivia, now):
    first, second = _capture(routed, 1), _capture(routed, 2)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def merge(lead_id: int, into: int) -> None:
        try:
            start.wait()
            merge_lead(lead_id, by=olivia, into_lead=into)
            outcomes.append("merged")
        except Conflict:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=merge, args=(first.pk, second.pk)),
        threading.Thread(target=merge, args=(second.pk, first.pk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["merged", "refused"]
    assert (
        Lead.objects.filter(pk__in=[first.pk, second.pk], status="merged").count() == 1
    )


@pytest.mark.parametrize(
    "target", ["lead 99999999999999999999", "deal 9223372036854775808"]
)
def test_merging_into_an_id_past_any_key_says_there_is_none(
    client, routed, olivia, now, target
):
    lead = _capture(routed, 1)
    client.force_login(olivia)

    response = client.post(f"/leads/{lead.pk}/merge/", {"into": target})

    assert response.status_code == 422
    kind, number = target.split()
    assert f"no {kind} with id {number}" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.ASSIGNED


def test_a_split_inquiry_keeps_when_it_came_in_and_is_answerable_from_the_split(
    routed, olivia, now
):
    _capture(routed, 1)
    attached = capture_lead(inquiry(1, country="FR"), source="api", pipeline=routed)
    decision = attached.decision
    later = now + dt.timedelta(days=3)
    with timesource.frozen_at(later):
        split = split_lead(decision.pk, by=olivia)

    split.refresh_from_db()
    # First contact when it came in, as reports count it; its window from
    # the split, as nobody owed it an answer while it was attached.
    assert split.created_at == now
    assert split.assigned_at == later and split.response_due_at > later
