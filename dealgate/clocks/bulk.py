"""Set-based writes for the sweep, and the one-row inserts a move and a lead
capture make, below the ORM.

Django's `bulk_create` spends most of its time compiling SQL (PERFORMANCE.md:
25,000 rows/s on PostgreSQL), and psycopg parses the placeholders of every
long statement in Python. So rows go in with COPY on PostgreSQL and with the
driver's `executemany` on SQLite, and id lists travel as one array parameter
(`= ANY(%s::bigint[])`, an array literal made in one join) on PostgreSQL.
Call these inside a transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import (
    DEFAULT_DB_ALIAS,
    NotSupportedError,
    connection,
    connections,
    models,
)
from django.db.models import Model, QuerySet, signals
from django.db.models.base import ModelState

from .models import Clock

M = TypeVar("M", bound=Model)

# SQLite allows 32,766 parameters per statement: IN lists stay well below.
ID_CHUNK = 1_000


# Runs of one statement through `prepared_cursor`, on one connection, after
# which PostgreSQL keeps it prepared.
PREPARE_AFTER = 5


@contextlib.contextmanager
def prepared_cursor(numbered: bool = False) -> Iterator[Any]:
    """A cursor for fixed SQL that requests run over and over.

    On PostgreSQL its parameters are bound by the server and psycopg
    prepares a statement once the connection has run it PREPARE_AFTER times
    here: planning the de-duplication lookups cost PostgreSQL more than
    running them (0.6-0.7 ms against 0.2 ms each). Only here: every other
    statement keeps Django's defaults (bound on the client, never prepared),
    because a plan kept for all values went wrong elsewhere, for a sweep of
    the oldest clocks (half as much database time again) and for an
    import's lookup of existing ids planned while the table was empty.
    Queries are still logged, wrapped and counted as Django's are when
    Django logs them (DEBUG, tests counting queries) or wraps them
    (`execute_wrapper`); otherwise errors are still turned into Django's.
    Setting PREPARED_STATEMENTS to False (a transaction-mode pooler) turns
    preparing off.

    `numbered`: on PostgreSQL the SQL holds $1, $2, ... (see `numbered`)
    instead of %s, and psycopg does not parse it: it parses a statement of
    more than 50 parameters or 4,096 characters again on every run.
    """
    # The connection itself: each look through Django's proxy costs a
    # thread-local lookup, and a request makes hundreds of them.
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        with conn.cursor() as cursor:
            yield cursor
        return
    # As Django's cursor(): a connection the server has ended is replaced
    # before its first statement of a request, not failed on.
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    raw = conn.connection
    before = raw.prepare_threshold
    if settings.PREPARED_STATEMENTS:
        raw.prepare_threshold = PREPARE_AFTER
    kind = psycopg.RawCursor if numbered else psycopg.Cursor
    try:
        if conn.queries_logged or conn.execute_wrappers:
            with conn._prepare_cursor(kind(raw)) as cursor:
                yield cursor
            return
        # What Django's cursor wrapper does for each statement, on a cursor
        # kept per connection and kind: building a wrapper and a cursor for
        # every statement cost about 60 us of CPU, and a capture runs seven.
        # A cursor is taken out while in use, so a nested use makes its own.
        conn.validate_thread_sharing()
        conn.validate_no_broken_transaction()
        kept = _kept_cursors(conn)
        cursor = kept.pop(kind, None)
        if cursor is not None and cursor.connection is not raw:
            kept.clear()  # the connection was replaced: its cursors go too
            cursor = None
        if cursor is None:
            cursor = kind(raw)
        with conn.wrap_database_errors:
            yield cursor
        kept[kind] = cursor
    finally:
        raw.prepare_threshold = before


def _kept_cursors(conn: Any) -> dict[type, Any]:
    """The cursors `prepared_cursor` reuses on Django connection `conn` (one
    thread's), by cursor class. Kept on the Django connection, which lives
    as long as its thread: a replaced psycopg connection and its cursors
    are dropped at the next statement."""
    try:
        return conn.dealgate_kept_cursors
    except AttributeError:
        conn.dealgate_kept_cursors = {}
        return conn.dealgate_kept_cursors


def insert_rows(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT `rows` (values in `fields` order, attnames like "deal_id") into
    `model`'s table.

    On SQLite, aware datetimes are written the way the ORM stores them (naive
    UTC text), so raw and ORM rows compare alike.
    """
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "postgresql":
        sql = f"COPY {table} ({columns}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(fields))
    raw.executemany(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})",
        _as_stored(model, fields, rows),
    )


