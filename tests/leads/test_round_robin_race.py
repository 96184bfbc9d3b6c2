"""Parallel submissions: round robin stays even, nothing twice, nothing lost."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connection, connections

from dealgate import timesource
from dealgate.leads.models import DedupDecision, Lead, LeadAssignment
from dealgate.leads.services import capture_lead

from .conftest import inquiry

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
PARALLEL = 8


def _needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://...): the test database "
            "on SQLite is in memory and private to one thread"
        )


def _submit_all(payloads: list[dict]) -> list[str]:
    barrier = threading.Barrier(len(payloads))
    errors: list[str] = []

    def worker(data: dict) -> None:
        try:
            barrier.wait()
            capture_lead(data, source="api")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(p,)) for p in payloads]
    with timesource.frozen_at(T0):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_eight_parallel_leads_spread_evenly_once_each(
    routed, alice, bob, max_manager, django_user_model, team, round_
):
    _needs_postgres()
    django_user_model.objects.create_user(username="carol", team=team)
    routed.settings = {
        "routing": [{"name": "team", "to": "team:Central", "how": "round-robin"}]
    }
    routed.save()

    errors = _submit_all([inquiry(n) for n in range(PARALLEL)])

    assert errors == []
    assert Lead.objects.count() == PARALLEL, "none lost"
    per_owner = Counter(Lead.objects.values_list("owner__username", flat=True))
    assert per_owner == {"alice": 2, "bob": 2, "max": 2, "carol": 2}
    assignments = Counter(LeadAssignment.objects.values_list("lead_id", flat=True))
    assert set(assignments.values()) == {1}, "none assigned twice"


@pytest.mark.django_db(transaction=True)
def test_the_same_inquiry_sent_eight_times_at_once_makes_one_lead(routed):
    _needs_postgres()

    errors = _submit_all([inquiry(1, message=f"try {n}") for n in range(PARALLEL)])

    assert errors == []
    assert Lead.objects.count() == 1
    assert DedupDecision.objects.count() == PARALLEL - 1
