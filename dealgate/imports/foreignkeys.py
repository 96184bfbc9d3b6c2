"""Foreign keys during an import: checked once for the whole load, not per row.

Django declares its foreign keys DEFERRABLE INITIALLY DEFERRED, so both
databases check them row by row: SQLite looks up each parent as a row is
inserted (about 12 lookups for a deal and its events), PostgreSQL queues a
trigger per row and key and runs them all at commit (about 1.2 million for
100,000 deals and their events). An import checks them set-based instead:

- SQLite (`sqlite_checks_off`): `PRAGMA foreign_keys` is switched off before
  the import's transaction begins, as Django's own schema editor does, and
  switched back on after it ends, also on error. Before the commit,
  `SqliteCheck.verify` looks for a row the import wrote whose key names no
  parent, one query per key, and refuses the whole import naming the table,
  row and column. The pragma cannot change inside a transaction, so an
  import run inside the caller's transaction keeps the per-row checks.
- PostgreSQL, by default: the rows are copied in replica mode, which fires
  no key trigger, and the keys are locked and checked per batch, set-based
  (see replica.py); without the privilege to switch modes, row by row.
- PostgreSQL (`PostgresKeys`), only when the import is run `exclusive`
  (`dealgate import deals --exclusive`): the documented bulk-load advice
  ("Populating a Database"): drop the foreign keys of the deals and event
  tables, load, and add them again from their own definitions, inside the
  import's transaction. Adding a key validates the whole table in one join,
  so it pays only when the load is large against the table: see
  `REBUILD_MIN_ROWS` and `REBUILD_TABLE_SHARE`. The price is why it is not
  the default: dropping a key takes an ACCESS EXCLUSIVE lock on its own
  table and on the table it points at, held until the commit, so the users,
  pipelines, stages, organizations, people and products tables cannot even
  be read meanwhile, and every signed-in page waits for the import. The
  locks are asked for with a short timeout; when they cannot be had, the
  import keeps the per-row checks instead of waiting behind the web app.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from dealgate.core.csvsource import quoted
from dealgate.imports.sidefiles import ImportFileError

logger = logging.getLogger("dealgate.imports")

# PostgreSQL: rebuild the keys only for a load of at least this many rows
# (one batch: below it, the DDL's cost and locks are not worth it)...
REBUILD_MIN_ROWS = 5_000
# ...that is at least this share of the rows already in the deals table:
# adding a key checks every row of its table, a trigger only the new ones.
# Measured (benchmarks/README.md), a trigger's check cost 12 to 35 times a
# row's validation, so rebuilding pays from about a twelfth; a tenth keeps
# a margin.
REBUILD_TABLE_SHARE = 0.1
# How long to wait for the tables' locks before keeping the per-row checks.
LOCK_TIMEOUT = "2s"
# PostgreSQL's detail for a missing parent, for a one-column key.
_DETAIL = re.compile(r'Key \((\w+)\)=\((.*)\) is not present in table "(\w+)"')


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    parent_table: str
    parent_column: str


def foreign_keys(model: type[models.Model]) -> list[ForeignKey]:
    """The foreign keys `model`'s table declares, from its fields."""
    keys = []
    for field in model._meta.concrete_fields:
        if field.is_relation and field.db_constraint:
            target = field.target_field
            keys.append(
                ForeignKey(
                    model._meta.db_table,
                    field.column,
                    target.model._meta.db_table,
                    target.column,
                )
            )
    return keys


