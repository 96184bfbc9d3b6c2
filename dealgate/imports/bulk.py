"""Set-based writes of deals and their stage events, one batch at a time.

The ORM costs most of its time in its SQL compiler (PERFORMANCE.md), so an
import writes rows itself, from a second thread while the next batch is
read: INSERTs of many rows each on SQLite, COPY on PostgreSQL. Deal
rows are lists in the order of DEAL_COLUMNS; instants in them are aware UTC
datetimes until `adapt`. The stage events a deal implies follow one rule,
written twice for speed: SQLite makes them from the deals as stored
(`EventStatements`), as binding 170,000 event rows from Python cost more
than the rest of its insert; PostgreSQL copies rows built in Python
(`event_rows`), as making them on the server cost it more than the copy.
The import's tests pin both to the same rows. A test checks that
DEAL_COLUMNS and EVENT_COLUMNS name every column of the tables, so a new
model field cannot be silently left out.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from itertools import chain
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from dealgate.core.csvsource import quoted
from dealgate.core.interrupts import uninterrupted
from dealgate.deals.models import Deal, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports.foreignkeys import PostgresKeys, SqliteCheck
from dealgate.imports.indexes import PostgresIndexes, SqliteIndexes
from dealgate.imports.replica import ReplicaLoad
from dealgate.insights import changelog
from dealgate.leads.models import Lead

logger = logging.getLogger("dealgate.imports")

DEAL_COLUMNS = (
    "id",
    "pipeline_id",
    "stage_id",
    "status",
    "title",
    "organization_id",
    "contact_id",
    "product_id",
    "owner_id",
    "value",
    "currency",
    "loss_reason",
    "loss_note",
    "notes",
    "custom",
    "created_at",
    "stage_entered_at",
    "expected_close_date",
    "closed_at",
    "source",
    "external_id",
    "version",
    "responsible_id",
    # The import's one instant for every row (DealRows.now), as any other
    # writer stamps it (dealgate.deals.stamps).
    "updated_at",
)
# The event id is left to the database; nothing refers to it during an import.
EVENT_COLUMNS = (
    "deal_id",
    "from_stage_id",
    "to_stage_id",
    "from_status",
    "to_status",
    "at",
    "from_entered_at",
    "from_business_minutes",
    "by_id",
    "override_reason",
    "responsible_id",
    "loss_reason",
    "source",
)
ID, STAGE, STATUS, TITLE = 0, 2, 3, 4
ORGANIZATION, PRODUCT, OWNER = 5, 7, 8
LOSS_REASON = 11
CUSTOM = 14
CREATED, ENTERED, CLOSED = 15, 16, 18
EXTERNAL_ID = 20
RESPONSIBLE, UPDATED = 22, 23
EVENT_SOURCE = "import"
# SQLite's page cache during an import, in KiB (see SqliteWriter.begin).
SQLITE_CACHE_KIB = 16384
# Deal rows one SQLite INSERT writes (200 to 1,400 measured the same).
SQLITE_ROWS_PER_INSERT = 500
# Python's thread switch interval while a writer's thread runs, in seconds
# (see DealWriter.write).
WRITE_SWITCH_INTERVAL = 0.0005
# Seconds to wait for PostgreSQL to take a request to cancel a write, and
# between two such requests while the write goes on (see DealWriter.close).
CANCEL_TIMEOUT = 10.0
CANCEL_EVERY = 1.0

# Working minutes between two instants in the pipeline's calendar.
Minutes = Callable[[dt.datetime, dt.datetime], float]
# (deal id, working minutes spent in its stage or None) for each won or lost
# deal of a batch, in the batch's order.
Closes = list[tuple[int, float | None]]


def closes_for(deals: Sequence[Sequence[Any]], minutes: Minutes) -> Closes:
    """The won and lost deals of a batch with the working minutes each spent
    in its stage before closing, when the file says when it entered; call
    before `adapt`, while the rows' instants are datetimes."""
    closes = []
    for deal in deals:
        if deal[STATUS] != "open":
            entered = deal[ENTERED]
            spent = minutes(entered, deal[CLOSED]) if entered is not None else None
            closes.append((deal[ID], spent))
    return closes


def entered_count(deals: Sequence[Sequence[Any]]) -> int:
    """How many deals of a batch have an entry event: those whose file says
    when they entered their stage."""
    return sum(deal[ENTERED] is not None for deal in deals)


