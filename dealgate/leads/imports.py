"""Import leads from a CSV file: `import_leads`.

Two kinds of mapping (docs/leads.md):

- live (the default): every row is captured as if it had come through the
  API, so it is checked, de-duplicated and routed; rows with neither email
  nor phone are bad rows.
- historic (`historic = true`, and the built-in `olist`): rows are records
  of past inquiries. They are written in bulk as they are, never routed or
  de-duplicated against open leads, and may lack contact data: such a
  record is identified by its external id. Rows that were won (a closed-
  deals side file) become won deals.

The guarantees are those of the deal import: one transaction; by default
one bad row keeps nothing (`all_or_nothing=False` keeps the good rows); a
dry run does everything and rolls back; rows imported before (same mapping
source and external id) are skipped, so a second run adds nothing; an id
repeated within the file is a bad row naming its first line; the report
names each bad row's line, column and reason. The log names a lead only
once the import has committed it, and sums up what was kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.db import transaction

from dealgate import timesource
from dealgate.core.calendar import CalendarError
from dealgate.core.csvsource import (
    CellError,
    CsvFile,
    CsvFormatError,
    DateTimeParser,
    delimiter_hint,
    format_problem,
    quoted,
    requoted,
    text_encoding,
)
from dealgate.core.interrupts import InterruptedAfterwards, held_interrupts
from dealgate.errors import DealgateError, ValidationError
from dealgate.imports.report import (
    ImportReport,
    counted,
)
from dealgate.imports.rows import future_date_warning
from dealgate.imports.services import Progress
from dealgate.pipelines.calendars import calendar_for, local_time
from dealgate.pipelines.models import Pipeline

from .intake import ACCEPTED, LIMITS, CleanLead, clean_lead
from .services import SKIP, capture_lead, phone_region, pipeline_for_capture

log = logging.getLogger("dealgate.leads")

BUILTIN = ("olist",)
_MAPPING_KEYS = (
    "name",
    "description",
    "source",
    "encoding",
    "delimiter",
    "date_format",
    "historic",
    "columns",
)
LIVE_FIELDS = tuple(f for f in ACCEPTED if f != "pipeline")
# The column a lead mapping may give besides the lead's fields: when the
# inquiry came in.
RECEIVED = "created_at"
# Where a bad value of a live row is listed: in the order of the lead's
# fields, a row without contact data where its email would be.
_PLACE = {name: place for place, name in enumerate(LIVE_FIELDS)}
_PLACE["contact"] = _PLACE["email"]


class LeadImportError(ValidationError):
    code = "invalid_file"


@dataclass
class LeadMapping:
    """Which column feeds which lead field. `source` namespaces external ids,
    so two systems' lead 17 stay two leads."""

    name: str
    source: str
    columns: dict[str, str]
    custom: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8-sig"
    # True when `encoding` is the import's --encoding (see the deals'
    # `imports.mappings.Mapping`).
    encoding_named: bool = False
    delimiter: str = ","
    date_format: str = "YYYY-MM-DD"
    historic: bool = False
    description: str = ""


@dataclass
class LeadImportReport(ImportReport):
    """The deal import's report, counting leads (and the won deals a
    historic import creates)."""

    leads_created: int = 0
    leads_attached: int = 0
    leads_won: int = 0
    # Leads of a historic import kept out with their bad closed deal
    # (`olist`), so the run after it is fixed imports both.
    leads_held: int = 0

    def count_lines(self, verb: str) -> list[str]:
        lines = [
            f"  leads: {self.leads_created:,} {verb}, {self.already_present:,} "
            f"already present, {self.leads_attached:,} attached to an open lead "
            f"or deal, {self.bad_row_count:,} bad",
        ]
        if self.leads_held:
            lines.append(
                f"  leads held back with their bad closed deal: "
                f"{self.leads_held:,} (imported with it once its row is fixed)"
            )
        if self.deals_created or self.leads_won:
            lines.append(f"  won deals: {self.deals_created:,} {verb}")
        return lines

    @property
    def keeps_nothing(self) -> bool:
        failed = self.all_or_nothing and self.bad_row_count > 0
        return failed or (self.leads_created + self.leads_attached) == 0


