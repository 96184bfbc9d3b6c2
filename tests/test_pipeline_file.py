"""Pipeline files: parsing, every kind of problem with file:line:key, writing."""

from __future__ import annotations

import tomllib

import pytest

from dealgate.core import pipeline_file
from dealgate.core.pipeline_file import (
    CriterionSpec,
    HandoffSpec,
    PipelineFileError,
    dump_pipeline,
    format_window,
    load_pipeline_file,
    parse_pipeline,
    parse_window,
)
from dealgate.core.toml_lines import KeyLines
from dealgate.errors import ValidationError
from tests.conftest import REPO_ROOT

EXAMPLES = [
    REPO_ROOT / "examples" / "pipelines" / "it-services.toml",
    REPO_ROOT / "dealgate" / "demo" / "pipeline.toml",
]

BASE = """\
key = "new-business"
name = "New business"

[calendar]
timezone = "Europe/Berlin"

[calendar.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]

[[stages]]
key = "inquiry"
name = "Inquiry received"
buyer_action = "The buyer asked about a need"
owner = "deal-owner"
age_limit_days = 2
probability = 5
exit_criteria = [
  { label = "Need written down", rule = "deal.custom.need != null" },
]

[[stages]]
key = "discovery"
name = "Discovery call booked"
buyer_action = "The buyer accepted a discovery call at a set time"
owner = "user:alice"
age_limit_days = 5
probability = 20
entry_criteria = [ { label = "A slot is confirmed", rule = "deal.custom.c != null" } ]

[[handoffs]]
from = "lead"
to = "inquiry"
response_window = "15m"

[[handoffs]]
from = "inquiry"
to = "discovery"
response_window = "1d"
responsible = "team:Central"

[won]
criteria = [ { label = "Signed", rule = "deal.custom.signed == true" } ]

[[loss_reasons]]
key = "other"
label = "Other"
needs_note = true

[[custom_fields]]
key = "size"
label = "Company size"
type = "choice"
choices = ["small", "large"]

[[custom_fields]]
key = "need"
label = "Need"
type = "text"

[[custom_fields]]
key = "c"
label = "Call slot"
type = "date"

[[custom_fields]]
key = "signed"
label = "Signed"
type = "bool"
"""


def problems_of(text: str, filename: str = "p.toml") -> list[str]:
    with pytest.raises(PipelineFileError) as caught:
        parse_pipeline(text, filename)
    return [str(problem) for problem in caught.value.problems]


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing `fragment`."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[occurrence - 1]


def edited(old: str, new: str, occurrence: int = 1) -> str:
    assert BASE.count(old) >= occurrence, old
    parts = BASE.split(old)
    head = old.join(parts[:occurrence])
    return head + new + old.join(parts[occurrence:])


# --- reading -----------------------------------------------------------------


def test_a_valid_file_becomes_a_spec_with_stages_in_file_order():
    spec = parse_pipeline(BASE, "p.toml")

    assert spec.key == "new-business"
    assert spec.stage_keys() == ["inquiry", "discovery"]
    assert spec.stages[1].owner == "user:alice"
    assert spec.stages[0].exit_criteria == (
        CriterionSpec("Need written down", "deal.custom.need != null"),
    )
    assert spec.stages[0].exit_criteria_mode == "all"
    assert spec.summary() == "2 stages, 2 handoffs"


def test_defaults_fill_in_keys_a_file_leaves_out():
    spec = parse_pipeline(BASE, "p.toml")

    assert spec.currency == "USD"
    assert spec.description == ""
    assert spec.allow_skipping is False
    assert spec.bottleneck_share == 0.4
    assert spec.handoffs[0].responsible == "stage-owner"
    assert spec.loss_reasons[0].needs_note is True


def test_response_windows_become_business_minutes_of_the_calendar_day():
    spec = parse_pipeline(BASE, "p.toml")

    assert spec.handoffs[0].response_window_minutes == 15
    assert spec.handoffs[1].response_window_minutes == 8 * 60


