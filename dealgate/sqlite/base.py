"""Django's SQLite backend, turning autocommit back on by rolling back.

Django ends its outermost `atomic()` block by committing or rolling back,
then turns autocommit back on, in a `finally`. If an exception lands
between the two (a Ctrl-C arriving just as the block starts its rollback),
autocommit comes back on with the transaction still open, and Python's
sqlite3 module commits an open transaction when autocommit is turned on.
An import that was being undone was then kept, with the indexes and the
trigger it had dropped for the load gone for good.

A transaction still open at that point was neither committed nor meant to
be: this backend rolls it back first, as PostgreSQL's does (`dealgate.
postgresql`), and as a connection that is closed does.
"""

from __future__ import annotations

import logging

from django.db.backends.sqlite3 import base

logger = logging.getLogger("dealgate.db")


class DatabaseWrapper(base.DatabaseWrapper):
    def _set_autocommit(self, autocommit: bool) -> None:
        if autocommit and self.connection.in_transaction:
            logger.warning(
                "autocommit turned on with a transaction open; rolling it back"
            )
            with self.wrap_database_errors:
                self.connection.rollback()
        super()._set_autocommit(autocommit)
