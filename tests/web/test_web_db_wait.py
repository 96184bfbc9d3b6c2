"""A web request waits WEB_DB_WAIT for another writer's lock on SQLite, not a
command's 20 s: a long import no longer holds a worker, and with it every
page that worker serves, for 20 s per write."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection

from dealgate.leads.models import Lead, LeadActivity
from dealgate.leads.services import capture_lead

from ..leads.conftest import inquiry

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_ms() -> int:
    return connection.connection.execute("PRAGMA busy_timeout").fetchone()[0]


@contextlib.contextmanager
def _request() -> Iterator[None]:
    """A request's start and end as the test client signals them: without
    closing the test's connection, as a server would (CONN_MAX_AGE 0)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        request_started.send(sender=None)
        try:
            yield
        finally:
            request_finished.send(sender=None)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_a_command_waits_its_connection_s_20_s(sqlite_file):
    connection.ensure_connection()

    assert _wait_ms() == 20_000


def test_a_request_waits_the_web_wait_and_the_connection_its_own_after(
    sqlite_file, settings
):
    settings.WEB_DB_WAIT = 1.5
    connection.ensure_connection()

    with _request():
        during = _wait_ms()

    assert (during, _wait_ms()) == (1_500, 20_000)


def test_a_connection_opened_during_a_request_waits_the_web_wait(sqlite_file, settings):
    settings.WEB_DB_WAIT = 0.25
    connection.close()

    with _request():
        connection.ensure_connection()
        assert _wait_ms() == 250


def test_a_write_refused_by_an_import_s_lock_answers_503_after_the_web_wait(
    sqlite_file, pipeline, alice, client, other_writer, settings, now
):
    settings.WEB_DB_WAIT = 0.3
    lead = capture_lead(inquiry(), source="api").lead
    client.force_login(alice)
    other_writer.execute("BEGIN IMMEDIATE")

    started = time.monotonic()
    # A note on a lead: the New lead page keeps its lead in the spool instead
    # (tests/leads/test_new_lead_busy.py).
    response = client.post(
        f"/leads/{lead.pk}/activity/", {"kind": "note", "subject": "Called"}
    )
    waited = time.monotonic() - started

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "Nothing you sent was saved" in response.content.decode()
    # It waited for the lock, a short while: not the command's 20 s.
    assert 0.25 < waited < 10
    other_writer.execute("ROLLBACK")
    assert not LeadActivity.objects.exists()


def test_a_write_goes_through_once_the_other_writer_is_done(
    sqlite_file, pipeline, alice, client, other_writer, settings, now
):
    settings.WEB_DB_WAIT = 0.05
    client.force_login(alice)
    other_writer.execute("BEGIN IMMEDIATE")
    other_writer.execute("ROLLBACK")

    response = client.post("/leads/new/", inquiry())

    assert response.status_code == 302
    assert Lead.objects.count() == 1
