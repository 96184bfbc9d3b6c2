"""One check of a pipeline file lists every problem, calendar, routing and
criteria rules too."""

from __future__ import annotations

import pytest

from dealgate.core.pipeline_file import check_pipeline, check_pipeline_file
from tests.conftest import REPO_ROOT
from tests.test_pipeline_file import BASE, edited, line_of, problems_of

SHIPPED = sorted((REPO_ROOT / "examples" / "pipelines").glob("*.toml")) + [
    REPO_ROOT / "dealgate" / "demo" / "pipeline.toml"
]

BAD_CALENDAR = """\
[calendar]
timezone = "Europe/Berln"
closed_days = ["2026-12-24", "soon", "2026-13-01"]
colour = "red"

[calendar.hours]
mon = ["09:00-17:00"]
tue = ["17:00-09:00"]
funday = ["09:00-10:00"]

[calendar.short_days]
"2026-12-23" = ["09:00-25:00"]
"""


def with_calendar(calendar: str) -> str:
    start = BASE.index("[calendar]")
    end = BASE.index("[[stages]]")
    return BASE[:start] + calendar + "\n" + BASE[end:]


def test_every_calendar_key_is_checked_alongside_the_rest_of_the_file():
    text = with_calendar(BAD_CALENDAR).replace(
        "age_limit_days = 5", "age_limit_days = 0"
    )

    def at(fragment: str, key: str, reason: str) -> str:
        return f"p.toml:{line_of(text, fragment)}: {key}: {reason}"

    assert problems_of(text) == [
        at("Europe/Berln", "calendar.timezone", "unknown time zone 'Europe/Berln'"),
        at("soon", "calendar.closed_days[1]", "'soon' is not a date like '2026-12-24'"),
        at(
            "soon",
            "calendar.closed_days[2]",
            "'2026-13-01' is not a date like '2026-12-24'",
        ),
        at("colour", "calendar.colour", "unknown key"),
        at(
            "17:00-09:00",
            "calendar.hours.tue",
            "range 17:00-09:00 ends before it starts "
            "(a range cannot run past midnight)",
        ),
        at(
            "funday",
            "calendar.hours.funday",
            "unknown weekday (use mon, tue, wed, thu, fri, sat, sun)",
        ),
        at(
            "09:00-25:00",
            "calendar.short_days.2026-12-23",
            "'09:00-25:00' has no time 25:00",
        ),
        at(
            "age_limit_days = 0",
            "stages[1].age_limit_days",
            "must be a whole number of business days from 1 to 365, got 0",
        ),
    ]


def test_an_unquoted_date_does_not_hide_the_calendars_other_problems():
    text = with_calendar(
        "[calendar]\n"
        'timezone = "Europe/Berln"\n'
        'closed_days = ["2026-12-24", 2026-12-31]\n'
        "[calendar.hours]\n"
        'mon = ["13:30-27:30"]\n'
    )

    found = problems_of(text)

    assert any(
        "calendar.closed_days[1]: TOML dates and times are not kept" in p for p in found
    )
    assert any("calendar.timezone: unknown time zone" in p for p in found)
    assert any("calendar.hours.mon" in p and "27:30" in p for p in found)


def test_a_missing_time_zone_is_reported_with_bad_hours():
    text = with_calendar('[calendar.hours]\nmon = ["9-17"]\n')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, '[calendar.hours]')}: calendar.timezone: "
        "required, e.g. 'Europe/Berlin'",
        f"p.toml:{line_of(text, '9-17')}: calendar.hours.mon: "
        "'9-17' is not a range like '09:00-17:00'",
    ]


def test_what_only_the_whole_calendar_can_say_is_said_once_its_keys_read():
    text = with_calendar(
        '[calendar]\ntimezone = "Europe/Berlin"\nalways_open = true\n'
        '[calendar.hours]\nmon = ["09:00-17:00"]\n'
    )

    assert problems_of(text) == [
        f"p.toml:{line_of(text, '[calendar.hours]')}: calendar.hours: "
        "must be absent when calendar.always_open is true"
    ]


def test_each_routing_table_is_checked_on_its_own():
    text = (
        BASE
        + '\n[[routing]]\nname = "first"\nto = "someone"\n'
        + '\n[[routing]]\nname = "second"\nto = "user:x"\nhow = "weighted"\n'
        + '\n[[routing]]\nname = "third"\nto = "team:North"\n'
    )

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'someone')}: routing[0].to: expected "
        '"user:USERNAME", "team:TEAM NAME" or a list of "user:USERNAME", '
        "got 'someone'",
        f"p.toml:{line_of(text, 'weighted')}: routing[1].how: "
        "a rule for one person has no rotation",
    ]


def test_rules_between_tables_are_checked_once_each_table_reads():
    text = (
        BASE
        + '\n[[routing]]\nname = "all"\nto = "user:x"\n'
        + '\n[[routing]]\nname = "All"\nto = "user:y"\n'
    )

    [problem] = problems_of(text)

    assert problem.endswith("routing[1].name: 'All' is used by an earlier rule")


def test_a_file_with_problems_still_gives_the_names_it_uses_for_later_checks():
    text = BASE.replace("age_limit_days = 5", "age_limit_days = 0")

    spec, problems = check_pipeline(text, "p.toml")

    assert [p.path for p in problems] == [("stages", 1, "age_limit_days")]
    assert spec is not None
    assert spec.stages[1].owner == "user:alice"


def test_a_syntax_error_gives_no_spec():
    spec, problems = check_pipeline("key = ", "p.toml")

    assert spec is None
    assert [p.line for p in problems] == [1]