def end_clocks(clocks: QuerySet[Clock], state: str, at: dt.datetime, note: str) -> int:
    """Stop the running clocks among `clocks` (to `state`, at `at`, saying
    `note`) and put right the breached ones not yet put right, in one UPDATE.
    Returns how many rows changed.

    A running clock stopped once business time has passed beyond its due
    time (after `late_after`) was missed, whatever stopped it: it ends
    breached, put right at `at` (`resolved_at`), never `state`. Stopped at a
    due time that falls at closing, or in the closed hours after it, or
    first thing at the next opening, it was on time.
    The sweeper would have breached it had it come first; no stop may turn a
    missed limit or window into a kept one. Nothing is sent for it: the
    obligation is over (docs/clocks.md, "Stopped after it ran out").

    `clocks` must filter the clock table alone (no joins). The ORM could say
    this with Case/When, but compiling those costs more time in Python than
    the second statement it saves.
    """
    query = clocks.query
    joined = [a for a, n in query.alias_refcount.items() if n and a != query.base_table]
    if joined:
        raise ValueError("end_clocks takes a queryset on the clock table alone")
    try:
        where, where_params = query.get_compiler(using=clocks.db).compile(query.where)
    except EmptyResultSet:
        return 0
    except FullResultSet:
        where, where_params = "1 = 1", ()
    running, breached = Clock.State.RUNNING.value, Clock.State.BREACHED.value
    # Every SET reads the row as it was before the UPDATE.
    on_time = "(state = %s AND late_after >= %s)"
    sql = (
        f"UPDATE {connection.ops.quote_name(Clock._meta.db_table)} SET"
        f" state = CASE WHEN {on_time} THEN %s ELSE %s END,"
        " ended_at = CASE WHEN state = %s THEN %s ELSE ended_at END,"
        " note = CASE WHEN state = %s THEN %s ELSE note END,"
        " at_risk = CASE WHEN state = %s THEN at_risk ELSE %s END,"
        f" resolved_at = CASE WHEN {on_time} THEN resolved_at ELSE %s END,"
        " is_open = FALSE"
        f" WHERE ({where})"
        " AND (state = %s OR (state = %s AND resolved_at IS NULL))"
    )
    at = adapt(at)
    params = [running, at, state, breached, running, at, running, note]
    params += [running, False, running, at, at]
    params += [*where_params, running, breached]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert_unless_taken(obj: Model) -> bool:
    """INSERT `obj` unless a row already holds its values of a unique
    constraint (for a clock: a running clock with its key). True, with
    `obj.pk` set, when it went in; False, and nothing written, when not.

    One statement, ON CONFLICT DO NOTHING ... RETURNING id, where the ORM
    would need a savepoint and its release around the INSERT to keep the
    transaction usable after a conflict. Sends no model signals.
    """
    return _insert(obj, " ON CONFLICT DO NOTHING")


def insert(obj: Model) -> None:
    """INSERT `obj` as `obj.save(force_insert=True)` would, with its pre_save
    and post_save signals, `obj.pk` set from the database.

    For rows written once per request on a hot path (a captured lead and its
    assignment): the SQL is made once per model instead of the ORM compiling
    it for every row (0.43 against 0.31 ms of CPU for those two rows).
    Models with parents (multi-table inheritance) are not supported.
    """
    model, alias = type(obj), connection.alias
    if obj._meta.parents:
        raise NotSupportedError(f"{model.__name__} has parent models")
    signals.pre_save.send(
        sender=model, instance=obj, raw=False, using=alias, update_fields=None
    )
    _insert(obj, "")
    signals.post_save.send(
        sender=model,
        instance=obj,
        created=True,
        update_fields=None,
        raw=False,
        using=alias,
    )


