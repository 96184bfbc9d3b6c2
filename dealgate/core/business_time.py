"""Business time: working minutes counted over a team's calendar.

The one place Dealgate counts business time. Response windows, stage ages and
every due time come from these functions.

Working time
    The real instants at which the local wall clock shows a time inside one
    of that local date's working ranges (see `Calendar.ranges_on`). Hours are
    wall-clock hours, so a 09:00-17:00 day is 8 hours on the days daylight
    saving starts and ends. Only when the change falls inside working hours
    does it matter: a skipped hour is never shown on the clock, so it is not
    worked (a range opening at a skipped time opens when the clock jumps); a
    repeated hour is shown twice, so it is worked twice. Round the clock
    this is elapsed real time: the day summer time ends has 25 hours.

Instants
    Every instant passed in must be an aware `datetime` (a naive one raises
    `ValueError`); any offset will do. Instants returned are aware and in the
    calendar's zone. Business time is kept for the years 1900 to 2199; an
    instant or result outside them raises `ValueError`.

Cost
    Each calendar keeps, per UTC year, its working intervals as epoch seconds
    with running totals of working time. They are built on first use for
    every year from the earliest to the latest instant seen (about 8 ms a
    year, once; a calendar's first holiday lookup imports data too). An
    operation is a binary search and some arithmetic, so adding a year costs
    what adding an hour costs. The index assumes a zone changes its offset at
    most once in six hours, which holds for every zone in the tz database.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from dealgate.core.calendar import Calendar

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "add",
    "add_business_days",
    "ages_in_business_days",
    "between",
    "business_days_between",
    "is_open",
    "next_opening",
]

FIRST_YEAR = 1900
LAST_YEAR = 2199

_DAY = 86_400
_EPOCH_DATE = date(1970, 1, 1)
# Offsets are sampled this often to find daylight-saving changes; see "Cost".
_OFFSET_SAMPLE = 6 * 3600
_tzinfo_of = attrgetter("tzinfo")


def add(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The earliest instant by which `minutes` working minutes have passed since
    `start`.

    Returned in the calendar's zone. A window that ends exactly at closing
    time is due at closing, not at the next opening. Zero minutes gives
    `next_opening(calendar, start)`: `start` itself if the calendar is open
    then, else the next opening, so that a zero window is never due while
    nobody is at work. Negative or non-finite minutes raise `ValueError`.
    """
    t = _timestamp(start, "start")
    if _amount(minutes, "duration") == 0:
        return next_opening(calendar, start)
    return _local(calendar, _timeline(calendar).add(t, minutes * 60))


def between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Working minutes (a float) in the half-open span from `start` to `end`.

    An `end` before `start` raises `ValueError`; equal instants give 0.
    """
    s, e = _timestamp(start, "start"), _timestamp(end, "end")
    if e < s:
        raise ValueError(
            f"end {end.isoformat()} is before start {start.isoformat()}; "
            "business time is only measured forwards"
        )
    return _timeline(calendar).worked_between(s, e) / 60


def is_open(calendar: Calendar, at: datetime) -> bool:
    """Whether `at` is working time. Opening is inclusive, closing exclusive."""
    return _timeline(calendar).is_open(_timestamp(at, "at"))


def next_opening(calendar: Calendar, at: datetime) -> datetime:
    """`at` itself if the calendar is open then, else the next time it opens.

    At exactly closing time the calendar is closed, so this is the next opening.
    For a due time this is the instant from which a clock is late
    (`Clock.late_after`): before it no business time has passed beyond the due
    time, so a limit due at closing is kept by an action at the next opening.
    """
    t = _timestamp(at, "at")
    opening = _timeline(calendar).next_opening(t)
    if opening == t:
        # Keep the caller's microseconds exact rather than round-tripping a float.
        return at.astimezone(calendar.zone)
    return _local(calendar, opening)


def add_business_days(calendar: Calendar, start: datetime, days: float) -> datetime:
    """The due time of an age limit of `days` business days from `start`.

    One business day is `calendar.day_minutes` working minutes (the standard
    working day), so this is `add(calendar, start, days * day_minutes)` and
    `business_days_between(calendar, start, result) == days`. On a week of
    equal days that is the same local time `days` working days later; from
    outside hours, whole days end at the close of the last working day
    (entered on Friday after closing, 1 business day is due on Monday at
    closing). Fractions are allowed; negative `days` raise `ValueError`.
    """
    return add(calendar, start, _amount(days, "days") * calendar.day_minutes)


def business_days_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Business days from `start` to `end`: working minutes / `day_minutes`.

    With Mon-Fri 09:00-17:00, a deal that entered a stage on Friday at 16:00
    is 0.25 business days old on Monday at 10:00, and 4.5 days old means 36
    working hours. An `end` before `start` raises `ValueError`.
    """
    return between(calendar, start, end) / calendar.day_minutes


