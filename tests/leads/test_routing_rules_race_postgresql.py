"""PostgreSQL: a save of the routing rules waits for another writer's lock
on the pipeline row and then judges the digest of the rules it was made on
by what that writer stored: the later of two admins' saves is refused."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection

from dealgate.errors import Conflict
from dealgate.leads.rules import rules_digest, save_rules
from dealgate.pipelines.models import Pipeline
from tests.locking import until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks between sessions; SQLite serialises writers whole",
    ),
]

THEIRS = [{"name": "theirs", "to": "user:alice"}]


def test_a_save_waiting_on_another_admins_save_is_refused(routed, other):
    seen = rules_digest(routed)
    table = Pipeline._meta.db_table
    other.lock_row(table, routed.pk)
    other.raw.execute(
        f"UPDATE {table} SET settings = %s WHERE id = %s",
        [json.dumps({"routing": THEIRS}), routed.pk],
    )
    refused: list[Conflict] = []

    def save() -> None:
        try:
            save_rules(routed, [{"name": "mine", "to": "user:bob"}], seen=seen)
        except Conflict as exc:
            refused.append(exc)
        finally:
            connection.close()

    saving = threading.Thread(target=save)
    saving.start()
    until(lambda: other.waiting_for_locks() == 1)
    other.raw.execute("COMMIT")
    saving.join(10)

    assert len(refused) == 1
    routed.refresh_from_db()
    assert routed.settings["routing"] == THEIRS