# --- criteria rules that could never be met -----------------------------------


def test_a_rule_reading_a_custom_field_the_file_does_not_define_is_refused():
    text = edited("deal.custom.need != null", "deal.custom.nede != null")

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'nede')}: stages[0].exit_criteria[0].rule: "
        "the rule does not compile: column 13: the pipeline has no custom field "
        "'nede' (did you mean 'need'?)"
    ]


def test_a_rule_naming_an_activity_kind_that_does_not_exist_is_refused():
    text = edited("deal.custom.c != null", "held('meting', 'discovery')")

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'meting')}: stages[1].entry_criteria[0].rule: "
        "the rule does not compile: column 6: unknown activity kind 'meting' "
        "(did you mean 'meeting'?)"
    ]


def test_every_rule_that_could_never_be_met_is_reported_in_one_run():
    text = (
        BASE.replace("deal.custom.need != null", "deal.custom.nede != null")
        .replace("deal.custom.c != null", "held('meting')")
        .replace("deal.custom.signed == true", "deal.custom.sined == true")
        .replace('key = "other"', 'key = "Other"')
    )

    problems = problems_of(text)

    assert [problem.split(": ")[1] for problem in problems] == [
        "stages[0].exit_criteria[0].rule",
        "stages[1].entry_criteria[0].rule",
        "won.criteria[0].rule",
        "loss_reasons[0].key",
    ]
    assert "'nede' (did you mean 'need'?)" in problems[0]
    assert "'meting' (did you mean 'meeting'?)" in problems[1]
    assert "'sined' (did you mean 'signed'?)" in problems[2]


def test_an_unknown_name_without_a_close_match_lists_what_exists():
    text = edited("deal.custom.c != null", "deal.custom.budget != null")

    [problem] = problems_of(text)

    assert problem.endswith(
        "the pipeline has no custom field 'budget' (its custom fields are c, "
        "need, signed, size)"
    )


def test_activity_tags_are_free_text():
    text = edited("deal.custom.c != null", "held('meeting', 'any tag at all')")

    spec, problems = check_pipeline(text, "p.toml")

    assert problems == []
    assert spec is not None


def test_rules_are_not_refused_for_custom_fields_when_their_table_is_broken():
    start = BASE.index("[[custom_fields]]")
    text = 'custom_fields = "x"\n' + BASE[:start]

    assert [problem.split(": ")[1] for problem in problems_of(text)] == [
        "custom_fields"
    ]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_pipeline_files_have_no_problems(path):
    spec, problems = check_pipeline_file(path)

    assert [str(problem) for problem in problems] == []
    assert spec is not None


@pytest.mark.parametrize(
    "written, shown",
    [
        ("12", "12"),
        ('"XYZ"', '"XYZ"'),
        ('"EURO"', '"EURO"'),
        ("true", "true"),
        ('["EUR"]', "an array"),
    ],
)
def test_a_currency_that_is_no_iso_code_is_one_problem_naming_its_line(written, shown):
    text = edited(
        'name = "New business"', f'name = "New business"\ncurrency = {written}'
    )

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'currency')}: currency: must be an ISO 4217 "
        f'currency code like "USD", got {shown}'
    ]


@pytest.mark.parametrize(
    "old, new, key, message",
    [
        ('key = "new-business"', 'key = "  "', "key", "must not be empty"),
        ('key = "inquiry"', 'key = " "', "stages[0].key", "must not be empty"),
        ('key = "other"', 'key = " "', "loss_reasons[0].key", "must not be empty"),
        ('key = "need"', 'key = " "', "custom_fields[1].key", "must not be empty"),
        (
            'rule = "deal.custom.signed == true"',
            'rule = " "',
            "won.criteria[0].rule",
            "must not be empty",
        ),
        ('from = "lead"', 'from = " "', "handoffs[0].from", "must not be empty"),
        (
            "[won]",
            "[breach]\ncolour = 1\n\n[won]",
            "breach.colour",
            "unknown key; expected one of",
        ),
    ],
)
def test_a_key_gets_one_problem_not_one_per_check_of_the_refused_value(
    old, new, key, message
):
    text = edited(old, new)

    found = [p for p in problems_of(text) if f": {key}: " in p]

    assert len(found) == 1, found
    assert message in found[0]


SPAN = 'a business-time span like "15m", "2h" or "1d", from 1m to 365d'


@pytest.mark.parametrize(
    ("window", "shown"),
    [
        ('"0m"', '"0m"'),
        ('"0d 0h"', '"0d 0h"'),
        ('"366d"', '"366d"'),
        ('"soon"', '"soon"'),
        ("15", "15"),
    ],
)
def test_a_response_window_refused_states_the_range_it_must_lie_in(window, shown):
    text = edited('response_window = "15m"', f"response_window = {window}")

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'response_window = ' + window)}: "
        f"handoffs[0].response_window: must be {SPAN}, got {shown}"
    ]


def test_a_missing_response_window_states_the_range_too():
    text = edited('response_window = "15m"\n', "")

    assert problems_of(text)[0].endswith(
        f"handoffs[0].response_window: is required: every handoff has {SPAN}"
    )


@pytest.mark.parametrize("window", ['"1m"', '"365d"', '"364d 8h"'])
def test_a_response_window_at_either_end_of_the_range_is_taken(window):
    spec, problems = check_pipeline(
        edited('response_window = "15m"', f"response_window = {window}")
    )

    assert problems == []
    assert spec is not None and spec.handoffs[0].response_window_minutes > 0
