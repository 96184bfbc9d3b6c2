"""Business time: the hand-checked cases, the calendar file format, and edges."""

import csv
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dealgate.core import business_time as bt
from dealgate.core.calendar import Calendar, CalendarError

CASES_DIR = Path(__file__).parents[2].parent / "shared" / "cases"

MON_FRI_9_17 = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}

# The six calendars of cases/README.md, written as pipeline-file tables.
CALENDARS = {
    "berlin": {
        "timezone": "Europe/Berlin",
        "hours": MON_FRI_9_17,
        "holidays": {"country": "DE", "subdivision": "BE"},
    },
    "berlin_team": {
        "timezone": "Europe/Berlin",
        "hours": MON_FRI_9_17,
        "holidays": {"country": "DE", "subdivision": "BE"},
        "closed_days": ["2026-12-24", "2026-12-31"],
        "short_days": {"2026-12-23": ["09:00-13:00"]},
    },
    "newyork_split": {
        "timezone": "America/New_York",
        "hours": {
            day: ["09:00-12:00", "13:00-17:00"]
            for day in ("mon", "tue", "wed", "thu", "fri")
        },
        "holidays": {"country": "US"},
    },
    "sydney": {
        "timezone": "Australia/Sydney",
        "hours": {day: ["08:30-17:30"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "AU", "subdivision": "NSW"},
    },
    "kolkata_sat": {
        "timezone": "Asia/Kolkata",
        "hours": {
            **{day: ["10:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
            "sat": ["10:00-14:00"],
        },
    },
    "always_berlin": {"timezone": "Europe/Berlin", "always_open": True},
}


def calendar(name: str) -> Calendar:
    return Calendar.from_dict(CALENDARS[name])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def read_cases() -> list[dict[str, str]]:
    with (CASES_DIR / "business_time.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


CASES = read_cases()


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_hand_checked_case(case: dict[str, str]) -> None:
    cal = calendar(case["calendar"])
    start = at(case["start"])

    def run() -> object:
        if case["op"] == "add":
            return bt.add(cal, start, int(case["minutes"]))
        assert case["op"] == "between", case["op"]
        return bt.between(cal, start, at(case["end"]))

    if case["expected"] == "error":
        with pytest.raises(ValueError, match=r"\w+"):
            run()
        return
    result = run()
    if case["op"] == "add":
        assert result == at(case["expected"]), case["note"]
        assert result.tzinfo == cal.zone, "results come back in the calendar's zone"
    else:
        assert result == int(case["expected"]), case["note"]


def test_every_case_row_is_collected() -> None:
    assert len(CASES) >= 33
    assert {case["calendar"] for case in CASES} <= set(CALENDARS)


# --- refusals name what is wrong ---------------------------------------------


def test_negative_duration_is_refused_naming_the_duration() -> None:
    with pytest.raises(ValueError, match="duration must not be negative, got -5"):
        bt.add(calendar("berlin"), at("2026-03-10T10:00:00+01:00"), -5)


def test_end_before_start_is_refused_naming_both_instants() -> None:
    with pytest.raises(ValueError, match="end 2026-03-09T10:00:00\\+01:00 is before"):
        bt.between(
            calendar("berlin"),
            at("2026-03-10T10:00:00+01:00"),
            at("2026-03-09T10:00:00+01:00"),
        )


@pytest.mark.parametrize(
    "call",
    [
        lambda cal, naive: bt.add(cal, naive, 5),
        lambda cal, naive: bt.between(cal, naive, naive),
        lambda cal, naive: bt.is_open(cal, naive),
        lambda cal, naive: bt.next_opening(cal, naive),
        lambda cal, naive: bt.ages_in_business_days(cal, [naive], naive),
    ],
    ids=["add", "between", "is_open", "next_opening", "ages"],
)
def test_naive_instants_are_refused_everywhere(call) -> None:
    with pytest.raises(ValueError, match="time zone offset"):
        call(calendar("berlin"), datetime(2026, 3, 10, 10))


def test_a_naive_start_among_many_is_refused() -> None:
    starts = [datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 10)]
    with pytest.raises(ValueError, match="starts: every instant"):
        bt.ages_in_business_days(calendar("berlin"), starts, starts[0])


@pytest.mark.parametrize("minutes", [float("nan"), float("inf")])
def test_non_finite_duration_is_refused(minutes: float) -> None:
    with pytest.raises(ValueError, match="duration must be"):
        bt.add(calendar("berlin"), at("2026-03-10T10:00:00+01:00"), minutes)


def test_a_boolean_is_not_a_duration() -> None:
    with pytest.raises(TypeError, match="duration: expected a number"):
        bt.add(calendar("berlin"), at("2026-03-10T10:00:00+01:00"), True)


def test_instants_outside_the_kept_years_are_refused() -> None:
    with pytest.raises(ValueError, match="years 1900 to 2199"):
        bt.is_open(calendar("berlin"), datetime(1850, 1, 1, tzinfo=UTC))


def test_an_addition_running_past_the_kept_years_is_refused() -> None:
    with pytest.raises(ValueError, match="this needs 2200"):
        bt.add(calendar("always_berlin"), at("2199-12-31T12:00:00+00:00"), 24 * 60)


# --- zero, open, next opening ------------------------------------------------


def test_zero_minutes_inside_hours_is_due_at_once() -> None:
    start = at("2026-03-10T10:00:00.123456+01:00")
    assert bt.add(calendar("berlin"), start, 0) == start


def test_zero_minutes_outside_hours_is_due_at_next_opening() -> None:
    saturday = at("2026-03-07T11:00:00+01:00")
    assert bt.add(calendar("berlin"), saturday, 0) == at("2026-03-09T09:00:00+01:00")


def test_zero_minutes_at_closing_is_due_at_next_opening() -> None:
    closing = at("2026-06-10T17:00:00+02:00")
    assert bt.add(calendar("berlin"), closing, 0) == at("2026-06-11T09:00:00+02:00")


def test_a_vanishing_duration_after_closing_is_due_at_next_opening() -> None:
    # Found by hypothesis: 1e-130 minutes is lost when added to a float total,
    # which once sent the due time back to the closing before the start.
    after_closing = at("2025-01-06T17:00:00.000001+01:00")
    due = bt.add(calendar("berlin"), after_closing, 1e-130)
    assert due == at("2025-01-07T09:00:00+01:00")


def test_opening_is_open_and_closing_is_not() -> None:
    cal = calendar("newyork_split")
    assert bt.is_open(cal, at("2026-03-02T09:00:00-05:00"))
    assert bt.is_open(cal, at("2026-03-02T11:59:59-05:00"))
    assert not bt.is_open(cal, at("2026-03-02T12:00:00-05:00"))
    assert bt.is_open(cal, at("2026-03-02T13:00:00-05:00"))
    assert not bt.is_open(cal, at("2026-03-02T17:00:00-05:00"))


def test_holidays_and_weekends_are_closed() -> None:
    cal = calendar("berlin")
    assert not bt.is_open(cal, at("2026-04-03T10:00:00+02:00"))  # Good Friday
    assert not bt.is_open(cal, at("2026-03-07T10:00:00+01:00"))  # Saturday


def test_next_opening_skips_the_lunch_break_and_keeps_the_calendar_zone() -> None:
    cal = calendar("newyork_split")
    opening = bt.next_opening(cal, at("2026-03-02T17:15:00+00:00"))
    assert opening == at("2026-03-02T13:00:00-05:00")
    assert opening.tzinfo == ZoneInfo("America/New_York")


def test_next_opening_when_open_is_the_instant_itself() -> None:
    start = at("2026-03-10T10:00:00+01:00")
    assert bt.next_opening(calendar("berlin"), start) == start


def test_next_opening_finds_the_next_year() -> None:
    cal = calendar("berlin_team")
    # 31 Dec closed by the team, 1 Jan a holiday, then a Saturday and a Sunday.
    assert bt.next_opening(cal, at("2026-12-30T17:00:00+01:00")) == at(
        "2027-01-04T09:00:00+01:00"
    )


# --- daylight saving inside working hours -------------------------------------


def night_shift(zone: str) -> Calendar:
    return Calendar.from_dict(
        {"timezone": zone, "hours": {day: ["00:00-06:00"] for day in ("sun", "mon")}}
    )


def test_a_skipped_hour_inside_working_hours_is_not_worked() -> None:
    # Berlin skips 02:00-03:00 on Sunday 29 March 2026.
    cal = night_shift("Europe/Berlin")
    worked = bt.between(
        cal, at("2026-03-29T00:00:00+01:00"), at("2026-03-29T12:00:00+02:00")
    )
    assert worked == 5 * 60


def test_a_repeated_hour_inside_working_hours_is_worked_twice() -> None:
    # Berlin shows 02:00-03:00 twice on Sunday 25 October 2026.
    cal = night_shift("Europe/Berlin")
    worked = bt.between(
        cal, at("2026-10-25T00:00:00+02:00"), at("2026-10-25T12:00:00+01:00")
    )
    assert worked == 7 * 60


def test_a_range_opening_at_a_skipped_time_opens_when_the_clock_jumps() -> None:
    cal = Calendar.from_dict(
        {"timezone": "Europe/Berlin", "hours": {"sun": ["02:30-04:00"]}}
    )
    opening = bt.next_opening(cal, at("2026-03-29T00:00:00+01:00"))
    assert opening == at("2026-03-29T03:00:00+02:00")
    assert bt.add(cal, opening, 60) == at("2026-03-29T04:00:00+02:00")


def test_a_working_day_keeps_its_length_when_the_change_is_at_night() -> None:
    cal = Calendar.from_dict(
        {"timezone": "Europe/Berlin", "hours": {"sun": ["09:00-17:00"]}}
    )
    start = at("2026-03-29T00:00:00+01:00")
    assert bt.between(cal, start, start + timedelta(days=1)) == 8 * 60


def test_a_zone_changing_at_midnight_never_shows_the_skipped_hour() -> None:
    # Santiago jumped from 00:00 to 01:00 on Sunday 6 September 2026.
    cal = Calendar.from_dict(
        {
            "timezone": "America/Santiago",
            "hours": {"sat": ["23:00-24:00"], "sun": ["00:00-02:00"]},
        }
    )
    saturday, monday = (
        datetime(2026, 9, 5, tzinfo=UTC),
        datetime(2026, 9, 8, tzinfo=UTC),
    )
    assert bt.between(cal, saturday, monday) == 2 * 60
    assert bt.next_opening(cal, at("2026-09-06T04:00:00+00:00")) == at(
        "2026-09-06T01:00:00-03:00"
    )


# --- business days ---------------------------------------------------------------


def test_a_business_day_is_the_standard_working_day() -> None:
    assert calendar("berlin").day_minutes == 480
    assert calendar("newyork_split").day_minutes == 420
    # A Saturday half day does not shrink the business day.
    assert calendar("kolkata_sat").day_minutes == 480
    assert calendar("always_berlin").day_minutes == 24 * 60


def test_friday_afternoon_to_monday_morning_is_a_quarter_day() -> None:
    age = bt.business_days_between(
        calendar("berlin"),
        at("2026-03-06T16:00:00+01:00"),
        at("2026-03-09T10:00:00+01:00"),
    )
    assert age == 0.25


def test_one_business_day_from_inside_hours_is_the_same_time_next_working_day() -> None:
    due = bt.add_business_days(calendar("berlin"), at("2026-04-02T10:00:00+02:00"), 1)
    assert due == at("2026-04-07T10:00:00+02:00")  # over Easter


def test_one_business_day_after_friday_closing_is_due_at_monday_closing() -> None:
    due = bt.add_business_days(calendar("berlin"), at("2026-03-06T18:00:00+01:00"), 1)
    assert due == at("2026-03-09T17:00:00+01:00")


def test_added_business_days_measure_back_as_the_same_days() -> None:
    cal = calendar("kolkata_sat")
    start = at("2026-05-14T15:20:00+05:30")
    due = bt.add_business_days(cal, start, 4.5)
    assert bt.business_days_between(cal, start, due) == 4.5


def test_negative_business_days_are_refused() -> None:
    with pytest.raises(ValueError, match="days must not be negative"):
        bt.add_business_days(calendar("berlin"), at("2026-03-10T10:00:00+01:00"), -1)


def test_batch_ages_match_one_at_a_time() -> None:
    cal = calendar("newyork_split")
    now = at("2026-12-15T11:00:00-05:00")
    starts = [now - timedelta(hours=7 * k + 0.5) for k in range(400)]
    ages = bt.ages_in_business_days(cal, starts, now)
    expected = [bt.business_days_between(cal, s, now) for s in starts]
    assert ages == pytest.approx(expected, abs=1e-9)


def test_batch_ages_reach_into_earlier_years() -> None:
    cal = calendar("berlin")
    now = at("2026-01-05T09:00:00+01:00")
    ages = bt.ages_in_business_days(cal, [at("2024-12-31T17:00:00+01:00")], now)
    assert ages == [bt.business_days_between(cal, at("2025-01-01T00:00:00Z"), now)]


def test_a_batch_start_after_now_gives_a_negative_age() -> None:
    cal = calendar("berlin")
    now = at("2026-03-09T10:00:00+01:00")
    later = at("2026-03-09T13:00:00+01:00")
    assert bt.ages_in_business_days(cal, [later], now) == [-3 / 8]


def test_an_empty_batch_gives_no_ages() -> None:
    now = at("2026-03-09T10:00:00+01:00")
    assert bt.ages_in_business_days(calendar("berlin"), [], now) == []


# --- the calendar table -----------------------------------------------------------


def test_a_calendar_table_round_trips() -> None:
    for name, table in CALENDARS.items():
        cal = Calendar.from_dict(table)
        assert Calendar.from_dict(cal.to_dict()) == cal, name
        assert cal.to_dict() == table, name


def test_a_calendar_in_use_can_be_pickled() -> None:
    cal = calendar("berlin")
    bt.is_open(cal, at("2026-03-10T10:00:00+01:00"))  # fills its cache
    copy = pickle.loads(pickle.dumps(cal))
    assert copy == cal
    assert bt.add(copy, at("2026-04-02T16:00:00+02:00"), 180) == at(
        "2026-04-07T11:00:00+02:00"
    )


def test_office_hours_is_monday_to_friday_nine_to_five() -> None:
    cal = Calendar.office_hours("Europe/Berlin")
    assert cal.to_dict() == {"timezone": "Europe/Berlin", "hours": MON_FRI_9_17}


def test_round_the_clock_counts_every_hour() -> None:
    cal = Calendar.round_the_clock("UTC")
    start = at("2026-03-07T23:30:00+00:00")
    assert bt.add(cal, start, 90) == at("2026-03-08T01:00:00+00:00")


def test_ranges_are_kept_in_order() -> None:
    cal = Calendar.from_dict(
        {"timezone": "UTC", "hours": {"mon": ["13:30-17:00", "09:00-12:30"]}}
    )
    assert cal.to_dict()["hours"] == {"mon": ["09:00-12:30", "13:30-17:00"]}


def test_a_short_day_opens_a_public_holiday() -> None:
    table = {**CALENDARS["berlin"], "short_days": {"2026-04-03": ["10:00-12:00"]}}
    cal = Calendar.from_dict(table)
    assert bt.is_open(cal, at("2026-04-03T11:00:00+02:00"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"hours": {"mon": ["09:00-12:00", "11:00-13:00"]}},
            "calendar.hours.mon: ranges 09:00-12:00 and 11:00-13:00 overlap",
        ),
        (
            {"timezone": "Mars/Base"},
            "calendar.timezone: unknown time zone 'Mars/Base'",
        ),
        (
            {"holidays": {"country": "XX"}},
            "calendar.holidays.country: unknown country 'XX'",
        ),
        (
            {"holidays": {"country": "DE", "subdivision": "ZZ"}},
            "calendar.holidays.subdivision: unknown subdivision 'ZZ' for DE",
        ),
        ({"hours": {}}, "calendar: no working time at all"),
        (
            {"hours": {"mon": ["9-17"]}},
            "calendar.hours.mon: '9-17' is not a range like '09:00-17:00'",
        ),
        (
            {"hours": {"tue": ["09:60-17:00"]}},
            "calendar.hours.tue: '09:60-17:00' has no time 09:60",
        ),
        (
            {"hours": {"wed": ["17:00-09:00"]}},
            "calendar.hours.wed: range 17:00-09:00 ends before it starts",
        ),
        (
            {"hours": {"thu": ["24:00-24:00"]}},
            "calendar.hours.thu: '24:00-24:00' starts at 24:00",
        ),
        (
            {"hours": {"monday": ["09:00-17:00"]}},
            "calendar.hours.monday: unknown weekday",
        ),
        ({"hours": {"mon": "09:00-17:00"}}, "calendar.hours.mon: expected a list"),
        ({"always_open": True}, "calendar.hours: must be absent"),
        ({"always_open": "yes"}, "calendar.always_open: expected true or false"),
        ({"closed_days": ["2026-13-01"]}, "calendar.closed_days: '2026-13-01'"),
        (
            {"short_days": {"2026-12-23": ["13:00-12:00"]}},
            'calendar.short_days."2026-12-23": range 13:00-12:00 ends before',
        ),
        (
            {"short_days": {"Christmas": ["09:00-12:00"]}},
            "calendar.short_days.\"Christmas\": 'Christmas' is not a date",
        ),
        (
            {"closed_days": ["2026-12-23"], "short_days": {"2026-12-23": []}},
            "also in calendar.closed_days",
        ),
        ({"holiday": {"country": "DE"}}, "calendar.holiday: unknown key"),
        ({"holidays": {"subdivision": "BE"}}, "calendar.holidays.country: required"),
    ],
)
def test_an_invalid_calendar_names_the_key(change: dict, message: str) -> None:
    with pytest.raises(CalendarError) as refused:
        Calendar.from_dict({**CALENDARS["berlin"], **change})
    assert message in str(refused.value)


def test_a_calendar_without_a_zone_is_refused() -> None:
    with pytest.raises(CalendarError, match="calendar.timezone: required"):
        Calendar.from_dict({"hours": MON_FRI_9_17})


def test_a_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)