class EventStatements:
    """The history an imported deal row implies, made from the file's own
    dates by SQLite from the deal as stored.

    Entering its stage, when the file says when (`entries`); then closing,
    for a won or lost deal, from that stage at its close date, with the
    working minutes spent in the stage when its entry is known (`closes`:
    the minutes come from Python, where business time is computed). No date
    is invented: a deal whose file gives no stage-entry date has no entry
    event. Two statements, entries first, so a deal that entered and closed
    at the same instant lists them in that order.

    `batch` is the SQL condition choosing the batch's deals (alias `d`),
    `closes` the relation giving each closing deal's id and minutes, as
    `c(deal_id, minutes)`: they say how the statements take their
    parameters. `event_rows` is the same rule for PostgreSQL's copy.
    """

    def __init__(
        self,
        event_table: str,
        event_columns: str,
        deal_table: str,
        *,
        batch: str,
        closes: str,
    ) -> None:
        into = f"INSERT INTO {event_table} ({event_columns}) "
        self.entries = (
            f"{into}SELECT d.id, NULL, d.stage_id, '', 'open', d.stage_entered_at, "
            f"NULL, NULL, NULL, '', d.responsible_id, '', '{EVENT_SOURCE}' "
            f"FROM {deal_table} d WHERE {batch} AND d.stage_entered_at IS NOT NULL"
        )
        self.closes = (
            f"{into}SELECT d.id, d.stage_id, d.stage_id, 'open', d.status, "
            "d.closed_at, d.stage_entered_at, c.minutes, NULL, '', "
            f"d.responsible_id, d.loss_reason, '{EVENT_SOURCE}' "
            f"FROM {closes} JOIN {deal_table} d ON d.id = c.deal_id WHERE {batch}"
        )


def event_rows(deals: Sequence[Sequence[Any]], closes: Closes) -> list[list[Any]]:
    """The rows `EventStatements` writes, in its order, built in Python from
    the batch's deal rows (in DEAL_COLUMNS order) and `closes`."""
    rows = [
        [deal[ID], None, deal[STAGE], "", "open", deal[ENTERED], None, None]
        + [None, "", deal[RESPONSIBLE], "", EVENT_SOURCE]
        for deal in deals
        if deal[ENTERED] is not None
    ]
    closing = iter(closes)
    deal_id, spent = next(closing, (None, None))
    for deal in deals:
        if deal[ID] == deal_id:
            stage, status = deal[STAGE], deal[STATUS]
            rows.append(
                [deal_id, stage, stage, "open", status, deal[CLOSED], deal[ENTERED]]
                + [spent, None, "", deal[RESPONSIBLE], deal[LOSS_REASON], EVENT_SOURCE]
            )
            deal_id, spent = next(closing, (None, None))
    return rows


