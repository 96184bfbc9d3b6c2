"""Deals as a CSV file: what a person needs to take their data elsewhere
(a backup, a spreadsheet, another tool), read in one snapshot and written a
row at a time.

`dealgate export deals` and the board's "Download CSV" link both write
through here, so the file is the same whichever door it came from. The
columns are in docs/export.md.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model, QuerySet

from dealgate.accounts.models import User
from dealgate.core.calendar import Calendar
from dealgate.core.csvcells import csv_lines, exact, inert
from dealgate.core.custom_fields import declared_fields
from dealgate.core.rounding import rounded
from dealgate.deals.models import Deal
from dealgate.deals.queries import NO_OWNER, NoOwner, owned_by, stage_age
from dealgate.errors import ValidationError
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline, Stage

M = TypeVar("M", bound=Model)

# Rows fetched from the database at a time: memory holds one chunk, whatever
# the table's size.
CHUNK_ROWS = 2_000

DEAL_COLUMNS = (
    "id",
    "title",
    "organization",
    "contact_name",
    "contact_email",
    "product",
    "value",
    "currency",
    "owner",
    "pipeline",
    "stage",
    "stage_name",
    "status",
    "loss_reason",
    "loss_note",
    "created_at",
    "stage_entered_at",
    "closed_at",
    "expected_close_date",
)
# After the custom fields' columns: how long the deal has sat in its stage
# (a closed deal: how long it sat in the stage it closed from).
DAYS_IN_STAGE = "business_days_in_stage"


@dataclass(frozen=True)
class DealExport:
    """Which deals a file holds: those of `pipelines`, narrowed by status,
    stage key and owner (NO_OWNER: the deals no one owns) when given."""

    pipelines: tuple[Pipeline, ...]
    status: str | None = None
    stage: str | None = None
    owner: User | NoOwner | None = None

    @property
    def custom_keys(self) -> list[str]:
        """The custom fields the pipelines declare, in their order, each once."""
        keys: dict[str, None] = {}
        for pipeline in self.pipelines:
            keys.update(dict.fromkeys(declared_fields(pipeline.custom_fields)))
        return list(keys)

    @property
    def header(self) -> list[str]:
        # A custom field whose key is a column's name keeps both apart.
        custom = [
            f"custom.{key}" if key in (*DEAL_COLUMNS, DAYS_IN_STAGE) else key
            for key in self.custom_keys
        ]
        return [*DEAL_COLUMNS, *custom, DAYS_IN_STAGE]


def deal_export(
    *,
    pipeline: str | None = None,
    status: str | None = None,
    stage: str | None = None,
    owner: str | None = None,
) -> DealExport:
    """The export the filters ask for, each value checked: ValidationError
    names the filter as the command line spells it (`--stage`) and what it
    may be."""
    pipelines = tuple(Pipeline.objects.order_by("pk"))
    if pipeline:
        pipelines = tuple(p for p in pipelines if p.key == pipeline)
        if not pipelines:
            raise refused_filter("pipeline", f"there is no pipeline {pipeline!r}")
    if status and status not in Deal.Status.values:
        raise refused_filter(
            "status",
            f"{status!r} is not a status; use {', '.join(Deal.Status.values)}",
        )
    if stage:
        _check_stage(stage, pipelines)
    return DealExport(pipelines, status or None, stage or None, owner_named(owner))


def _check_stage(key: str, pipelines: Sequence[Pipeline]) -> None:
    stages = Stage.objects.filter(pipeline__in=pipelines)
    if stages.filter(key=key).exists():
        return
    if len(pipelines) == 1:
        known = ", ".join(stages.order_by("position").values_list("key", flat=True))
        raise refused_filter(
            "stage",
            f"pipeline {pipelines[0].key} has no stage {key!r}; its stages: {known}",
        )
    raise refused_filter("stage", f"no pipeline has a stage {key!r}")


def owner_named(username: str | None) -> User | NoOwner | None:
    """The person `username` names, NO_OWNER for "(none)", None for no
    filter; ValidationError naming the filter for a name that is no one's."""
    if not username:
        return None
    if username == NO_OWNER.username:
        return NO_OWNER
    owner = User.objects.filter(username=username).first()
    if owner is None:
        raise refused_filter("owner", f"there is no user {username!r}")
    return owner


def refused_filter(name: str, problem: str) -> ValidationError:
    """The refusal of the filter `name`, named as its option is typed."""
    return ValidationError(f"--{name}: {problem}", field=name)


def export_deals(export: DealExport) -> QuerySet[Deal]:
    """The deals `export` holds."""
    deals = Deal.objects.filter(pipeline__in=export.pipelines)
    if export.status:
        deals = deals.filter(status=export.status)
    if export.stage:
        deals = deals.filter(stage__key=export.stage)
    return deals.filter(owned_by(export.owner))


