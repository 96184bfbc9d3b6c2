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
        people, state = assign._people(_rule("team:Central"))
        away = [(p.username, assign._availability(p)) for p in people]

    assert len(queries.captured_queries) == 1
    assert state is None
    assert [name for name, _ in away] == ["alice", "bob"]
    assert away[0][1] is None
    assert (away[1][1].away_until, away[1][1].capacity) == (AWAY, 7)


@pytest.mark.django_db
def test_fields_routing_does_not_read_load_from_the_database_on_use(alice, team):
    alice.email = "alice@firm.example"
    alice.calendar = {"timezone": "Europe/Berlin", "always_open": True}
    alice.save()

    (person,), _ = assign._people(_rule("user:alice"))

    assert person.calendar == alice.calendar
    assert person.display_name == "Alice Rep"
    # Not defaults: the rest of the row is read when asked for.
    assert (person.email, person.team_id, person.role) == (
        "alice@firm.example",
        team.pk,
        "rep",
    )


@pytest.mark.django_db(transaction=True)
def test_a_rotation_is_read_with_its_people_in_the_same_query(alice, bob, pipeline):
    from django.db import transaction

    from dealgate.leads.models import RoutingState

    rule = _rule("team:Central")
    with transaction.atomic():
        _, missing = assign._people(rule, pipeline.pk)
    RoutingState.objects.create(pipeline=pipeline, rule="r", state={"alice": 2})

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        people, state = assign._people(rule, pipeline.pk)

    assert missing is None
    assert [p.username for p in people] == ["alice", "bob"]
    assert (state.rule, state.state) == ("r", {"alice": 2})
    assert len(queries.captured_queries) == 1
    if connection.vendor == "postgresql":
        assert "FOR UPDATE" in queries.captured_queries[0]["sql"]
