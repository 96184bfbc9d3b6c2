"""Applying breach and routing rules from a pipeline file, and exporting them."""

from __future__ import annotations

import pytest

from dealgate.core.pipeline_file import PipelineFileError, dump_pipeline, parse_pipeline
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import (
    apply_pipeline,
    export_pipeline,
    get_pipeline,
    plan_pipeline,
)
from tests.test_pipeline_file import BASE, line_of
from tests.test_pipeline_file_rules import with_rules


@pytest.fixture
def people(olivia, alice, team):
    """Everyone the files name: alice owns a stage, Central and olivia route."""
    return olivia, alice, team


@pytest.fixture
def applied(db, people):
    apply_pipeline(parse_pipeline(with_rules()))
    return get_pipeline("new-business")


def test_applying_writes_the_rules_where_clocks_and_routing_read_them(applied):
    breach = applied.settings["breach"]

    assert breach["escalate_after"] == "1d"
    assert breach["next_steps"] == {"on_breach": ["notify"]}
    assert breach["stages"] == {
        "discovery": {
            "on_breach": ["mark_at_risk", "sequence"],
            "task": "Chase the call",
        }
    }
    assert breach["handoffs"] == {"lead->inquiry": {"escalate_after": "30m"}}
    assert [rule["name"] for rule in applied.settings["routing"]] == [
        "DACH",
        "everyone else",
    ]
    assert applied.settings["routing"][0]["to"] == "team:Central"


def test_an_applied_file_with_rules_exports_to_an_equal_spec(applied):
    spec = parse_pipeline(with_rules())

    exported = export_pipeline(applied)

    assert exported == spec
    assert parse_pipeline(dump_pipeline(exported)) == spec


def test_applying_the_same_rules_twice_changes_nothing(applied):
    plan = apply_pipeline(parse_pipeline(with_rules()))

    assert plan.lines() == ["no changes"]


def test_the_plan_names_rule_changes_in_words(applied):
    text = (
        with_rules()
        .replace('escalate_after = "30m"', 'escalate_after = "1h"')
        .replace('task = "Follow up"', 'task = "Call back"')
        .replace('name = "DACH"', 'name = "German speaking"')
    )

    lines = apply_pipeline(parse_pipeline(text)).lines()

    assert lines == [
        'change breach rules: task "Follow up" -> "Call back"; handoff '
        'lead->inquiry escalate_after "30m" -> "1h"',
        'change routing rules: add "German speaking"; remove "DACH"',
    ]
    assert get_pipeline("new-business").settings["breach"]["task"] == "Call back"


def _reordered(value):
    """`value` with every table's keys the other way round, as a database
    may hand JSON back in its own order (PostgreSQL's jsonb sorts them)."""
    if isinstance(value, dict):
        return {key: _reordered(item) for key, item in reversed(value.items())}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


def _rule_lines(plan) -> list[str]:
    return [
        line
        for change in plan.changes
        if "breach" in change.text
        for line in (change.line(), change.line(page=True))
    ]


def test_the_plan_names_rule_changes_in_one_order_however_the_table_reads_back(
    applied,
):
    text = (
        with_rules()
        .replace("age_limit_days = 2\n", 'age_limit_days = 2\ntask = "Read it"\n', 1)
        .replace('escalate_after = "1d"', 'escalate_after = "2d"')
        .replace('task = "Follow up"', 'task = "Call back"')
        .replace('task = "Chase the call"', 'task = "Chase them"')
        .replace('escalate_after = "30m"', 'escalate_after = "1h"')
    )

    as_written = _rule_lines(plan_pipeline(parse_pipeline(text)))
    Pipeline.objects.filter(pk=applied.pk).update(settings=_reordered(applied.settings))
    read_back = _rule_lines(plan_pipeline(parse_pipeline(text)))

    assert read_back == as_written
    assert as_written[0] == (
        'change breach rules: escalate_after "1d" -> "2d", task "Follow up" -> '
        '"Call back"; stage \'inquiry\' task default -> "Read it"; stage '
        '\'discovery\' task "Chase the call" -> "Chase them"; handoff '
        'lead->inquiry escalate_after "30m" -> "1h"'
    )


def test_a_span_written_another_way_is_no_change_beside_a_real_one(applied):
    # 8h is the working day of 09:00-17:00 that 1d was.
    text = (
        with_rules()
        .replace('escalate_after = "1d"', 'escalate_after = "8h"')
        .replace('task = "Follow up"', 'task = "Call back"')
    )

    (line, page) = _rule_lines(plan_pipeline(parse_pipeline(text)))

    assert line == 'change breach rules: task "Follow up" -> "Call back"'
    assert "escalate after" not in page


def test_the_default_actions_written_out_are_no_change_from_none_written(db, people):
    apply_pipeline(
        parse_pipeline(
            with_rules().replace(
                'on_breach = ["mark_at_risk", "notify", "escalate"]\n', "", 1
            )
        )
    )

    plan = plan_pipeline(parse_pipeline(with_rules()))

    assert _rule_lines(plan) == []


def test_a_file_without_rules_clears_them(applied):
    plan = apply_pipeline(parse_pipeline(BASE))

    settings = get_pipeline("new-business").settings
    assert "breach" not in settings
    assert "routing" not in settings
    assert plan.lines() == [
        "change breach rules: remove all (the clocks use their defaults)",
        'change routing rules: remove "DACH"; remove "everyone else"',
    ]


def test_a_routing_rule_naming_an_unknown_person_is_refused_at_its_line(db, people):
    text = with_rules().replace('to = "user:olivia"', 'to = "user:olivai"')

    with pytest.raises(PipelineFileError) as caught:
        apply_pipeline(parse_pipeline(text, "p.toml"))

    assert [str(p) for p in caught.value.problems] == [
        f"p.toml:{line_of(text, 'olivai')}: routing[1].to: no active user 'olivai'"
        "; edit [[routing]] to name your own team or person"
    ]
    assert caught.value.field == "routing[1].to"


def test_a_routing_rule_naming_an_unknown_team_is_refused(db, olivia, alice):
    # alice's team is Central; a rule for another team names nobody.
    text = with_rules().replace('to = "team:Central"', 'to = "team:North"')

    with pytest.raises(PipelineFileError) as caught:
        apply_pipeline(parse_pipeline(text, "p.toml"))

    assert "routing[0].to: no team 'North'" in str(caught.value)


def test_settings_the_file_does_not_own_survive_applying_rules(applied):
    applied.settings = {**applied.settings, "board_columns": 4}
    applied.save()

    apply_pipeline(parse_pipeline(BASE))

    assert get_pipeline("new-business").settings == {
        "bottleneck_share": 0.4,
        "board_columns": 4,
    }