def _insert(obj: Model, conflict: str) -> bool:
    if not connection.features.can_return_columns_from_insert:
        raise NotSupportedError("Dealgate needs SQLite 3.35 or later (RETURNING)")
    fields, sql = _insert_sql(type(obj), conflict, connection.vendor)
    values = _prepared_values(obj, fields)
    with prepared_cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


# In a template of `insert_linked`, where the parent's new id goes.
PARENT_ID = "{}"


def insert_linked(
    parent: Model,
    children: Sequence[tuple[Model, Mapping[str, str]]] = (),
    then: tuple[str, Sequence[Any]] | None = None,
) -> None:
    """INSERT `parent`, then rows that refer to it, then run `then` (an
    UPDATE and its parameters): on PostgreSQL in one statement, elsewhere
    one statement each, in that order. Sends no model signals; sets `pk`
    on every row.

    Each child comes with the fields (attnames) that take the parent's new
    id, as templates: PARENT_ID alone is the id itself ("lead_id"), a longer
    one text around it ("lead:{}:response"). A lead capture writes its lead,
    response clock and assignment and takes its rotation's turn this way:
    one round trip where four took one each, which also shortens the time
    the rotation's row stays locked.
    """
    for child, links in children:
        unknown = links.keys() - _attnames(type(child))
        if unknown:
            # Before anything is written.
            raise ValueError(f"{type(child).__name__} has no fields {sorted(unknown)}")
    if connection.vendor != "postgresql":
        _insert(parent, "")
        for child, links in children:
            _link(child, links, parent.pk)
            _insert(child, "")
        if then is not None:
            with prepared_cursor() as cursor:
                cursor.execute(*then)
        return
    shape = tuple((type(child), tuple(links.items())) for child, links in children)
    parts, sql = _linked_sql(type(parent), shape, then[0] if then else None)
    values = _prepared_values(parent, parts[0])
    for (child, _), fields in zip(children, parts[1:], strict=True):
        values += _prepared_values(child, fields)
    if then is not None:
        values += list(then[1])
    with prepared_cursor(numbered=True) as cursor:
        cursor.execute(sql, values)
        ids = cursor.fetchone()
    for obj, pk in zip([parent, *(child for child, _ in children)], ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    for child, links in children:
        _link(child, links, parent.pk)


def _link(child: Model, links: Mapping[str, str], parent_id: int) -> None:
    for name, template in links.items():
        # As PostgreSQL's replace() in `_linked_sql`: every {} is the id.
        text = template.replace(PARENT_ID, str(parent_id))
        setattr(child, name, parent_id if template == PARENT_ID else text)


@functools.cache
def _attnames(model: type[Model]) -> frozenset[str]:
    return frozenset(field.attname for field in model._meta.concrete_fields)


def _prepared_values(obj: Model, fields: Sequence[Any]) -> list[Any]:
    conn = connections[DEFAULT_DB_ALIAS]
    return [field.get_db_prep_save(field.pre_save(obj, True), conn) for field in fields]


@functools.cache
def _linked_sql(
    parent: type[Model], children: tuple, then: str | None
) -> tuple[list[list[Any]], str]:
    """The statement of `insert_linked` on PostgreSQL, with the fields whose
    values it takes, per row: a WITH of data-modifying statements, where
    each child's VALUES reads the parent's id from the parent's RETURNING.
    Made once per shape."""
    quote = connection.ops.quote_name
    pk = quote(parent._meta.pk.column)
    fields, insert = _insert_sql(parent, "", connection.vendor)
    parts, steps = [fields], [f"p AS ({insert})"]
    for number, (model, links) in enumerate(children):
        linked = dict(links)
        columns, values, taken = [], [], []
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            columns.append(quote(field.column))
            template = linked.get(field.attname)
            if template is None:
                values.append("%s")
                taken.append(field)
            elif template == PARENT_ID:
                values.append(f"(SELECT {pk} FROM p)")
            else:
                # SQL text: quotes doubled, and % kept from `numbered`.
                text = template.replace("'", "''").replace("%", "%%")
                values.append(
                    f"replace('{text}', '{PARENT_ID}', (SELECT {pk} FROM p)::text)"
                )
        parts.append(taken)
        steps.append(
            f"c{number} AS (INSERT INTO {quote(model._meta.db_table)} "
            f"({', '.join(columns)}) VALUES ({', '.join(values)}) "
            f"RETURNING {quote(model._meta.pk.column)})"
        )
    if then is not None:
        steps.append(f"t AS ({then})")
    ids = ", ".join(
        [f"(SELECT {pk} FROM p)"]
        + [f"(SELECT * FROM c{number})" for number in range(len(children))]
    )
    return parts, numbered(f"WITH {', '.join(steps)} SELECT {ids}")


def numbered(sql: str) -> str:
    """`sql` with PostgreSQL's own placeholders for `prepared_cursor(numbered=True)`:
    each %s becomes $1, $2, ... in order, and %% a plain %."""
    count = itertools.count(1)
    return "%".join(
        re.sub("%s", lambda _: f"${next(count)}", piece) for piece in sql.split("%%")
    )


@functools.cache
def _insert_sql(model: type[Model], conflict: str, vendor: str) -> tuple[list, str]:
    """The fields (all but the primary key) and INSERT ... RETURNING of
    `model`; made once per model, conflict clause and database kind."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"
        f"{conflict} RETURNING {quote(meta.pk.column)}"
    )
    return fields, sql


def _as_stored(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[list[Any]]:
    """`rows` with their instants as SQLite text. A batch repeats few instants
    (its "now" above all), so each distinct one is adapted once."""
    instants = [
        i
        for i, name in enumerate(fields)
        if isinstance(model._meta.get_field(name), models.DateTimeField)
    ]
    seen: dict[dt.datetime, str] = {}
    adapted = []
    for row in rows:
        values = list(row)
        for i in instants:
            value = values[i]
            if value is not None:
                text = seen.get(value)
                if text is None:
                    text = seen[value] = adapt(value)
                values[i] = text
        adapted.append(values)
    return adapted


def next_ids(model: type[Model], count: int) -> list[int]:
    """`count` fresh primary keys for `model`, so rows that refer to each
    other can be written without reading ids back.

    PostgreSQL hands them out from the table's own sequence (safe beside any
    other writer). SQLite continues the table's AUTOINCREMENT counter: safe
    because the caller's transaction (BEGIN IMMEDIATE) holds the only write
    lock, and inserting the ids moves the counter past them.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                "FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT max(n) FROM (SELECT seq AS n FROM sqlite_sequence WHERE name = %s"
            f" UNION ALL SELECT max(id) FROM {connection.ops.quote_name(table)})",
            [table],
        )
        last = cursor.fetchone()[0] or 0
    return list(range(last + 1, last + 1 + count))