def test_handoffs_are_kept_in_pipeline_order_whatever_the_file_order():
    text = BASE.replace('from = "lead"\nto = "inquiry"', 'from = "A"\nto = "B"')
    text = text.replace(
        'from = "inquiry"\nto = "discovery"', 'from = "lead"\nto = "inquiry"'
    )
    text = text.replace('from = "A"\nto = "B"', 'from = "inquiry"\nto = "discovery"')

    spec = parse_pipeline(text, "p.toml")

    assert [(h.from_stage, h.to_stage) for h in spec.handoffs] == [
        ("lead", "inquiry"),
        ("inquiry", "discovery"),
    ]
    assert spec.handoff_path(spec.handoffs[0]) == ("handoffs", 1)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_shipped_pipeline_files_are_valid(path):
    spec = load_pipeline_file(path)

    assert all(stage.owner for stage in spec.stages)
    assert all(stage.exit_criteria for stage in spec.stages)
    assert all(h.response_window_minutes for h in spec.handoffs)


def test_the_it_services_example_has_the_issue_stages_and_answers_leads_fast():
    spec = load_pipeline_file(EXAMPLES[0])

    assert spec.stage_keys() == [
        "inquiry",
        "discovery",
        "proposal",
        "review",
        "contract",
    ]
    first = HandoffSpec(
        "lead", "inquiry", 15, "stage-owner", breach={"escalate_after": "30m"}
    )
    assert first in spec.handoffs
    assert any(r.key == "other" and r.needs_note for r in spec.loss_reasons)


def test_the_demo_pipeline_uses_the_maven_stage_keys():
    spec = load_pipeline_file(EXAMPLES[1])

    assert spec.key == "maven-crm"
    assert spec.stage_keys() == ["prospecting", "engaging"]
    assert spec.calendar["timezone"] == "America/New_York"
    assert "not-recorded" in [reason.key for reason in spec.loss_reasons]


# --- problems ----------------------------------------------------------------


def test_a_problem_names_file_line_and_key():
    text = edited("age_limit_days = 5", "age_limit_days = -3")

    assert problems_of(text, "it-services.toml") == [
        f"it-services.toml:{line_of(text, 'age_limit_days = -3')}: "
        "stages[1].age_limit_days: must be a whole number of business days "
        "from 1 to 365, got -3"
    ]


def test_a_rule_that_does_not_compile_is_refused_with_line_and_reason():
    text = edited('rule = "deal.custom.need != null"', 'rule = "deal.custom.need !="')

    [problem] = problems_of(text, "it-services.toml")

    assert problem.startswith(
        f"it-services.toml:{line_of(text, 'deal.custom.need !=')}: "
        "stages[0].exit_criteria[0].rule: the rule does not compile: column"
    )


def test_a_rule_naming_an_unknown_deal_field_is_refused():
    text = edited("deal.custom.need != null", "deal.organizaton != null")

    [problem] = problems_of(text)

    assert "organizaton" in problem


def test_every_problem_of_a_file_is_reported_at_once_in_line_order():
    text = edited("age_limit_days = 5", "age_limit_days = 0")
    text = text.replace("probability = 5", "probability = 120")
    text = text.replace('key = "size"', 'key = "Size"')

    problems = problems_of(text)

    assert len(problems) == 3
    lines = [int(problem.split(":")[1]) for problem in problems]
    assert lines == sorted(lines)


def test_the_error_is_a_validation_error_whose_message_lists_the_problems():
    text = edited("probability = 20", "probability = -1")

    with pytest.raises(ValidationError) as caught:
        parse_pipeline(text, "p.toml")

    assert caught.value.code == "invalid_pipeline"
    assert caught.value.field == "stages[1].probability"
    assert caught.value.message.startswith("p.toml:")


def test_a_toml_syntax_error_names_the_file_and_line():
    text = BASE.replace('name = "Inquiry received"', 'name = "Inquiry received')

    [problem] = problems_of(text)

    line = line_of(text, 'name = "Inquiry received')
    assert problem.startswith(f"p.toml:{line}: not valid TOML: ")


def test_a_file_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    path = tmp_path / "p.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))

    spec, problems = pipeline_file.check_pipeline_file(path)

    assert problems == [] and spec is not None


def test_a_file_nested_too_deeply_is_one_problem_not_a_crash():
    text = "x = " + "[" * 5000 + "]" * 5000 + "\n"

    (problem,) = problems_of(text)

    assert (
        problem == "p.toml: not a pipeline: its tables or lists are nested too deeply"
    )


