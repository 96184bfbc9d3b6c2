"""Texts a rule hands the rule engine to read (a duration, a time, a number,
a pattern) are read when the pipeline is validated, by the engine itself, so
a rule that would fail on every deal is refused with a hint; what fails only
at run time is said in words, never in the engine's own debug text."""

from __future__ import annotations

import pytest

from dealgate.core.criteria import (
    CriteriaSet,
    Criterion,
    check_rule,
    describe,
    evaluate,
    rule_problem,
)


@pytest.mark.parametrize(
    ("rule", "column", "words"),
    [
        (
            'now - deal.created_at > duration("2d")',
            34,
            "duration() cannot read '2d': CEL durations are written in hours, "
            'minutes or seconds, like "48h" or "30m" (for days write days(2))',
        ),
        ('now - deal.created_at > duration("1w")', 34, "(for days write days(7))"),
        ('now - deal.created_at > duration("14 days")', 34, "write days(14))"),
        (
            'now > timestamp("2026-07-15")',
            17,
            "timestamp() cannot read '2026-07-15': it takes a full time with its "
            'zone, like "2026-07-15T09:00:00Z" (for a day write date("2026-07-15")',
        ),
        ('now > timestamp("2026-07-15T09:00:00")', 17, "with its zone"),
        ('now > timestamp("yesterday")', 17, "timestamp() cannot read 'yesterday'"),
        (
            'deal.title.matches("[")',
            20,
            "matches() cannot use the pattern '[': unclosed character class",
        ),
        (
            'deal.title.matches("(?<=A)cme")',
            20,
            "matches() cannot use the pattern '(?<=A)cme': look-around, including "
            "look-ahead and look-behind, is not supported",
        ),
        ('int("abc") > 1', 5, "int() cannot read 'abc' as a whole number"),
        ('uint("-1") > 1u', 6, "uint() cannot read '-1' as a whole number of 0"),
        ('double("1,5") > 1.0', 8, "double() cannot read '1,5' as a decimal number"),
    ],
)
def test_a_text_the_engine_cannot_read_is_refused_where_it_is_written(
    rule, column, words
):
    problem = rule_problem(rule)

    assert problem is not None
    assert problem.column == column
    assert words in problem.reason
    assert "Error {" not in problem.reason


def test_a_refusal_on_a_later_line_names_that_line():
    problem = rule_problem('held("call") &&\n  now > timestamp("July")')

    assert (problem.line, problem.column) == (2, 19)


@pytest.mark.parametrize(
    "rule",
    [
        'now - deal.created_at > duration("48h")',
        'now - deal.created_at > duration("1h30m")',
        'now > timestamp("2026-07-15T09:00:00Z")',
        'now > timestamp("2026-07-15T09:00:00+02:00")',
        'deal.title.matches("^(Acme|Globex)")',
        "deal.title.matches(r'\\d+')",
        'int("12") + 1 > 3',
        'double("1.5") < 2.0',
        # A text in a string is not a call: left alone.
        'deal.title == "duration(\\"2d\\")"',
    ],
)
def test_texts_the_engine_reads_are_accepted(rule):
    assert check_rule(rule) is None


def test_a_text_read_from_a_field_at_run_time_fails_in_plain_words():
    criteria = CriteriaSet(
        items=[
            Criterion("Window", "duration(deal.title) > days(1)"),
            Criterion("Pattern", "'x'.matches(deal.title + '[')"),
        ]
    )

    evaluation = evaluate(criteria, {"deal": {"title": "2d"}})

    assert describe(evaluation) == [
        "✗ Window (could not be checked: duration() was given text it cannot "
        'read as a duration (written like "48h" or "30m"))',
        "✗ Pattern (could not be checked: matches() was given a pattern it "
        "cannot use: unclosed character class)",
    ]


def test_a_remainder_of_decimal_numbers_is_refused_as_what_cel_lacks():
    problem = rule_problem("deal.value % 2.0 == 0.0")

    assert problem.reason == (
        "cannot compute a decimal number % a decimal number (CEL has % for whole "
        "numbers only, not for decimal numbers)"
    )


def test_a_remainder_of_decimal_numbers_at_run_time_says_the_same():
    criteria = CriteriaSet(items=[Criterion("Even", "dyn(deal.value) % 2.0 == 0.0")])

    [line] = describe(evaluate(criteria, {"deal": {"value": 4.0}}))

    assert "CEL has % for whole numbers only" in line


@pytest.mark.parametrize(
    "rule",
    [
        "deal.value != null ? deal.value > 5.0 : null",
        "deal.value == null ? null : deal.value > 5.0",
    ],
)
def test_a_null_branch_beside_one_that_can_be_met_is_accepted(rule):
    assert check_rule(rule) is None


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("deal.value != null ? null : null", "the rule gives null"),
        ("deal.value != null ? 1 : null", "the rule gives a number"),
    ],
)
def test_a_condition_that_can_never_give_true_or_false_is_still_refused(rule, words):
    assert words in check_rule(rule)


@pytest.mark.parametrize("test", ["startsWith", "endsWith", "contains"])
def test_a_text_tested_against_a_tag_is_read_in_lower_case(test):
    criteria = CriteriaSet(
        items=[Criterion("Tag", f'activities.exists(a, a.tag.{test}("MEET"))')]
    )
    activities = [{"kind": "call", "tag": "meet", "done": True, "at": None}]

    [result] = evaluate(criteria, {"activities": activities}).results

    assert result.met


def test_a_tag_pattern_asking_for_capitals_is_refused_with_a_lower_case_hint():
    problem = rule_problem('activities.exists(a, a.tag.matches("^M"))')

    assert problem.column == 36
    assert problem.reason == (
        "the tag pattern '^M' asks for capital letters, but tags are stored in "
        "lower case (write '^m', or start the pattern with (?i))"
    )


@pytest.mark.parametrize("pattern", ["^m", "(?i)^M", "^m\\\\D", "^m\\\\S+"])
def test_a_tag_pattern_that_can_match_lower_case_is_accepted(pattern):
    assert check_rule(f'activities.exists(a, a.tag.matches("{pattern}"))') is None


def test_a_null_branch_taken_at_run_time_is_unmet_without_an_error():
    criteria = CriteriaSet(
        items=[Criterion("Big", "deal.value != null ? deal.value > 5.0 : null")]
    )

    empty = evaluate(criteria, {"deal": {"value": None}})
    big = evaluate(criteria, {"deal": {"value": 9.0}})

    assert describe(empty) == ["✗ Big"]
    assert describe(big) == ["✓ Big"]
