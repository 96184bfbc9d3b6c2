"""A pipeline file whose rule can never give true or false is refused at
validate and apply, naming the file, the line, the stage and the criterion."""

from __future__ import annotations

import pytest

from dealgate.cli import main
from dealgate.core.pipeline_file import parse_pipeline
from dealgate.pipelines.models import Pipeline
from tests.test_pipeline_file import edited, line_of, problems_of

NEED_RULE = 'rule = "deal.custom.need != null"'


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("1 + 1", "column 1: the rule gives a number, never true or false"),
        ("deal.title", "column 1: the rule gives text, never true or false"),
        ("held('meeting', 5)", "column 17: held()'s tag must be text, not a number"),
        (
            "deal.value > 'abc'",
            "column 12: '>' compares a number with text, which fails on every deal",
        ),
    ],
)
def test_an_exit_rule_that_cannot_give_true_or_false_is_refused_by_name(rule, why):
    text = edited(NEED_RULE, f'rule = "{rule}"')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, rule)}: stages[0].exit_criteria[0].rule: exit "
        f"criterion 'Need written down' of stage 'inquiry' can never be met: {why}"
    ]


def test_entry_and_won_rules_are_held_to_the_same_check():
    text = edited('rule = "deal.custom.c != null"', 'rule = "deal.custom.c"')
    text = text.replace('rule = "deal.custom.signed == true"', 'rule = "1"')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'deal.custom.c')}: stages[1].entry_criteria[0].rule: "
        "entry criterion 'A slot is confirmed' of stage 'discovery' can never be "
        "met: column 1: the rule gives a date or time, never true or false",
        f"p.toml:{line_of(text, 'Signed')}: won.criteria[0].rule: won criterion "
        "'Signed' can never be met: column 1: the rule gives a number, never true "
        "or false",
    ]


def test_a_rule_is_checked_against_the_types_the_file_gives_its_fields():
    rule = 'rule = "deal.custom.size == 2"'
    text = edited(NEED_RULE, rule)

    assert problems_of(text) == [
        f"p.toml:{line_of(text, rule)}: stages[0].exit_criteria[0].rule: exit "
        "criterion 'Need written down' of stage 'inquiry' can never be met: "
        "column 18: '==' compares text with a number: they are never equal"
    ]


def test_changing_a_fields_type_refuses_a_rule_that_uses_it_the_old_way():
    text = edited(NEED_RULE, 'rule = "deal.custom.signed"')
    assert parse_pipeline(text)

    changed = text.replace('type = "bool"', 'type = "number"')

    assert problems_of(changed) == [
        f"p.toml:{line_of(changed, 'deal.custom.signed')}: "
        "stages[0].exit_criteria[0].rule: exit criterion 'Need written down' of "
        "stage 'inquiry' can never be met: column 1: the rule gives a number, "
        "never true or false",
        f"p.toml:{line_of(changed, 'Signed')}: won.criteria[0].rule: won "
        "criterion 'Signed' can never be met: column 20: '==' compares a number "
        "with true or false: they are never equal",
    ]


@pytest.fixture
def bool_rule_applied(db, alice, tmp_path):
    """BASE with a rule that reads the bool field "signed", applied."""
    path = tmp_path / "p.toml"
    path.write_text(edited(NEED_RULE, 'rule = "deal.custom.signed"'))
    assert main(["pipeline", "apply", str(path)]) == 0
    return path


def test_apply_refuses_a_type_change_a_rule_cannot_follow_and_keeps_the_old(
    bool_rule_applied, capsys
):
    path = bool_rule_applied
    path.write_text(path.read_text().replace('type = "bool"', 'type = "number"'))
    capsys.readouterr()

    status = main(["pipeline", "apply", str(path)])

    assert status == 1
    assert "exit criterion 'Need written down' of stage 'inquiry' can never be " in (
        capsys.readouterr().err
    )
    pipeline = Pipeline.objects.get(key="new-business")
    types = {field["key"]: field["type"] for field in pipeline.custom_fields}
    assert types["signed"] == "bool"


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (
            "now - deal.created_at > duration('2d')",
            "column 34: duration() cannot read '2d': CEL durations are written in "
            'hours, minutes or seconds, like "48h" or "30m" (for days write days(2))',
        ),
        (
            "deal.title.matches('(?<=A)cme')",
            "column 20: matches() cannot use the pattern '(?<=A)cme': look-around, "
            "including look-ahead and look-behind, is not supported",
        ),
    ],
)
def test_a_text_the_rule_engine_cannot_read_is_refused_by_name(rule, why):
    text = edited(NEED_RULE, f'rule = "{rule}"')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, rule)}: stages[0].exit_criteria[0].rule: exit "
        f"criterion 'Need written down' of stage 'inquiry' can never be met: {why}"
    ]


def test_apply_refuses_a_timestamp_without_its_zone(tmp_path, capsys, db):
    rule = "now > timestamp('2026-07-15')"
    path = tmp_path / "p.toml"
    path.write_text(edited(NEED_RULE, f'rule = "{rule}"'), encoding="utf-8")

    status = main(["pipeline", "apply", str(path)])

    assert status == 1
    err = capsys.readouterr().err
    assert f"p.toml:{line_of(path.read_text(), rule)}: stages[0]" in err
    assert "timestamp() cannot read '2026-07-15'" in err
    assert not Pipeline.objects.exists()
