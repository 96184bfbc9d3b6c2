"""While another process holds SQLite's write lock (an import), a web write
is refused with 503 and Retry-After, not a bare 500, and nothing is lost
without the sender being told. A lead from the form or the API is kept in
the spool instead (test_spool.py); these are the answers when it cannot be:
the in-memory test database has no spool folder."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest
from django.db import connection

from dealgate.leads.models import FormHit, Lead
from dealgate.leads.tokens import create_token

from .conftest import inquiry

FORM = "/leads/form/new-business/"
API = "/api/v1/leads"


@pytest.fixture
def write_lock() -> Iterator[sqlite3.Connection]:
    """A second connection holding the database's write lock, as a running
    import does; this test's own connection gives up after 50 ms, not the
    20 s a server waits."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's whole-database write lock; PostgreSQL locks rows")
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(
        connection.settings_dict["NAME"], uri=True, isolation_level=None
    )
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.django_db(transaction=True)
def test_the_form_says_the_message_was_not_received_and_to_retry(
    client, routed, write_lock, now
):
    response = client.post(FORM, inquiry())

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert "We are busy" in page and "Your message was not received" in page

    write_lock.execute("ROLLBACK")
    again = client.post(FORM, inquiry())
    write_lock.execute("BEGIN")  # for the fixture's rollback

    assert again.status_code == 200 and Lead.objects.count() == 1
    # The refused try was not counted against the visitor's rate limit.
    assert list(FormHit.objects.values_list("count", flat=True)) == [1]


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_busy_in_its_error_format(
    client, routed, olivia, now, write_lock
):
    write_lock.execute("ROLLBACK")
    secret = create_token(olivia, "website")[1]
    write_lock.execute("BEGIN IMMEDIATE")

    response = client.post(
        API,
        json.dumps(inquiry()),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    body = response.json()
    assert body["code"] == "busy" and "nothing was saved" in body["message"]
    write_lock.execute("ROLLBACK")
    write_lock.execute("BEGIN")
    assert not Lead.objects.exists()
