"""Turn records of a deals file into rows for the deals table.

`DealRows.convert` runs once per record, so it is written for speed: column
positions and parsers are resolved once, names are matched through memoised
matchers, and problems are raised as `CellError` naming the file's column.
Whatever the file does not say stays empty; nothing is silently changed
without a warning in the report.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from dealgate import timesource
from dealgate.core import business_time
from dealgate.core.calendar import Calendar, CalendarError
from dealgate.core.csvsource import (
    CellError,
    ChoiceParser,
    DateTimeParser,
    DecimalParser,
    check_cell_text,
    delimiter_hint,
    matched_how,
    quoted,
    requoted,
)
from dealgate.core.currencies import ISO_4217, amount_problem
from dealgate.core.custom_fields import (
    MAX_NUMBER,
    MAX_TEXT,
    CustomField,
    declared_fields,
)
from dealgate.core.names import code_points, tidy_name
from dealgate.core.numbers import AMOUNT_WHOLE_DIGITS, MAX_AMOUNT
from dealgate.core.text import (
    CONTROL,
    CONTROL_OR_BREAK,
    agreeing,
    blank_problem,
    counted,
    looks_blank,
)
from dealgate.deals.models import TEXT_LIMITS, Deal, Organization, Product
from dealgate.imports.mappings import TEMPLATE_FIELDS, Mapping, MappingError
from dealgate.imports.routing import Responsible
from dealgate.imports.sidefiles import ImportFileError, Lookups, several_people
from dealgate.pipelines.calendars import calendar_for, local_time
from dealgate.pipelines.loss_reasons import LossReasons
from dealgate.pipelines.models import Pipeline, Stage

# Text a row stores is held to the rules of a person's edit (core.text): one
# line for these, within their columns' lengths ...
_LIMITS = {
    "title": Deal._meta.get_field("title").max_length,
    "external_id": Deal._meta.get_field("external_id").max_length,
    "loss_reason": Deal._meta.get_field("loss_reason").max_length,
    "organization": Organization._meta.get_field("name").max_length,
    "product": Product._meta.get_field("name").max_length,
}
# ... and line breaks allowed in these, within the limits the pages keep.
# A good row pays a quick look at each (its length, and `_holds_control` or
# `_holds_control_or_break`); a text the look finds wanting is put to
# core.text's check_text, which says what is wrong (`csvsource.check_cell_text`).
_NOTES_LIMIT = TEXT_LIMITS["notes"]
_LOSS_NOTE_LIMIT = TEXT_LIMITS["loss_note"]
_EMPTY_JSON = "{}"
# Decimal places a custom number in a file may have.
_CUSTOM_PLACES = 10
# Decimal places a deal's value is read with, past any currency's (CLF has 4)
# so that the row's currency refuses the extra ones, naming itself. Deal.value
# holds AMOUNT_WHOLE_DIGITS before the point, up to MAX_AMOUNT.
_AMOUNT_PLACES = 6
# Spans whose working minutes are kept; the cache starts over when full.
_MINUTES_CACHE = 8192
# Titles made from templates that are kept; the cache starts over when full.
_TITLES_CACHE = 8192
# How far past the import's start a creation, stage entry or close may be: a
# file written where it is already tomorrow (up to 26 hours ahead of the
# pipeline's time zone) is not wrong; decades ahead is a typo.
FUTURE_GRACE = dt.timedelta(days=2)


def future_date_warning(
    column: str, cell: str, when: dt.datetime, now: dt.datetime, zone: str = "UTC"
) -> str:
    """Judge `when`, read from `cell` of `column`, a date of something a file
    records as done (a creation, a stage entry, a close, a first contact, a
    win) that is after `now`, the instant the import began as the clock has
    it (on a demo database, its as-of date).

    Within FUTURE_GRACE it may be a time zone ahead: returns the warning to
    count, and the value is kept. Past it, nothing recorded as done can have
    happened yet (2062 for 2026 is a typo): raises CellError naming the cell
    and `now`, which makes the row bad. `now` is told in `zone`, the
    pipeline's, which it names, as its pages show times.
    """
    at = local_time(now, zone)
    if when <= now + FUTURE_GRACE:
        return f"{column} after {at}, in the future; kept as written"
    raise CellError(
        column,
        f"{quoted(cell.strip())} has not happened yet: it is more than "
        f"{FUTURE_GRACE.days} days after the import began, {at}",
    )


class RowErrors(ValueError):
    """Every bad value of one record, in the order of the deal's fields."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


