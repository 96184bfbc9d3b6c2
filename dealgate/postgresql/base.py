"""Django's PostgreSQL backend with a health check read from the socket,
and autocommit turned back on by rolling back.

With `CONN_HEALTH_CHECKS` on, Django checks a kept connection before the
first query of each request, so that a worker whose server went away (a
restart, a terminated session) reconnects instead of failing that request.
Its check is `SELECT 1`: a round trip every request pays, about an eighth
of the statements a lead capture sends over HTTP.

A server that ends a session says so before it closes the socket (an error
message, then end of file), so an idle connection it has dropped has
something to read. An idle connection with nothing to read is usable; one
with something waiting is asked with `SELECT 1` as Django would, since a
notice can arrive on a healthy connection too.

Django ends its outermost `atomic()` block by committing or rolling back,
then turns autocommit back on in a `finally`. An exception landing between
the two (a Ctrl-C as the rollback starts) left the transaction open, and
psycopg refuses to turn autocommit on then ("can't change 'autocommit'
now"), burying the interrupt under that error. A transaction still open
there was never committed: it is rolled back first, as `dealgate.sqlite`
does.

How long a statement waits for a lock another transaction holds (the
server's `lock_timeout`) is chosen per connection with `wait_for_locks`: a
web request waits a few seconds (dealgate.web.busy), a command as long as
the server's own setting says (by default, for ever). The session is told
lazily, before the connection's next statement and only when the wanted
wait differs from what it was last told, so a worker serving request after
request pays nothing. A `SET` made inside a transaction is undone by its
rollback: such a rollback makes the connection tell the session again.
"""

from __future__ import annotations

import logging
import select

from django.db.backends.postgresql import base
from psycopg import pq

logger = logging.getLogger("dealgate.db")

# A transaction open, idle or failed, that turning autocommit on would meet.
_UNFINISHED = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)
# Where a SET may be sent: no statement running, no failed transaction.
_SETTABLE = (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)
# What the session was told is not known (a rollback may have undone it).
_UNKNOWN = object()


class DatabaseWrapper(base.DatabaseWrapper):
    # Seconds this connection's statements wait for a lock; None: as long
    # as the server's lock_timeout (as the session started) says.
    lock_wait: float | None = None
    # What the session was last told, and whether that was inside a
    # transaction still open (its rollback would undo it).
    _lock_wait_told: float | None | object = None
    _lock_wait_told_in_transaction = False

    def wait_for_locks(self, seconds: float | None) -> None:
        """Make this connection's statements wait at most `seconds` for a
        lock another transaction holds (None: as long as the server's own
        lock_timeout says). Costs nothing here: the session is told before
        the connection's next statement, and only if this changes the wait.
        """
        self.lock_wait = seconds

    def get_new_connection(self, conn_params: dict) -> object:
        connection = super().get_new_connection(conn_params)
        # A new session has the server's own lock_timeout.
        self._lock_wait_told = None
        self._lock_wait_told_in_transaction = False
        return connection

    def ensure_connection(self) -> None:
        # Every statement passes here first: Django's cursors and the raw
        # ones of dealgate.clocks.bulk alike.
        super().ensure_connection()
        if self._lock_wait_told != self.lock_wait:
            self._tell_lock_wait()

    def _tell_lock_wait(self) -> None:
        raw = self.connection
        if raw is None or raw.info.transaction_status not in _SETTABLE:
            return  # told before the first statement after the rollback
        if not (raw.autocommit or self.in_atomic_block):
            # Connecting (autocommit is turned on next), or a transaction
            # run by hand: a SET now would open a transaction of its own.
            return
        wanted = self.lock_wait
        # lock_timeout 0 means no limit: the shortest wait is 1 ms.
        value = "DEFAULT" if wanted is None else str(max(1, round(wanted * 1000)))
        with self.wrap_database_errors:
            raw.execute(f"SET lock_timeout = {value}", prepare=False)
        self._lock_wait_told = wanted
        self._lock_wait_told_in_transaction = (
            raw.info.transaction_status == pq.TransactionStatus.INTRANS
        )

    def _forget_lock_wait_told_in_transaction(self) -> None:
        if self._lock_wait_told_in_transaction:
            self._lock_wait_told = _UNKNOWN
            self._lock_wait_told_in_transaction = False

    def _commit(self) -> None:
        super()._commit()
        self._lock_wait_told_in_transaction = False

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._forget_lock_wait_told_in_transaction()

    def _savepoint_rollback(self, sid: str) -> None:
        # The SET may have come after the savepoint: told again, to be sure.
        try:
            super()._savepoint_rollback(sid)
        finally:
            self._forget_lock_wait_told_in_transaction()

    def is_usable(self) -> bool:
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if raw.info.transaction_status != pq.TransactionStatus.IDLE:
            # Mid-transaction or in an unknown state: ask the server.
            return super().is_usable()
        try:
            waiting = _readable(raw.fileno())
        except (OSError, ValueError):
            return False
        return super().is_usable() if waiting else True

    def _set_autocommit(self, autocommit: bool) -> None:
        if autocommit and self.connection.info.transaction_status in _UNFINISHED:
            logger.warning(
                "autocommit turned on with a transaction open; rolling it back"
            )
            with self.wrap_database_errors:
                self.connection.rollback()
            self._forget_lock_wait_told_in_transaction()
        super()._set_autocommit(autocommit)


def _readable(fd: int) -> bool:
    """Whether `fd` has data (or end of file) to read, without waiting."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return any(
        events & (select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        for _, events in poller.poll(0)
    )
