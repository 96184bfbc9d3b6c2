"""Smaller faults of pipeline files, each said in words that fit: a key set
twice, a range that holds no time, holiday codes in lower case, activity
kinds in any case, and breach spans that mean the same."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.core.calendar import Calendar
from dealgate.core.criteria import CriteriaSet, Criterion, check_rule, evaluate
from dealgate.core.pipeline_file import parse_pipeline, same_breach
from dealgate.pipelines.services import apply_pipeline, get_pipeline
from tests.test_pipeline_file import BASE, edited, line_of, problems_of
from tests.test_pipeline_file_rules import with_rules

# --- a key set twice -----------------------------------------------------------


def test_a_key_set_twice_in_a_table_is_named_with_its_first_line():
    text = edited("probability = 5\n", 'probability = 5\nowner = "user:bob"\n')

    assert problems_of(text) == [
        f'p.toml:{line_of(text, "user:bob")}: not valid TOML: key "owner" is set '
        f"twice in table [[stages]] (first at line {line_of(text, 'deal-owner')}); "
        "a key is set once per table"
    ]


def test_a_key_set_twice_at_the_top_says_so():
    text = BASE.replace('name = "New business"\n', 'name = "A"\nname = "B"\n', 1)

    assert problems_of(text) == [
        'p.toml:3: not valid TOML: key "name" is set twice at the top of the file '
        "(first at line 2); a key is set once per table"
    ]


def test_a_table_declared_twice_is_named():
    text = BASE + "\n[won]\ncriteria = []\n"

    [problem] = problems_of(text)

    assert problem.endswith("not valid TOML: table [won] is declared twice")


# --- ranges that hold no time ------------------------------------------------


@pytest.mark.parametrize("written", ["00:00-00:00", "09:00-09:00"])
def test_a_range_that_ends_when_it_starts_says_so(written):
    text = edited('mon = ["09:00-17:00"]', f'mon = ["{written}"]')

    [problem] = problems_of(text)

    assert problem.endswith(
        f"calendar.hours.mon: range {written} ends when it starts, so it holds no "
        'time (a whole day is "00:00-24:00"; leave a closed day out)'
    )


def test_a_range_that_ends_before_it_starts_still_says_that():
    text = edited('mon = ["09:00-17:00"]', 'mon = ["17:00-09:00"]')

    [problem] = problems_of(text)

    assert "range 17:00-09:00 ends before it starts" in problem


# --- holiday codes in any case --------------------------------------------------


def test_holiday_codes_are_read_whatever_their_case_as_a_currency_is():
    holidays = 'holidays = { country = "de", subdivision = "be" }\n'
    text = edited(
        'timezone = "Europe/Berlin"\n', f'timezone = "Europe/Berlin"\n{holidays}'
    ).replace('name = "New business"\n', 'name = "New business"\ncurrency = "eur"\n')

    spec = parse_pipeline(text)

    calendar = Calendar.from_dict(spec.calendar)
    assert spec.currency == "EUR"
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("DE", "BE")
    assert dt.date(2026, 3, 8) in calendar.holidays_in(2026)  # Berlin only


def test_an_unknown_holiday_country_is_still_refused_by_name():
    text = edited(
        'timezone = "Europe/Berlin"\n',
        'timezone = "Europe/Berlin"\nholidays = { country = "zz" }\n',
    )

    [problem] = problems_of(text)

    assert problem.endswith("calendar.holidays.country: unknown country 'ZZ'")


# --- activity kinds in any case -------------------------------------------------


def test_an_activity_kind_is_matched_whatever_its_case_as_docs_say():
    activity = {"kind": "meeting", "tag": "discovery", "done": True, "at": None}
    rules = ['held("Meeting")', 'held("MEETING", "Discovery")']

    assert [check_rule(rule) for rule in rules] == [None, None]
    evaluation = evaluate(
        CriteriaSet(items=[Criterion(rule, rule) for rule in rules]),
        {"activities": [activity]},
    )
    assert [result.met for result in evaluation.results] == [True, True]


def test_a_kind_compared_with_a_kind_field_must_be_lower_case_and_says_so():
    # Only held() reads its kind in any case; `a.kind == "Meeting"` would
    # never be met, so it is refused with the spelling that works.
    assert check_rule('activities.exists(a, a.kind == "Meeting")') == (
        "column 32: unknown activity kind 'Meeting' (kinds are stored in lower "
        "case: write 'meeting')"
    )


def test_a_misspelt_kind_in_capitals_is_still_refused():
    assert check_rule('held("Meting")') == (
        "column 6: unknown activity kind 'Meting' (did you mean 'meeting'?)"
    )


# --- breach spans compared by what they mean ------------------------------------


def test_spans_are_compared_in_business_minutes_of_the_working_day():
    assert same_breach({"escalate_after": "1d"}, {"escalate_after": "8h"}, 480)
    assert same_breach(
        {"sequence": [{"after": "1d", "task": "Call"}]},
        {"sequence": [{"after": "480m", "task": "Call"}]},
        480,
    )
    assert not same_breach({"escalate_after": "1d"}, {"escalate_after": "8h"}, 600)


def test_an_eight_hour_span_for_one_working_day_is_no_change_on_apply(
    db, olivia, alice, team
):
    apply_pipeline(parse_pipeline(with_rules()))

    plan = apply_pipeline(
        parse_pipeline(
            with_rules().replace('escalate_after = "1d"', 'escalate_after = "8h"')
        )
    )

    assert plan.lines() == ["no changes"]
    assert get_pipeline("new-business").settings["breach"]["escalate_after"] == "1d"


def test_a_span_that_changes_its_length_is_still_planned(db, olivia, alice, team):
    apply_pipeline(parse_pipeline(with_rules()))
    text = with_rules().replace('escalate_after = "1d"', 'escalate_after = "9h"')

    plan = apply_pipeline(parse_pipeline(text))

    assert 'escalate_after "1d" -> "9h"' in "\n".join(plan.lines())
    assert get_pipeline("new-business").settings["breach"]["escalate_after"] == "9h"
