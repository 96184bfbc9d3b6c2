"""Who a routing rule can hand a lead to, as routing reads them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dealgate.core import routing
from dealgate.leads import assign
from dealgate.leads.models import Availability
from dealgate.web import busy
from tests.locking import OtherSession

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
        people, held, state = assign._people(_rule("team:Central"))
        away = [(p.username, assign._availability(p)) for p in people]

    assert len(queries.captured_queries) == 1
    assert (held, state) == (frozenset(), None)
    assert [name for name, _ in away] == ["alice", "bob"]
    assert away[0][1] is None
    assert (away[1][1].away_until, away[1][1].capacity) == (AWAY, 7)


@pytest.mark.django_db
def test_fields_routing_does_not_read_load_from_the_database_on_use(alice, team):
    alice.email = "alice@firm.example"
    alice.calendar = {"timezone": "Europe/Berlin", "always_open": True}
    alice.save()

    (person,), _, _ = assign._people(_rule("user:alice"))

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
    from dealgate.leads.models import RoutingState

    rule = _rule("team:Central")
    with transaction.atomic():
        _, _, missing = assign._people(rule, pipeline.pk)
    RoutingState.objects.create(pipeline=pipeline, rule="r", state={"alice": 2})

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        people, held, state = assign._people(rule, pipeline.pk)

    assert missing is None
    assert [p.username for p in people] == ["alice", "bob"]
    assert not held
    assert (state.rule, state.state) == ("r", {"alice": 2})
    assert len(queries.captured_queries) == 1
    if connection.vendor == "postgresql":
        assert "FOR UPDATE" in queries.captured_queries[0]["sql"]


# What other sessions do to a person's row, and whether routing then reads
# them as held (being deactivated): only a deactivation's FOR UPDATE
# (`accounts.handover.hold`) holds them; an edit, a sign-in and an admin
# change take FOR NO KEY UPDATE, which routing's FOR KEY SHARE passes.
OTHER_SESSIONS = {
    "deactivation": ("SELECT id FROM accounts_user WHERE id = %s FOR UPDATE", True),
    "edit": ("UPDATE accounts_user SET first_name = 'Al' WHERE id = %s", False),
    "sign-in": ("UPDATE accounts_user SET last_login = now() WHERE id = %s", False),
    "admin change": (
        "SELECT id FROM accounts_user WHERE id = %s FOR NO KEY UPDATE",
        False,
    ),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("doing", OTHER_SESSIONS)
def test_only_a_deactivation_in_progress_holds_a_person_and_nobody_waits_for_it(
    alice, bob, doing
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks of another session: PostgreSQL")
    statement, is_held = OTHER_SESSIONS[doing]
    with OtherSession.opened() as other:
        other.raw.execute("BEGIN")
        other.raw.execute(statement, [alice.pk])
        # A wait for the other session's lock would fail at once.
        busy.set_wait(connection, 0.001)
        try:
            with transaction.atomic(), CaptureQueriesContext(connection) as queries:
                people, held, _ = assign._people(_rule("team:Central"))
        finally:
            busy.set_command_wait(connection)

    assert [p.username for p in people] == ["alice", "bob"]
    assert held == ({alice.pk} if is_held else frozenset())
    assert len(queries.captured_queries) == 1