@contextmanager
def sqlite_checks_off(connection: BaseDatabaseWrapper) -> Iterator[bool]:
    """Switch SQLite's per-row foreign-key checks off around a transaction
    that has not begun yet; yields whether they are off (the caller then
    checks with `SqliteCheck`). Other databases, and calls inside a
    transaction, yield False and change nothing."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield False
        return
    off = connection.disable_constraint_checking()
    try:
        yield off
    finally:
        connection.enable_constraint_checking()


class SqliteCheck:
    """Checks, set-based, the foreign keys of the rows an import writes while
    SQLite's own checks are off.

    `new_rows` are the tables the import inserts into: only rows above the
    highest id present at the start are checked (AUTOINCREMENT hands out ids
    above every id ever used, and the import's transaction holds the write
    lock). `all_rows` are small tables it may also update: checked whole.

    A writer may check its own rows batch by batch as it writes them
    (`batch_found`, on its thread), while the import reads on; a table it
    has found whole is `confirmed`, and `verify` passes over it, unless a
    table its keys point at lost a row meanwhile (a parent deleted after
    its batch was checked): then it checks that table's rows again.
    """

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        new_rows: Sequence[type[models.Model]],
        all_rows: Sequence[type[models.Model]] = (),
    ) -> None:
        self.connection = connection
        self.quote = connection.ops.quote_name
        self.floors: dict[type[models.Model], int] = {}
        with connection.cursor() as cursor:
            for model in new_rows:
                cursor.execute(
                    f"SELECT MAX({self.quote(model._meta.pk.column)}) "
                    f"FROM {self.quote(model._meta.db_table)}"
                )
                self.floors[model] = cursor.fetchone()[0] or 0
        for model in all_rows:
            self.floors[model] = -1
        self.confirmed: set[type[models.Model]] = set()
        self.parents = sorted(
            {key.parent_table for model in self.floors for key in foreign_keys(model)}
        )
        with connection.cursor() as cursor:
            self.tally = self._tally(cursor)

    def verify(self) -> None:
        """Raise ImportFileError naming the first row whose key has no parent."""
        q = self.quote
        with self.connection.cursor() as cursor:
            lost = self._tables_that_lost_rows(cursor)
            for model, floor in self.floors.items():
                if model in self.confirmed and not any(
                    key.parent_table in lost for key in foreign_keys(model)
                ):
                    continue
                pk = q(model._meta.pk.column)
                keys = foreign_keys(model)
                # One pass over the new rows checks every key; a query per
                # key, which names the culprit, runs only when one is bad.
                # (Nine passes over 100,000 new deals and five over their
                # events took 0.26 s.)
                if not keys or self._all_found(cursor, model, keys, floor):
                    continue
                for key in keys:
                    column = q(key.column)
                    cursor.execute(
                        f"SELECT c.{pk}, c.{column} FROM {q(key.table)} c "
                        f"WHERE c.{pk} > %s AND c.{column} IS NOT NULL "
                        f"AND NOT EXISTS (SELECT 1 FROM {q(key.parent_table)} p "
                        f"WHERE p.{q(key.parent_column)} = c.{column}) LIMIT 1",
                        [floor],
                    )
                    orphan = cursor.fetchone()
                    if orphan is not None:
                        raise _orphan_error(model, key, *orphan)

    def _tally(self, cursor: Any) -> dict[str, tuple[int, int]]:
        """Each parent table's rows, and the ids AUTOINCREMENT has handed
        out (sqlite_sequence; 0 before the first)."""
        tally = {}
        for table in self.parents:
            cursor.execute(f"SELECT COUNT(*) FROM {self.quote(table)}")
            (rows,) = cursor.fetchone()
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            handed_out = cursor.fetchone()
            tally[table] = (rows, handed_out[0] if handed_out else 0)
        return tally

    def _tables_that_lost_rows(self, cursor: Any) -> set[str]:
        """The parent tables with a row deleted since the check began: fewer
        rows than those there at the start and those inserted since (each
        insert takes the next id; an id given explicitly above them counts
        as a loss too, which only costs a check)."""
        now = self._tally(cursor)
        return {
            table
            for table, (rows, handed_out) in self.tally.items()
            if now[table][0] < rows + now[table][1] - handed_out
        }

    def batch_found(
        self, raw: Any, model: type[models.Model], low: int, high: int
    ) -> bool:
        """True when every key of `model`'s rows with ids from `low` to
        `high` names a row. Runs on the sqlite3 connection `raw` itself, so
        a writer's own thread may call it; False tells `verify` to look
        again, and to name the row."""
        keys = foreign_keys(model)
        if not keys:
            return True
        where = f"c.{self.quote(model._meta.pk.column)} BETWEEN ? AND ?"
        found = raw.execute(self._missing_sql(model, keys, where), (low, high))
        return found.fetchone() is None

    def _all_found(
        self, cursor: Any, model: type[models.Model], keys: list[ForeignKey], floor: int
    ) -> bool:
        """True when every key of `model`'s rows above `floor` names a row."""
        where = f"c.{self.quote(model._meta.pk.column)} > %s"
        cursor.execute(self._missing_sql(model, keys, where), [floor])
        return cursor.fetchone() is None

    def _missing_sql(
        self, model: type[models.Model], keys: list[ForeignKey], where: str
    ) -> str:
        """A row of `model`'s table `c` meeting `where` with a key that
        names nothing, if there is one: one pass checks every key."""
        q = self.quote
        missing = " OR ".join(
            f"(c.{q(key.column)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
            f"{q(key.parent_table)} p WHERE p.{q(key.parent_column)} = "
            f"c.{q(key.column)}))"
            for key in keys
        )
        return (
            f"SELECT 1 FROM {q(model._meta.db_table)} c "
            f"WHERE {where} AND ({missing}) LIMIT 1"
        )


