"""Who a routing rule can hand a lead to, as routing reads them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.core import routing
from dealgate.leads import assign
from dealgate.leads.models import Availability

AWAY = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def _rule(target: str) -> routing.Rule:
    return routing.parse_rules([{"name": "r", "to": target}])[0]


@pytest.mark.django_db
def test_a_team_rule_reads_its_active_members_with_their_leave_in_one_query(
    alice, bob, max_manager, olivia
):
    Availability.objects.create(user=bob, away_until=AWAY, capacity=7)
    max_manager.is_active = False
    max_manager.save()

    with CaptureQueriesContext(connection) as queries:
        people = assign._people(_rule("team:Central"))
        away = [(p.username, assign._availability(p)) for p in people]

    assert len(queries.captured_queries) == 1
    assert [name for name, _ in away] == ["alice", "bob"]
    assert away[0][1] is None
    assert (away[1][1].away_until, away[1][1].capacity) == (AWAY, 7)


@pytest.mark.django_db
def test_fields_routing_does_not_read_load_from_the_database_on_use(alice, team):
    alice.email = "alice@firm.example"
    alice.calendar = {"timezone": "Europe/Berlin", "always_open": True}
    alice.save()

    (person,) = assign._people(_rule("user:alice"))

    assert person.calendar == alice.calendar
    assert person.display_name == "Alice Rep"
    # Not defaults: the rest of the row is read when asked for.
    assert (person.email, person.team_id, person.role) == (
        "alice@firm.example",
        team.pk,
        "rep",
    )