def update_each(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    also: dict[str, Any],
    only_if: tuple[str, Any],
) -> int:
    """Give each row `(id, value, ...)` its own values of `columns`, set the
    `also` columns to one value for all, where the column `only_if[0]` still
    equals `only_if[1]`. One statement on PostgreSQL (UPDATE ... FROM unnest
    of one array per column), one executemany on SQLite: a row is written
    once, whatever its values. Returns the rows changed."""
    if not rows:
        return 0
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    fixed = list(also)
    guard, guard_value = only_if
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        names = ["id", *columns]
        types = ["bigint"] + [meta.get_field(c).db_type(connection) for c in columns]
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        assign = [f"{quote(c)} = v.{quote(c)}" for c in columns]
        assign += [f"{quote(c)} = %s" for c in fixed]
        sql = (
            f"UPDATE {table} AS t SET {', '.join(assign)} "
            f"FROM unnest({arrays}) AS v({', '.join(quote(n) for n in names)}) "
            f"WHERE t.id = v.id AND t.{quote(guard)} = %s"
        )
        # In the order the placeholders appear: SET, then FROM, then WHERE.
        params = [also[c] for c in fixed]
        params += [pg_array(column) for column in zip(*rows, strict=True)]
        params.append(guard_value)
        return run(sql, params)[1]
    assign = ", ".join(f"{quote(c)} = ?" for c in [*columns, *fixed])
    constants = [adapt(also[c]) for c in fixed]
    cursor = connection.connection.executemany(
        f"UPDATE {table} SET {assign} WHERE id = ? AND {quote(guard)} = ?",
        [
            [*map(_sqlite_value, row[1:]), *constants, row[0], guard_value]
            for row in rows
        ],
    )
    return cursor.rowcount