def _orphan_error(
    model: type[models.Model], key: ForeignKey, pk: int, value: object
) -> ImportFileError:
    what = f"{key.table} row {pk}"
    if model._meta.db_table == "deals_deal":
        external_id, title = model._default_manager.filter(pk=pk).values_list(
            "external_id", "title"
        )[0]
        what = f"deal {quoted(external_id or title)} (id {pk})"
    return ImportFileError(
        f"{what}: {key.column} {value} names no row of {key.parent_table}; "
        "nothing was imported",
        field=key.column,
    )


class PostgresKeys:
    """Drops the foreign keys of `models`' tables for a large load and adds
    them back, validated, before the commit (see the module's notes)."""

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        models: Sequence[type[models.Model]],
        *,
        exclusive: bool = False,
    ) -> None:
        self.connection = connection
        self.tables = [model._meta.db_table for model in models]
        self.exclusive = exclusive
        self.dropped: list[tuple[str, str, str]] = []
        self.decided = False

    def existing_rows(self) -> int:
        """The planner's estimate of the deals table's rows; counted when the
        table was never analysed."""
        table = self.tables[0]
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [table],
            )
            estimate = cursor.fetchone()[0]
            if estimate is None or estimate < 0:
                cursor.execute(
                    f"SELECT COUNT(*) FROM {self.connection.ops.quote_name(table)}"
                )
                estimate = cursor.fetchone()[0]
        return estimate

    def prepare(self, expected_rows: int) -> bool:
        """Before the first write: drop the keys when a load of
        `expected_rows` is worth it and the locks can be had; True if so."""
        if self.decided:
            return bool(self.dropped)
        self.decided = True
        if not self.exclusive or expected_rows < REBUILD_MIN_ROWS:
            return False
        existing = self.existing_rows()
        if expected_rows < REBUILD_TABLE_SHARE * existing:
            return False
        from psycopg import errors

        raw = self.connection.connection
        tables = ", ".join(self.connection.ops.quote_name(t) for t in self.tables)
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' "
                "AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid, conname",
                [self.tables],
            )
            keys = cursor.fetchall()
            cursor.execute("SAVEPOINT dealgate_import_keys")
            try:
                # A table with key checks still queued (side-file rows written
                # earlier in this transaction) cannot lose a key: run them now.
                try:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                except errors.ForeignKeyViolation as exc:
                    detail = exc.diag.message_detail or ""
                    raise _violation(exc.diag.table_name or "", detail) from exc
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
                for table, name, _ in keys:
                    cursor.execute(
                        f"ALTER TABLE {table} DROP CONSTRAINT {_ident(name)}"
                    )
                cursor.execute("SET LOCAL lock_timeout = DEFAULT")
            except (*busy_errors(), errors.InsufficientPrivilege) as exc:
                cursor.execute("ROLLBACK TO SAVEPOINT dealgate_import_keys")
                why = (
                    "may not drop the deals tables' foreign keys"
                    if isinstance(exc, errors.InsufficientPrivilege)
                    else "the deals tables are busy"
                )
                logger.info(
                    "import: %s (%s); foreign keys are checked row by row",
                    why,
                    str(exc).strip(),
                )
                return False
            cursor.execute("RELEASE SAVEPOINT dealgate_import_keys")
        self.dropped = keys
        return True

    def restore(self) -> None:
        """Add the dropped keys back; each validates its table in one pass."""
        if not self.dropped:
            return
        from psycopg import errors

        with self.connection.connection.cursor() as cursor:
            for table, name, definition in self.dropped:
                try:
                    cursor.execute(
                        f"ALTER TABLE {table} ADD CONSTRAINT {_ident(name)} "
                        f"{definition}"
                    )
                except errors.ForeignKeyViolation as exc:
                    raise _violation(table, exc.diag.message_detail or "") from exc
        self.dropped = []


def _violation(table: str, detail: str) -> ImportFileError:
    """The error for a key the import wrote that names no row. The
    transaction is aborted, so PostgreSQL's own detail says which."""
    match = _DETAIL.search(detail)
    if match is None:
        return ImportFileError(f"{table}: {detail}; nothing was imported")
    column, value, parent = match.groups()
    return ImportFileError(
        f"{table}: {column} {value} names no row of {parent}; nothing was imported",
        field=column,
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def busy_errors() -> tuple[type[Exception], ...]:
    from psycopg import errors

    # A lock not granted in time; a table another open cursor still uses.
    return (errors.LockNotAvailable, errors.ObjectInUse)