def test_a_missing_top_level_key_is_reported_on_line_one():
    text = BASE.replace('name = "New business"\n', "")

    assert problems_of(text) == ["p.toml:1: name: is required"]


def test_a_missing_stage_key_is_reported_where_its_table_starts():
    text = edited('owner = "user:alice"\n', "")

    [problem] = problems_of(text)

    line = line_of(text, "[[stages]]", occurrence=2)
    assert problem.startswith(f"p.toml:{line}: stages[1].owner: is required")


WINDOW = "handoffs[0].response_window"
CASES = [
    # (old text, new text, key named, words of the message)
    ('key = "new-business"', 'key = "New Business"', "key", "must be a slug"),
    ('key = "inquiry"', 'key = "won"', "stages[0].key", "reserved"),
    ('key = "discovery"', 'key = "inquiry"', "stages[1].key", "duplicate stage key"),
    ("probability = 20", "probability = 101", "stages[1].probability", "0 to 100"),
    ("probability = 20", 'probability = "20"', "stages[1].probability", 'got "20"'),
    ("age_limit_days = 5", "age_limit_days = 5.5", "stages[1].age_limit_days", "5.5"),
    ("age_limit_days = 5", "age_limit_days = 366", "stages[1].age_limit_days", "365"),
    ('owner = "user:alice"', 'owner = "alice"', "stages[1].owner", "deal-owner"),
    ('owner = "user:alice"', 'owner = "user:"', "stages[1].owner", "USERNAME"),
    ('owner = "user:alice"', 'owner = ""', "stages[1].owner", "TEAM NAME"),
    (
        'buyer_action = "The buyer asked about a need"',
        'buyer_action = ""',
        "stages[0].buyer_action",
        "must not be empty",
    ),
    ("probability = 20", "probability = 20\nowners = 1", "stages[1].owners", "unknown"),
    (
        'rule = "deal.custom.need != null"',
        'rule = ""',
        "stages[0].exit_criteria[0].rule",
        "must not be empty",
    ),
    (
        '{ label = "A slot is confirmed", rule = "deal.custom.c != null" }',
        '"A slot is confirmed"',
        "stages[1].entry_criteria[0]",
        "must be a table",
    ),
    (
        '{ label = "Need written down", rule = "deal.custom.need != null" },',
        '{ label = "Need written down", rule = "a" },\n  { label = "Need written down",'
        ' rule = "b" },',
        "stages[0].exit_criteria[1].label",
        "duplicate label",
    ),
    (
        "probability = 5",
        'probability = 5\nexit_criteria_mode = "some"',
        "stages[0].exit_criteria_mode",
        '"all" or "any"',
    ),
    ('from = "lead"', 'from = "web"', "handoffs[0].from", "lead"),
    ('to = "discovery"', 'to = "proposal"', "handoffs[1].to", "key of a stage"),
    ('to = "discovery"', 'to = "inquiry"', "handoffs[1].to", "another stage"),
    ('response_window = "15m"', 'response_window = "soon"', WINDOW, '"15m"'),
    ('response_window = "15m"', 'response_window = "0m"', WINDOW, "span"),
    ('response_window = "15m"', 'response_window = "366d"', WINDOW, "365d"),
    ('response_window = "15m"\n', "", "handoffs[0].response_window", "required"),
    (
        'responsible = "team:Central"',
        'responsible = "someone"',
        "handoffs[1].responsible",
        "stage-owner",
    ),
    (
        "[won]\n",
        '[[handoffs]]\nfrom = "lead"\nto = "inquiry"\nresponse_window = "1h"\n[won]\n',
        "handoffs[2]",
        'duplicate handoff "lead -> inquiry"',
    ),
    (
        'choices = ["small", "large"]',
        "choices = []",
        "custom_fields[0].choices",
        "needs",
    ),
    ('type = "choice"', 'type = "text"', "custom_fields[0].choices", "only fields"),
    ('type = "choice"', 'type = "list"', "custom_fields[0].type", '"choice"'),
    ('key = "size"', 'key = "company-size"', "custom_fields[0].key", "rules can use"),
    (
        'choices = ["small", "large"]',
        'choices = ["a", "a"]',
        "custom_fields[0].choices[1]",
        'duplicate choice "a"',
    ),
    (
        "needs_note = true",
        'needs_note = "yes"',
        "loss_reasons[0].needs_note",
        "true or",
    ),
    ('key = "other"', 'key = "Other reason"', "loss_reasons[0].key", "slug"),
    (
        'name = "New business"',
        'name = "New business"\ncurrency = "XYZ"',
        "currency",
        "ISO",
    ),
    (
        'name = "New business"',
        'name = "New business"\nbottleneck_share = 40',
        "bottleneck_share",
        "at most 1",
    ),
    (
        'name = "New business"',
        'name = "New business"\nstage = 1',
        "stage",
        "unknown key",
    ),
    ("[won]\n", "[won]\nlost = 1\n", "won.lost", "unknown key"),
    (
        'timezone = "Europe/Berlin"',
        'timezone = "Europe/Berlin"\nclosed_days = [2026-12-24]',
        "calendar.closed_days[0]",
        'quote it, like "2026-12-24"',
    ),
]