def ages_in_business_days(
    calendar: Calendar, starts: Sequence[datetime], now: datetime
) -> list[float]:
    """`business_days_between(calendar, s, now)` for every `s` in `starts`, fast.

    For boards and sweeps over many deals. A start later than `now` gives a
    negative age instead of an error, so one odd row cannot stop a sweep;
    callers decide what it means. Every start must be aware.
    """
    now_t = _timestamp(now, "now")
    if None in map(_tzinfo_of, starts):
        raise ValueError("starts: every instant needs a time zone offset")
    stamps = list(map(datetime.timestamp, starts))
    if not stamps:
        return []

    timeline = _timeline(calendar)
    timeline.covering(min(stamps))
    timeline.covering(max(stamps))
    index = timeline.covering(now_t)

    # One pass with everything in locals: this loop is the whole cost.
    run_starts, run_ends = index.starts, index.ends
    open_offset, worked_through = index.open_offset, index.worked_through
    per_day = 1 / (calendar.day_minutes * 60)
    worked_now = index.worked(now_t)
    ages = []
    append = ages.append
    for t in stamps:
        i = bisect_right(run_starts, t) - 1
        if t < run_ends[i]:
            append((worked_now - open_offset[i] - t) * per_day)
        else:
            append((worked_now - worked_through[i]) * per_day)
    return ages


class _Index(NamedTuple):
    """Working intervals from UTC `first_year` through `last_year`.

    Interval i runs from `starts[i]` to `ends[i]` (epoch seconds, sorted,
    disjoint, never touching); `worked_before[i]` is the working time from
    `lo` to `starts[i]`, `worked_through[i]` that to `ends[i]`, and
    `open_offset[i]` is `worked_before[i] - starts[i]`, so that inside the
    interval the working time to t is `t + open_offset[i]` (one lookup fewer
    in the batch loop). Entry 0 is an empty interval at `lo`, so every
    covered instant has an interval at or before it.
    """

    first_year: int
    last_year: int
    lo: float
    hi: float
    starts: list[float]
    ends: list[float]
    worked_before: list[float]
    worked_through: list[float]
    open_offset: list[float]

    def covers(self, t: float) -> bool:
        return self.lo <= t <= self.hi

    def worked(self, t: float) -> float:
        """Working seconds from `lo` to `t`; `t` must be covered."""
        i = bisect_right(self.starts, t) - 1
        if t < self.ends[i]:
            return self.worked_before[i] + (t - self.starts[i])
        return self.worked_through[i]


