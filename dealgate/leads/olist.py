"""The built-in `olist` mapping: Olist's marketing-qualified leads and the
deals its sales reps closed from them (Kaggle "Marketing Funnel by Olist").

    dealgate import leads PATH/olist_marketing_qualified_leads_dataset.csv \\
        --mapping olist

The closed-deals file is read from beside the leads file. What the copies in
circulation need (PROVENANCE.md in the data folder):

- dates are day-first (01-02-2018 is 1 February); they are read day-first
  only, never guessed, and a value in any other shape is a bad row;
- a spreadsheet turned some `average_stock` ranges into dates: "May-20"
  was 5-20 and "01-May" was 1-5. They are mapped back and counted in the
  report's warnings;
- `origin` is empty on some rows and "unknown" on others; they are kept
  apart (empty stays empty, with a warning);
- a warning counts only the rows written, as in the deal import: each row
  is read with its warnings, given once it is sure to be written, never
  for a bad row, a repeat, a row already present or a closed deal whose
  lead is not written;
- a lead has no email, phone or company name, only its `mql_id`: these are
  historic records, imported without contact data, never routed;
- a first contact or a win after the import began, as the clock has it (a
  demo database runs at its as-of date), is judged as the deal import
  judges its dates (`future_date_warning`): kept with a warning within two
  days, a bad row past that.

A lead that appears among the closed deals becomes a won deal in the
pipeline's first live stage (a retired stage takes no new deals), closed at
its won date; every other lead is archived, since the data does not say
whether it was lost or went quiet. A lead whose closed-deal row is bad (kept
out by --skip-bad) is held back with it, not archived: a lead once written
is already present to every later run, so its win would never come in once
the row is fixed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.db.models import Q

from dealgate import timesource
from dealgate.core.csvsource import (
    CellError,
    CsvFile,
    CsvFormatError,
    DateTimeParser,
    DecimalParser,
    quoted,
)
from dealgate.deals.models import Deal, StageEvent
from dealgate.imports.rows import future_date_warning
from dealgate.imports.services import Progress
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline, active_stages

from .imports import LeadImportError, LeadImportReport, LeadMapping
from .models import Lead

LEADS_FILE = "olist_marketing_qualified_leads_dataset.csv"
DEALS_FILE = "olist_closed_deals_dataset.csv"
SOURCE = "olist"
ZONE = "America/Sao_Paulo"
CURRENCY = "BRL"
BATCH = 2000

MAPPING = LeadMapping(
    name="olist",
    source=SOURCE,
    columns={
        "external_id": "mql_id",
        "created_at": "first_contact_date",
        "source": "origin",
    },
    custom={"landing_page_id": "landing_page_id"},
    historic=True,
    description="Olist marketing-qualified leads and their closed deals",
)

# Said wherever the figures of these leads are shown.
LIMITS = (
    "Olist recorded when a lead first made contact and when a deal was won, "
    "never when a rep first answered: response times cannot be measured.",
    "Only won deals are listed. A lead that did not become a won deal may have "
    "been lost, disqualified or simply still open when the data was taken; "
    "the win rate counts all of them as not won.",
    "Won dates lost their seconds in a spreadsheet; times are to the minute.",
    "Reps are hashed ids (an SDR qualifies, a sales rep closes); some hashes "
    "appear in both roles.",
    "Deal values are the sellers' declared monthly revenue, missing (0) for "
    "most deals.",
)
LEAD_COLUMNS = ("mql_id", "first_contact_date", "landing_page_id", "origin")
DEAL_COLUMNS = (
    "mql_id",
    "seller_id",
    "sdr_id",
    "sr_id",
    "won_date",
    "business_segment",
    "lead_type",
    "lead_behaviour_profile",
    "has_company",
    "has_gtin",
    "average_stock",
    "business_type",
    "declared_product_catalog_size",
    "declared_monthly_revenue",
)
# A spreadsheet read these stock ranges as dates and wrote the dates back.
MANGLED_STOCK = {"May-20": "5-20", "01-May": "1-5"}
FLAGS = {"TRUE": True, "FALSE": False}


def run(
    path: Path,
    pipeline: Pipeline,
    report: LeadImportReport,
    progress: Progress | None,
    mapping: LeadMapping = MAPPING,
) -> None:
    """Read the closed deals, then stream the leads in batches; see module.
    Both files are read in `mapping`'s encoding: UTF-8, or --encoding."""
    days = DateTimeParser("%d-%m-%Y", ZONE)
    instants = DateTimeParser("%d-%m-%Y %H:%M", ZONE)
    # Read in the pipeline's zone, in which a refusal tells it (_judge_future).
    now = timesource.now().astimezone(calendar_for(pipeline).zone)
    won, held = _closed_deals(path.parent / DEALS_FILE, instants, now, report, mapping)
    first_stage = active_stages(pipeline).first()
    if first_stage is None:
        raise LeadImportError(f"pipeline {pipeline.key} has no stage for won deals")
    writer = _Writer(pipeline, first_stage, report)
    try:
        with _opened(path, mapping) as csv:
            at = _positions(csv.columns, LEAD_COLUMNS, path.name)
            for record in csv:
                report.rows_read += 1
                if progress is not None and not report.rows_read % 1000:
                    progress(report.rows_read, csv.bytes_read / (csv.size or 1))
                if record.error is not None:
                    report.bad(record.line, None, record.error)
                    continue
                row = _lead_row(record.line, record.fields, at, days, now, report)
                if row is not None:
                    deal = won.pop(row["mql_id"], None)
                    row["held"] = deal is None and row["mql_id"] in held
                    writer.add(row, deal)
            writer.flush()
    except CsvFormatError as exc:
        raise LeadImportError(f"{path.name}: {exc}") from exc
    for mql_id, deal in won.items():
        report.bad(
            deal["line"],
            "mql_id",
            f"{quoted(mql_id)} is not in {path.name}",
            DEALS_FILE,
        )


