"""Secondary indexes built once after a large load, not row by row.

Every deal an import inserts updates each index of the deals table at a
place of its own (dates, stages, owners spread over the whole index), and
every event those of the events table. For a load that is large against the
table, building an index once from the finished table is cheaper than all
those scattered updates: `SqliteIndexes.lift` drops the non-unique indexes
of the tables inside the import's transaction and `restore` creates them
again from their own definitions before the commit.

SQLite's schema changes are transactional, so a failed or rolled-back import
(a bad row, a dry run, an error) gets its indexes back with its data, exactly
as they were. Unique indexes stay: they refuse a repeated row as it is
written, and the import finds already-imported ids through one of them.
Nobody else can write meanwhile (the import holds SQLite's write lock), and
readers keep seeing the committed schema and rows until the commit.

PostgreSQL (`PostgresIndexes`) can do the same only while it holds ACCESS
EXCLUSIVE locks on the deals and events tables, which shut every reader of
the deals (the board) out until the commit. It takes them in two cases:

- an `exclusive` import whose foreign keys are dropped
  (foreignkeys.PostgresKeys) holds those locks anyway, so dropping the
  indexes locks nothing more;
- a large import into an installation that holds no deal and no lead yet
  (`lift_into_empty`, its first import): the lock hides no one's deals,
  no lead form has been answered that would wait on them (a capture looks
  for open deals of the sender), and the board waits out the import
  (seconds) rather than showing half of it.

Otherwise a dropped index would keep the board waiting for the whole
import, so the default import keeps them. Measured on 100,000 deals and
their events: the indexes cost the COPY 1.7 s of the server's CPU, building
them afterwards 0.9 s. A rebuilt partial index prints its condition in an
equivalent spelling (an IN list comes back as an ARRAY of casts); the
planner still matches it to the same queries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from dealgate.imports.foreignkeys import LOCK_TIMEOUT, busy_errors

logger = logging.getLogger("dealgate.imports")

# Lift the indexes only for a load of at least this many rows (one batch)...
REBUILD_MIN_ROWS = 5_000
# ...that is at least as large as the deals table already is: building an
# index reads the whole table, while a row's updates cost only that row.
# Measured into a table of 100,000 deals (benchmarks/README.md, "## Import"):
# a load of a quarter of it took 50% more CPU with the indexes rebuilt, half
# of it the same, as many rows 14% less; into an empty table, 30% less.
# PostgreSQL's figures (module notes) put its break-even near the same
# share (1.7 s per 100,000 rows written against 0.9 s per 100,000 built).
REBUILD_TABLE_SHARE = 1.0


class _Lifted:
    """Indexes dropped for one load, kept as (name, definition) to build
    again before the commit; a definition may be several statements (an
    index's comment and settings follow its CREATE)."""

    def __init__(self, cursor: Any, tables: Sequence[str]) -> None:
        self.cursor = cursor
        self.tables = list(tables)
        self.lifted: list[tuple[str, str]] = []

    def restore(self) -> None:
        """Create the lifted indexes again, each from its own definition."""
        if not self.lifted:
            return
        started = time.perf_counter()
        for _, definition in self.lifted:
            self.cursor.execute(definition)
        logger.info(
            "import: %d indexes built again in %.2f s",
            len(self.lifted),
            time.perf_counter() - started,
        )
        self.lifted = []


class SqliteIndexes(_Lifted):
    """The non-unique indexes of `tables` (the first is the one whose size
    decides), lifted for one load inside its transaction."""

    def lift(self, expected_rows: int) -> bool:
        """Drop the indexes when a load of `expected_rows` is worth it;
        True if they were dropped. Call inside the import's transaction."""
        if expected_rows < REBUILD_MIN_ROWS:
            return False
        quoted = '"' + self.tables[0].replace('"', '""') + '"'
        (existing,) = self.cursor.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()
        if expected_rows < REBUILD_TABLE_SHARE * existing:
            return False
        marks = ", ".join("?" * len(self.tables))
        found = self.cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            f"AND tbl_name IN ({marks}) AND sql IS NOT NULL "
            "ORDER BY tbl_name, name",
            self.tables,
        ).fetchall()
        self.lifted = [(name, sql) for name, sql in found if not _unique(sql)]
        for name, _ in self.lifted:
            self.cursor.execute(f'DROP INDEX "{name}"')
        return bool(self.lifted)


