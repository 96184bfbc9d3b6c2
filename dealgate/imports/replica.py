"""PostgreSQL: write an import's deals and events with the per-row triggers
off, and do their work set-based instead.

Django's foreign keys are checked by a trigger per row and key, queued for
the commit: about 1.2 million trigger calls for 100,000 deals and their
events, most of the database's time in an import. With
`session_replication_role = replica` PostgreSQL fires no ordinary trigger,
foreign-key triggers included, so a load does what those triggers did
itself, for each batch, around its COPY:

1. Lock the parent rows the batch names, once per distinct parent, with
   `SELECT ... FOR KEY SHARE`: the lock the key triggers take, so a user,
   stage or organization cannot be deleted (or its key changed) until the
   import ends, while ordinary updates of it (a sign-in) and reads go on.
2. Check, from what those statements return, that every key names a row;
   the import is refused with the same error as SQLite's check otherwise.

The one ordinary trigger on these inserts, the insights log of new deals,
is marked ALWAYS (insights migration 0004) and runs in replica mode too.

The role is switched only around the COPY statements; everything else an
import writes (side files, organizations, clocks) keeps its triggers. Only
a superuser, or a role granted `SET` on the parameter (PostgreSQL 15+), may
switch it; without the privilege, or when the tables carry an insert trigger
that replica mode would skip (its work would be lost silently) or fire only
then, the import keeps the per-row triggers and logs why at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from dealgate.imports.foreignkeys import ForeignKey, foreign_keys
from dealgate.imports.sidefiles import ImportFileError

logger = logging.getLogger("dealgate.imports")

# pg_trigger.tgtype's bit for INSERT.
_ON_INSERT = 4
# Tried once per import, inside a savepoint (a refusal aborts the statement).
_TRY_REPLICA = "SELECT set_config('session_replication_role', 'replica', true)"
_SAVEPOINT = "dealgate_import_replica"


class ReplicaLoad:
    """One import's switch to replica mode and the work it takes over.

    `start` decides, once, whether the import may use it; then each batch
    calls `lock_parents` before writing a table's rows (after writing the
    rows they point at) and writes inside `triggers_off`.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.raw = connection.connection
        self.quote = connection.ops.quote_name
        self.active = False
        self.origin = "origin"
        self._keys: dict[str, list[ForeignKey]] = {}
        # Parent keys locked so far, by table: a lock lasts until the
        # transaction ends, so each row is locked once per import.
        self._locked: dict[str, set[Any]] = {}

    def start(self, written: Sequence[type[models.Model]]) -> bool:
        """Try replica mode for loads into `written`'s tables; True if on."""
        tables = [model._meta.db_table for model in written]
        self._keys = {model._meta.db_table: foreign_keys(model) for model in written}
        from psycopg import errors

        with self.raw.cursor() as cursor:
            unknown = self._insert_triggers(cursor, tables)
            if unknown:
                logger.info(
                    "import: %s has insert trigger %s; foreign keys are checked "
                    "row by row",
                    *unknown,
                )
                return False
            (self.origin,) = cursor.execute(
                "SELECT current_setting('session_replication_role')"
            ).fetchone()
            cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
            try:
                cursor.execute(_TRY_REPLICA)
            except errors.InsufficientPrivilege as exc:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                logger.info(
                    "import: may not set session_replication_role (%s); foreign "
                    "keys are checked row by row",
                    str(exc).strip(),
                )
                return False
            cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            self._switch(cursor, self.origin)
        self.active = True
        return True

    @staticmethod
    def _insert_triggers(cursor: Any, tables: list[str]) -> tuple[str, ...]:
        """(table, trigger) of the first insert trigger whose firing replica
        mode would change, or ()."""
        # 'O' fires only outside replica mode, 'R' only inside it; 'A'
        # (always) and 'D' (disabled) behave the same either way.
        found = cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
            "WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal "
            "AND tgtype & %s <> 0 AND tgenabled IN ('O', 'R') ORDER BY 1, 2",
            (tables, _ON_INSERT),
        ).fetchone()
        return tuple(found or ())

    @contextmanager
    def triggers_off(self, cursor: Any) -> Iterator[None]:
        """Replica mode for the statements run inside. On an error the
        transaction (or the savepoint) is rolled back, which restores it."""
        self._switch(cursor, "replica")
        yield
        self._switch(cursor, self.origin)

    @staticmethod
    def _switch(cursor: Any, role: str) -> None:
        cursor.execute(
            "SELECT set_config('session_replication_role', %s, true)", (role,)
        )

    def lock_parents(
        self,
        cursor: Any,
        model: type[models.Model],
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        describe: Callable[[Sequence[Any]], str],
        written: Collection[Any] = (),
    ) -> None:
        """Lock, FOR KEY SHARE, every row the foreign keys of `rows` (in the
        order of `columns`) name that this load has not locked yet, one
        statement per parent table, and refuse the import if one names
        nothing; `describe(row)` says which record a row is, for the error.
        A lock lasts until the transaction ends, so a parent named by every
        batch (the pipeline, a stage, an owner) is locked by the first. A
        key to a table this load writes (an event's deal) must name one of
        the `written` ids: nobody else can see those rows, so there is
        nothing to lock."""
        by_parent: dict[str, list[tuple[ForeignKey, int]]] = {}
        for key in self._keys[model._meta.db_table]:
            by_parent.setdefault(key.parent_table, []).append(
                (key, columns.index(key.column))
            )
        for parent in sorted(by_parent):
            keys = by_parent[parent]
            wanted: set[Any] = set()
            for _, at in keys:
                wanted.update(map(itemgetter(at), rows))
            wanted.discard(None)
            if parent in self._keys:
                missing = wanted.difference(written)
            else:
                locked = self._locked.setdefault(parent, set())
                new = wanted.difference(locked)
                if not new:
                    continue
                column = self.quote(keys[0][0].parent_column)
                found = cursor.execute(
                    f"SELECT {column} FROM {self.quote(parent)} "
                    f"WHERE {column} = ANY(%s) ORDER BY {column} FOR KEY SHARE",
                    (sorted(new),),
                ).fetchall()
                locked.update(value for (value,) in found)
                missing = new.difference(locked)
            if missing:
                raise _missing_parent(keys, rows, missing, describe)


def _missing_parent(
    keys: list[tuple[ForeignKey, int]],
    rows: Sequence[Sequence[Any]],
    missing: set[Any],
    describe: Callable[[Sequence[Any]], str],
) -> ImportFileError:
    """The error for the first row whose key names no parent row."""
    row, key, at = next(
        (row, key, at) for row in rows for key, at in keys if row[at] in missing
    )
    return ImportFileError(
        f"{describe(row)}: {key.column} {row[at]} names no row of "
        f"{key.parent_table}; nothing was imported",
        field=key.column,
    )
