"""A request that cannot write because another process holds the database.

On SQLite one writer at a time holds the whole database: while a long import
runs, every other write waits for the connection's busy timeout and then
fails with "database is locked". A command waits 20 s (the connection's
timeout), a sweeper tick SWEEP_DB_WAIT (dealgate.clocks.runner); a web
request only WEB_DB_WAIT seconds (`web_wait`), long enough for another
worker's or the sweeper's write, which take milliseconds, but
not for an import, which takes minutes: a worker waiting that out serves no
one else meanwhile.

A write still refused is a 503 with Retry-After, not a bare 500: the API
answers in its error family, other pages say that nothing was saved. A lead
from the website form, the lead API or the New lead page is not refused but
kept in the spool (dealgate.leads.spool); only when that fails too does the
form's own page say the message was not received, and the New lead page
that nothing was saved, with what was typed still in its fields.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from dealgate.errors import Busy

log = logging.getLogger("dealgate.web")

# Seconds a client is asked to wait before sending the request again.
RETRY_AFTER = 60
# SQLite's messages for a lock another connection holds: "database is
# locked" after the busy timeout, "database table is locked" at once when
# connections share a cache (as the in-memory test database does).
_LOCKED = ("database is locked", "database table is locked")


# Python's sqlite3 waits this long when the connection names no timeout.
_SQLITE_DEFAULT_WAIT = 5.0


def is_busy(exc: BaseException) -> bool:
    """True for the error of a write another connection's lock refused."""
    return isinstance(exc, OperationalError) and str(exc).startswith(_LOCKED)


# Whether this thread is serving a request: its connections wait WEB_DB_WAIT.
_serving = threading.local()


def web_wait() -> float:
    """Seconds a web request waits for another writer's lock (WEB_DB_WAIT)."""
    return float(settings.WEB_DB_WAIT)


def command_wait(wrapper: BaseDatabaseWrapper) -> float:
    """Seconds `wrapper` waits outside a request: its configured timeout."""
    return float(wrapper.settings_dict["OPTIONS"].get("timeout", _SQLITE_DEFAULT_WAIT))


def set_wait(wrapper: BaseDatabaseWrapper, seconds: float) -> None:
    """Make an open SQLite connection wait `seconds` for another writer's lock.

    The busy timeout the connection was opened with, changed in place: a
    setting of the connection, which costs no I/O. Other databases lock rows,
    not the database, and are left alone.
    """
    if wrapper.vendor != "sqlite" or wrapper.connection is None:
        return
    milliseconds = max(0, round(seconds * 1000))
    wrapper.connection.execute(f"PRAGMA busy_timeout = {milliseconds}")


@contextlib.contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Inside the block, the default connection waits at most `seconds` for
    another writer's lock (SQLite only), then as long as it did before."""
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    (before,) = connection.connection.execute("PRAGMA busy_timeout").fetchone()
    set_wait(connection, seconds)
    try:
        yield
    finally:
        set_wait(connection, before / 1000)


def _request_started(**kwargs: Any) -> None:
    _serving.active = True
    for opened in connections.all(initialized_only=True):
        set_wait(opened, web_wait())


def _request_finished(**kwargs: Any) -> None:
    _serving.active = False
    for opened in connections.all(initialized_only=True):
        set_wait(opened, command_wait(opened))


def _connection_created(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    # `connection` is the signal's own argument name.
    if getattr(_serving, "active", False):
        set_wait(connection, web_wait())


def connect_signals() -> None:
    """Shorten the wait for the length of each request, from its start
    (before the middleware: a session saved on the way out waits as little)
    to its end, for connections open then and those opened during it."""
    request_started.connect(_request_started, dispatch_uid="dealgate.web.busy")
    request_finished.connect(_request_finished, dispatch_uid="dealgate.web.busy")
    connection_created.connect(_connection_created, dispatch_uid="dealgate.web.busy")


class DatabaseBusyMiddleware:
    """Turns a refused write (`is_busy`) into a 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not is_busy(exception):
            return None
        return refused(request, exception)


def refused(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 503 with Retry-After for a write `exception` says was refused, logged."""
    log.warning(
        "%s %s refused: the database is busy with another writer (%s)",
        request.method,
        request.path,
        exception,
    )
    response = busy_response(request)
    response["Retry-After"] = str(RETRY_AFTER)
    return response


def busy_response(request: HttpRequest) -> HttpResponse:
    """The 503 page or JSON error for `request`, without its Retry-After."""
    match = request.resolver_match
    namespace = match.namespace if match is not None else ""
    if namespace == "api" or request.path.startswith("/api/"):
        error = Busy(
            "the database is busy with another write, such as an import; "
            "nothing was saved; send the request again in a minute"
        )
        return JsonResponse(error.as_dict(), status=error.status)
    form = match is not None and match.view_name == "leads:form"
    template = "leads/form_busy.html" if form else "web/busy.html"
    context = {"retry_minutes": max(1, RETRY_AFTER // 60)}
    return render(request, template, context, status=Busy.status)