class PostgresIndexes(_Lifted):
    """The non-unique indexes of `tables`, lifted for one load inside its
    transaction. Call only while the import holds ACCESS EXCLUSIVE locks on
    the tables (see the module's notes)."""

    def lift(self, expected_rows: int, existing_rows: int) -> bool:
        """Drop the indexes when a load of `expected_rows` into a deals
        table of `existing_rows` is worth it; True if they were dropped."""
        if expected_rows < REBUILD_MIN_ROWS:
            return False
        if expected_rows < REBUILD_TABLE_SHARE * existing_rows:
            return False
        # Indexes behind a constraint (primary keys, unique constraints)
        # and unique ones stay; an invalid index (a failed concurrent build)
        # is left alone rather than made valid behind its owner's back. What
        # the definition leaves out is kept as statements run after it: a
        # comment, statistics targets, the table's CLUSTER mark, and the
        # tablespace, which the index is created in.
        found = self.cursor.execute(
            "SELECT i.indexrelid::regclass::text, concat_ws('; ', "
            "CASE WHEN c.reltablespace <> 0 THEN format("
            "'SET LOCAL default_tablespace = %%I', "
            "(SELECT spcname FROM pg_tablespace WHERE oid = c.reltablespace)) END, "
            "pg_get_indexdef(i.indexrelid), "
            "CASE WHEN c.reltablespace <> 0 "
            "THEN 'SET LOCAL default_tablespace = DEFAULT' END, "
            "(SELECT format('COMMENT ON INDEX %%s IS %%L', i.indexrelid::regclass, "
            "d.description) FROM pg_description d WHERE d.objoid = i.indexrelid "
            "AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0), "
            "(SELECT string_agg(format('ALTER INDEX %%s ALTER COLUMN %%s SET "
            "STATISTICS %%s', i.indexrelid::regclass, a.attnum, a.attstattarget), "
            "'; ') FROM pg_attribute a WHERE a.attrelid = i.indexrelid "
            "AND a.attstattarget >= 0), "
            "CASE WHEN i.indisclustered THEN format('ALTER TABLE %%s CLUSTER ON %%I', "
            "i.indrelid::regclass, c.relname) END) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = ANY(%s::regclass[]) "
            "AND NOT i.indisunique AND i.indisvalid AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
            "ORDER BY 1",
            (self.tables,),
        ).fetchall()
        for name, _ in found:
            self.cursor.execute(f"DROP INDEX {name}")
        self.lifted = list(found)
        return bool(self.lifted)

    def lift_into_empty(
        self, expected_rows: int, also_empty: Sequence[str] = ()
    ) -> bool:
        """Lock the tables and drop their indexes for a load of
        `expected_rows`, only when they and the `also_empty` tables hold no
        rows (see the module's notes); True if the indexes were dropped.
        Waits for the locks only briefly: a busy table keeps its indexes,
        and so does a table the import's role may not drop indexes of."""
        if expected_rows < REBUILD_MIN_ROWS or self._any_rows(also_empty):
            return False
        from psycopg import errors

        tables = ", ".join(_quoted(table) for table in self.tables)
        cursor = self.cursor
        cursor.execute("SAVEPOINT dealgate_import_indexes")
        try:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
            cursor.execute("SET LOCAL lock_timeout = DEFAULT")
            # Rows committed between the first look and the lock (a lead
            # too: a capture reads the deals before it writes its lead, so
            # none can commit once the lock is held).
            lifted = not self._any_rows(also_empty) and self.lift(expected_rows, 0)
        except busy_errors() as exc:
            logger.info(
                "import: the deals tables are busy (%s); their indexes are kept",
                str(exc).strip(),
            )
            lifted = False
        except errors.InsufficientPrivilege as exc:
            logger.info(
                "import: may not drop the deals tables' indexes (%s); they are kept",
                str(exc).strip(),
            )
            lifted = False
        if not lifted:
            # Gives the locks back at once, and any index dropped.
            cursor.execute("ROLLBACK TO SAVEPOINT dealgate_import_indexes")
            self.lifted = []
        cursor.execute("RELEASE SAVEPOINT dealgate_import_indexes")
        return lifted

    def _any_rows(self, also: Sequence[str] = ()) -> bool:
        for table in (*self.tables, *also):
            found = self.cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {_quoted(table)})"
            ).fetchone()
            if found[0]:
                return True
        return False


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _unique(definition: str) -> bool:
    return definition.lstrip().upper().startswith("CREATE UNIQUE")