@pytest.mark.parametrize(("old", "new", "key", "words"), CASES)
def test_each_kind_of_problem_names_its_line_and_key(old, new, key, words):
    text = edited(old, new)

    problems = problems_of(text)

    matching = [p for p in problems if p.split(": ")[1] == key]
    assert matching, problems
    assert words in matching[0]
    line = int(matching[0].split(":")[1])
    assert 1 <= line <= text.count("\n") + 1


def test_a_stage_list_may_not_be_empty_or_missing():
    head = BASE[: BASE.index("[[stages]]")]

    problems = problems_of("stages = []\n" + head)
    assert any("stages: must hold at least one" in p for p in problems)

    problems = problems_of(head)
    assert any("stages: is required" in p for p in problems)


def test_a_missing_calendar_is_reported():
    text = BASE.replace('[calendar]\ntimezone = "Europe/Berlin"\n', "")
    text = text.replace('[calendar.hours]\nmon = ["09:00-17:00"]\n', "")
    text = text.replace('tue = ["09:00-17:00"]\n', "")

    assert "p.toml:1: calendar: is required" in problems_of(text)[0]


def test_a_bad_calendar_is_reported_at_the_key_the_calendar_names():
    text = BASE.replace('mon = ["09:00-17:00"]', 'mon = ["17:00-09:00"]')

    [problem] = problems_of(text)

    line = line_of(text, 'mon = ["17:00-09:00"]')
    assert problem.startswith(f"p.toml:{line}: calendar.hours.mon: ")


def test_an_unknown_time_zone_is_reported():
    text = BASE.replace("Europe/Berlin", "Europe/Atlantis")

    [problem] = problems_of(text)

    assert problem.startswith(f"p.toml:{line_of(text, 'Atlantis')}: calendar.timezone")
    assert "Europe/Atlantis" in problem


def test_without_the_calendar_module_only_the_time_zone_is_checked(monkeypatch):
    monkeypatch.setattr(pipeline_file, "_calendar_class", lambda: None)
    bad_zone = BASE.replace("Europe/Berlin", "Europe/Atlantis")
    bad_hours = BASE.replace('mon = ["09:00-17:00"]', 'mon = ["17:00-09:00"]')

    [problem] = problems_of(bad_zone)
    assert "calendar.timezone: unknown time zone" in problem
    assert parse_pipeline(bad_hours).key == "new-business"


def test_a_calendar_error_without_a_key_is_placed_at_the_calendar(monkeypatch):
    class Refusing:
        @classmethod
        def from_dict(cls, table):
            raise ValueError("no working time at all")

    monkeypatch.setattr(pipeline_file, "_calendar_class", lambda: Refusing)

    [problem] = problems_of(BASE)

    line = line_of(BASE, "[calendar]")
    assert problem == f"p.toml:{line}: calendar: no working time at all"


