"""dealgate.wsgi, as a WSGI server started by hand (`gunicorn dealgate.wsgi`)
loads it: its pages run at the time `dealgate serve` would run them at."""

from __future__ import annotations

import datetime as dt
import importlib
import io
from collections.abc import Callable, Iterator
from wsgiref.util import setup_testing_defaults
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core import signals
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from dealgate import timesource
from dealgate.clocks.models import AsOf
from dealgate.demo.loader import PIPELINE_KEY
from tests.importing import make_import_pipeline
from tests.web.helpers import make_deal

App = Callable[..., object]


@pytest.fixture
def board(pipeline, alice, client, settings) -> Iterator[Callable[[], str]]:
    """Load dealgate.wsgi afresh, as a server process does when it starts,
    and get the board through its application, signed in as alice."""
    settings.AS_OF = ""  # no DEALGATE_AS_OF, as on a machine that set none
    # The demo's pipeline, the database's only one, as on a demo database.
    pipeline.key = PIPELINE_KEY
    pipeline.save(update_fields=["key"])
    make_deal(pipeline, "inquiry")
    client.force_login(alice)
    cookie = f"{django_settings.SESSION_COOKIE_NAME}="
    cookie += client.cookies[django_settings.SESSION_COOKIE_NAME].value
    # The request runs in this test's transaction, which closing the
    # connection around it (as a server does) would end.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        import dealgate.wsgi

        application = importlib.reload(dealgate.wsgi).application
        yield lambda: _get(application, "/", cookie)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _get(application: App, path: str, cookie: str) -> str:
    environ: dict[str, object] = {"PATH_INFO": path, "HTTP_COOKIE": cookie}
    setup_testing_defaults(environ)
    environ["wsgi.errors"] = io.StringIO()
    status: list[str] = []
    result = application(environ, lambda s, headers: status.append(s))
    try:
        body = b"".join(result)
    finally:
        # As a WSGI server does: closing the answer ends the request (Django's
        # request_finished), or this thread would stay "serving" for the tests
        # after it (dealgate.web.busy).
        result.close()
    assert status == ["200 OK"], status
    return body.decode()


BERLIN = ZoneInfo("Europe/Berlin")


def as_of_text(day: dt.date) -> str:
    return f"as of {day.day} {day:%b %Y}"


def shows_the_real_date(page: Callable[[], str]) -> bool:
    """Whether `page` says it is as of today in Berlin, the zone the board
    shows (or of the next day, should midnight pass while it is made)."""
    before = dt.datetime.now(BERLIN).date()
    text = page()
    after = dt.datetime.now(BERLIN).date()
    return as_of_text(before) in text or as_of_text(after) in text


@pytest.fixture
def elapsed(monkeypatch) -> list[float]:
    """The seconds timesource ages what it read from the database by; a test
    moves them on instead of sleeping."""
    moment = [0.0]
    monkeypatch.setattr(timesource, "_monotonic", lambda: moment[0])
    return moment


def test_the_app_runs_at_the_date_its_database_records(board):
    timesource.record_as_of("2018-03-15")

    assert as_of_text(dt.date(2018, 3, 15)) in board()
    # The end of that day in Berlin, the zone of the pipeline's calendar.
    assert timesource.now() == dt.datetime(2018, 3, 15, 22, 59, 59, tzinfo=dt.UTC)


def test_dealgate_as_of_wins_over_the_date_the_database_records(board, settings):
    timesource.record_as_of("2018-03-15")
    settings.AS_OF = "2019-01-02"

    assert as_of_text(dt.date(2019, 1, 2)) in board()


def test_the_app_on_a_database_that_records_no_date_runs_at_the_real_time(board):
    assert shows_the_real_date(board)


def test_a_running_server_follows_a_pipeline_of_ones_own_applied_meanwhile(
    board, elapsed
):
    timesource.record_as_of("2017-12-31")
    assert as_of_text(dt.date(2017, 12, 31)) in board()

    make_import_pipeline(key="it-services")  # `dealgate pipeline apply` elsewhere
    elapsed[0] += timesource.RECORDED_MAX_AGE

    assert shows_the_real_date(board)


def test_a_running_server_follows_the_demo_loaded_meanwhile(board, elapsed):
    assert shows_the_real_date(board)

    timesource.record_as_of("2017-12-31")  # `dealgate demo` elsewhere
    elapsed[0] += timesource.RECORDED_MAX_AGE

    assert as_of_text(dt.date(2017, 12, 31)) in board()


def test_a_server_asks_the_database_for_its_date_once_in_a_while_not_per_page(
    board, elapsed
):
    timesource.record_as_of("2017-12-31")
    table = AsOf._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            board()
        elapsed[0] += timesource.RECORDED_MAX_AGE
        board()

    asked = [query for query in queries if table in query["sql"]]
    assert len(asked) == 2  # the first page's, and one after RECORDED_MAX_AGE


def test_dealgate_as_of_wins_over_a_date_recorded_while_serving(
    board, settings, elapsed
):
    settings.AS_OF = "2019-01-02"
    assert as_of_text(dt.date(2019, 1, 2)) in board()

    timesource.record_as_of("2017-12-31")
    elapsed[0] += timesource.RECORDED_MAX_AGE

    assert as_of_text(dt.date(2019, 1, 2)) in board()


def test_the_app_with_a_dealgate_as_of_that_is_no_date_refuses_to_start(settings):
    import dealgate.wsgi

    settings.AS_OF = "garbage"

    with pytest.raises(ImproperlyConfigured, match="^DEALGATE_AS_OF: as-of must be"):
        importlib.reload(dealgate.wsgi)