class DealWriter:
    """Writes batches of deal rows and events inside the caller's transaction.

    `existing` finds external ids already stored for this pipeline and
    source; `next_ids` hands out primary keys, so events can point at deals
    written in the same statement batch; `first_new_id` is the smallest id
    handed out in this import (None before any). `begin` is called before the
    first write with the number of rows the file is expected to hold,
    `finish` after the last, still inside the transaction, and `close` at
    the end, also on error. `write` returns before the rows are stored:
    `existing`, `next_ids` and `holds_source` wait for them, and anything
    else that uses the connection must call `settle` first.
    """

    def __init__(
        self, connection: BaseDatabaseWrapper, pipeline_id: int, source: str
    ) -> None:
        self.connection = connection
        self.pipeline_id = pipeline_id
        self.source = source
        quote = connection.ops.quote_name
        self.deal_table = quote(Deal._meta.db_table)
        self.event_table = quote(StageEvent._meta.db_table)
        self.deal_columns = ", ".join(quote(name) for name in DEAL_COLUMNS)
        self.event_columns = ", ".join(quote(name) for name in EVENT_COLUMNS)
        self.first_new_id: int | None = None
        self._worker: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._switch_interval: float | None = None
        # Set by `close`: a batch still being written stops between statements.
        self._stopping = threading.Event()

    def existing(self, external_ids: list[str]) -> dict[str, int]:
        """The stored deals' ids by external id, of those in `external_ids`
        (waits for the batch being written)."""
        raise NotImplementedError

    def next_ids(self, count: int) -> Sequence[int]:
        """`count` ids for new deals, ascending."""
        raise NotImplementedError

    def holds_source(self) -> bool:
        """Whether the pipeline holds a deal from this source with an
        external id, which `existing` could find."""
        self.settle()
        # Spelled as the unique index's condition, so that it is used.
        return (
            Deal.objects.filter(pipeline_id=self.pipeline_id, source=self.source)
            .exclude(external_id="")
            .exists()
        )

    def begin(self, expected_rows: int) -> None:
        """Prepare for a load of about `expected_rows` deals."""

    def finish(self) -> None:
        """After the last write: undo what `begin` changed to the schema,
        checking what the load wrote."""

    def close(self) -> None:
        """Give back what `begin` and `write` took, whether the import went
        well or not."""
        # On the way out of an error the batch being written is stopped
        # and waited for, so the rollback finds the connection free and
        # nothing is written after it (on SQLite a statement run after the
        # rollback would commit on its own). Its own error, if any, gives
        # way to the one already raised (without one, `finish` has raised
        # it). A Ctrl-C does not cut the wait short: it is raised after.
        # (The future is waited for, not the thread: on Python 3.11 a join
        # that a Ctrl-C interrupts marks the thread ended while it runs.)
        # A statement waiting on a lock is cancelled, again every
        # CANCEL_EVERY seconds: a cancel that reaches the database between
        # two statements is lost.
        interrupted: KeyboardInterrupt | None = None
        while True:
            try:
                self._stopping.set()
                pending = self._pending
                while pending is not None and not pending.done():
                    self._cancel()
                    wait([pending], timeout=CANCEL_EVERY)
                break
            except KeyboardInterrupt as exc:
                interrupted = exc
        self._pending = None
        if self._worker is not None:
            # Idle now: its thread ends on its own.
            self._worker.shutdown(wait=False)
            self._worker = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        if interrupted is not None:
            raise interrupted

    def _cancel(self) -> None:
        """Stop the statement the writing thread is running, if the
        database lets a statement be stopped from outside; called by
        `close` on the way out of an error, when the batch will be rolled
        back anyway."""

    def settle(self) -> None:
        """Wait until the rows given to `write` are stored; raise what
        storing them raised."""
        if self._pending is not None:
            # Forgotten only once done: an interrupted wait leaves it to
            # `close` to wait for.
            self._pending.result()
            self._pending = None

    def adapt(self, deal: list[Any]) -> None:
        """Turn a deal row's values into what the driver stores (in place)."""

    def write(self, deals: list[list[Any]], closes: Closes) -> None:
        """Write `deals` (ids ascending) and the stage events they imply
        (`EventStatements`, `event_rows`), `closes` giving the won and lost
        ones, from a second thread while the caller reads the next batch.

        Both drivers let go of the GIL while the database works (SQLite's
        steps, PostgreSQL's network waits), so the two overlap on two
        cores. The writing thread still needs the GIL back after each of
        its statements, which Python's default switch interval (5 ms) makes
        it wait for: the interval is shortened for the import.
        """
        self.settle()
        # A Ctrl-C inside `submit` would leave the batch on its way with
        # nothing in `_pending` for `close` to wait for.
        with uninterrupted():
            if self._worker is None:
                self._worker = ThreadPoolExecutor(
                    1, thread_name_prefix="dealgate-write"
                )
                self._switch_interval = sys.getswitchinterval()
                sys.setswitchinterval(min(WRITE_SWITCH_INTERVAL, self._switch_interval))
            self._pending = self._worker.submit(self._write, deals, closes)

    def _write(self, deals: list[list[Any]], closes: Closes) -> None:
        """Store one batch, on the writing thread."""
        raise NotImplementedError


