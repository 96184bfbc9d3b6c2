"""PostgreSQL: a web request waits WEB_DB_WAIT for each lock another
transaction holds, then answers 503 with Retry-After; a command waits as the
server's own lock_timeout says (by default, for ever).

An import's first load into empty tables holds ACCESS EXCLUSIVE locks on
the deals and their events until it commits (dealgate.imports.indexes):
every page reading deals used to wait it out, past gunicorn's 30 s. Here
another session holds such locks (`LOCK TABLE`) as the import would.
The SQLite side is in test_web_db_wait.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction

from dealgate.deals.models import Deal, StageEvent
from dealgate.web.busy import lock_waited_for
from tests.locking import IMPORT_LOCKS, until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL's lock_timeout; SQLite's wait is in test_web_db_wait.py",
    ),
]


@pytest.fixture
def deal(pipeline, alice, now) -> Deal:
    stage = pipeline.stages.get(key="discovery")
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Firewall refresh",
        owner=alice,
        value=12500,
        created_at=now,
        stage_entered_at=now,
    )
    StageEvent.objects.create(deal=deal, to_stage=stage, to_status="open", at=now)
    return deal


def _lock_timeout() -> str:
    """What a statement on the test's connection waits for a lock now."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        return cursor.fetchone()[0]


@contextlib.contextmanager
def _connection_kept() -> Iterator[None]:
    """Requests that keep the test's connection, as a server's worker does,
    rather than close it as the test client does (CONN_MAX_AGE 0)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@contextlib.contextmanager
def _request() -> Iterator[None]:
    """A request's start and end as the test client signals them."""
    with _connection_kept():
        request_started.send(sender=None)
        try:
            yield
        finally:
            request_finished.send(sender=None)


class Undone(Exception):
    pass


def test_a_command_waits_as_the_server_says():
    # A thread of its own, as a command's or the sweeper's: this one's state
    # is left by the tests before (a static file's response unread keeps
    # the test client's request open).
    seen: list[str] = []

    def command() -> None:
        try:
            seen.append(_lock_timeout())
        finally:
            connection.close()

    worker = threading.Thread(target=command)
    worker.start()
    worker.join(timeout=30)

    assert seen == ["0"]


def test_a_request_waits_the_web_wait_and_the_connection_as_a_command_after(
    settings,
):
    settings.WEB_DB_WAIT = 1.5
    connection.ensure_connection()

    with _request():
        during = _lock_timeout()

    assert (during, _lock_timeout()) == ("1500ms", "0")


def test_a_connection_opened_during_a_request_waits_the_web_wait(settings, caplog):
    settings.WEB_DB_WAIT = 0.25
    connection.close()

    with _request():
        assert _lock_timeout() == "250ms"
    # Told once the connection is in autocommit: not in a transaction that
    # turning autocommit on would have to roll back (dealgate.postgresql).
    assert not [r for r in caplog.records if r.name == "dealgate.db"]


def test_the_web_wait_is_told_again_after_a_rollback_undid_it(settings):
    # A request that starts inside an open transaction (a test's, say): the
    # session is told inside it, and its rollback undoes that.
    settings.WEB_DB_WAIT = 0.5

    with _connection_kept():
        with contextlib.suppress(Undone), transaction.atomic():
            Deal.objects.count()
            request_started.send(sender=None)
            assert _lock_timeout() == "500ms"
            raise Undone
        try:
            assert _lock_timeout() == "500ms"
        finally:
            request_finished.send(sender=None)
    assert _lock_timeout() == "0"


def test_a_web_wait_of_nothing_is_the_shortest_wait_not_no_limit(settings):
    settings.WEB_DB_WAIT = 0

    with _request():
        assert _lock_timeout() == "1ms"


def test_behind_a_transaction_mode_pooler_a_request_waits_as_a_command(settings):
    # A session's setting would stay behind for another client's transaction.
    settings.PREPARED_STATEMENTS = False

    with _request():
        assert _lock_timeout() == "0"


