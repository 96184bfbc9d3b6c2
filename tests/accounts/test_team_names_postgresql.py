"""PostgreSQL: two people adding one team name in two spellings at once get
one team; the second is told the first's spelling. SQLite serialises
writers, so the race cannot happen there."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dealgate.accounts import services
from dealgate.accounts.models import Team
from dealgate.core.names import name_key
from dealgate.errors import ValidationError
from tests.locking import until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers; no two team adds overlap there",
    ),
]


def test_a_team_added_while_another_spelling_is_being_added_is_refused(other):
    # The other session is `team add Nord` between its lock and its commit.
    other.raw.execute("BEGIN")
    lock = services.team_name_lock_id(name_key("Nord"))
    other.raw.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
    other.raw.execute("INSERT INTO accounts_team (name) VALUES ('Nord')")
    said: list[str] = []

    def add() -> None:
        try:
            services.add_team(" nord ")
        except ValidationError as refused:
            said.append(refused.message)
        finally:
            connection.close()

    adding = threading.Thread(target=add)
    adding.start()
    until(lambda: other.waiting_for_locks() == 1)
    other.raw.execute("COMMIT")
    adding.join(10)

    assert said == ["there is already a team 'Nord'"]
    assert list(Team.objects.values_list("name", flat=True)) == ["Nord"]