class SqliteWriter(DealWriter):
    """`check`, given when SQLite's own key checks are off for the import:
    each batch's deals are checked as they are written, on the writing
    thread (SqliteCheck.batch_found), rather than all at the end while the
    import waits; their events' keys are the deals' own."""

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        pipeline_id: int,
        source: str,
        check: SqliteCheck | None = None,
    ) -> None:
        super().__init__(connection, pipeline_id, source)
        self.check = check
        # Whether every batch so far had its keys found, by table.
        self._found = {Deal: True, StageEvent: True}
        self.events = EventStatements(
            self.event_table,
            self.event_columns,
            self.deal_table,
            # A batch's ids are consecutive: the import holds the write lock.
            batch="d.id BETWEEN ? AND ?",
            # The closing deals as one JSON array of [id, minutes] pairs: one
            # statement a batch, where a run per deal took twice as long.
            closes="(SELECT json_extract(value, '$[0]') AS deal_id, "
            "json_extract(value, '$[1]') AS minutes FROM json_each(?)) c",
        )
        self.raw = connection.connection
        # As many as SQLite takes parameters for, up to SQLITE_ROWS_PER_INSERT.
        variables = self.raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._rows_per_insert = max(
            1, min(SQLITE_ROWS_PER_INSERT, variables // len(DEAL_COLUMNS))
        )
        self._inserts: dict[int, str] = {}
        self._next = self._highest_id() + 1
        self._text: dict[dt.datetime, str] = {}
        self._cache_size: int | None = None
        self._lifted: str | None = None  # the insights trigger, while lifted
        self.indexes = SqliteIndexes(
            self.raw, (Deal._meta.db_table, StageEvent._meta.db_table)
        )

    def begin(self, expected_rows: int) -> None:
        # A deal updates 10 indexes and an event 4, most of them at places
        # spread over the whole index (dates, organizations): with SQLite's
        # default 2 MB page cache the import rereads and spills pages for
        # every batch. 16 MB for the import's length, given back after it,
        # took about 30% off SQLite's insert time for 100,000 deals; 64 MB
        # took little more and cost 50 MB more memory.
        (size,) = self.raw.execute("PRAGMA cache_size").fetchone()
        (page,) = self.raw.execute("PRAGMA page_size").fetchone()
        # Negative: KiB; positive: pages.
        if (-size if size < 0 else size * page // 1024) < SQLITE_CACHE_KIB:
            self._cache_size = size
            self.raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        # The insights change log is written a batch at a time (`_write`),
        # rather than by a trigger per row.
        self._lifted = changelog.lift_insert_trigger(self.raw)
        self.indexes.lift(expected_rows)

    def finish(self) -> None:
        self.settle()
        self.indexes.restore()
        if self._lifted is not None:
            changelog.restore_insert_trigger(self.raw, self._lifted)
            self._lifted = None
        if self.check is not None:
            self.check.confirmed.update(
                model for model, found in self._found.items() if found
            )

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._cache_size is not None:
                self.raw.execute(f"PRAGMA cache_size = {self._cache_size}")
                self._cache_size = None

    def _highest_id(self) -> int:
        # AUTOINCREMENT never reuses an id, even a deleted deal's: start above
        # both the live rows and the sequence. The import's transaction holds
        # SQLite's write lock (IMMEDIATE), so no one else can take these ids.
        table = Deal._meta.db_table
        highest = self.raw.execute(f"SELECT MAX(id) FROM {self.deal_table}").fetchone()
        sequence = self.raw.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
        ).fetchone()
        return max(highest[0] or 0, sequence[0] if sequence else 0)

    def existing(self, external_ids: list[str]) -> dict[str, int]:
        self.settle()
        marks = ", ".join("?" * len(external_ids))
        # The index's own condition, spelled as Django wrote it, lets SQLite
        # use the partial unique index; "external_id <> ''" does not, and it
        # read every deal of the pipeline once per batch instead.
        rows = self.raw.execute(
            f"SELECT external_id, id FROM {self.deal_table} "
            f"WHERE pipeline_id = ? AND source = ? AND NOT (external_id = '') "
            f"AND external_id IN ({marks})",
            (self.pipeline_id, self.source, *external_ids),
        )
        return dict(rows.fetchall())

    def next_ids(self, count: int) -> Sequence[int]:
        ids = range(self._next, self._next + count)
        self._next += count
        if self.first_new_id is None and count:
            self.first_new_id = ids[0]
        return ids

    def adapt(self, deal: list[Any]) -> None:
        self._as_text(deal, (CREATED, ENTERED, CLOSED, UPDATED))

    def _insert(self, rows: int) -> str:
        """The INSERT of `rows` deal rows, made once per size."""
        sql = self._inserts.get(rows)
        if sql is None:
            values = ", ".join(["(" + ", ".join("?" * len(DEAL_COLUMNS)) + ")"] * rows)
            sql = self._inserts[rows] = (
                f"INSERT INTO {self.deal_table} ({self.deal_columns}) VALUES {values}"
            )
        return sql

    def _as_text(self, row: list[Any], positions: tuple[int, ...]) -> None:
        # Django stores instants on SQLite as naive UTC text "YYYY-MM-DD
        # HH:MM:SS[.ffffff]"; any other spelling would break its comparisons.
        text = self._text
        for index in positions:
            value = row[index]
            if value is not None:
                stored = text.get(value)
                if stored is None:
                    if len(text) > 8192:
                        text.clear()
                    stored = text[value] = str(value.replace(tzinfo=None))
                row[index] = stored

    def _write(self, deals: list[list[Any]], closes: Closes) -> None:
        # Many rows a statement: a statement run per row (executemany) cost
        # 8% more of the whole import's CPU in its steps and resets.
        per = self._rows_per_insert
        for start in range(0, len(deals), per):
            if self._stopped():
                return
            chunk = deals[start : start + per]
            self.raw.execute(self._insert(len(chunk)), list(chain.from_iterable(chunk)))
        first, last = deals[0][ID], deals[-1][ID]
        if self._stopped():
            return
        self.raw.execute(self.events.entries, (first, last))
        self.raw.execute(self.events.closes, (json.dumps(closes), first, last))
        if self._lifted is not None:
            changelog.log_inserted(self.raw, first, last)
        if self.check is None or self._stopped():
            return
        found = self._found
        found[Deal] = found[Deal] and self.check.batch_found(
            self.raw, Deal, first, last
        )
        # Every key of the events is a key of the deal it was made from, as
        # stored (`EventStatements`: the deal's id, stage and responsible, or
        # NULL): the deals' check has looked at each of them already. It
        # took 0.3 s per 100,000 deals to look again.
        found[StageEvent] = found[Deal]

    def _stopped(self) -> bool:
        """True once `close` asks the batch to stop; raises rather than let
        a statement run outside the import's transaction, where it would
        commit on its own."""
        if self._stopping.is_set():
            return True
        if not self.raw.in_transaction:
            raise RuntimeError("the import's transaction ended during a write")
        return False


class PostgresWriter(DealWriter):
    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        pipeline_id: int,
        source: str,
        *,
        exclusive: bool = False,
    ) -> None:
        super().__init__(connection, pipeline_id, source)
        self.raw = connection.connection
        self.keys = PostgresKeys(connection, (Deal, StageEvent), exclusive=exclusive)
        self.replica = ReplicaLoad(connection)
        self.indexes = PostgresIndexes(
            self.raw, (Deal._meta.db_table, StageEvent._meta.db_table)
        )
        # Each table's column type oids, by quoted table name.
        self.types: dict[str, list[int]] | None = None
        # Parameters: the external ids, the pipeline, the source.
        self.existing_sql = (
            "SELECT wanted.id, found.id FROM unnest(%s::text[]) AS wanted(id) "
            f"CROSS JOIN LATERAL (SELECT id FROM {self.deal_table} "
            "WHERE pipeline_id = %s AND source = %s AND NOT (external_id = '') "
            "AND external_id = wanted.id LIMIT 1) AS found"
        )
        self.sequence: int | None = None  # the oid of the deals' id sequence

    def begin(self, expected_rows: int) -> None:
        if self.keys.prepare(expected_rows):
            # The tables are locked for the import now, so their indexes may
            # go too; and with the keys dropped there is nothing left for
            # replica mode to spare.
            self.indexes.lift(expected_rows, self.keys.existing_rows())
        else:
            self.replica.start((Deal, StageEvent))
            self.indexes.lift_into_empty(
                expected_rows, also_empty=(Lead._meta.db_table,)
            )

    def finish(self) -> None:
        self.settle()
        self.indexes.restore()
        self.keys.restore()

    def _cancel(self) -> None:
        # A copy waiting on a lock (a stage or an owner another session has
        # locked) would otherwise keep the import, and its Ctrl-C, waiting
        # until that session ends. A cancel that arrives once the statement
        # has ended finds the session idle, and the server ignores it.
        import psycopg

        try:
            self.raw.cancel_safe(timeout=CANCEL_TIMEOUT)
        except (psycopg.Error, OSError) as exc:
            # The import is failing already: say so, and wait for the write.
            logger.warning("could not cancel the import's running write: %s", exc)

    def existing(self, external_ids: list[str]) -> dict[str, int]:
        self.settle()
        with self.raw.cursor() as cursor:
            # One probe of the unique index per id. Written as a plain
            # "external_id = ANY(...)", the query was planned as a scan of
            # every deal of the pipeline and source, each checked against
            # the batch's ids: 20 ms a batch by 100,000 deals and growing
            # with the table, so a large file took time in the square of its
            # rows. The LIMIT keeps the planner from turning the probes back
            # into that join; never prepared, as a plan kept from the first
            # batches was made while the table was empty.
            cursor.execute(
                self.existing_sql,
                (external_ids, self.pipeline_id, self.source),
                prepare=False,
            )
            return dict(cursor.fetchall())

    def next_ids(self, count: int) -> Sequence[int]:
        if not count:
            return []
        self.settle()
        # Ids come from the table's own sequence, so concurrent inserts by
        # the web app can never collide with them. The sequence is looked up
        # once: asked for in every row, the lookup took three quarters of
        # the statement's time (0.3 s of the server's CPU per 100,000 ids).
        with self.raw.cursor() as cursor:
            if self.sequence is None:
                (self.sequence,) = cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, 'id')::regclass::oid",
                    (Deal._meta.db_table,),
                ).fetchone()
            cursor.execute(
                "SELECT nextval(%s::oid) FROM generate_series(1, %s)",
                (self.sequence, count),
            )
            ids = [row[0] for row in cursor.fetchall()]
        if self.first_new_id is None:
            self.first_new_id = min(ids)
        return ids

    def _write(self, deals: list[list[Any]], closes: Closes) -> None:
        """Copy the batch (on the writing thread, see DealWriter.write).

        The server works on a COPY only while its rows arrive, and reading
        and converting a batch takes the client about half as long as the
        server takes to store it (100,000 deals: 1.7 s against 3 s of CPU),
        so written in turn the two added up. 100,000 deals, three runs each:
        20,500-21,100 rows/s in turn, 21,200-22,700 with the thread,
        22,500-25,500 with the shorter switch interval too.
        """
        from psycopg.types.json import set_json_dumps

        with self.raw.cursor() as cursor:
            # The custom fields are JSON text already; loading them to dump
            # them again took 0.9 s per 100,000 deals in a profile.
            set_json_dumps(_json_text, context=cursor)
            if self.types is None:
                self.types = {
                    table: self._column_types(cursor, table, columns)
                    for table, columns in (
                        (self.deal_table, DEAL_COLUMNS),
                        (self.event_table, EVENT_COLUMNS),
                    )
                }
            replica = self.replica
            if self._stopping.is_set():
                return
            if replica.active:
                replica.lock_parents(cursor, Deal, DEAL_COLUMNS, deals, _deal_named)
            # The events point at these deals and at the stages and people
            # the deals name, locked just now: nothing more to lock for them.
            off = replica.triggers_off(cursor) if replica.active else nullcontext()
            with off:
                self._copy(cursor, self.deal_table, self.deal_columns, deals)
                if self._stopping.is_set():
                    return
                events = event_rows(deals, closes)
                self._copy(cursor, self.event_table, self.event_columns, events)

    @staticmethod
    def _column_types(cursor: Any, table: str, columns: Sequence[str]) -> list[int]:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        types = dict(cursor.fetchall())
        return [types[column] for column in columns]

    def _copy(self, cursor: Any, table: str, columns: str, rows: Sequence[Any]) -> None:
        # Binary: the server need not parse numbers, dates and instants
        # back from text.
        assert self.types is not None
        with cursor.copy(
            f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(self.types[table])
            for row in rows:
                copy.write_row(row)


def _json_text(text: str) -> str:
    return text


def _deal_named(deal: Sequence[Any]) -> str:
    return f"deal {quoted(deal[EXTERNAL_ID] or deal[TITLE])} (id {deal[ID]})"


def writer_for(
    connection: BaseDatabaseWrapper,
    pipeline_id: int,
    source: str,
    *,
    exclusive: bool = False,
    check: SqliteCheck | None = None,
) -> DealWriter:
    """The writer for the connection's database; call inside a transaction.
    `exclusive`: PostgreSQL may lock the tables to check keys once (see
    `foreignkeys.PostgresKeys`); SQLite's import holds its write lock anyway.
    `check`: SQLite's key checks are off, and the writer checks its rows."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        return SqliteWriter(connection, pipeline_id, source, check)
    if connection.vendor == "postgresql":
        return PostgresWriter(connection, pipeline_id, source, exclusive=exclusive)
    raise ValidationError(
        f"imports write to SQLite or PostgreSQL; this database is {connection.vendor}"
    )
