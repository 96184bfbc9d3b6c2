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
"""

from __future__ import annotations

import logging
import select

from django.db.backends.postgresql import base
from psycopg import pq

logger = logging.getLogger("dealgate.db")

# A transaction open, idle or failed, that turning autocommit on would meet.
_UNFINISHED = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)


class DatabaseWrapper(base.DatabaseWrapper):
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
        super()._set_autocommit(autocommit)


def _readable(fd: int) -> bool:
    """Whether `fd` has data (or end of file) to read, without waiting."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return any(
        events & (select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        for _, events in poller.poll(0)
    )