def _sqlite_value(value: Any) -> Any:
    """`adapt` for SQLite without asking the connection its vendor, which
    costs a lookup through Django's connection proxy for every value."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        if value.tzinfo is not dt.UTC:
            value = value.astimezone(dt.UTC)
        return str(value.replace(tzinfo=None))
    return adapt(value) if isinstance(value, dt.datetime) else value


def run(sql: str, params: Sequence[Any]) -> tuple[list[tuple[Any, ...]], int]:
    """Execute one statement; return its rows (empty when it returns none)
    and the rows it changed.

    On PostgreSQL this goes past Django's cursor, which binds parameters in
    Python (each element of a long array is quoted one by one): parameters
    are sent apart from the SQL and results come back in binary, so arrays
    of ids and instants are packed and unpacked by psycopg's C code. Errors
    are still Django's. Instants come back aware on both databases.
    """
    connection.ensure_connection()
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else []
            return rows, cursor.rowcount

    raw = connection.connection
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, binary=True)
        rows = cursor.fetchall() if cursor.description else []
        return rows, cursor.rowcount


def where_in(column: str, ids: Sequence[int]) -> list[tuple[str, list[Any], int]]:
    """SQL conditions that together select `ids`, each with its parameters and
    how many ids it covers: one `column = ANY(%s)` on PostgreSQL, IN lists of
    at most ID_CHUNK elsewhere. Run the statement once per condition."""
    if connection.vendor == "postgresql":
        return [(f"{column} = ANY(%s::bigint[])", [pg_array(ids)], len(ids))]
    conditions = []
    for start in range(0, len(ids), ID_CHUNK):
        chunk = list(ids[start : start + ID_CHUNK])
        marks = ", ".join(["%s"] * len(chunk))
        conditions.append((f"{column} IN ({marks})", chunk, len(chunk)))
    return conditions


def pg_array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of `values` (ints, bools, text, aware
    datetimes, None), for a parameter cast to an array type.

    psycopg dumps a list element by element in Python, at about 2 us each;
    a batch's arrays hold thousands of elements, and joining their text is
    a small fraction of that.
    """
    return "{" + ",".join(map(_pg_element, values)) + "}"


def _pg_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value} has no time zone; instants must be aware")
        return f'"{value.isoformat()}"'
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def adapt(value: Any) -> Any:
    """A parameter for a raw statement: datetimes as the ORM would store them.
    On SQLite that is naive UTC text, made here without the ORM's checks (the
    sweep adapts tens of thousands per run)."""
    if isinstance(value, dt.datetime):
        if connection.vendor == "sqlite" and value.tzinfo is not None:
            return str(value.astimezone(dt.UTC).replace(tzinfo=None))
        return connection.ops.adapt_datetimefield_value(value)
    return value