def get_lead_mapping(name: str) -> LeadMapping:
    """A built-in mapping by name, or a TOML mapping file by path."""
    if name in BUILTIN:
        from . import olist

        return olist.MAPPING
    path = Path(name)
    if not path.is_file():
        raise LeadImportError(
            f"no lead mapping {name!r}: give a built-in name "
            f"({', '.join(BUILTIN)}) or a TOML file",
            field="mapping",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LeadImportError(f"{path.name}: {exc}", field="mapping") from None
    return mapping_from_dict(data, path.stem)


def mapping_from_dict(data: dict[str, Any], default_name: str) -> LeadMapping:
    """A lead mapping from parsed TOML; every error names the mapping and the
    key, before any file is read."""
    name = str(data.get("name", default_name))

    def fail(key: str, message: str) -> None:
        raise LeadImportError(f"mapping {name}: {key}: {message}", field=key)

    if "custom" in data:
        fail(
            "custom",
            "a lead has no custom fields to keep these values in; remove "
            "[custom] (a column worth keeping can go to columns.message)",
        )
    for key in data:
        if key not in _MAPPING_KEYS:
            fail(key, f"unknown key; known keys: {', '.join(_MAPPING_KEYS)}")
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        fail("columns", "[columns] must map lead fields to column names")
    known = (*LIVE_FIELDS, RECEIVED)
    for field_name, column in columns.items():
        if field_name not in known:
            fail(
                f"columns.{field_name}",
                f"not a lead field (known: {', '.join(known)})",
            )
        if not isinstance(column, str) or not column.strip():
            fail(f"columns.{field_name}", "expected a column name")
    date_format = data.get("date_format", "YYYY-MM-DD")
    problem = (
        format_problem(date_format)
        if isinstance(date_format, str)
        else f"must be a string, not {date_format!r}"
    )
    if problem is not None:
        fail("date_format", problem)
    encoding = data.get("encoding", "utf-8-sig")
    try:
        text_encoding(str(encoding))
    except ValueError as exc:
        fail("encoding", str(exc))
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        fail("delimiter", f"must be one character, not {delimiter!r}")
    source = data.get("source") or data.get("name") or default_name
    return LeadMapping(
        name=name,
        source=str(source),
        columns=dict(columns),
        encoding=str(encoding),
        delimiter=delimiter,
        date_format=date_format,
        historic=bool(data.get("historic", False)),
        description=str(data.get("description", "")),
    )


def import_leads(
    path: str | os.PathLike[str],
    mapping: LeadMapping | str,
    *,
    pipeline: Pipeline | str | None,
    dry_run: bool = False,
    all_or_nothing: bool = True,
    progress: Progress | None = None,
    encoding: str | None = None,
) -> LeadImportReport:
    """Import the leads in `path` into `pipeline` as `mapping` reads them.

    See the module's docstring for the guarantees. Problems with the file as
    a whole (missing file or column, unreadable text) raise a
    ValidationError before anything is kept. `encoding` (the command's
    --encoding) replaces the mapping's and is taken as the user's word
    (`csvsource.CsvFile`'s `named`); an unknown one is refused naming the
    option.
    """
    mapping = mapping if isinstance(mapping, LeadMapping) else get_lead_mapping(mapping)
    if encoding is not None:
        mapping = replace(
            mapping, encoding=named_encoding(encoding), encoding_named=True
        )
    if not isinstance(pipeline, Pipeline):
        pipeline = pipeline_for_capture(pipeline)
    path = Path(path)
    if not path.is_file():
        raise LeadImportError(f"no such file: {path}", field="file")
    report = LeadImportReport(
        file=str(path),
        mapping=mapping.name,
        pipeline=pipeline.key,
        dry_run=dry_run,
        all_or_nothing=all_or_nothing,
    )
    started = time.perf_counter()
    # Ctrl-C stops the load, not its rollback or commit (core.interrupts).
    finished: InterruptedAfterwards | None = None
    try:
        with (
            held_interrupts() as interrupts,
            transaction.atomic(),
            interrupts.allowed(),
        ):
            if mapping.name == "olist":
                from . import olist

                olist.run(path, pipeline, report, progress, mapping)
            else:
                _run_live(path, mapping, pipeline, report, progress)
            failed = all_or_nothing and report.bad_row_count > 0
            report.committed = not (dry_run or failed)
            if not report.committed:
                transaction.set_rollback(True)
    except InterruptedAfterwards as interrupt:
        finished = interrupt  # held through the commit: the report is true
    report.duration = time.perf_counter() - started
    report.bad_rows.sort(key=lambda bad: (bad.file, bad.line))
    _log_outcome(report, path, mapping, pipeline)
    if finished is not None:
        finished.result = report
        raise finished
    return report


def named_encoding(name: str) -> str:
    """`name`, the import's --encoding, or a LeadImportError naming the
    option when it is no text encoding."""
    try:
        return text_encoding(name)
    except ValueError as exc:
        raise LeadImportError(f"--encoding: {exc}", field="encoding") from None


def _log_outcome(
    report: LeadImportReport, path: Path, mapping: LeadMapping, pipeline: Pipeline
) -> None:
    """One INFO line on what the import kept. A rolled-back import kept
    nothing and says so; its counts are what the rows would have made."""
    where = f"lead import {path.name} (mapping {mapping.name}, pipeline {pipeline.key})"
    made = (
        f"{counted(report.leads_created, 'new lead')}, "
        f"{report.leads_attached:,} attached to an open lead or deal, "
        f"{counted(report.deals_created, 'won deal')}; "
        f"{report.already_present:,} already present, {report.bad_row_count:,} bad"
    )
    read = counted(report.rows_read, "row")
    if report.committed:
        log.info(
            "%s committed in %.2f s: %s read; kept %s",
            where,
            report.duration,
            read,
            made,
        )
        return
    why = "a dry run" if report.dry_run else "bad rows, all or nothing"
    log.info(
        "%s rolled back in %.2f s (%s): %s read, nothing kept; the good rows would "
        "have made %s",
        where,
        report.duration,
        why,
        read,
        made,
    )


def _run_live(
    path: Path,
    mapping: LeadMapping,
    pipeline: Pipeline,
    report: LeadImportReport,
    progress: Progress | None,
) -> None:
    if mapping.historic:
        raise LeadImportError(
            "historic imports of a custom file are not supported yet; only the "
            "built-in olist mapping writes historic records",
            field="mapping",
        )
    try:
        with CsvFile(
            path,
            encoding=mapping.encoding,
            delimiter=mapping.delimiter,
            named=mapping.encoding_named,
        ) as csv:
            at = _positions(mapping, csv.columns)
            received = _received_reader(mapping, pipeline)
            # The line each external id was first captured from in this run.
            seen: dict[str, int] = {}
            for record in csv:
                report.rows_read += 1
                if progress is not None and not report.rows_read % 100:
                    progress(report.rows_read, csv.bytes_read / (csv.size or 1))
                if record.error is not None:
                    report.bad(record.line, None, record.error)
                    continue
                _capture_row(
                    record.line,
                    record.fields,
                    at,
                    mapping,
                    pipeline,
                    report,
                    seen,
                    received,
                )
            if csv.blank_lines:
                report.warn("blank rows skipped", csv.blank_lines)
    except CsvFormatError as exc:
        raise LeadImportError(f"{path.name}: {exc}") from exc


def _positions(mapping: LeadMapping, columns: tuple[str, ...]) -> dict[str, int]:
    wanted = mapping.columns
    missing = [column for column in wanted.values() if column not in columns]
    if missing:
        named = ", ".join(repr(column) for column in missing)
        raise LeadImportError(
            f"the file has no column{'s' if len(missing) > 1 else ''} {named}, "
            f"which mapping {mapping.name} reads; its columns are "
            f"{', '.join(repr(c) for c in columns)}"
            f"{delimiter_hint(columns, missing, mapping.delimiter)}",
            field="file",
        )
    return {name: columns.index(column) for name, column in wanted.items()}


@dataclass(frozen=True)
class _Received:
    """Reads when an inquiry came in, from a row's `created_at` cell: in the
    mapping's date format and the pipeline's time zone, and judged as the
    deal import judges a creation date (`future_date_warning`) against the
    instant the import began.

    A time within the grace ahead (a file written a time zone ahead) is
    taken in as received at that instant instead: the lead's arrival is
    also where its response window starts (`clocks.services`), and a window
    starting ahead would refuse a reply logged today as its first response
    and breach before it began."""

    column: str
    parse: DateTimeParser
    now: dt.datetime

    def __call__(self, cell: str) -> tuple[dt.datetime | None, str]:
        """(when, a warning to count if the row is kept); None for an empty
        cell, never after `now`. Raises CellError for a cell that does not
        read or lies more than the grace ahead."""
        when = self.parse(self.column, cell)
        if when is None or when <= self.now:
            return when, ""
        zone = self.parse.zone.key
        future_date_warning(self.column, cell, when, self.now, zone)
        at = local_time(self.now, zone)
        return self.now, (
            f"{self.column} after {at}, in the future; received at {at} instead"
        )


def _received_reader(mapping: LeadMapping, pipeline: Pipeline) -> _Received | None:
    column = mapping.columns.get(RECEIVED)
    if column is None:
        return None
    try:
        zone = calendar_for(pipeline).timezone
    except CalendarError as exc:
        raise LeadImportError(f"pipeline {pipeline.key}: {exc}") from exc
    return _Received(
        column, DateTimeParser(mapping.date_format, zone), timesource.now()
    )


def _capture_row(
    line: int,
    fields: list[str],
    at: dict[str, int],
    mapping: LeadMapping,
    pipeline: Pipeline,
    report: LeadImportReport,
    seen: dict[str, int],
    received: _Received | None = None,
) -> None:
    """Capture one row, as received at its `created_at` cell's time when the
    mapping reads one (its response window starts then), else now. A row
    repeating the external id of a row captured earlier in this run is bad,
    naming that line; one captured by an earlier run is counted as already
    present, as is a repeat of it. A bad row is listed with every bad value
    it holds (`_bad_values`)."""
    data = {name: fields[i] for name, i in at.items()}
    data = {name: value for name, value in data.items() if value.strip()}
    when, warning, late = _when_received(data.pop(RECEIVED, ""), received)
    external = ""
    if data.get("external_id"):
        typed = data["external_id"].strip()
        external = f"{mapping.source}:{typed}"
        column = mapping.columns["external_id"]
        problem = ""
        if len(external) > LIMITS["external_id"]:
            problem = "is too long to keep as an id"
        elif external in seen:
            problem = f"{quoted(typed)} is already on line {seen[external]}"
        data["external_id"] = external
        if problem:
            others = _bad_values(data, mapping, pipeline, judged_id=False)
            report.bad_values(line, [(column, problem), *others, *late])
            return
    if late:
        report.bad_values(line, [*_bad_values(data, mapping, pipeline), *late])
        return
    try:
        # A savepoint per row: a refused row leaves the others intact.
        with transaction.atomic():
            result = capture_lead(
                data, source="import", pipeline=pipeline, at=when, reused_id=SKIP
            )
    except DealgateError as exc:
        if not exc.field:
            report.bad(line, None, exc.message)
            return
        # Capture stops at the first bad value: the row is read again, a
        # value at a time, for all of them.
        refused = _problem(exc, data, mapping)
        problems = _bad_values(data, mapping, pipeline)
        if refused not in problems:
            problems.insert(0, refused)
        report.bad_values(line, problems)
        return
    except CellError as exc:
        report.bad(line, exc.column, exc.reason)
        return
    if result.created:
        report.leads_created += 1
    elif result.decision is not None:
        report.leads_attached += 1
    else:
        report.already_present += 1
        if result.other_content:
            # Another record under an id imported before: the first is kept
            # (a re-import adds nothing), but not without saying so.
            report.warn(
                "external_id already imported with other content; the first "
                "import kept, this row not imported"
            )
        return
    if warning:
        report.warn(warning)
    if external:
        seen[external] = line


def _when_received(
    cell: str, received: _Received | None
) -> tuple[dt.datetime | None, str, list[tuple[str, str]]]:
    """(when, warning, problems) of a row's received cell: problems holds the
    (column, reason) of a cell that does not read or is too far ahead."""
    if received is None or not cell:
        return None, "", []
    try:
        when, warning = received(cell)
    except CellError as exc:
        return None, "", [(exc.column, exc.reason)]
    return when, warning, []


def _bad_values(
    data: dict[str, str],
    mapping: LeadMapping,
    pipeline: Pipeline,
    *,
    judged_id: bool = True,
) -> list[tuple[str, str]]:
    """(column, reason) for each value of a row that capture would refuse,
    in the order of the lead's fields: each read on its own, as capture
    reads it (`intake.clean_lead`), so that no bad value hides another.

    A phone number is read in the row's country, or where a lead without
    one is read when the country does not read (its reason says where); a
    value's decimals are judged in its currency, the pipeline's when none
    is given, and not when the currency does not read. A row with neither
    an email address nor a phone number is refused under the email column,
    unless one of them is bad already. `judged_id` False leaves the
    external id out, for a row already refused for it.
    """
    region = phone_region(pipeline)
    refused: dict[str, ValidationError] = {}
    read: dict[str, CleanLead] = {}

    def judge(
        name: str, given: dict[str, str], *, contact: bool = False, currency: str = ""
    ) -> None:
        try:
            read[name] = clean_lead(
                given, region=region, currency=currency, require_contact=contact
            )
        except ValidationError as exc:
            refused[name] = exc

    for name in ("country", "currency"):
        if name in data:
            judge(name, {name: data[name]})
    for name in LIVE_FIELDS:
        if name not in data or name in ("country", "currency"):
            continue
        if name == "external_id" and not judged_id:
            continue
        given = {name: data[name]}
        if name == "phone" and "country" in read:
            given["country"] = data["country"]
        currency = ""
        if name == "value" and "currency" not in refused:
            given_currency = read["currency"].currency if "currency" in read else ""
            currency = given_currency or pipeline.currency
        judge(name, given, currency=currency)
    contact = {name: data[name] for name in ("email", "phone") if name in data}
    if not any(name in refused for name in contact):
        if "phone" in contact and "country" in read:
            contact["country"] = data["country"]
        judge("contact", contact, contact=True)
    return [
        _problem(refused[name], data, mapping)
        for name in sorted(refused, key=_PLACE.__getitem__)
    ]


def _problem(
    exc: DealgateError, data: dict[str, str], mapping: LeadMapping
) -> tuple[str, str]:
    """(column, reason) for a refusal naming a lead field."""
    field = exc.field or ""
    column = mapping.columns.get(field, field)
    # Capture quotes what it refuses whole, as a form shows it back; a
    # cell is quoted cut.
    cell = data.get(field)
    return column, requoted(exc.message, cell) if cell else exc.message