def test_a_missing_file_is_reported_by_name(tmp_path):
    missing = tmp_path / "nope.toml"

    with pytest.raises(PipelineFileError) as caught:
        load_pipeline_file(missing)

    assert str(caught.value).startswith(f"{missing}: ")


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(BASE.encode() + b"# caf\xe9\n")

    with pytest.raises(PipelineFileError) as caught:
        load_pipeline_file(path)

    assert str(caught.value) == f"{path}:{BASE.count(chr(10)) + 1}: is not UTF-8 text"


def test_lines_stay_right_after_multiline_strings_and_quoted_keys():
    text = edited(
        'buyer_action = "The buyer accepted a discovery call at a set time"',
        'buyer_action = """The buyer\naccepted a call"""\n"age_limit_days" = 0',
    ).replace("age_limit_days = 5\n", "")

    [problem] = problems_of(text)

    line = line_of(text, '"age_limit_days" = 0')
    assert problem.startswith(f"p.toml:{line}: ")


# --- windows and writing -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("15m", 15), ("2h", 120), ("1d", 480), ("2d", 960), ("1d 4h", 720), ("1h30m", 90)],
)
def test_windows_read_as_business_minutes(text, minutes):
    assert parse_window(text, day_minutes=480) == minutes


@pytest.mark.parametrize("text", ["", "15", "m", "0m", "-1h", "1w", "1.5h"])
def test_windows_that_are_not_spans_are_refused(text):
    with pytest.raises(ValueError):
        parse_window(text, day_minutes=480)


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(15, "15m"), (120, "2h"), (480, "1d"), (90, "90m"), (540, "9h")],
)
def test_windows_are_written_in_the_largest_whole_unit(minutes, text):
    assert format_window(minutes, day_minutes=480) == text


def test_one_day_is_the_median_working_day_of_the_calendar():
    text = BASE.replace(
        'tue = ["09:00-17:00"]', 'tue = ["09:00-13:00"]\nwed = ["09:00-17:00"]'
    )

    spec = parse_pipeline(text)

    assert spec.handoffs[1].response_window_minutes == 480


def test_one_day_of_an_always_open_calendar_is_24_hours():
    text = BASE.replace(
        '[calendar.hours]\nmon = ["09:00-17:00"]\ntue = ["09:00-17:00"]\n', ""
    )
    text = text.replace(
        'timezone = "Europe/Berlin"', 'timezone = "UTC"\nalways_open = true'
    )

    spec = parse_pipeline(text)

    assert spec.handoffs[1].response_window_minutes == 24 * 60


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_a_written_file_parses_back_to_an_equal_spec(path):
    spec = load_pipeline_file(path)

    written = dump_pipeline(spec)

    assert parse_pipeline(written, "written.toml") == spec
    assert dump_pipeline(parse_pipeline(written)) == written


def test_writing_keeps_odd_text_exactly():
    text = edited(
        'name = "Inquiry received"',
        'name = "Inquiry \\"received\\" \\\\ \\t tab \\u00e9"',
    ).replace(
        'name = "New business"',
        "name = 'New business'\ndescription = '''two\nlines'''",
    )
    spec = parse_pipeline(text)

    assert parse_pipeline(dump_pipeline(spec)) == spec


def test_written_files_carry_comments_that_point_to_the_format():
    written = dump_pipeline(parse_pipeline(BASE))

    assert written.startswith("# Dealgate pipeline file")
    assert "docs/pipeline-file.md" in written
    assert "age_limit_days = 2  # business days" in written
    assert '[calendar.hours]\nmon = ["09:00-17:00"]' in written


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_value_of_the_shipped_files_is_found_on_its_own_line(path):
    text = path.read_text(encoding="utf-8")
    lines = KeyLines(text)

    def walk(value, where):
        yield where
        if isinstance(value, dict | list):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                yield from walk(item, (*where, key))

    paths = [p for p in walk(tomllib.loads(text), ()) if p]
    assert all(p in lines for p in paths)
    if path.name == "it-services.toml":
        line = lines.line_of(("stages", 1, "exit_criteria", 2, "rule"))
        assert "The buyer named a decision date" in text.splitlines()[line - 1]


def test_windows_line_endings_do_not_shift_lines():
    text = edited("probability = 20", "probability = 200").replace("\n", "\r\n")

    [problem] = problems_of(text)

    assert problem.startswith(f"p.toml:{line_of(text, 'probability = 200')}: ")
