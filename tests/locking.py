"""Another session on the PostgreSQL test database, holding locks as an
import, a bulk move or a pipeline change would while a test's requests run."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import psycopg
from django.db import connection

# What an import's first load into empty tables holds until it commits
# (dealgate.imports.indexes, PostgresIndexes.lift_into_empty).
IMPORT_LOCKS = ("deals_deal", "deals_stageevent")


class OtherSession:
    """A session of its own on the test database, as an import's is."""

    def __init__(self) -> None:
        params = connection.settings_dict
        self.raw = psycopg.connect(
            dbname=params["NAME"],
            user=params["USER"] or None,
            password=params["PASSWORD"] or None,
            host=params["HOST"] or None,
            port=params["PORT"] or None,
            autocommit=True,
        )

    def lock(self, *tables: str) -> None:
        """Hold ACCESS EXCLUSIVE locks on `tables` until `release`."""
        self.raw.execute("BEGIN")
        self.raw.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")

    def lock_row(self, table: str, row_id: int) -> None:
        """Hold a row for update until `release`, as a bulk move does."""
        self.raw.execute("BEGIN")
        self.raw.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [row_id])

    def release(self) -> None:
        self.raw.execute("ROLLBACK")

    def waiting_for_locks(self) -> int:
        """How many other sessions wait for a lock now (pg_locks is read
        live; pg_stat_activity would show what it held at the transaction's
        first look)."""
        (count,) = self.raw.execute(
            "SELECT count(DISTINCT pid) FROM pg_locks "
            "WHERE NOT granted AND pid <> pg_backend_pid()"
        ).fetchone()
        return count

    def close(self) -> None:
        self.raw.execute("ROLLBACK")
        self.raw.close()

    @classmethod
    @contextlib.contextmanager
    def opened(cls) -> Iterator[OtherSession]:
        """A session whose locks are let go, and which is closed, at the end."""
        session = cls()
        try:
            yield session
        finally:
            session.close()


def until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Return once `condition()` holds (it asks the server each time)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