def _positions(columns: tuple[str, ...], wanted: tuple[str, ...], name: str) -> dict:
    missing = [column for column in wanted if column not in columns]
    if missing:
        raise LeadImportError(
            f"{name} has no column {missing[0]!r}; is it the Olist file?", field="file"
        )
    return {column: columns.index(column) for column in wanted}


def _lead_row(
    line: int,
    fields: list[str],
    at: dict[str, int],
    days: DateTimeParser,
    now: dt.datetime,
    report: LeadImportReport,
) -> dict[str, Any] | None:
    """The lead of one record, with the warnings of its reading (given if it
    is written); None, with the record reported bad, if a value does not
    read."""
    problems: list[tuple[str, str]] = []
    warnings: list[str] = []
    mql_id = fields[at["mql_id"]].strip()
    if not mql_id:
        problems.append(("mql_id", "is empty"))
    cell = fields[at["first_contact_date"]]
    try:
        created = days("first_contact_date", cell)
    except CellError as exc:
        problems.append((exc.column, f"{exc.reason} (day first, e.g. 01-02-2018)"))
    else:
        if created is None:
            problems.append(("first_contact_date", "is empty"))
        elif created > now:
            _judge_future("first_contact_date", cell, created, now, warnings, problems)
    if problems:
        report.bad_values(line, problems)
        return None
    origin = fields[at["origin"]].strip()
    if not origin:
        warnings.append("origin empty, kept empty (apart from 'unknown')")
    return {
        "line": line,
        "mql_id": mql_id,
        "created_at": created,
        "source": origin,
        "landing_page_id": fields[at["landing_page_id"]].strip(),
        "warnings": tuple(warnings),
    }


def _judge_future(
    column: str,
    cell: str,
    when: dt.datetime,
    now: dt.datetime,
    warnings: list[str],
    problems: list[tuple[str, str]],
) -> None:
    """A date after `now` (in the pipeline's zone, in which it is told): a
    warning kept with the row (given if it is written), or past the grace one
    of its `problems`."""
    zone = getattr(now.tzinfo, "key", "UTC")
    try:
        warnings.append(future_date_warning(column, cell, when, now, zone))
    except CellError as exc:
        problems.append((exc.column, exc.reason))


def _opened(path: Path, mapping: LeadMapping) -> CsvFile:
    return CsvFile(path, encoding=mapping.encoding, named=mapping.encoding_named)


