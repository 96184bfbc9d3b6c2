"""A request that cannot go on because another process holds a lock.

On SQLite one writer at a time holds the whole database: while a long import
runs, every other write waits for the connection's busy timeout and then
fails with "database is locked". A command waits 20 s (the connection's
timeout), a sweeper tick SWEEP_DB_WAIT (dealgate.clocks.runner); a web
request only WEB_DB_WAIT seconds (`web_wait`), long enough for another
worker's or the sweeper's write, which take milliseconds, but
not for an import, which takes minutes: a worker waiting that out serves no
one else meanwhile.

On PostgreSQL readers and writers lock tables and rows, and most locks are
short; but an import's first load into empty tables (and an `--exclusive`
one) holds ACCESS EXCLUSIVE locks on the deals tables until it commits,
which keeps even a read of the board waiting, and a pipeline change or a
bulk move holds rows that a move waits for. A request's connection waits
WEB_DB_WAIT for each lock (the server's `lock_timeout`, told to the session
by dealgate.postgresql); commands and the sweeper wait as the server's own
setting says. Behind a transaction-mode connection pooler
(PREPARED_STATEMENTS off) a session's setting would reach other clients'
transactions, a command's among them, so there requests wait as commands do.

A request still refused is a 503 with Retry-After, not a bare 500 nor a
worker held past its timeout: the API answers in its error family, other
pages say that nothing was saved. On SQLite a lead from the website form,
the lead API or the New lead page is not refused but kept in the spool
(dealgate.leads.spool); only when that fails too (and on PostgreSQL, unless
LEADS_SPOOL_DIR names a spool there) does the form's own page say the
message was not received, and the New lead page that nothing was saved,
with what was typed still in its fields.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.functional import empty

from dealgate.errors import Busy

log = logging.getLogger("dealgate.web")

# Seconds a client is asked to wait before sending the request again.
RETRY_AFTER = 60
# SQLite's messages for a lock another connection holds: "database is
# locked" after the busy timeout, "database table is locked" at once when
# connections share a cache (as the in-memory test database does).
_LOCKED = ("database is locked", "database table is locked")


# PostgreSQL's SQLSTATE for a lock not granted within lock_timeout.
_LOCK_NOT_AVAILABLE = "55P03"
# The tables other sessions of the database hold whole (ACCESS EXCLUSIVE),
# as an import's first load or a migration does; tables only, not the
# indexes such an import drops and builds again, which it holds as well.
_HELD_WHOLE = (
    "SELECT DISTINCT l.relation::regclass::text FROM pg_locks l "
    "JOIN pg_class c ON c.oid = l.relation AND c.relkind IN ('r', 'p') "
    "WHERE l.locktype = 'relation' AND l.granted "
    "AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid() "
    "AND l.database = (SELECT oid FROM pg_database "
    "WHERE datname = current_database()) ORDER BY 1"
)


# Python's sqlite3 waits this long when the connection names no timeout.
_SQLITE_DEFAULT_WAIT = 5.0


def is_busy(exc: BaseException) -> bool:
    """True for the error of a statement another connection's lock refused:
    SQLite's "database is locked", PostgreSQL's lock_not_available."""
    if not isinstance(exc, OperationalError):
        return False
    if str(exc).startswith(_LOCKED):
        return True
    return getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE


# Whether this thread is serving a request: its connections wait WEB_DB_WAIT.
_serving = threading.local()


def web_wait() -> float:
    """Seconds a web request waits for another writer's lock (WEB_DB_WAIT)."""
    return float(settings.WEB_DB_WAIT)


def command_wait(wrapper: BaseDatabaseWrapper) -> float:
    """Seconds `wrapper` waits outside a request: its configured timeout."""
    return float(wrapper.settings_dict["OPTIONS"].get("timeout", _SQLITE_DEFAULT_WAIT))