def _for_rows(deals: QuerySet[Deal]) -> QuerySet[Deal]:
    """`deals` by id, with what a row reads joined in and what it does not
    (notes, the checklist) left unread."""
    return (
        deals.select_related("stage", "organization", "contact", "product", "owner")
        .defer("notes", "checklist")
        .order_by("pk")
    )


@contextmanager
def snapshot() -> Iterator[None]:
    """Read the rows in one snapshot, so every row comes from one moment: a
    deal moved or added while the file is written is in it once, as it was,
    or not at all. The rows are one statement (their joins included), read
    a chunk at a time:

    - PostgreSQL: inside one REPEATABLE READ, READ ONLY transaction, which
      the server-side cursor Django reads chunks through needs anyway.
      Inside a transaction begun before (a test's), that one decides.
    - SQLite: no transaction. Dealgate's transactions there begin IMMEDIATE
      (settings), which would hold every writer off for the export's
      length; in WAL mode one statement reads one snapshot until it is
      finished, and writers go on meanwhile.
    """
    if connection.vendor != "postgresql":
        yield
        return
    begins = not connection.in_atomic_block
    with transaction.atomic():
        if begins:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                )
        yield


@contextmanager
def read_in_snapshot(rows: QuerySet[M]) -> Iterator[Iterator[M]]:
    """The rows of `rows`, CHUNK_ROWS at a time, from one `snapshot`. The
    cursor is closed before the snapshot ends, however the reading ends (a
    reader gone, a failure): PostgreSQL's server-side cursor does not
    outlive its transaction, and closing it after would fail."""
    with snapshot():
        found = rows.iterator(chunk_size=CHUNK_ROWS)
        try:
            yield found
        finally:
            found.close()


def deal_csv(
    export: DealExport, now: dt.datetime, deals: QuerySet[Deal] | None = None
) -> Iterator[str]:
    """The file's lines: the header, then a line per deal of `deals` (by
    default `export_deals(export)`), read in one snapshot, CHUNK_ROWS rows
    at a time. Times are ISO 8601 with the offset, in the deal's pipeline's
    zone; `now` is when open deals' time in stage is counted to."""
    if deals is None:
        deals = export_deals(export)
    rows = _Rows(export, now)
    with read_in_snapshot(_for_rows(deals)) as found:
        yield from csv_lines(export.header, (rows.of(deal) for deal in found))


class _Rows:
    """Turns deals into rows, each pipeline's calendar read once."""

    def __init__(self, export: DealExport, now: dt.datetime) -> None:
        self.now = now
        self.custom_keys = export.custom_keys
        self.keys = {p.pk: p.key for p in export.pipelines}
        self.calendars = {p.pk: calendar_for(p) for p in export.pipelines}

    def of(self, deal: Deal) -> list[str]:
        calendar = self.calendars[deal.pipeline_id]
        zone = calendar.zone
        contact = deal.contact
        return [
            str(deal.pk),
            inert(deal.title),
            inert(deal.organization.name) if deal.organization else "",
            inert(contact.name) if contact else "",
            inert(contact.email) if contact else "",
            inert(deal.product.name) if deal.product else "",
            exact(deal.value),
            inert(deal.currency),
            inert(deal.owner.username) if deal.owner else "",
            self.keys[deal.pipeline_id],
            deal.stage.key,
            inert(deal.stage.name),
            deal.status,
            inert(deal.loss_reason),
            inert(deal.loss_note),
            instant(deal.created_at, zone),
            instant(deal.stage_entered_at, zone),
            instant(deal.closed_at, zone),
            deal.expected_close_date.isoformat() if deal.expected_close_date else "",
            *(custom_cell(deal.custom.get(key)) for key in self.custom_keys),
            self._days_in_stage(deal, calendar),
        ]

    def _days_in_stage(self, deal: Deal, calendar: Calendar) -> str:
        end = deal.closed_at or self.now
        age = stage_age(deal.stage_entered_at, end, limit=None, calendar=calendar)
        return "" if age.elapsed is None else exact(rounded(age.elapsed, 2))


def instant(at: dt.datetime | None, zone: dt.tzinfo) -> str:
    """`at` as ISO 8601 with its offset in `zone` ("2026-06-01T11:00:00+02:00"),
    which a spreadsheet and a re-import read without knowing the zone."""
    return at.astimezone(zone).isoformat() if at is not None else ""


def custom_cell(value: Any) -> str:
    """A custom value as a cell: yes or no, a number's exact digits, text made
    inert; "" when not set. A list or an object a past version stored is
    written as JSON, so nothing recorded is dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        # JSON stores a float; its shortest form is the number that was typed.
        return exact(Decimal(repr(value)) if isinstance(value, float) else value)
    if isinstance(value, str):
        return inert(value)
    return inert(json.dumps(value, ensure_ascii=False, sort_keys=True))