class CellErrors(CellError):
    """Several bad values one step of a record found together (dates that
    run backwards); it reads as the first of them."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__(errors[0].column, errors[0].reason)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class _NameColumn:
    """A deal field read as a name (organization, product, owner)."""

    field: str
    at: int | None  # its column's position in the file, if mapped
    column: str  # the file's name for the column
    matcher: Any  # a NameMatcher of the known names
    known_from: str  # where the known names came from, for errors
    create: bool  # whether a name not known makes a new record


class DealRows:
    """Converts records (lists of fields, in the file's column order) to deal
    rows (lists in DEAL_COLUMNS order, id and responsible not yet set).

    An organization or product that is new and may be created is left in
    the row as its name (a str, not an id) for the batch writer to create.
    """

    def __init__(
        self,
        mapping: Mapping,
        columns: Sequence[str],
        *,
        pipeline: Pipeline,
        stages: Sequence[Stage],
        lookups: Lookups,
    ) -> None:
        self.mapping = mapping
        self.lookups = lookups
        self.pipeline_id = pipeline.pk
        self.currency = mapping.currency or pipeline.currency
        self.calendar = _calendar(pipeline)
        self.zone = ZoneInfo(self.calendar.timezone)
        # Routing waits until a row is sure to be written (`_Batch.flush`),
        # so refused and already-imported rows count toward no one's load.
        self.responsible = Responsible(stages)
        self.at = _column_positions(mapping, columns)
        self.name = dict(mapping.columns)
        self.unmapped = _unmapped(mapping, columns)
        self.instant = DateTimeParser(mapping.date_format, self.zone.key)
        self.date_columns = [
            (field, self.at[field])
            for field in (
                "created_at",
                "stage_entered_at",
                "close_date",
                "expected_close_date",
            )
            if field in self.at
        ]
        # Any decimals read here: the row's currency judges them
        # (`_check_decimals`), so "1.234" in KWD is refused naming KWD, as
        # at every door, and "1000.50" in JPY naming JPY.
        self.amount = DecimalParser(
            thousands=mapping.thousands_separator,
            decimal_point=mapping.decimal_point,
            places=_AMOUNT_PLACES,
            digits=_AMOUNT_PLACES + AMOUNT_WHOLE_DIGITS,
            largest=MAX_AMOUNT,
        )
        # Custom numbers are not amounts: more decimals, and below zero too.
        self.custom_amount = DecimalParser(
            thousands=mapping.thousands_separator,
            decimal_point=mapping.decimal_point,
            places=_CUSTOM_PLACES,
            digits=_CUSTOM_PLACES + AMOUNT_WHOLE_DIGITS,
            largest=MAX_NUMBER,
        )
        self.custom = self._custom_readers(columns, pipeline)
        self.stages, self.stage_keys = _stage_choices(mapping, stages, pipeline)
        self.statuses = ChoiceParser(
            {"open": "open", "won": "won", "lost": "lost", **mapping.status_values}
        )
        self.default_stage = _default_stage(mapping, stages, pipeline)
        self.loss_reasons = LossReasons.of(pipeline.loss_reasons)
        self.needs_note = _reasons_needing_a_note(pipeline)
        self.pipeline_key = pipeline.key
        self.templates = _templates(mapping)
        self.undated = _undated_warning(self.name, self.date_columns)
        # Creation, stage entry and close are things that happened: judged
        # against this instant (`future_date_warning`).
        self.now = timesource.now()
        self._minutes: dict[tuple[dt.datetime, dt.datetime], float] = {}
        # Per record, resolved once: where each field is and how it reads.
        self._stage_at = self.at.get("stage")
        self._status_at = self.at.get("status")
        self._title_at = self.at.get("title")
        self._date_at = tuple(
            self.at.get(field)
            for field in ("created_at", "stage_entered_at", "close_date")
        )
        self._expected_at = self.at.get("expected_close_date")
        self._notes_at = self.at.get("notes")
        self._loss_note_at = self.at.get("loss_note")
        self._organizations = self._name_column(
            "organization",
            lookups.organizations,
            lookups.organizations_from,
            mapping.create_organizations,
        )
        self._products = self._name_column(
            "product",
            lookups.products,
            lookups.products_from,
            mapping.create_products,
        )
        self._owners = self._name_column(
            "owner", lookups.owners, lookups.owners_from, False
        )
        self._titles: dict[tuple[int, tuple[str, ...]], str] = {}
        # Warnings of the record being read, until it has read (`convert`).
        self._pending: list[str] = []
        self._warn: Callable[[str], None] = self._pending.append

    def column(self, field: str) -> str:
        """The file's column for a deal field, or the field's name if unmapped."""
        return self.name.get(field, field)

    def convert(self, fields: list[str]) -> tuple[list[Any], tuple[str, ...]]:
        """The deal row for one record of the file, and the warnings of what
        was done to it (a default applied, a name matched, a value left
        out). The caller gives the warnings only if the row is written: a
        row found already present, or a repeat of another, is left as it
        is. A record with bad values raises RowErrors naming every one of
        them, so that one pass over a file shows all that is wrong with
        each bad line, and gives no warning: nothing is done to a bad row.
        """
        # Most records are good: their steps run straight through, and the
        # warnings they give wait until the row has read. A bad value sends
        # the record through the steps again, each tried on its own so that
        # every bad value is named; the waiting warnings are dropped.
        pending = self._pending
        try:
            row = self._row(fields)
        except CellError as exc:
            pending.clear()
            raise self._every_error(fields, exc) from None
        if not pending:
            return row, ()
        warnings = tuple(pending)
        pending.clear()
        return row, warnings

    def _row(self, fields: list[str]) -> list[Any]:
        """The deal row, or the first CellError."""
        status, stage_id = self._status_and_stage(fields)
        created, entered, closed, expected = self._dates(fields, status)
        organization, organization_name = self._named(fields, self._organizations)
        product, product_name = self._named(fields, self._products)
        owner, owner_name = self._named(fields, self._owners)
        if status == "open" and owner in self.lookups.inactive_owners:
            raise self._owner_gone(fields, owner)
        external_id = self._text(fields, "external_id")
        names = (
            external_id,
            organization_name,
            product_name,
            owner_name,
            self.stage_keys[stage_id],
        )
        title = self._title(fields, names)
        value = self._value(fields, status)
        currency = self._currency(fields)
        if value is not None:
            self._check_decimals(fields, value, currency)
        loss_reason = self._loss_reason(fields, status)
        loss_note = (
            self._loss_note(fields, status, loss_reason)
            if status == "lost" or self._loss_note_at is not None
            else ""
        )
        notes = self._notes(fields)
        custom = self._custom(fields, None)
        if self.unmapped:
            self._warn_unmapped(fields)
        return [
            None,
            self.pipeline_id,
            stage_id,
            status,
            title,
            organization,
            None,
            product,
            owner,
            value,
            currency,
            loss_reason,
            loss_note,
            notes,
            custom,
            created,
            entered,
            expected,
            closed,
            self.mapping.source,
            external_id,
            1,
            None,
            self.now,
        ]

    def _every_error(self, fields: list[str], first: CellError) -> RowErrors:
        """Every bad value of a record `_row` found `first` in: the same
        steps, each tried on its own, so that no bad value hides another.
        A step that reads what another gives (a title made from the names,
        a value's decimals in its currency, all that hangs on the status) is
        judged with what did read; only what cannot be judged without a
        value that did not read waits, and that value is named already.
        No warning is given: the row is not imported."""
        errors: list[CellError] = []

        def attempt(step: Callable[..., Any], *args: Any) -> Any:
            try:
                return step(*args)
            except CellErrors as exc:
                errors.extend(exc.errors)
            except CellError as exc:
                errors.append(exc)
            return None

        self._warn = _unsaid
        try:
            status, stage_id = self._status_and_stage_each(fields, errors)
            self._dates_each(fields, status, errors)
            found = [
                attempt(self._named, fields, names)
                for names in (self._organizations, self._products, self._owners)
            ]
            owner = found[2]
            if status == "open" and owner and owner[0] in self.lookups.inactive_owners:
                errors.append(self._owner_gone(fields, owner[0]))
            external_id = attempt(self._text, fields, "external_id")
            stage = self.stage_keys[stage_id] if stage_id is not None else None
            names = (
                external_id,
                *(None if named is None else named[1] for named in found),
                stage,
            )
            self._title_each(fields, names, attempt)
            value = attempt(self._value, fields, status)
            currency = attempt(self._currency, fields)
            if value is not None and currency is not None:
                attempt(self._check_decimals, fields, value, currency)
            self._loss_each(fields, status, attempt)
            attempt(self._notes, fields)
            self._custom(fields, errors)
            if self.unmapped:
                self._warn_unmapped(fields)
        finally:
            self._warn = self._pending.append
        return RowErrors(errors or [first])

    def _owner_gone(self, fields: list[str], owner: int) -> CellError:
        """The error for an open deal whose owner may no longer sign in, as
        the pages and the API refuse one; closed history may keep them."""
        cell = fields[self._owners.at].strip()  # type: ignore[index]
        username = self.lookups.inactive_owners[owner]
        who = quoted(cell) if cell == username else f"{quoted(cell)} ({username})"
        return CellError(
            self._owners.column,
            f"{who} may not sign in any more: an open deal needs an active "
            "owner (a won or lost deal may keep them)",
        )

    def _status_and_stage_each(
        self, fields: list[str], errors: list[CellError]
    ) -> tuple[str | None, int | None]:
        """`_status_and_stage` for a bad record: the stage and status
        columns each read on its own, their problems added to `errors`.
        The status is None when it cannot be known: the stage and status
        disagree, or one did not read and the other gives no status. The
        stage is None when its column did not read."""
        implied = stage_id = given = None
        stage_read = status_read = True
        at = self._stage_at
        if at is not None:
            try:
                meaning = self.stages(self.name["stage"], fields[at])
            except CellError as exc:
                errors.append(exc)
                stage_read = False
            else:
                if meaning is None:
                    self._warn(
                        f"{self.name['stage']} empty, deal put in the default stage"
                    )
                else:
                    implied, stage_id = meaning
        at = self._status_at
        if at is not None:
            try:
                given = self.statuses(self.name["status"], fields[at])
            except CellError as exc:
                errors.append(exc)
                status_read = False
        if not stage_read:
            return given, None
        stage_id = stage_id or self.default_stage
        if not status_read:
            return implied, stage_id
        if given is not None and implied is not None and given != implied:
            errors.append(self._contradiction(fields, implied))
            return None, stage_id
        return given or implied or "open", stage_id

    def _contradiction(self, fields: list[str], status: str) -> CellError:
        """The error for a status column that contradicts the `status` its
        stage column gives."""
        return CellError(
            self.name["status"],
            f"{quoted(fields[self.at['status']].strip())} contradicts "
            f"{self.name['stage']} {quoted(fields[self.at['stage']].strip())} "
            f"({status})",
        )

    def _dates_each(
        self, fields: list[str], status: str | None, errors: list[CellError]
    ) -> None:
        """`_dates` for a bad record: each date read on its own, then each
        rule judged on the dates that read, every problem added to `errors`.
        With the status unknown (None) the close date may be a close or an
        open deal's forecast: it must read, but it is neither asked for nor
        put in order with the others, nor judged as a date in the future."""
        read: dict[str, dt.datetime | None] = {}
        for field, at in self.date_columns:
            try:
                read[field] = self.instant(self.name[field], fields[at])
            except CellError as exc:
                errors.append(exc)
        failed = {field for field, _ in self.date_columns if field not in read}
        created = read.get("created_at")
        entered = read.get("stage_entered_at")
        closed = read.get("close_date")
        expected = read.get("expected_close_date")
        forecast = ""
        if status == "open":
            if "expected_close_date" not in failed:
                expected, forecast = self._open_forecast(closed, expected)
            closed = None
        elif status is None:
            closed = None
        elif closed is None and "close_date" not in failed:
            errors.append(
                CellError(
                    self.column("close_date"),
                    f"is empty, but a {status} deal needs one",
                )
            )
        errors += self._backwards(fields, created, entered, closed, forecast, expected)
        if created is None and entered is None and closed is None and not failed:
            self._warn(self.undated)
        for field, when in (
            ("created_at", created),
            ("stage_entered_at", entered),
            ("close_date", closed),
        ):
            if when is not None and when > self.now:
                try:
                    self._in_the_future(fields, field, when)
                except CellError as exc:
                    errors.append(exc)

    def minutes(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working minutes from `start` to `end` in the pipeline's calendar."""
        # Files with dates and no times repeat the same spans many times.
        found = self._minutes.get((start, end))
        if found is None:
            if len(self._minutes) >= _MINUTES_CACHE:
                self._minutes.clear()
            found = business_time.between(self.calendar, start, end)
            self._minutes[start, end] = found
        return found

    def _status_and_stage(self, fields: list[str]) -> tuple[str, int]:
        status = stage_id = None
        at = self._stage_at
        if at is not None:
            meaning = self.stages(self.name["stage"], fields[at])
            if meaning is None:
                self._warn(f"{self.name['stage']} empty, deal put in the default stage")
            else:
                status, stage_id = meaning
        at = self._status_at
        if at is not None:
            given = self.statuses(self.name["status"], fields[at])
            if given is not None and status is not None and given != status:
                raise self._contradiction(fields, status)
            status = given or status
        return status or "open", stage_id or self.default_stage

    def _open_forecast(self, closed: Any, expected: Any) -> tuple[Any, str]:
        """An open deal's expected close and the field it was read from. Its
        close date is the forecast, as CRM exports write it, unless the file
        has a forecast column of its own."""
        if closed is None:
            return expected, "expected_close_date"
        if expected is None:
            return closed, "close_date"
        self._warn(
            f"{self.column('close_date')} on an open deal ignored; "
            f"{self.column('expected_close_date')} used instead"
        )
        return expected, "expected_close_date"

    def _dates(self, fields: list[str], status: str) -> tuple[Any, Any, Any, Any]:
        """(created, stage entered, closed, expected close), read in that
        order; creation falls back to the stage entry."""
        parse, name = self.instant, self.name
        at_created, at_entered, at_closed = self._date_at
        created = entered = closed = expected = None
        if at_created is not None:
            created = parse(name["created_at"], fields[at_created])
        if at_entered is not None:
            entered = parse(name["stage_entered_at"], fields[at_entered])
        if at_closed is not None:
            closed = parse(name["close_date"], fields[at_closed])
        at = self._expected_at
        if at is not None:
            expected = parse(name["expected_close_date"], fields[at])
        # The field an open deal's forecast was read from, which an error
        # names; "" for a closed deal, whose forecast is history, not judged.
        forecast = ""
        if status == "open":
            expected, forecast = self._open_forecast(closed, expected)
            closed = None
        elif closed is None:
            raise CellError(
                self.column("close_date"), f"is empty, but a {status} deal needs one"
            )
        if (
            (created is not None and entered is not None and created > entered)
            or (entered is not None and closed is not None and entered > closed)
            or (created is not None and closed is not None and created > closed)
            or (forecast and self._forecast_before(created, expected))
        ):
            raise self._out_of_order(
                fields, created, entered, closed, forecast, expected
            )
        now = self.now
        if created is None and entered is None and closed is None:
            self._warn(self.undated)
        else:
            if created is not None and created > now:
                self._in_the_future(fields, "created_at", created)
            if entered is not None and entered > now:
                self._in_the_future(fields, "stage_entered_at", entered)
            if closed is not None and closed > now:
                self._in_the_future(fields, "close_date", closed)
        if expected is not None:
            expected = expected.astimezone(self.zone).date()
        return created if created is not None else entered, entered, closed, expected

    def _in_the_future(self, fields: list[str], field: str, when: dt.datetime) -> None:
        """Warn of a date after the import began, or refuse one after its
        grace: nothing the file records as done can have happened then."""
        cell = fields[self.at[field]]
        self._warn(
            future_date_warning(self.name[field], cell, when, self.now, self.zone.key)
        )

    def _forecast_before(
        self, created: dt.datetime | None, expected: dt.datetime | None
    ) -> bool:
        """Whether an open deal is expected to close on a day before the one
        it was created on: a typo, as a close before creation is. Only the
        file's creation date counts; a stage entry standing in for it is no
        creation, and a forecast may have slipped past it."""
        if created is None or expected is None or expected >= created:
            return False
        return self._day(expected) < self._day(created)

    def _day(self, when: dt.datetime) -> dt.date:
        return when.astimezone(self.zone).date()

    def _out_of_order(
        self,
        fields: list[str],
        created: dt.datetime | None,
        entered: dt.datetime | None,
        closed: dt.datetime | None,
        forecast: str,
        expected: dt.datetime | None,
    ) -> CellError:
        """The error of a record whose dates run backwards (`_backwards`)."""
        errors = self._backwards(fields, created, entered, closed, forecast, expected)
        return errors[0] if len(errors) == 1 else CellErrors(errors)

    def _backwards(
        self,
        fields: list[str],
        created: dt.datetime | None,
        entered: dt.datetime | None,
        closed: dt.datetime | None,
        forecast: str,
        expected: dt.datetime | None,
    ) -> list[CellError]:
        """An error for each pair of the row's dates that runs backwards,
        the `expected` close date of an open deal included: `forecast` is the
        field it was read from ("" for a closed deal, or one not judged)."""
        pairs = (
            ("created_at", created, "stage_entered_at", entered),
            ("stage_entered_at", entered, "close_date", closed),
            ("created_at", created, "close_date", closed),
        )
        errors = [
            self._before(fields, earlier, later)
            for earlier, first, later, then in pairs
            if first is not None and then is not None and first > then
        ]
        if forecast and self._forecast_before(created, expected):
            errors.append(self._before(fields, "created_at", forecast))
        return errors

    def _before(self, fields: list[str], earlier: str, later: str) -> CellError:
        before, after = self.name[earlier], self.name[later]
        return CellError(
            after,
            f"{quoted(fields[self.at[later]].strip())} is before {before} "
            f"{quoted(fields[self.at[earlier]].strip())}",
        )

    def _name_column(
        self, field: str, matcher: Any, known_from: str, create: bool
    ) -> _NameColumn:
        return _NameColumn(
            field,
            self.at.get(field),
            self.name.get(field, field),
            matcher,
            known_from,
            create,
        )

    def _named(self, fields: list[str], names: _NameColumn) -> tuple[Any, str]:
        """(id, name) for a name column; (name, name) for one to be created."""
        at = names.at
        if at is None:
            return None, ""
        text = fields[at]
        found = names.matcher.find(text)
        if found is not None:
            if found.spelled_as is None:
                return found.value, text.strip()
            self._warn(
                f"{names.field} {quoted(text.strip())} matched "
                f"{quoted(found.spelled_as)} "
                f"{matched_how(text, found.spelled_as)}"
            )
            return found.value, found.spelled_as
        field, column = names.field, names.column
        name = tidy_name(text)
        if not name and text.strip():
            raise CellError(
                column,
                f"holds no visible characters ({code_points(text.strip())})",
            )
        if not name:
            self._warn(f"{column} empty, deal has no {field}")
            return None, ""
        shared = names.matcher.candidates(name)
        if shared:
            raise CellError(column, self._several(names, name, shared))
        if not names.create:
            raise CellError(
                column, f"{quoted(name)} matches no {field} in {names.known_from}"
            )
        limit = _LIMITS[field]
        if len(name) > limit or _holds_control_or_break(name):
            check_cell_text(column, name, limit, one_line=True)
        return name, name

    def _several(
        self, names: _NameColumn, name: str, shared: list[tuple[str, Any]]
    ) -> str:
        """Why `name` names no record: it matches the `shared` (known name,
        id) pairs. People are named by username and email, since two of
        them may have one full name; records by their names."""
        if names.field == "owner":
            ids = [pk for _, pk in shared]
            return several_people(name, ids, self.lookups.owner_labels)
        spellings = ", ".join(quoted(known) for known, _ in shared)
        kinds = counted(len(shared), names.field)
        return f"{quoted(name)} matches {kinds}: {spellings}"

    def _text(self, fields: list[str], field: str) -> str:
        at = self.at.get(field)
        if at is None:
            return ""
        value = fields[at].strip()
        limit = _LIMITS[field]
        if len(value) > limit or _holds_control_or_break(value):
            check_cell_text(self.name[field], value, limit, one_line=True)
        if not value:
            self._warn(
                f"{self.name[field]} empty; importing the file again would "
                "create this deal again"
            )
        return value

    def _title(self, fields: list[str], names: tuple[str, ...]) -> str:
        """The title column's text, or else the first template whose names
        (values in TEMPLATE_FIELDS order) are all there."""
        at = self._title_at
        title = " ".join(fields[at].split()) if at is not None else ""
        if title:
            return self._checked_title(title)
        for number, (template, needs) in enumerate(self.templates):
            values = needs(names)
            if all(values):
                # Templates of names give the same few titles again and
                # again; only a title that passed its checks is kept.
                key = (number, values)
                title = self._titles.get(key)
                if title is None:
                    title = template.format_map(
                        dict(zip(TEMPLATE_FIELDS, names, strict=True))
                    )
                    title = self._checked_title(title)
                    if len(self._titles) >= _TITLES_CACHE:
                        self._titles.clear()
                    self._titles[key] = title
                return title
        raise CellError(self.column("title"), "is empty")

    def _checked_title(self, title: str) -> str:
        if not title:
            raise CellError(self.column("title"), "is empty")
        if _invisible(title):
            raise CellError(self.column("title"), blank_problem(title, ""))
        # Whitespace is folded above; a control character left would be
        # refused by an edit of the deal (and lock its edit form).
        limit = _LIMITS["title"]
        if len(title) > limit or _holds_control_or_break(title):
            check_cell_text(self.column("title"), title, limit, one_line=True)
        return title

    def _title_each(
        self,
        fields: list[str],
        names: tuple[str | None, ...],
        attempt: Callable[..., Any],
    ) -> None:
        """The title of a bad record. A title column's text is judged on its
        own. A title made from a template is judged unless a template the
        record would come to needs a name that did not read (None in
        `names`): the title cannot be known then, and that name is named."""
        at = self._title_at
        if at is None or not fields[at].strip():
            for _, needs in self.templates:
                values = needs(names)
                if None in values:
                    return
                if all(values):
                    break
        attempt(self._title, fields, names)

    def _value(self, fields: list[str], status: str | None) -> Any:
        at = self.at.get("value")
        if at is None:
            return None
        value = self.amount(self.name["value"], fields[at])
        if (
            status == "lost"
            and value is not None
            and not value
            and self.mapping.zero_value_on_lost == "empty"
        ):
            self._warn(f"{self.name['value']} 0 on a lost deal stored as no value")
            return None
        return value

    def _currency(self, fields: list[str]) -> str:
        at = self.at.get("currency")
        written = fields[at].strip() if at is not None else ""
        if not written:
            return self.currency
        code = written.upper()
        if code not in ISO_4217:
            raise CellError(
                self.name["currency"],
                f"{quoted(written)} is not an ISO 4217 currency code",
            )
        return code

    def _check_decimals(self, fields: list[str], value: Any, currency: str) -> None:
        problem = amount_problem(value, currency)
        if problem is not None:
            # The problem names the amount as read ("1.234"); the file wrote
            # it with its own separators ("1,234"), which the message quotes.
            read = str(value)
            if problem.startswith(read):
                cell = quoted(fields[self.at["value"]].strip())
                problem = cell + problem.removeprefix(read)
            raise CellError(self.name["value"], problem)

    def _loss_reason(self, fields: list[str], status: str) -> str:
        at = self.at.get("loss_reason")
        reason = fields[at].strip() if at is not None else ""
        if status != "lost":
            if reason:
                self._warn(
                    f"{self.name['loss_reason']} on a deal that is not lost, ignored"
                )
            return ""
        if not reason:
            reason = self.mapping.loss_reason or ""
            if not reason:
                raise CellError(
                    self.column("loss_reason"), "is empty, but a lost deal needs one"
                )
            self._warn(f"lost deal without a reason, recorded as {reason!r}")
        key = self.loss_reasons.key_for(reason)
        if key is None:
            # Kept as the file writes it: the pipeline's keys need no look.
            if _invisible(reason):
                raise CellError(self.column("loss_reason"), blank_problem(reason, ""))
            limit = _LIMITS["loss_reason"]
            if len(reason) > limit or _holds_control_or_break(reason):
                check_cell_text(
                    self.column("loss_reason"), reason, limit, one_line=True
                )
            if self.loss_reasons:
                self._warn(
                    f"loss reason {quoted(reason)} is not in the pipeline's list, kept"
                )
            key = reason
        return key

    def _loss_note(self, fields: list[str], status: str, reason: str | None) -> str:
        """A lost deal's note; a reason the pipeline lists with needs_note
        asks for one, as a move to lost does. `reason` is the loss reason's
        key, None when it did not read."""
        at = self._loss_note_at
        note = _multiline(fields[at]) if at is not None else ""
        if status != "lost":
            if note:
                self._warn(
                    f"{self.name['loss_note']} on a deal that is not lost, ignored"
                )
            return ""
        if note and not (reason in self.needs_note and _invisible(note)):
            if len(note) > _LOSS_NOTE_LIMIT or _holds_control(note):
                check_cell_text(self.name["loss_note"], note, _LOSS_NOTE_LIMIT)
        elif note:
            raise CellError(self.name["loss_note"], blank_problem(note, ""))
        elif reason in self.needs_note:
            rule = (
                f"loss reason {quoted(reason)} needs a note (needs_note in pipeline "
                f"{self.pipeline_key})"
            )
            if at is None:
                raise CellError(
                    "loss_note", f"the mapping has no loss_note column, but {rule}"
                )
            raise CellError(self.name["loss_note"], f"is empty, but {rule}")
        return note

    def _loss_each(
        self, fields: list[str], status: str | None, attempt: Callable[..., Any]
    ) -> None:
        """The loss reason and note of a bad record. With the status unknown
        (None), a reason or a note the file gives is judged as a lost deal's
        text, the only kind of deal that keeps one, and none is asked for."""
        if status is not None:
            reason = attempt(self._loss_reason, fields, status)
            attempt(self._loss_note, fields, status, reason)
            return
        at = self.at.get("loss_reason")
        if at is not None and fields[at].strip():
            attempt(self._loss_reason, fields, "lost")
        at = self._loss_note_at
        if at is not None and fields[at].strip():
            attempt(self._loss_note, fields, "lost", None)

    def _notes(self, fields: list[str]) -> str:
        at = self._notes_at
        if at is None:
            return ""
        notes = _multiline(fields[at])
        if len(notes) > _NOTES_LIMIT or _holds_control(notes):
            check_cell_text(self.name["notes"], notes, _NOTES_LIMIT)
        return notes

    def _custom_readers(
        self, columns: Sequence[str], pipeline: Pipeline
    ) -> list[tuple[str, str, int, Callable[[str, str], Any]]]:
        """(key, column, position, reader) for each mapped custom field, the
        reader turning a cell into the type the pipeline declares for it."""
        declared = check_custom_keys(self.mapping, pipeline)
        readers = []
        for key, column in self.mapping.custom.items():
            field = declared[key]
            if field.type == "number":
                reader = partial(self._custom_number, field)
            elif field.type == "date":
                reader = partial(self._custom_date, field)
            elif field.type in ("bool", "choice"):
                reader = partial(_custom_text, field)
            else:
                # Text, and a type this version does not know, read as text.
                reader = partial(_custom_free_text, field)
            readers.append((key, column, columns.index(column), reader))
        return readers

    def _custom(self, fields: list[str], errors: list[CellError] | None) -> str:
        """The custom values as JSON text. A cell that does not read as its
        field's type is added to `errors`, or raised when there is none."""
        if not self.custom:
            return _EMPTY_JSON
        values = {}
        for key, column, at, read in self.custom:
            try:
                value = read(column, fields[at])
            except CellError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                continue
            if value is not None:
                values[key] = value
        return json.dumps(values)

    def _custom_number(self, field: CustomField, column: str, text: str) -> Any:
        """A number written as the file writes amounts (its decimal point and
        thousands separator), below zero allowed."""
        text = text.strip()
        negative = text.startswith("-")
        unsigned = text[1:] if negative else text
        # A custom number below zero is written "-5", once; the amount
        # parser would read "(5)" as a negative amount.
        if unsigned.startswith(("-", "(")):
            raise CellError(column, f"{quoted(text)} is not a number")
        try:
            number = self.custom_amount(column, unsigned)
        except CellError:
            if not negative:
                raise
            raise CellError(column, f"{quoted(text)} is not a number") from None
        if number is None:
            return None
        try:
            # "-0" is zero, as in an amount, not a negative zero.
            return field.checked(-number if negative and number else number)
        except ValueError as exc:
            raise CellError(column, str(exc)) from None

    def _custom_date(self, field: CustomField, column: str, text: str) -> Any:
        """A date written in the mapping's date_format, stored as ISO text."""
        instant = self.instant(column, text)
        if instant is None:
            return None
        return field.checked(instant.astimezone(self.zone).date())

    def _warn_unmapped(self, fields: list[str]) -> None:
        for at, label in self.unmapped:
            if fields[at].strip():
                self._warn(f"{label} is not in the mapping; value not imported")


def _unsaid(message: str) -> None:
    """A warning of a bad record, not given: nothing is done to the row."""


def _custom_text(field: CustomField, column: str, text: str) -> Any:
    try:
        return field.from_text(text)
    except ValueError as exc:
        # core.custom_fields quotes the whole text; a cell is quoted cut.
        raise CellError(column, requoted(str(exc), text)) from None


def _custom_free_text(field: CustomField, column: str, text: str) -> str | None:
    value = field.from_text(text)
    if value is not None and (len(value) > MAX_TEXT or _holds_control(value)):
        check_cell_text(column, value, MAX_TEXT)
    return value


def _ascii_table(rule: re.Pattern[str]) -> bytes:
    """A bytes.translate table: 1 for each ASCII character `rule` matches,
    0 for every other byte."""
    return bytes(
        1 if code < 128 and rule.match(chr(code)) else 0 for code in range(256)
    )


_ASCII_CONTROL = _ascii_table(CONTROL)


def _holds_control(text: str) -> bool:
    """Whether core.text's CONTROL finds a character in `text`. ASCII text
    (most notes) is looked up a byte at a time by translate, in C, a few
    times faster than the pattern's scan of a long note."""
    if text.isascii():
        return 1 in text.encode().translate(_ASCII_CONTROL)
    return CONTROL.search(text) is not None


def _holds_control_or_break(text: str) -> bool:
    """Whether core.text's CONTROL_OR_BREAK finds a character in `text`.
    Printable text holds none of them, and str.isprintable says so faster
    than the pattern, which judges the rest (a no-break space is not
    printable, yet allowed)."""
    return not text.isprintable() and CONTROL_OR_BREAK.search(text) is not None


def _invisible(text: str) -> bool:
    """Whether `text`, stripped and not empty, holds nothing a reader sees
    (`core.text.looks_blank`). ASCII text, most of a file, never does and
    costs one look."""
    return not text.isascii() and looks_blank(text)


def _multiline(text: str) -> str:
    """A cell of several lines, trimmed, with one spelling of a line break
    whatever the exporting system used."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def _calendar(pipeline: Pipeline) -> Calendar:
    try:
        return calendar_for(pipeline)
    except CalendarError as exc:
        raise ImportFileError(f"pipeline {pipeline.key}: {exc}") from exc


def _undated_warning(names: dict[str, str], date_columns: list[tuple[str, int]]) -> str:
    """The warning for a row with no creation, stage-entry or close date; the
    report counts the rows written that it was given for."""
    dated = [names[f] for f, _ in date_columns if f != "expected_close_date"]
    if not dated:
        return "no dates in the file; creation and stage entry unknown"
    columns = " or ".join(repr(name) for name in dated)
    return f"no date in {columns}; creation and stage entry unknown"


def check_custom_keys(mapping: Mapping, pipeline: Pipeline) -> dict[str, CustomField]:
    """The pipeline's custom fields by key, once every key of the mapping's
    [custom] is among them; else MappingError naming each key that is not,
    and the fields there are. Asked before any file is read."""
    declared = declared_fields(pipeline.custom_fields)
    unknown = [key for key in mapping.custom if key not in declared]
    if unknown:
        keys = ", ".join(f"custom.{key}" for key in unknown)
        names = ", ".join(repr(key) for key in unknown)
        field = agreeing(len(unknown), "field")
        known = ", ".join(declared) or "none"
        raise MappingError(
            f"mapping {mapping.name}: {keys}: pipeline {pipeline.key} has no "
            f"custom {field} {names}; its custom fields are: {known}",
            field=f"custom.{unknown[0]}",
        )
    return declared


def _column_positions(mapping: Mapping, columns: Sequence[str]) -> dict[str, int]:
    wanted = [*mapping.columns.values(), *mapping.custom.values()]
    missing = list(dict.fromkeys(col for col in wanted if col not in columns))
    if missing:
        named = ", ".join(repr(col) for col in missing)
        raise ImportFileError(
            f"the file has no {agreeing(len(missing), 'column')} {named}, "
            f"which mapping {mapping.name} reads; its columns are "
            f"{', '.join(repr(c) for c in columns)}"
            f"{delimiter_hint(columns, missing, mapping.delimiter)}"
        )
    return {field: columns.index(col) for field, col in mapping.columns.items()}


def _unmapped(mapping: Mapping, columns: Sequence[str]) -> list[tuple[int, str]]:
    used = {*mapping.columns.values(), *mapping.custom.values()}
    return [
        (at, f"column {name!r}" if name else f"column {at + 1} (no name)")
        for at, name in enumerate(columns)
        if name not in used
    ]


def _stage_choices(
    mapping: Mapping, stages: Sequence[Stage], pipeline: Pipeline
) -> tuple[ChoiceParser[tuple[str | None, int | None]], dict[int, str]]:
    """Values of the stage column: the mapping's, then stage keys and names."""
    by_key = {stage.key: stage.pk for stage in stages}
    choices: dict[str, tuple[str | None, int | None]] = {}
    for stage in stages:
        choices[stage.name] = (None, stage.pk)
        choices[stage.key] = (None, stage.pk)
    for raw, meaning in mapping.stage_values.items():
        if meaning.stage is not None and meaning.stage not in by_key:
            raise MappingError(
                f"mapping {mapping.name}: stages.{raw}: pipeline {pipeline.key} has "
                f"no stage {meaning.stage!r}; its stages are {', '.join(by_key)}"
            )
        choices[raw] = (meaning.status, by_key.get(meaning.stage or ""))
    accepted = [*mapping.stage_values, *by_key] if mapping.stage_values else by_key
    parser = ChoiceParser(choices, accepted=", ".join(dict.fromkeys(accepted)))
    return parser, {stage.pk: stage.key for stage in stages}


def _default_stage(
    mapping: Mapping, stages: Sequence[Stage], pipeline: Pipeline
) -> int:
    if not stages:
        raise ImportFileError(f"pipeline {pipeline.key} has no stages")
    if mapping.default_stage is None:
        return stages[0].pk
    for stage in stages:
        if stage.key == mapping.default_stage:
            return stage.pk
    raise MappingError(
        f"mapping {mapping.name}: default_stage: pipeline {pipeline.key} has no "
        f"stage {mapping.default_stage!r}"
    )


def _reasons_needing_a_note(pipeline: Pipeline) -> frozenset[str]:
    """The keys of the pipeline's loss reasons that ask for a note."""
    return frozenset(
        str(reason.get("key", ""))
        for reason in pipeline.loss_reasons or []
        if reason.get("needs_note")
    )


def _templates(
    mapping: Mapping,
) -> list[tuple[str, Callable[[tuple[str, ...]], tuple[str, ...]]]]:
    """Each title template with a getter for the values it needs, from a
    tuple of names in TEMPLATE_FIELDS order."""
    result = []
    for template in mapping.title_templates:
        needs = [n for _, n, _, _ in string.Formatter().parse(template) if n]
        places = [TEMPLATE_FIELDS.index(name) for name in dict.fromkeys(needs)]
        result.append((template, _getter(places)))
    return result


def _getter(places: list[int]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    if len(places) > 1:
        return itemgetter(*places)
    # itemgetter of one place returns the bare value, not a tuple.
    return lambda names: tuple(names[place] for place in places)