def set_wait(wrapper: BaseDatabaseWrapper, seconds: float) -> None:
    """Make a connection wait at most `seconds` for another's lock.

    SQLite: the busy timeout of an open connection, changed in place (a
    setting of the connection, which costs no I/O). PostgreSQL: the lock
    timeout of each lock the connection's statements wait for, told to the
    session before its next statement (dealgate.postgresql).
    """
    if wrapper.vendor == "postgresql":
        _set_lock_wait(wrapper, seconds)
        return
    if wrapper.vendor != "sqlite" or wrapper.connection is None:
        return
    milliseconds = max(0, round(seconds * 1000))
    wrapper.connection.execute(f"PRAGMA busy_timeout = {milliseconds}")


def set_command_wait(wrapper: BaseDatabaseWrapper) -> None:
    """Make a connection wait for another's lock as a command does: SQLite
    its configured timeout, PostgreSQL the server's own lock_timeout."""
    if wrapper.vendor == "postgresql":
        _set_lock_wait(wrapper, None)
    else:
        set_wait(wrapper, command_wait(wrapper))


def _set_lock_wait(wrapper: BaseDatabaseWrapper, seconds: float | None) -> None:
    wait_for_locks = getattr(wrapper, "wait_for_locks", None)
    if wait_for_locks is None:
        return  # Django's own backend, not dealgate.postgresql
    if seconds is not None and not settings.PREPARED_STATEMENTS:
        # A transaction-mode pooler hands each transaction another server
        # session: a session's lock_timeout would stay behind for others.
        return
    wait_for_locks(seconds)


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
        set_command_wait(opened)


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
    """The 503 with Retry-After for a statement `exception` says another's
    lock refused, logged once: here, at WARNING, and not again by Django."""
    match = request.resolver_match
    view = f" ({match.view_name})" if match is not None and match.view_name else ""
    if getattr(exception.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
        log.warning(
            "%s %s%s refused: waited %g s for a lock %s",
            request.method,
            request.path,
            view,
            web_wait(),
            lock_waited_for(exception),
        )
    else:
        log.warning(
            "%s %s%s refused: the database is busy with another writer (%s)",
            request.method,
            request.path,
            view,
            exception,
        )
    response = busy_response(request)
    response["Retry-After"] = str(RETRY_AFTER)
    # Django logs every 5xx answer at ERROR unless told it was logged; this
    # one needs no one to act, and the line above says what happened.
    response._has_been_logged = True
    return response


def lock_waited_for(exception: BaseException) -> str:
    """What a statement PostgreSQL refused with lock_not_available waited
    for, as the end of a sentence: a row its error names, else the tables
    another session holds whole now (one query), else only that another
    transaction holds it. Never the statement's text, which may hold what
    a person typed."""
    context = getattr(getattr(exception.__cause__, "diag", None), "context", None)
    row = re.search(r'in relation ("(?:[^"]|"")+")', context or "")
    if row:
        return (
            f"on a row of {row.group(1)} that another transaction holds "
            "(a bulk move or a pipeline change, say)"
        )
    held = _held_whole()
    if held:
        return (
            f"on a table; another session holds {', '.join(held)} whole "
            "(an import's first load, say)"
        )
    return "that another transaction holds"


def _held_whole() -> list[str]:
    """The tables other sessions hold ACCESS EXCLUSIVE now; none when the
    request's connection cannot ask (closed, or its transaction failed)."""
    if connection.vendor != "postgresql" or connection.connection is None:
        return []
    status = connection.connection.info.transaction_status
    if connection.in_atomic_block or status.name != "IDLE":
        return []  # the request's own transaction is still open
    try:
        with connection.cursor() as cursor:
            cursor.execute(_HELD_WHOLE)
            return [name for (name,) in cursor.fetchall()]
    except DatabaseError:
        return []


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
    context = {
        "retry_minutes": max(1, RETRY_AFTER // 60),
        "user": _user_read_already(request),
    }
    return render(request, template, context, status=Busy.status)


def _user_read_already(request: HttpRequest) -> Any:
    """The signed-in person for the page's header when the request has read
    them already, else nobody: reading them now (when the refused statement
    was that read) would wait for the same lock again, and fail the page."""
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return AnonymousUser()
    return user