@pytest.mark.parametrize("page", ["/", "/deals/{id}/"])
def test_a_page_reading_deals_answers_503_while_an_import_locks_them(
    client, alice, deal, other, settings, caplog, page
):
    settings.WEB_DB_WAIT = 0.05
    client.force_login(alice)
    other.lock(*IMPORT_LOCKS)
    other.raw.execute("DROP INDEX deal_board")  # built again before it commits
    page = page.format(id=deal.pk)

    with caplog.at_level(logging.INFO):
        response = client.get(page)

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "Busy for a moment" in response.content.decode()
    # Logged once, saying what waited for what; not again by Django.
    logged = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert len(logged) == 1, logged
    name, level, message = logged[0]
    assert (name, level) == ("dealgate.web", "WARNING")
    assert message.startswith(f"GET {page} (")
    assert message.endswith(
        "refused: waited 0.05 s for a lock on a table; another session holds "
        "deals_deal, deals_stageevent whole (an import's first load, say)"
    )


def test_the_busy_page_waits_no_second_time_for_the_person_signed_in(
    client, alice, deal, other, settings
):
    # A migration holds the people's table too: the page's header must not
    # read them again after the first read was refused.
    settings.WEB_DB_WAIT = 0.05
    client.force_login(alice)
    other.lock("accounts_user", *IMPORT_LOCKS)

    response = client.get("/")

    assert response.status_code == 503
    assert "Busy for a moment" in response.content.decode()


def test_a_page_answers_again_once_the_import_commits(
    client, alice, deal, other, settings
):
    settings.WEB_DB_WAIT = 0.05
    client.force_login(alice)
    other.lock(*IMPORT_LOCKS)
    assert client.get("/").status_code == 503

    other.release()

    assert client.get("/").status_code == 200


def test_an_api_read_answers_503_busy_in_its_error_format(
    client, alice, deal, other, settings
):
    settings.WEB_DB_WAIT = 0.05
    client.force_login(alice)
    other.lock(*IMPORT_LOCKS)

    response = client.get(f"/api/v1/deals/{deal.pk}")

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response.json()["code"] == "busy"


def test_an_edit_of_a_deal_another_transaction_holds_answers_503_naming_its_row(
    client, alice, deal, other, settings, caplog
):
    settings.WEB_DB_WAIT = 0.05
    client.force_login(alice)
    other.lock_row("deals_deal", deal.pk)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        json.dumps({"title": "Firewall and VPN", "version": deal.version}),
        content_type="application/json",
    )

    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert 'a row of "deals_deal"' in caplog.text
    other.release()
    assert Deal.objects.get(pk=deal.pk).title == "Firewall refresh"


def test_a_command_waits_out_the_lock_a_request_gave_up_on(
    client, alice, deal, other, settings
):
    settings.WEB_DB_WAIT = 0.05
    client.force_login(alice)
    other.lock(*IMPORT_LOCKS)
    counted: list[int] = []

    def command() -> None:
        # A thread serving no request: a connection of its own, as the
        # sweeper's or a command's.
        try:
            counted.append(Deal.objects.count())
        except Exception as exc:  # shown by the assert below
            counted.append(repr(exc))
        finally:
            connection.close()

    worker = threading.Thread(target=command)
    worker.start()
    try:
        until(lambda: other.waiting_for_locks() == 1 or counted)
        assert not counted

        assert client.get("/").status_code == 503
        # The command waited longer than the request did, and still waits.
        assert other.waiting_for_locks() == 1 and worker.is_alive()
    finally:
        other.release()
        worker.join(timeout=30)

    assert counted == [1]


def test_a_lock_is_named_only_as_much_as_the_error_says():
    class Cause(Exception):
        sqlstate = "55P03"
        diag = None

    refused = Exception()
    refused.__cause__ = Cause("canceling statement due to lock timeout")

    assert lock_waited_for(refused) == "that another transaction holds"
