"""A team's working calendar: time zone, weekly hours, holidays and closed days.

A `Calendar` is built from the `[calendar]` table of a pipeline file:

    [calendar]
    timezone = "Europe/Berlin"            # IANA zone, required
    always_open = false                   # round the clock; then no `hours`
    holidays = { country = "DE", subdivision = "BE" }   # optional, any case
    closed_days = ["2026-12-24", "2026-12-31"]          # optional
    [calendar.hours]                      # missing weekday = closed
    mon = ["09:00-12:30", "13:30-17:00"]
    [calendar.short_days]                 # one date's own hours, optional
    "2026-12-23" = ["09:00-13:00"]

Hours are wall-clock ranges in the calendar's zone, "HH:MM-HH:MM", the end
exclusive; "24:00" may end a range. A range cannot run past midnight: write
"22:00-24:00" on one day and "00:00-02:00" on the next.

Which hours a date has, first rule that applies:

1. a short day: its own ranges (so a team may open on a public holiday);
2. a closed day or a public holiday: none;
3. round the clock: the whole day;
4. otherwise the weekday's ranges.

Counting time over these hours lives in `dealgate.core.business_time`.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

from dealgate.core.dates import years_problem

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60

# A working range as minutes after local midnight: (start, end), end exclusive.
Range = tuple[int, int]

_RANGE_PATTERN = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_TOP_LEVEL_KEYS = frozenset(
    {"timezone", "always_open", "holidays", "closed_days", "hours", "short_days"}
)
_FULL_DAY: tuple[Range, ...] = ((0, MINUTES_PER_DAY),)


class CalendarError(ValueError):
    """A calendar definition that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Calendar:
    """Where and when a team works. Build one with `from_dict` or a constructor.

    `hours` holds seven tuples of ranges, Monday first. Instances are immutable
    and validated on creation; equal definitions compare equal.
    """

    timezone: str
    hours: tuple[tuple[Range, ...], ...] = ((),) * 7
    always_open: bool = False
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_days: frozenset[date] = frozenset()
    short_days: tuple[tuple[date, tuple[Range, ...]], ...] = ()
    # Derived lookups (holidays per year, the business-time index) are kept
    # here so each calendar computes them once; they follow from the fields
    # above, so they take no part in equality.
    cache: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        _check_zone(self.timezone)
        if len(self.hours) != 7:
            raise CalendarError("calendar.hours: expected seven weekdays, Monday first")
        for weekday, ranges in zip(WEEKDAYS, self.hours, strict=True):
            _check_ranges(f"calendar.hours.{weekday}", ranges)
        if self.always_open and any(self.hours):
            raise CalendarError(
                "calendar.hours: must be absent when calendar.always_open is true"
            )
        if not self.always_open and not any(self.hours):
            raise CalendarError("calendar: no working time at all")
        _check_holiday_region(self.holiday_country, self.holiday_subdivision)
        for day, ranges in self.short_days:
            key = f'calendar.short_days."{day.isoformat()}"'
            _check_ranges(key, ranges)
            if day in self.closed_days:
                raise CalendarError(f"{key}: the date is also in calendar.closed_days")

    def __getstate__(self) -> dict[str, Any]:
        # The cache holds a lock and can be rebuilt; pickle the definition only.
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, cache={})

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> Calendar:
        """Build a calendar from the `[calendar]` table of a pipeline file."""
        if not isinstance(table, Mapping):
            raise CalendarError("calendar: expected a table")
        for key in table:
            if key not in _TOP_LEVEL_KEYS:
                raise CalendarError(f"calendar.{key}: unknown key")
        if "timezone" not in table:
            raise CalendarError("calendar.timezone: required, e.g. 'Europe/Berlin'")

        country, subdivision = _parse_holidays(table.get("holidays"))
        return cls(
            timezone=_expect(table["timezone"], str, "calendar.timezone", "a string"),
            hours=_parse_hours(table.get("hours")),
            always_open=_expect(
                table.get("always_open", False),
                bool,
                "calendar.always_open",
                "true or false",
            ),
            holiday_country=country,
            holiday_subdivision=subdivision,
            closed_days=frozenset(_parse_closed_days(table.get("closed_days", []))),
            short_days=_parse_short_days(table.get("short_days", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        """The `[calendar]` table for this calendar; `from_dict` reads it back.

        Keys at their default (closed weekdays, no holidays) are left out.
        """
        table: dict[str, Any] = {"timezone": self.timezone}
        if self.always_open:
            table["always_open"] = True
        else:
            table["hours"] = {
                weekday: [_format_range(r) for r in ranges]
                for weekday, ranges in zip(WEEKDAYS, self.hours, strict=True)
                if ranges
            }
        if self.holiday_country is not None:
            table["holidays"] = {"country": self.holiday_country}
            if self.holiday_subdivision is not None:
                table["holidays"]["subdivision"] = self.holiday_subdivision
        if self.closed_days:
            table["closed_days"] = [d.isoformat() for d in sorted(self.closed_days)]
        if self.short_days:
            table["short_days"] = {
                day.isoformat(): [_format_range(r) for r in ranges]
                for day, ranges in self.short_days
            }
        return table

    @classmethod
    def office_hours(cls, timezone: str) -> Calendar:
        """Monday to Friday, 09:00 to 17:00 in `timezone`, no holidays."""
        day = ((9 * 60, 17 * 60),)
        return cls(timezone=timezone, hours=(day,) * 5 + ((), ()))

    @classmethod
    def round_the_clock(cls, timezone: str) -> Calendar:
        """Every hour of every day; business time is elapsed real time."""
        return cls(timezone=timezone, always_open=True)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def day_minutes(self) -> float:
        """Length of a standard working day: what one business day means.

        The median length of the weekdays that have hours, so a Saturday half
        day does not shrink the business day of a Monday-to-Friday team. Round
        the clock, a business day is 24 hours.
        """
        if self.always_open:
            return float(MINUTES_PER_DAY)
        lengths = [sum(end - start for start, end in r) for r in self.hours if r]
        return float(statistics.median(lengths))

    def ranges_on(self, day: date) -> tuple[Range, ...]:
        """Working ranges of a local date, with short, closed and holidays applied."""
        short = self._short_days_by_date.get(day)
        if short is not None:
            return short
        if day in self.closed_days or day in self.holidays_in(day.year):
            return ()
        if self.always_open:
            return _FULL_DAY
        return self.hours[day.weekday()]

    def holidays_in(self, year: int) -> frozenset[date]:
        """Public holidays of `year`, observed days included; cached per year."""
        by_year = self.cache.setdefault("holidays", {})
        found = by_year.get(year)
        if found is None:
            found = frozenset()
            if self.holiday_country is not None:
                found = frozenset(
                    holidays_package.country_holidays(
                        self.holiday_country,
                        subdiv=self.holiday_subdivision,
                        years=year,
                        observed=True,
                    )
                )
            by_year[year] = found
        return found

    @cached_property
    def _short_days_by_date(self) -> dict[date, tuple[Range, ...]]:
        return dict(self.short_days)


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CalendarError(f"calendar.timezone: unknown time zone {name!r}") from None


def _check_holiday_region(country: str | None, subdivision: str | None) -> None:
    if country is None:
        if subdivision is not None:
            raise CalendarError(
                "calendar.holidays.country: required with a subdivision"
            )
        return
    supported = holidays_package.list_supported_countries(include_aliases=True)
    if country not in supported:
        raise CalendarError(f"calendar.holidays.country: unknown country {country!r}")
    if subdivision is None:
        return
    try:
        holidays_package.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        known = ", ".join(supported[country]) or "none"
        raise CalendarError(
            f"calendar.holidays.subdivision: unknown subdivision {subdivision!r} "
            f"for {country} (known: {known})"
        ) from None


def _check_ranges(key: str, ranges: Iterable[Range]) -> None:
    previous: Range | None = None
    for start, end in ranges:
        if not 0 <= start < MINUTES_PER_DAY or not 0 < end <= MINUTES_PER_DAY:
            raise CalendarError(f"{key}: range {start}-{end} is outside one day")
        _check_order(key, _format_range((start, end)), start, end)
        if previous is not None and start < previous[0]:
            raise CalendarError(f"{key}: ranges must be in order")
        if previous is not None and start < previous[1]:
            raise CalendarError(
                f"{key}: ranges {_format_range(previous)} and "
                f"{_format_range((start, end))} overlap"
            )
        previous = (start, end)


def _expect(value: Any, kind: type, key: str, what: str) -> Any:
    # bool is an int subclass; neither may stand in for the other here.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise CalendarError(f"{key}: expected {what}, got {value!r}")
    return value


def _parse_hours(table: Any) -> tuple[tuple[Range, ...], ...]:
    if table is None:
        return ((),) * 7
    _expect(table, Mapping, "calendar.hours", "a table of weekdays")
    for weekday in table:
        if weekday not in WEEKDAYS:
            raise CalendarError(
                f"calendar.hours.{weekday}: unknown weekday (use {', '.join(WEEKDAYS)})"
            )
    return tuple(
        _parse_ranges(f"calendar.hours.{weekday}", table.get(weekday, []))
        for weekday in WEEKDAYS
    )


def _parse_ranges(key: str, values: Any) -> tuple[Range, ...]:
    _expect(values, list, key, 'a list like ["09:00-17:00"]')
    ranges = sorted(_parse_range(key, value) for value in values)
    _check_ranges(key, ranges)
    return tuple(ranges)


def _parse_range(key: str, text: Any) -> Range:
    match = _RANGE_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise CalendarError(f"{key}: {text!r} is not a range like '09:00-17:00'")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    for hour, minute in ((start_h, start_m), (end_h, end_m)):
        if minute > 59 or hour > 24 or (hour == 24 and minute != 0):
            raise CalendarError(f"{key}: {text!r} has no time {hour:02}:{minute:02}")
    if start_h == 24:
        raise CalendarError(f"{key}: {text!r} starts at 24:00, which only ends a day")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    _check_order(key, text.strip(), start, end)
    return start, end


def _check_order(key: str, written: str, start: int, end: int) -> None:
    """Refuse a range that holds no time: it ends when or before it starts."""
    if end == start:
        raise CalendarError(
            f"{key}: range {written} ends when it starts, so it holds no time "
            '(a whole day is "00:00-24:00"; leave a closed day out)'
        )
    if end < start:
        raise CalendarError(
            f"{key}: range {written} ends before it starts "
            "(a range cannot run past midnight)"
        )


def _parse_date(key: str, text: Any) -> date:
    try:
        day = date.fromisoformat(_expect(text, str, key, "a date like '2026-12-24'"))
    except ValueError:
        raise CalendarError(
            f"{key}: {text!r} is not a date like '2026-12-24'"
        ) from None
    problem = years_problem(day)
    if problem is not None:
        raise CalendarError(f"{key}: {text!r} {problem}")
    return day


def _parse_closed_days(values: Any) -> list[date]:
    _expect(values, list, "calendar.closed_days", "a list of dates")
    return [_parse_date("calendar.closed_days", value) for value in values]


def _parse_short_days(table: Any) -> tuple[tuple[date, tuple[Range, ...]], ...]:
    _expect(table, Mapping, "calendar.short_days", "a table of dates")
    days = {}
    for text, ranges in table.items():
        key = f'calendar.short_days."{text}"'
        days[_parse_date(key, text)] = _parse_ranges(key, ranges)
    return tuple(sorted(days.items()))


def _parse_holidays(table: Any) -> tuple[str | None, str | None]:
    if table is None:
        return None, None
    _expect(table, Mapping, "calendar.holidays", "a table with a country")
    for key in table:
        if key not in ("country", "subdivision"):
            raise CalendarError(f"calendar.holidays.{key}: unknown key")
    if "country" not in table:
        raise CalendarError("calendar.holidays.country: required, e.g. 'DE'")
    country = _expect(table["country"], str, "calendar.holidays.country", "a string")
    subdivision = table.get("subdivision")
    if subdivision is not None:
        _expect(subdivision, str, "calendar.holidays.subdivision", "a string")
    return _canonical_region(country, subdivision)


def _canonical_region(country: str, subdivision: str | None) -> tuple[str, str | None]:
    """The holiday region as the holidays package spells it, whatever the case
    it was written in ("de", "be" is "DE", "BE"), as a currency code is read.
    A name the package does not know is kept as written, for the message."""
    country = country.strip().upper()
    if subdivision is None:
        return country, None
    known = holidays_package.list_supported_countries(include_aliases=True)
    spelled = {name.casefold(): name for name in known.get(country, ())}
    return country, spelled.get(subdivision.strip().casefold(), subdivision)


def _format_range(r: Range) -> str:
    (start_h, start_m), (end_h, end_m) = divmod(r[0], 60), divmod(r[1], 60)
    return f"{start_h:02}:{start_m:02}-{end_h:02}:{end_m:02}"
