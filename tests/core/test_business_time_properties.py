"""Business time against a minute-by-minute reference, on generated calendars."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dealgate.core import business_time as bt
from dealgate.core.calendar import WEEKDAYS, Calendar

# Zones with daylight saving at 02:00, at midnight, by 30 minutes, with odd
# offsets, in the southern hemisphere, and none at all.
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "UTC",
]
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
LAST = datetime(2028, 12, 31, tzinfo=UTC)
SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def format_minute(minute: int) -> str:
    return f"{minute // 60:02}:{minute % 60:02}"


@st.composite
def day_ranges(draw: st.DrawFn) -> list[str]:
    # Boundaries on a 15-minute grid; pairs of sorted distinct points are
    # ordered, non-overlapping ranges (touching ones included).
    points = draw(
        st.lists(st.integers(0, 96), min_size=0, max_size=6, unique=True).map(sorted)
    )
    points = points[: len(points) // 2 * 2]
    return [
        f"{format_minute(a * 15)}-{format_minute(b * 15)}"
        for a, b in zip(points[::2], points[1::2], strict=True)
    ]


some_dates = st.dates(date(2025, 1, 1), date(2028, 12, 31))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    table: dict = {"timezone": draw(st.sampled_from(ZONES))}
    if draw(st.integers(0, 9)) == 0:
        table["always_open"] = True
    else:
        hours = {day: draw(day_ranges()) for day in WEEKDAYS}
        hours = {day: ranges for day, ranges in hours.items() if ranges}
        table["hours"] = hours or {"mon": ["09:00-17:00"]}
    holidays = draw(st.sampled_from([None, ("DE", "BE"), ("US", None)]))
    if holidays is not None:
        country, subdivision = holidays
        table["holidays"] = {"country": country}
        if subdivision:
            table["holidays"]["subdivision"] = subdivision
    closed = draw(st.lists(some_dates, max_size=3, unique=True))
    short = draw(st.dictionaries(some_dates, day_ranges(), max_size=3))
    if closed:
        table["closed_days"] = sorted(d.isoformat() for d in closed)
    short = {d.isoformat(): r for d, r in sorted(short.items()) if d not in closed}
    if short:
        table["short_days"] = short
    return Calendar.from_dict(table)


def instants(resolution: timedelta = timedelta(microseconds=1)) -> st.SearchStrategy:
    steps = int((LAST - FIRST) / resolution)
    return st.integers(0, steps).map(lambda n: FIRST + n * resolution)


whole_minutes = instants(timedelta(minutes=1))


def worked_by_the_clock(cal: Calendar, at: datetime) -> bool:
    """The definition itself: the wall clock shows a time inside a range."""
    local = at.astimezone(cal.zone)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in cal.ranges_on(local.date()))


def reference_between(cal: Calendar, start: datetime, end: datetime) -> int:
    # Every zone above changes its offset on a whole minute, so whole minutes
    # are enough to measure whole-minute spans exactly.
    minutes = int((end - start) / timedelta(minutes=1))
    return sum(
        worked_by_the_clock(cal, start + timedelta(minutes=k)) for k in range(minutes)
    )


def offset_changes(zone: str) -> list[datetime]:
    """Hours at which `zone` changes its offset, 2025-2028, found hour by hour."""
    tz, changes = ZoneInfo(zone), []
    hour, previous = FIRST, FIRST.astimezone(ZoneInfo(zone)).utcoffset()
    while hour < LAST:
        hour += timedelta(hours=1)
        offset = hour.astimezone(tz).utcoffset()
        if offset != previous:
            changes.append(hour)
        previous = offset
    return changes


# Spans near offset changes and new year, where the index is built in pieces.
HARD_PLACES = {zone: offset_changes(zone) for zone in ZONES}
NEW_YEARS = [datetime(year, 1, 1, tzinfo=UTC) for year in range(2026, 2029)]


@st.composite
def calendars_and_spans(draw: st.DrawFn) -> tuple[Calendar, datetime, datetime]:
    cal = draw(calendars())
    places = HARD_PLACES[cal.timezone] + NEW_YEARS
    near = draw(st.sampled_from(places))
    start = near + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 24 * 60)))
    return cal, start, start + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60)))


@SETTINGS
@given(cal=calendars(), start=whole_minutes, span=st.integers(0, 4 * 24 * 60))
def test_between_counts_what_the_clock_shows(
    cal: Calendar, start: datetime, span: int
) -> None:
    end = start + timedelta(minutes=span)
    assert bt.between(cal, start, end) == reference_between(cal, start, end)


@SETTINGS
@given(case=calendars_and_spans())
def test_between_counts_what_the_clock_shows_across_offset_changes(
    case: tuple[Calendar, datetime, datetime],
) -> None:
    cal, start, end = case
    assert bt.between(cal, start, end) == reference_between(cal, start, end)


@SETTINGS
@given(case=calendars_and_spans())
def test_add_matches_the_clock_across_offset_changes(
    case: tuple[Calendar, datetime, datetime],
) -> None:
    cal, start, end = case
    worked = reference_between(cal, start, end)
    if worked:
        due = bt.add(cal, start, worked)
        assert due <= end
        assert reference_between(cal, start, due) == worked


@SETTINGS
@given(cal=calendars(), at=whole_minutes)
def test_is_open_agrees_with_the_clock(cal: Calendar, at: datetime) -> None:
    assert bt.is_open(cal, at) == worked_by_the_clock(cal, at)


def within_reach(cal: Calendar, minutes: float) -> bool:
    """Whether `minutes` of work end well inside the years business time is
    kept for (to 2199) from a start before 2029: a calendar open a quarter of
    an hour a week needs centuries for 200,000 minutes."""
    if cal.always_open:
        return True
    weekly = sum(end - start for day in cal.hours for start, end in day)
    return minutes <= weekly * 52 * 100


@SETTINGS
@given(cal=calendars(), start=instants(), minutes=st.floats(0, 200_000))
def test_add_then_between_gives_the_duration_back(
    cal: Calendar, start: datetime, minutes: float
) -> None:
    assume(within_reach(cal, minutes))
    due = bt.add(cal, start, minutes)
    assert bt.between(cal, start, due) == pytest.approx(minutes, abs=1e-6)


@SETTINGS
@given(cal=calendars(), start=instants(), minutes=st.floats(0.001, 200_000))
def test_add_lands_in_working_hours_or_exactly_at_closing(
    cal: Calendar, start: datetime, minutes: float
) -> None:
    assume(within_reach(cal, minutes))
    due = bt.add(cal, start, minutes)
    just_before = due - timedelta(milliseconds=1)
    assert bt.is_open(cal, due) or bt.between(cal, just_before, due) > 0
    assert due.tzinfo == cal.zone


@SETTINGS
@given(cal=calendars(), start=instants(), minutes=st.floats(0, 30_000))
def test_add_is_the_earliest_such_instant(
    cal: Calendar, start: datetime, minutes: float
) -> None:
    due = bt.add(cal, start, minutes)
    earlier = due - timedelta(milliseconds=1)
    if minutes > 0 and earlier >= start:
        assert bt.between(cal, start, earlier) < minutes


@SETTINGS
@given(
    cal=calendars(),
    starts=st.tuples(instants(), instants()).map(sorted),
    minutes=st.floats(0, 100_000),
)
def test_a_later_start_is_never_due_earlier(
    cal: Calendar, starts: list[datetime], minutes: float
) -> None:
    early, late = starts
    assert bt.add(cal, early, minutes) <= bt.add(cal, late, minutes)


@SETTINGS
@given(
    cal=calendars(),
    start=instants(),
    durations=st.tuples(st.floats(0, 100_000), st.floats(0, 100_000)).map(sorted),
)
def test_a_longer_window_is_never_due_earlier(
    cal: Calendar, start: datetime, durations: list[float]
) -> None:
    short, long = durations
    assert bt.add(cal, start, short) <= bt.add(cal, start, long)


@SETTINGS
@given(cal=calendars(), points=st.lists(instants(), min_size=3, max_size=3))
def test_between_adds_up_over_a_split_point(
    cal: Calendar, points: list[datetime]
) -> None:
    a, b, c = sorted(points)
    whole = bt.between(cal, a, c)
    assert whole == pytest.approx(bt.between(cal, a, b) + bt.between(cal, b, c))


@SETTINGS
@given(cal=calendars(), starts=st.lists(instants(), max_size=20), now=instants())
def test_batch_ages_equal_one_at_a_time(
    cal: Calendar, starts: list[datetime], now: datetime
) -> None:
    ages = bt.ages_in_business_days(cal, starts, now)
    one_by_one = [
        bt.between(cal, min(s, now), max(s, now))
        / cal.day_minutes
        * (1 if s <= now else -1)
        for s in starts
    ]
    assert ages == pytest.approx(one_by_one, abs=1e-9)


@SETTINGS
@given(cal=calendars(), at=instants())
def test_next_opening_is_open_and_nothing_is_worked_before_it(
    cal: Calendar, at: datetime
) -> None:
    opening = bt.next_opening(cal, at)
    assert bt.is_open(cal, opening)
    assert bt.between(cal, at, opening) == 0


@SETTINGS
@given(cal=calendars())
def test_a_calendar_survives_its_own_table(cal: Calendar) -> None:
    assert Calendar.from_dict(cal.to_dict()) == cal


@SETTINGS
@given(start=instants(), minutes=st.floats(0, 100_000))
def test_round_the_clock_is_elapsed_time(start: datetime, minutes: float) -> None:
    cal = Calendar.round_the_clock(ZoneInfo("Europe/Berlin").key)
    due = bt.add(cal, start, minutes)
    assert (due - start) / timedelta(minutes=1) == pytest.approx(minutes, abs=1e-6)
