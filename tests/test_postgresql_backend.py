"""The PostgreSQL backend's health check: read from the socket, no query."""

from __future__ import annotations

import select

import psycopg
import pytest
from django.db import connection

from dealgate.postgresql.base import DatabaseWrapper

pytestmark = pytest.mark.django_db

WAIT_MS = 10_000


@pytest.fixture
def kept():
    """A connection of its own, kept between requests as a worker keeps one
    (killing the test's own connection would end its transaction)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    wrapper = DatabaseWrapper(dict(connection.settings_dict), alias="kept")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


@pytest.fixture
def other():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        yield conn


def backend_pid(wrapper: DatabaseWrapper) -> int:
    return wrapper.connection.info.backend_pid


def wait_until_readable(wrapper: DatabaseWrapper) -> None:
    poller = select.poll()
    poller.register(wrapper.connection.fileno(), select.POLLIN)
    assert poller.poll(WAIT_MS), "the server sent nothing"


def test_a_kept_connection_is_judged_usable_without_sending_a_query(kept, other):
    with kept.cursor() as cursor:
        cursor.execute("SELECT 'the last query'")
    assert kept.is_usable()
    last = other.execute(
        "SELECT query FROM pg_stat_activity WHERE pid = %s", [backend_pid(kept)]
    ).fetchone()
    assert last == ("SELECT 'the last query'",)


def test_a_session_the_server_ended_is_not_usable(kept, other):
    other.execute("SELECT pg_terminate_backend(%s)", [backend_pid(kept)])
    wait_until_readable(kept)
    assert not kept.is_usable()


def test_the_next_request_after_the_server_ended_the_session_reconnects(kept, other):
    before = backend_pid(kept)
    other.execute("SELECT pg_terminate_backend(%s)", [before])
    wait_until_readable(kept)
    # What Django does at the start of each request.
    kept.close_if_unusable_or_obsolete()
    with kept.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert backend_pid(kept) != before


def test_a_notice_on_a_healthy_connection_is_checked_by_asking_the_server(kept, other):
    with kept.cursor() as cursor:
        cursor.execute("LISTEN dealgate_health")
    other.execute("NOTIFY dealgate_health")
    wait_until_readable(kept)
    assert kept.is_usable()


def test_a_closed_connection_is_not_usable(kept):
    kept.connection.close()
    assert not kept.is_usable()
