"""PostgreSQL: an edit waits for another writer's lock on the lead and then
judges its version by the row as that writer left it, never by what it read
before: the later of two edits made on one copy is a conflict."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dealgate.errors import Conflict
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.versions import lead_version
from tests.locking import until

from .conftest import inquiry

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks between sessions; SQLite serialises writers whole",
    ),
]


def test_an_edit_waiting_on_another_writer_sees_its_change_and_refuses(
    routed, alice, other, now
):
    lead = capture_lead(inquiry(1, company=None), source="form").lead
    seen = lead_version(lead)
    table = Lead._meta.db_table
    other.lock_row(table, lead.pk)
    other.raw.execute(
        f"UPDATE {table} SET company = 'Initech' WHERE id = %s", [lead.pk]
    )
    refused: list[Exception] = []

    def edit() -> None:
        try:
            edit_lead(lead.pk, {"company": "Initrode"}, by=alice, version=seen)
        except Conflict as exc:
            refused.append(exc)
        finally:
            connection.close()

    editing = threading.Thread(target=edit)
    editing.start()
    until(lambda: other.waiting_for_locks() == 1)
    other.raw.execute("COMMIT")
    editing.join(10)

    assert [exc.message for exc in refused] == [
        f"lead {lead.pk} changed since you read it: company changed meanwhile; "
        "read it again and redo your edit"
    ]
    lead.refresh_from_db()
    assert lead.company == "Initech"