class _Timeline:
    """A calendar's index, grown a year at a time as instants need it.

    Readers take `self.index` once and use that snapshot; a growth builds a
    new index and swaps it in, so threads never see a half-built one.
    """

    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar
        self._years: dict[int, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()
        self.index: _Index | None = None

    def covering(self, t: float) -> _Index:
        index = self.index
        if index is not None and index.covers(t):
            return index
        return self._grow(_utc_year(t))

    def add(self, t: float, seconds: float) -> float:
        while True:
            index = self.covering(t)
            i = bisect_right(index.starts, t) - 1
            if t < index.ends[i]:
                target = index.worked_before[i] + (t - index.starts[i]) + seconds
            else:
                # Search only later runs: a duration too small to change the
                # float total must still not land back at the last closing.
                target, i = index.worked_through[i] + seconds, i + 1
            j = bisect_left(index.worked_through, target, i)
            if j < len(index.starts):
                # max() absorbs rounding of the last bit; the due time is
                # never before the start.
                return max(t, index.starts[j] + (target - index.worked_before[j]))
            self._grow(index.last_year + 1)

    def worked_between(self, start: float, end: float) -> float:
        self.covering(start)
        index = self.covering(end)
        return index.worked(end) - index.worked(start)

    def is_open(self, t: float) -> bool:
        index = self.covering(t)
        return t < index.ends[bisect_right(index.starts, t) - 1]

    def next_opening(self, t: float) -> float:
        while True:
            index = self.covering(t)
            i = bisect_right(index.starts, t) - 1
            if t < index.ends[i]:
                return t
            if i + 1 < len(index.starts):
                return index.starts[i + 1]
            self._grow(index.last_year + 1)

    def _grow(self, year: int) -> _Index:
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(
                f"business time is kept for the years {FIRST_YEAR} to {LAST_YEAR}; "
                f"this needs {year}"
            )
        with self._lock:
            index = self.index
            first, last = year, year
            if index is not None:
                first, last = min(index.first_year, year), max(index.last_year, year)
                if (first, last) == (index.first_year, index.last_year):
                    return index
            intervals = []
            for y in range(first, last + 1):
                if y not in self._years:
                    self._years[y] = _intervals_in_year(self._calendar, y)
                intervals.extend(self._years[y])
            self.index = _build_index(first, last, intervals)
            return self.index


def _build_index(
    first_year: int, last_year: int, intervals: list[tuple[float, float]]
) -> _Index:
    lo, hi = float(_year_start(first_year)), float(_year_start(last_year + 1))
    starts, ends, before, through = [lo], [lo], [0.0], [0.0]
    for start, end in sorted(intervals):
        if start <= ends[-1] and len(starts) > 1:
            # Year chunks meet at UTC midnight and repeated hours can make
            # ranges touch or overlap; one run keeps `worked` exact.
            if end > ends[-1]:
                through[-1] += end - ends[-1]
                ends[-1] = end
            continue
        starts.append(start)
        ends.append(end)
        before.append(through[-1])
        through.append(through[-1] + (end - start))
    open_offset = [b - s for b, s in zip(before, starts, strict=True)]
    return _Index(
        first_year, last_year, lo, hi, starts, ends, before, through, open_offset
    )


def _intervals_in_year(calendar: Calendar, year: int) -> list[tuple[float, float]]:
    """Working intervals (epoch seconds) inside UTC `year`, from local dates.

    A wall range [A, B) on a date is worked at the instants u whose offset o
    gives u + o in [A, B); per stretch of constant offset that is the interval
    [A - o, B - o) clipped to the stretch. Local dates two days either side of
    the year are read, since offsets shift dates by up to a day.
    """
    lo, hi = _year_start(year), _year_start(year + 1)
    stretches = _offset_stretches(calendar.zone, lo - 3 * _DAY, hi + 3 * _DAY)
    intervals = []
    day, last_day = date(year - 1, 12, 30), date(year + 1, 1, 2)
    while day <= last_day:
        midnight = (day - _EPOCH_DATE).days * _DAY
        for first_minute, end_minute in calendar.ranges_on(day):
            wall_start, wall_end = (
                midnight + first_minute * 60,
                midnight + end_minute * 60,
            )
            for stretch_start, stretch_end, offset in stretches:
                start = max(wall_start - offset, stretch_start, lo)
                end = min(wall_end - offset, stretch_end, hi)
                if start < end:
                    intervals.append((float(start), float(end)))
        day += timedelta(days=1)
    return intervals


def _offset_stretches(
    zone: ZoneInfo, lo: int, hi: int
) -> list[tuple[float, float, float]]:
    """(start, end, UTC offset in seconds) for each stretch of constant offset.

    The first stretch reaches back and the last forward without end; callers
    clip. Changes are found by sampling and then bisecting to the second.
    """
    stretches = []
    stretch_start, offset = -math.inf, _offset_at(zone, lo)
    t = lo
    while t < hi:
        sample = min(t + _OFFSET_SAMPLE, hi)
        sampled = _offset_at(zone, sample)
        if sampled != offset:
            change = _first_second_with(zone, t, sample, sampled)
            stretches.append((stretch_start, float(change), offset))
            stretch_start, offset = float(change), sampled
        t = sample
    stretches.append((stretch_start, math.inf, offset))
    return stretches


def _first_second_with(zone: ZoneInfo, low: int, high: int, offset: float) -> int:
    # Invariant: the offset at `low` differs, the offset at `high` is `offset`.
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(zone, middle) == offset:
            high = middle
        else:
            low = middle
    return high


def _offset_at(zone: ZoneInfo, t: float) -> float:
    offset = datetime.fromtimestamp(t, zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset.total_seconds()


def _year_start(year: int) -> int:
    return (date(year, 1, 1) - _EPOCH_DATE).days * _DAY


def _utc_year(t: float) -> int:
    try:
        return datetime.fromtimestamp(t, UTC).year
    except (OverflowError, OSError, ValueError):
        return LAST_YEAR + 1 if t > 0 else FIRST_YEAR - 1


def _timeline(calendar: Calendar) -> _Timeline:
    timeline = calendar.cache.get("timeline")
    if timeline is None:
        timeline = calendar.cache.setdefault("timeline", _Timeline(calendar))
    return timeline


def _local(calendar: Calendar, t: float) -> datetime:
    return datetime.fromtimestamp(t, calendar.zone)


def _timestamp(value: datetime, name: str) -> float:
    if not isinstance(value, datetime):
        raise TypeError(f"{name}: expected a datetime, got {value!r}")
    if value.utcoffset() is None:
        raise ValueError(
            f"{name}: {value.isoformat()} has no time zone offset; "
            "business time needs an aware datetime"
        )
    return value.timestamp()


def _amount(amount: float, name: str) -> float:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"{name}: expected a number, got {amount!r}")
    if amount < 0:
        raise ValueError(f"{name} must not be negative, got {amount}")
    if not math.isfinite(amount):
        raise ValueError(f"{name} must be finite, got {amount}")
    return amount