def instant(value: Any) -> dt.datetime | None:
    """An aware UTC datetime from a raw SQLite read of a datetime column:
    naive UTC, as a datetime (the column's declared type makes the driver
    parse it) or as text. None and aware datetimes pass through."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# --- reading model rows from fixed SQL -----------------------------------------


def columns(
    model: type[Model], alias: str, names: Iterable[str] | None = None
) -> tuple[list[Any], str]:
    """The fields of `model` named by attname (all concrete fields when
    None), in the model's own order, and their SELECT list on table alias
    `alias` ('a."id", a."name"'): the first columns `read` expects."""
    wanted = None if names is None else set(names)
    fields = [
        field
        for field in model._meta.concrete_fields
        if wanted is None or field.attname in wanted
    ]
    if wanted is not None and len(fields) != len(wanted):
        missing = wanted - {field.attname for field in fields}
        raise ValueError(f"{model.__name__} has no fields {sorted(missing)}")
    return fields, ", ".join(f'{alias}."{field.column}"' for field in fields)


def read(
    model: type[M], fields: Sequence[Any], sql: str, params: Sequence[Any]
) -> list[tuple[M, tuple[Any, ...]]]:
    """Run `sql`, whose first columns are `fields` of `model` (from
    `columns`); each row as an instance built as the ORM builds one (values
    converted by the database's and the fields' converters, fields not read
    loading on first use) with the row's further columns, unconverted.

    What Model.objects.raw() does, for queries every request runs: raw()
    works out its columns, their order and converters for each query,
    which cost 0.1 ms of CPU per statement here.
    """
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    split = len(fields)
    make = _maker(model, fields)
    return [(make(row[:split]), row[split:]) for row in rows]


def build(model: type[M], fields: Sequence[Any], values: Sequence[Any]) -> M:
    """An instance of `model` from raw column values of `fields` (from
    `columns`), as `read` builds each row."""
    return _maker(model, fields)(values)


def _maker(model: type[M], fields: Sequence[Any]) -> Callable[[Sequence[Any]], M]:
    """What builds instances of `model` from values of `fields`, on this
    thread's connection.

    Kept per field list (by identity: hashing its fields cost more than the
    rest), with each field's converters and whether `model` has Django's own
    __init__ and from_db. Such a model, with nothing listening to the
    pre_init or post_init they send, is made as from_db makes it without
    running Model.__init__: 2 us a row against 19 (a capture builds a dozen).
    """
    conn = connections[DEFAULT_DB_ALIAS]
    known = _makers.get((model, id(fields), conn.vendor))
    if known is None or known[0] is not fields:
        names, converters = _readers(model, tuple(fields), conn.vendor)
        plain = (
            model.__init__ is Model.__init__
            and model.from_db.__func__ is Model.from_db.__func__
        )
        known = (fields, names, converters, plain)
        if len(_makers) >= 256:
            _makers.clear()  # lists made per call, not once as they should be
        _makers[model, id(fields), conn.vendor] = known
    _, names, converters, plain = known
    alias = conn.alias
    # Asked on every read, so a receiver connected later counts (looking at
    # the receiver lists first: asking per model costs 6 us each).
    if plain and (signals.pre_init.receivers or signals.post_init.receivers):
        plain = not (
            signals.pre_init.has_listeners(model)
            or signals.post_init.has_listeners(model)
        )

    def make(values: Sequence[Any]) -> M:
        values = list(values)
        for index, functions, expression in converters:
            value = values[index]
            for function in functions:
                value = function(value, expression, conn)
            values[index] = value
        if not plain:
            return model.from_db(alias, names, values)
        instance = model.__new__(model)
        instance.__dict__.update(zip(names, values, strict=True))
        state = instance._state = ModelState()
        state.adding, state.db = False, alias
        return instance

    return make


# (model, id of a field list, vendor): the list and how to build from it.
_makers: dict[tuple[type, int, str], tuple[Sequence[Any], list, list, bool]] = {}


@functools.cache
def _readers(model: type[Model], fields: tuple, vendor: str) -> tuple[list, list]:
    """Attnames, and per field with converters its index, converters and
    column expression; made once per model, field list and database kind."""
    table = model._meta.db_table
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(table)
        functions = connection.ops.get_db_converters(
            expression
        ) + field.get_db_converters(connection)
        if functions:
            converters.append((index, functions, expression))
    return [field.attname for field in fields], converters