def _closed_deals(
    path: Path,
    instants: DateTimeParser,
    now: dt.datetime,
    report: LeadImportReport,
    mapping: LeadMapping,
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """The closed deals that read, by mql_id, and the mql_ids of the rows
    reported bad (as far as one reads: a row that does not split into the
    header's fields may still show it), whose leads wait for them."""
    if not path.is_file():
        raise LeadImportError(
            f"the closed deals file {path.name} must lie beside the leads file",
            field="file",
        )
    deals: dict[str, dict[str, Any]] = {}
    held: set[str] = set()
    amounts = DecimalParser()
    try:
        with _opened(path, mapping) as csv:
            at = _positions(csv.columns, DEAL_COLUMNS, path.name)
            for record in csv:
                if record.error is not None:
                    report.bad(record.line, None, record.error, DEALS_FILE)
                    if len(record.fields) > at["mql_id"]:
                        held.add(record.fields[at["mql_id"]].strip())
                    continue
                problems: list[tuple[str, str]] = []
                deal = _deal_row(record.fields, at, instants, amounts, now, problems)
                if deal["mql_id"] in deals:
                    reason = f"{quoted(deal['mql_id'])} is closed twice"
                    problems.insert(0, ("mql_id", reason))
                if problems:
                    report.bad_values(record.line, problems, DEALS_FILE)
                    held.add(deal["mql_id"])
                    continue
                deal["line"] = record.line
                deals[deal["mql_id"]] = deal
    except CsvFormatError as exc:
        raise LeadImportError(f"{path.name}: {exc}") from exc
    return deals, held


def _deal_row(
    fields: list[str],
    at: dict[str, int],
    instants: DateTimeParser,
    amounts: DecimalParser,
    now: dt.datetime,
    problems: list[tuple[str, str]],
) -> dict[str, Any]:
    """A closed deal's values, read; each value that does not read is added
    to `problems` as (column, reason), and the row is bad if there is one.
    What was done to a value is kept as the row's "warnings", given only if
    the deal is written (`_Writer`)."""
    values: dict[str, Any] = {column: fields[i].strip() for column, i in at.items()}
    warnings: list[str] = []
    won_at = amount = None
    try:
        won_at = instants("won_date", values["won_date"])
    except CellError as exc:
        problems.append((exc.column, exc.reason))
    else:
        if won_at is None:
            problems.append(("won_date", "is empty, but every closed deal was won"))
        elif won_at > now:
            _judge_future(
                "won_date", values["won_date"], won_at, now, warnings, problems
            )
    stock = values["average_stock"]
    if stock in MANGLED_STOCK:
        values["average_stock"] = MANGLED_STOCK[stock]
        warnings.append(
            f"average_stock {quoted(stock)} read as {quoted(MANGLED_STOCK[stock])} "
            "(a spreadsheet had made it a date)"
        )
    for column in ("has_company", "has_gtin"):
        text = values[column]
        if text and text.upper() not in FLAGS:
            problems.append((column, f"{quoted(text)} is not TRUE or FALSE"))
        values[column] = FLAGS.get(text.upper()) if text else None
    # Read as every amount of a file is: "NaN", "-5" or 15 digits are bad
    # values, not a crash when the deal is written.
    try:
        amount = amounts("declared_monthly_revenue", values["declared_monthly_revenue"])
    except CellError as exc:
        problems.append((exc.column, exc.reason))
    else:
        if not amount:
            warnings.append("declared_monthly_revenue 0 or empty, read as not declared")
            amount = None
    values["won_at"] = won_at
    values["value"] = amount
    values["warnings"] = tuple(warnings)
    return values


class _Writer:
    """Leads (and won deals) waiting to be written, in batches. The warnings
    read with a lead or a deal are given when it is written."""

    def __init__(
        self, pipeline: Pipeline, stage: Any, report: LeadImportReport
    ) -> None:
        self.pipeline = pipeline
        self.stage = stage
        self.report = report
        self.rows: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        # The line each mql_id was written from in this run, across batches.
        self.written: dict[str, int] = {}
        # Every row's last change: the one instant of the import.
        self.now = timesource.now()

    def add(self, row: dict[str, Any], deal: dict[str, Any] | None) -> None:
        self.rows.append((row, deal))
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self._new(self.rows), []
        deals = self._write_deals([(row, deal) for row, deal in rows if deal])
        leads = [self._lead(row, deals.get(row["mql_id"])) for row, _ in rows]
        Lead.objects.bulk_create(leads, batch_size=500)
        self.report.leads_created += len(leads)

    def _new(self, rows: list) -> list:
        """The rows to write, in file order.

        A row repeating the mql_id of a row written earlier in this run, in
        this batch or an earlier one, is bad and names that line. A row an
        earlier import wrote is already present, and so are its repeats;
        its won deal was imported with it. A row `held` for its bad closed
        deal is not written, and counted, so the run after the deal's row
        is fixed writes both.
        """
        ids = [
            f"{SOURCE}:{row['mql_id']}"
            for row, _ in rows
            if row["mql_id"] not in self.written
        ]
        known = set(
            Lead.objects.filter(
                pipeline=self.pipeline, channel="import", external_id__in=ids
            ).values_list("external_id", flat=True)
        )
        new = []
        for row, deal in rows:
            mql_id = row["mql_id"]
            first = self.written.get(mql_id)
            if first is not None:
                reason = f"{quoted(mql_id)} is already on line {first}"
                self.report.bad(row["line"], "mql_id", reason)
            elif f"{SOURCE}:{mql_id}" in known:
                self.report.already_present += 1
            elif row["held"]:
                self.report.leads_held += 1
            else:
                self.written[mql_id] = row["line"]
                new.append((row, deal))
                self.report.warn_kept(row["warnings"])
        return new

    def _write_deals(self, rows: list) -> dict[str, Deal]:
        existing = Deal.objects.filter(
            Q(external_id__in=[row["mql_id"] for row, _ in rows]),
            pipeline=self.pipeline,
            source=SOURCE,
        )
        found = {deal.external_id: deal for deal in existing}
        new = []
        for row, deal in rows:
            if row["mql_id"] in found:
                continue
            self.report.warn_kept(deal["warnings"])
            if deal["won_at"] < row["created_at"]:
                self.report.warn(
                    "won before the first contact date; kept, and left out of "
                    "lead-to-win times"
                )
            new.append(self._deal(row, deal))
        Deal.objects.bulk_create(new, batch_size=500)
        StageEvent.objects.bulk_create(
            [
                StageEvent(
                    deal=deal,
                    from_stage=self.stage,
                    to_stage=self.stage,
                    from_status="open",
                    to_status=Deal.Status.WON,
                    at=deal.closed_at,
                    source="import",
                )
                for deal in new
            ],
            batch_size=500,
        )
        self.report.deals_created += len(new)
        self.report.leads_won += len(rows)
        found.update({deal.external_id: deal for deal in new})
        return found

    def _deal(self, row: dict[str, Any], deal: dict[str, Any]) -> Deal:
        custom = {
            key: deal[key]
            for key in DEAL_COLUMNS[1:]
            if key not in ("won_date", "declared_monthly_revenue")
            and deal[key] not in ("", None)
        }
        return Deal(
            updated_at=self.now,
            pipeline=self.pipeline,
            stage=self.stage,
            status=Deal.Status.WON,
            title=f"Olist seller {deal['seller_id'][:8]}",
            value=deal["value"],
            currency=CURRENCY,
            custom=custom,
            created_at=min(row["created_at"], deal["won_at"]),
            stage_entered_at=None,
            closed_at=deal["won_at"],
            source=SOURCE,
            external_id=row["mql_id"],
        )

    def _lead(self, row: dict[str, Any], deal: Deal | None) -> Lead:
        custom = {"mapping": SOURCE}
        if row["landing_page_id"]:
            custom["landing_page_id"] = row["landing_page_id"]
        return Lead(
            updated_at=self.now,
            pipeline=self.pipeline,
            status=Lead.Status.CONVERTED if deal else Lead.Status.ARCHIVED,
            source=row["source"],
            channel="import",
            external_id=f"{SOURCE}:{row['mql_id']}",
            segment=(deal.custom.get("business_segment", "") if deal else "")[:50],
            custom=custom,
            historic=True,
            created_at=row["created_at"],
            closed_at=deal.closed_at if deal else None,
            deal=deal,
        )
