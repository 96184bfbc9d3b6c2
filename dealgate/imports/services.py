"""Import deals from a CSV file of any size: `import_deals`.

The steps, all inside one transaction:

1. Load the names already known (organizations, products, people) and apply
   the mapping's side files, creating only what is missing.
2. Stream the deals file record by record; convert each (`DealRows`) or
   report it as a bad row with its line, column and reason.
3. Every `BATCH_SIZE` good rows: drop deals already imported (same pipeline,
   source and external id) and repeated ids, give the warnings of the rows
   left, create new organizations or products they name, take ids, and
   write deals and their stage events with set-based SQL (`DealWriter`).
4. Keep the work, or roll it all back for a dry run or, by default, when any
   row was bad.

Memory holds one batch, the name matchers and at most MAX_BAD_ROWS bad rows,
whatever the size of the file.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from dealgate.accounts.models import Team, User
from dealgate.clocks.models import Clock
from dealgate.clocks.services import start_missing_clocks
from dealgate.core.csvcells import reverted
from dealgate.core.csvsource import (
    CsvFile,
    CsvFormatError,
    matched_how,
    quoted,
    spelling_key,
    text_encoding,
)
from dealgate.core.custom_fields import declared_fields
from dealgate.core.interrupts import InterruptedAfterwards, held_interrupts
from dealgate.core.text import counted
from dealgate.deals.models import Deal, Organization, Product, StageEvent
from dealgate.deals.services import check_still_active
from dealgate.errors import NotFound, ValidationError
from dealgate.imports.bulk import (
    EXTERNAL_ID,
    ID,
    ORGANIZATION,
    OWNER,
    PRODUCT,
    RESPONSIBLE,
    STAGE,
    STATUS,
    DealWriter,
    Minutes,
    closes_for,
    entered_count,
    writer_for,
)
from dealgate.imports.foreignkeys import SqliteCheck, sqlite_checks_off
from dealgate.imports.mappings import Mapping, get_mapping, with_header_custom
from dealgate.imports.report import MAX_BAD_ROWS, BadRow, ImportReport
from dealgate.imports.routing import Responsible
from dealgate.imports.rows import DealRows, RowErrors, check_custom_keys
from dealgate.imports.sidefiles import ImportFileError, Lookups, build_lookups
from dealgate.imports.written import WrittenIds
from dealgate.pipelines.models import Pipeline, active_stages
from dealgate.pipelines.services import only_pipeline

logger = logging.getLogger("dealgate.imports")

BATCH_SIZE = 5000
# Often enough for a progress bar to move a few times a second at any speed.
PROGRESS_EVERY = 1000

# The garbage collector's young-generation threshold during an import (see
# `_rarer_collections`).
GC_YOUNG_THRESHOLD = 50_000

# Called with the rows read so far and the share of the file read (0 to 1).
Progress = Callable[[int, float], None]

# The tables an import inserts into (side files, deals, events, age clocks),
# and those whose existing rows it may update (a parent organization, a
# team's manager): what SqliteCheck checks when SQLite's own checks are off.
WRITTEN = (Team, User, Organization, Product, Deal, StageEvent, Clock)
UPDATED = (Team, Organization)

__all__ = [
    "BATCH_SIZE",
    "BadRow",
    "ImportReport",
    "import_deals",
    "pipeline_for",
    "refresh_statistics",
]


def import_deals(
    path: str | os.PathLike[str],
    mapping: Mapping | str | os.PathLike[str],
    *,
    pipeline: Pipeline | str,
    dry_run: bool = False,
    all_or_nothing: bool = True,
    exclusive: bool = False,
    progress: Progress | None = None,
    encoding: str | None = None,
) -> ImportReport:
    """Import the deals in `path` into `pipeline`, as `mapping` reads them.

    `path` may be a folder when the mapping names its deals file. `mapping`
    is a Mapping, a built-in mapping's name or a TOML file's path.

    Deals already imported (same pipeline, mapping source and external id)
    are skipped and counted, so running an import twice adds nothing. With
    `all_or_nothing`, one bad row rolls everything back; otherwise good rows
    are kept and bad ones listed. A dry run does all the work, writes
    included, in a transaction it then rolls back, so its counts are those of
    a real run. `exclusive` lets a PostgreSQL load lock the tables it
    writes and those they point at, to check foreign keys once (see
    `foreignkeys.PostgresKeys`). Problems with the file as a whole (missing
    file or column, unreadable text, a mapping that does not fit the
    pipeline) raise a ValidationError before anything is kept. `encoding`
    (the command's --encoding) replaces the mapping's for the deals file
    and its side files, and is taken as the user's word
    (`csvsource.CsvFile`'s `named`); an unknown one is refused naming the
    option.
    """
    mapping = mapping if isinstance(mapping, Mapping) else get_mapping(mapping)
    if encoding is not None:
        mapping = replace(
            mapping, encoding=_named_encoding(encoding), encoding_named=True
        )
    pipeline = pipeline if isinstance(pipeline, Pipeline) else pipeline_for(pipeline)
    path = _deals_file(Path(path), mapping)
    report = ImportReport(
        file=str(path),
        mapping=mapping.name,
        pipeline=pipeline.key,
        dry_run=dry_run,
        all_or_nothing=all_or_nothing,
    )
    started = time.perf_counter()
    # Foreign keys are checked once for the whole load (see foreignkeys.py);
    # SQLite's switch must be thrown outside the transaction. Ctrl-C stops
    # the load, but not the rollback or commit, nor the wait for the batch
    # being written: a second one is held until the transaction has ended.
    # Errors from the driver itself (raw cursors, the writing thread) reach
    # the caller as Django's, as the ORM's do.
    finished: InterruptedAfterwards | None = None
    try:
        with (
            held_interrupts() as interrupts,
            connection.wrap_database_errors,
            _rarer_collections(),
            sqlite_checks_off(connection) as unchecked,
            transaction.atomic(),
            interrupts.allowed(),
        ):
            check = SqliteCheck(connection, WRITTEN, UPDATED) if unchecked else None
            _run(
                path,
                mapping,
                pipeline,
                report,
                progress,
                exclusive=exclusive,
                check=check,
            )
            failed = all_or_nothing and report.bad_row_count > 0
            report.committed = not (dry_run or failed)
            if report.committed and report.deals_created:
                # Bulk writes send no signals: start the age clocks of the
                # open deals just written, in the same transaction, set-based.
                start_missing_clocks(apply=True)
            if check is not None and not failed:
                check.verify()
            if not report.committed:
                transaction.set_rollback(True)
    except InterruptedAfterwards as interrupt:
        # Held through the commit (or the planned rollback): the report is
        # true, and goes with the interrupt.
        finished = interrupt
    report.duration = time.perf_counter() - started
    report.bad_rows.sort(key=lambda bad: (bad.file, bad.line))
    _log(report)
    if finished is not None:
        finished.result = report
        raise finished
    return report


def refresh_statistics(report: ImportReport) -> None:
    """PostgreSQL: gather the planner's statistics of the tables a kept
    import wrote, after its commit. Until autovacuum does (a minute on a
    stock server, never where it is off), the planner takes a table filled
    by a first import for almost empty, and the insights pages ran nested
    loops over thousands of deals: 1.5-2 s for a filtered page on the demo
    data, 0.03-0.2 s after. SQLite's planner needs no statistics for these
    queries. Called by the command and the demo, outside the import's own
    transaction and time."""
    if not (report.committed and report.deals_created):
        return
    if connection.vendor != "postgresql":
        return
    started = time.perf_counter()
    # Not the insights log, which the next read folds away.
    tables = [Deal._meta.db_table, StageEvent._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(tables))
    logger.info(
        "import: planner statistics of %s gathered in %.2f s",
        ", ".join(tables),
        time.perf_counter() - started,
    )


def pipeline_for(key: str | None) -> Pipeline:
    """The pipeline with `key`; without a key, the only pipeline there is."""
    if key:
        try:
            return Pipeline.objects.get(key=key)
        except Pipeline.DoesNotExist:
            raise NotFound(f"no pipeline {key!r}", field="pipeline") from None
    return only_pipeline("with --pipeline")


_collections_lock = threading.Lock()
_collections_paused = 0
_collections_saved: tuple[int, ...] = ()


@contextmanager
def _rarer_collections() -> Iterator[None]:
    """Run the garbage collector's young pass rarely while rows stream.

    The collector looks at the newest objects every 700 allocations; an
    import allocates millions of lists and strings and makes almost no
    reference cycles, and those passes took 7% of a 100,000-row import's
    CPU. Cycles still made (a bad row's exception and its traceback) are
    still collected, only later. Imports running at once in one process
    share the setting; the last one out puts the old one back.
    """
    global _collections_paused, _collections_saved
    with _collections_lock:
        if not _collections_paused:
            _collections_saved = gc.get_threshold()
            young, *older = _collections_saved
            # 0 means the collector is off: leave it off.
            if 0 < young < GC_YOUNG_THRESHOLD:
                gc.set_threshold(GC_YOUNG_THRESHOLD, *older)
        _collections_paused += 1
    try:
        yield
    finally:
        with _collections_lock:
            _collections_paused -= 1
            if not _collections_paused:
                gc.set_threshold(*_collections_saved)


def _named_encoding(name: str) -> str:
    try:
        return text_encoding(name)
    except ValueError as exc:
        raise ImportFileError(f"--encoding: {exc}", field="encoding") from None


def _opened(path: Path, mapping: Mapping) -> CsvFile:
    """The deals file, to be read as `mapping` says."""
    return CsvFile(
        path,
        encoding=mapping.encoding,
        delimiter=mapping.delimiter,
        named=mapping.encoding_named,
    )


def _deals_file(path: Path, mapping: Mapping) -> Path:
    if path.is_dir():
        if not mapping.file:
            raise ImportFileError(
                f"{path} is a folder; name the file to import", field="file"
            )
        path = path / mapping.file
    if not path.is_file():
        raise ImportFileError(f"no such file: {path}", field="file")
    return path


def _run(
    path: Path,
    mapping: Mapping,
    pipeline: Pipeline,
    report: ImportReport,
    progress: Progress | None,
    *,
    exclusive: bool,
    check: SqliteCheck | None,
) -> None:
    check_custom_keys(mapping, pipeline)
    lookups = build_lookups(mapping, path.parent, report)
    # Retired stages keep their history but take no new deals.
    stages = list(active_stages(pipeline))
    try:
        with _opened(path, mapping) as source:
            mapping = with_header_custom(
                mapping, source.columns, declared_fields(pipeline.custom_fields)
            )
            rows = DealRows(
                mapping,
                source.columns,
                pipeline=pipeline,
                stages=stages,
                lookups=lookups,
            )
            writer = writer_for(
                connection,
                pipeline.pk,
                mapping.source,
                exclusive=exclusive,
                check=check,
            )
            batch = _Batch(
                writer,
                lookups,
                report,
                rows.column("external_id"),
                rows.minutes,
                rows.responsible,
            )
            try:
                _stream(source, rows, batch, report, progress)
                writer.finish()
            finally:
                writer.close()
        if batch.unplaced or batch.maybe_repeats:
            _place_repeats(
                path,
                mapping,
                rows.at["external_id"],
                batch.unplaced,
                batch.maybe_repeats,
                report,
                batch.id_column,
            )
    except CsvFormatError as exc:
        raise ImportFileError(f"{path.name}: {exc}") from exc
    _check_still_working(batch.working)
    if "external_id" not in mapping.columns and report.deals_created:
        report.warn(
            "no external_id column; importing the file again would create these "
            "deals again",
            report.deals_created,
        )


def _check_still_working(people: set[int]) -> None:
    """Refuse the import when someone it gave open deals may no longer sign
    in: deactivated after the import read who may (rows naming them then
    are bad rows already). As a person's edit is checked
    (`check_still_active`): on PostgreSQL a hand-over of one of them waits
    for this import to commit, then takes its deals too."""
    try:
        check_still_active("owner", *people)
    except ValidationError:
        gone = User.objects.filter(pk__in=people, is_active=False).order_by("pk")
        names = ", ".join(gone.values_list("username", flat=True))
        raise ImportFileError(
            f"owner: {names} may no longer sign in, made inactive while this "
            "import ran, which gives them open deals; nothing was imported. "
            "Import again to have those rows named as bad",
            field="owner",
        ) from None


def _place_repeats(
    path: Path,
    mapping: Mapping,
    id_at: int,
    unplaced: dict[int, str],
    maybe_repeats: dict[int, str],
    report: ImportReport,
    id_column: str,
) -> None:
    """Name the earlier line of each id repeated from an earlier batch, and
    settle the rows that may repeat a row found already present.

    A batch knows the lines of its own rows only, so such a repeat is first
    reported as "appears earlier in the file" (`unplaced`: its line and
    id). The line whose deal was written, or found present, is the first
    line with that id that is not a bad row: one more pass over the file,
    made only when there are such rows, finds it. A row in `maybe_repeats`
    is a repeat when that line comes before it, and is counted as present
    otherwise. When the report could not keep every bad row
    (MAX_BAD_ROWS), the lines from the first one left out cannot be told
    apart: a repeat whose first line would be there keeps its reason, and
    a row of `maybe_repeats` is judged by the first line with its id that
    is well formed.
    """
    bad_lines = {bad.line for bad in report.bad_rows if not bad.file}
    known_until = report.cut_at_line
    wanted = set(unplaced.values()) | set(maybe_repeats.values())
    first: dict[str, int] = {}
    with _opened(path, mapping) as source:
        for record in source:
            if record.error is not None or record.line in bad_lines:
                continue
            past_cut = known_until is not None and record.line >= known_until
            if past_cut and not maybe_repeats:
                break
            external_id = record.fields[id_at].strip()
            if external_id in wanted and external_id not in first:
                first[external_id] = record.line
                if len(first) == len(wanted):
                    break
    report.bad_rows = [
        replace(
            bad, reason=f"{quoted(unplaced[bad.line])} is already on line {first_line}"
        )
        if not bad.file
        and bad.line in unplaced
        and (first_line := first.get(unplaced[bad.line])) is not None
        else bad
        for bad in report.bad_rows
    ]
    for line, external_id in maybe_repeats.items():
        first_line = first.get(external_id, line)
        if first_line < line:
            report.bad(
                line,
                id_column,
                f"{quoted(external_id)} is already on line {first_line}",
            )
        else:
            report.already_present += 1


def _stream(
    source: CsvFile,
    rows: DealRows,
    batch: _Batch,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    convert, bad, bad_values = rows.convert, report.bad, report.bad_values
    unmarked = rows.mapping.formula_apostrophes == "remove"
    for record in source:
        report.rows_read += 1
        if progress is not None and not report.rows_read % PROGRESS_EVERY:
            progress(report.rows_read, source.bytes_read / (source.size or 1))
        if record.error is not None:
            bad(record.line, None, record.error)
            continue
        fields = [reverted(f) for f in record.fields] if unmarked else record.fields
        try:
            deal, warnings = convert(fields)
        except RowErrors as exc:
            bad_values(record.line, [(e.column, e.reason) for e in exc.errors])
            continue
        batch.lines.append(record.line)
        batch.deals.append(deal)
        batch.warnings.append(warnings)
        if len(batch.deals) >= BATCH_SIZE:
            # Rows the whole file holds, judged by the share of it read.
            size, done = source.size or 1, source.bytes_read or 1
            batch.flush(report.rows_read * size // done)
    batch.flush(report.rows_read)
    batch.count_present()
    if source.blank_lines:
        report.warn("blank rows skipped", source.blank_lines)
    if progress is not None:
        progress(report.rows_read, 1.0)


class _Batch:
    """Good rows waiting to be written, with the line each came from and
    the warnings of what was done to it, given once it is sure to be written."""

    def __init__(
        self,
        writer: DealWriter,
        lookups: Lookups,
        report: ImportReport,
        id_column: str,
        minutes: Minutes,
        route: Responsible,
    ) -> None:
        self.writer = writer
        self.minutes = minutes
        self.route = route
        self.started = False
        self.lookups = lookups
        self.report = report
        self.id_column = id_column
        self.lines: list[int] = []
        self.deals: list[list[Any]] = []
        # Who was given open deals, as owner or responsible person.
        self.working: set[int] = set()
        self.warnings: list[tuple[str, ...]] = []
        # The lines of the deals `_new_deals` kept, in order.
        self.kept_lines: list[int] = []
        # The ids written so far, when the pipeline held no deal from this
        # source as the import began (known at the first batch).
        self.written: WrittenIds | None = None
        # Line -> external id of rows repeating an id written by an earlier
        # batch, the first MAX_BAD_ROWS of them (`_place_repeats`).
        self.unplaced: dict[int, str] = {}
        # The ids of rows found already present, once the first is found: a
        # later row with one of them repeats a line of the file.
        self.present: WrittenIds | None = None
        # Line -> external id of rows found already present whose id an
        # earlier batch may have counted (`present` says "may"): repeats,
        # or not, once `_place_repeats` has read the file again. Held
        # whole, as each decides whether the row is bad; it grows only with
        # such rows, not with the file.
        self.maybe_repeats: dict[int, str] = {}
        # Records present before the import that written deals name, by kind,
        # for the kinds no side file counted.
        self.named: dict[str, set[int]] = {
            kind: set()
            for kind in ("organization", "product")
            if getattr(lookups, f"{kind}s_from") == "the database"
        }

    def count_present(self) -> None:
        """Report the records written deals named that were already there."""
        for kind, ids in self.named.items():
            self.report.count_side(f"{kind}s", created=0, reused=len(ids))

    def flush(self, expected_rows: int) -> None:
        """Write the batch; `expected_rows` estimates the file's rows."""
        if not self.deals:
            return
        # The previous batch may still be on its way: what follows works in
        # memory while it is written, and waits for it (`settle`) only
        # before it asks the database something.
        if not self.started:
            self.writer.settle()
            self.writer.begin(expected_rows)
            self.started = True
            if not self.writer.holds_source():
                # Only this import's own ids can be found: the database is
                # asked about those it may have written.
                self.written = WrittenIds()
        deals = self._new_deals()
        for kind, slot in (("organization", ORGANIZATION), ("product", PRODUCT)):
            if kind in self.named:
                last = self.lookups.last_before[kind]
                self.named[kind].update(
                    d[slot]
                    for d in deals
                    if isinstance(d[slot], int) and d[slot] <= last
                )
        self._create_named(deals, ORGANIZATION, Organization, "organization")
        self._create_named(deals, PRODUCT, Product, "product")
        route = self.route
        if route.would_read({deal[STAGE] for deal in deals}):
            self.writer.settle()
        for deal_id, deal in zip(self.writer.next_ids(len(deals)), deals, strict=True):
            deal[ID] = deal_id
            # Routed only now that the row is sure to be written, so a row
            # refused or imported before takes no turn in a team's rotation.
            deal[RESPONSIBLE] = route(deal[STAGE], deal[OWNER], deal[STATUS])
        self.working.update(
            person
            for deal in deals
            if deal[STATUS] == Deal.Status.OPEN
            for person in (deal[OWNER], deal[RESPONSIBLE])
        )
        closes = closes_for(deals, self.minutes)
        event_count = entered_count(deals) + len(closes)
        for deal in deals:
            self.writer.adapt(deal)
        if deals:
            self.writer.write(deals, closes)
        self.report.deals_created += len(deals)
        self.report.events_created += event_count
        self.lines, self.deals, self.warnings = [], [], []
        self.kept_lines = []

    def _new_deals(self) -> list[list[Any]]:
        """The batch without deals imported before; repeats in the file are
        bad, whether their first line is written now or was before. The
        warnings of the rows kept are given; those of the others are not,
        as nothing is done to them."""
        wanted = [deal[EXTERNAL_ID] for deal in self.deals if deal[EXTERNAL_ID]]
        if self.written is not None:
            wanted = [text for text in wanted if self.written.may_hold(text)]
        stored = self.writer.existing(wanted) if wanted else {}
        first_new = self.writer.first_new_id
        present = self.present
        seen: dict[str, int] = {}
        found_present: list[str] = []
        new = []
        warn_kept = self.report.warn_kept
        batch = zip(self.lines, self.deals, self.warnings, strict=True)
        for line, deal, warnings in batch:
            external_id = deal[EXTERNAL_ID]
            if external_id:
                # Only the line a deal is written (or found) from: a repeat
                # names it.
                if external_id in seen:
                    self._repeat(
                        line,
                        f"{quoted(external_id)} is already on line {seen[external_id]}",
                    )
                    continue
                found = stored.get(external_id)
                if found is not None and first_new is not None and found >= first_new:
                    if len(self.unplaced) < MAX_BAD_ROWS:
                        self.unplaced[line] = external_id
                    self._repeat(
                        line, f"{quoted(external_id)} appears earlier in the file"
                    )
                    continue
                if (
                    found is not None
                    and present is not None
                    and present.may_hold(external_id)
                ):
                    self.maybe_repeats[line] = external_id
                    found_present.append(external_id)
                    continue
                seen[external_id] = line
                if found is not None:
                    self.report.already_present += 1
                    found_present.append(external_id)
                    continue
            new.append(deal)
            self.kept_lines.append(line)
            if warnings:
                warn_kept(warnings, line)
        if found_present:
            if present is None:
                present = self.present = WrittenIds()
            present.add(found_present)
        if self.written is not None:
            self.written.add(seen)
        return new

    def _repeat(self, line: int, reason: str) -> None:
        self.report.bad(line, self.id_column, reason)

    def _create_named(
        self,
        deals: list[list[Any]],
        slot: int,
        model: type[Organization] | type[Product],
        kind: str,
    ) -> None:
        """Create the organizations (or products) that rows name but that do
        not exist yet; spellings of one name (`csvsource.spelling_key`) share
        one record, with a warning naming the first line given each other
        spelling (`kept_lines`)."""
        # In file order, so the first spelling met is the one kept.
        names = dict.fromkeys(d[slot] for d in deals if isinstance(d[slot], str))
        if not names:
            return
        matcher = getattr(self.lookups, f"{kind}s")
        ids: dict[str, int] = {}
        first_spelling: dict[str, str] = {}
        records = []
        for name in names:
            first = first_spelling.setdefault(spelling_key(name), name)
            if first == name:
                records.append(model(name=name))
        self.writer.settle()
        model.objects.bulk_create(records)
        for record in records:
            matcher.add(record.name, record.pk)
            ids[record.name] = record.pk
        self.report.count_side(f"{kind}s", created=len(records), reused=0)
        for line, deal in zip(self.kept_lines, deals, strict=True):
            name = deal[slot]
            if isinstance(name, str):
                first = first_spelling[spelling_key(name)]
                if first != name:
                    self.report.warn(
                        f"{kind} {quoted(name)} matched {quoted(first)} "
                        f"{matched_how(name, first)}",
                        line=line,
                    )
                deal[slot] = ids[first]


def _log(report: ImportReport) -> None:
    """One INFO line: what the import kept, or that it kept nothing and what
    its good rows would have made."""
    where = (
        f"import {report.file} (mapping {report.mapping}, pipeline {report.pipeline})"
    )
    read = (
        f"{counted(report.rows_read, 'row')} read, {report.already_present:,} "
        f"already present, {counted(report.bad_row_count, 'bad row')}"
    )
    made = (
        f"{counted(report.deals_created, 'deal')} and "
        f"{counted(report.events_created, 'stage event')}"
    )
    speed = f"in {report.duration:.2f} s ({report.rows_per_second:.0f} rows/s)"
    if report.committed:
        logger.info("%s: %s; %s created, committed %s", where, read, made, speed)
        return
    why = "a dry run" if report.dry_run else "bad rows, all or nothing"
    logger.info(
        "%s: %s; rolled back (%s) %s, nothing kept: the good rows would have made %s",
        where,
        read,
        why,
        speed,
        made,
    )
