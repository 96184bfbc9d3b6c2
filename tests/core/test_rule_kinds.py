"""Rules that compile but can never give true or false are refused, read from
their tree against the kinds of what a rule sees, never run on a deal."""

from __future__ import annotations

import pytest

from dealgate.core.criteria import check_rule, rule_problem
from dealgate.core.rule_types import kind_of

FIELDS = {"budget": "number", "need": "text", "signed": "bool", "due": "date"}


def refusal(rule: str, fields: dict[str, str] | None = FIELDS) -> str:
    problem = rule_problem(rule, fields)
    assert problem is not None, rule
    assert problem.never_met
    return str(problem)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("1 + 1", "column 1: the rule gives a number, never true or false"),
        ("deal.title", "column 1: the rule gives text, never true or false"),
        ("deal.value", "the rule gives a number"),
        ("deal.expected_close_date", "the rule gives a date or time"),
        ("activities.filter(a, a.done)", "the rule gives a list"),
        ("deal.custom.budget", "the rule gives a number"),
    ],
)
def test_a_rule_that_gives_no_true_or_false_is_refused(rule, words):
    assert words in refusal(rule)


def test_both_branches_of_a_condition_must_give_true_or_false():
    assert refusal('deal.value > 5.0 ? held("call") : "no"') == (
        "column 35: the rule gives text, never true or false"
    )
    assert check_rule('deal.value > 5.0 ? held("call") : true') is None


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("deal.value > 'abc'", "column 12: '>' compares a number with text"),
        ("deal.title == 5", "'==' compares text with a number: they are never equal"),
        ("now > 5", "'>' compares a date or time with a number"),
        ("deal.value > null", "'>' cannot compare with null (only == and != can)"),
        ("deal.title in [1, 2]", "'in' looks for text among a number"),
        ("deal.title in 5", "'in' needs a list or a map after it, not a number"),
        ("deal.value * 2 > 10.0", "cannot compute a decimal number * a whole number"),
        ("'a' + 1 == 'a1'", "cannot compute text + a whole number"),
        ("deal.title && true", "each side of && must be true or false, not text"),
        ("!deal.value", "what ! negates must be true or false, not a number"),
        ("deal.title.size", "text has no field 'size'"),
    ],
)
def test_values_of_kinds_that_cannot_meet_are_refused_where_they_meet(rule, words):
    assert words in refusal(rule)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("held('meeting', 5)", "column 17: held()'s tag must be text, not a number"),
        ("held(1)", "held()'s activity kind must be text, not a number"),
        ("held()", 'held() takes 1 or 2 values, as in held("meeting") or held('),
        ("held('call', 'a', 'b')", "it was given 3"),
        ('days("7") < now - now', "days() takes a number, not text"),
        ("date(20260715) < now", "what date() reads must be text, not a number"),
        ("deal.title.startsWith(1)", "what startsWith() looks for must be text"),
        ("deal.value.startsWith('1')", "startsWith() is for text, not a number"),
        ("now.getHours('Europe/Berlin') > 9", "getHours() takes 0 values"),
        ("size(deal.value) > 0", "size() is for text, a list or a map, not a number"),
        ("activities.exists(a, a.tag)", "the test of exists() must be true or false"),
    ],
)
def test_a_function_given_the_wrong_number_or_kind_of_values_is_refused(rule, words):
    assert words in refusal(rule)


@pytest.mark.parametrize(
    "rule",
    [
        "deal.value != null && deal.value >= 50000",
        "deal.value * 2.0 > 10000",
        'deal.value != null && deal.value >= 50000 ? held("meeting", "md") : true',
        'activities.exists(a, a.tag == "x" && a.done && now - a.at >= duration("48h"))',
        "deal.expected_close_date != null && deal.expected_close_date <= today "
        "+ days(30)",
        "now - deal.stage_entered_at < days(14)",
        'deal.custom.need in ["a", "b"] && checklist.nda && size(deal.title) > 3',
        "deal.custom.budget >= 5000 && deal.custom.signed",
        'deal.custom.due < date("2026-07-15")',
        "activities.filter(a, a.kind == 'meeting' && a.done).size() >= 2",
        "activities.map(a, a.tag).exists(t, t.startsWith('demo'))",
        "has(deal.custom.need) && deal.owner == null",
        "size(activities) > 0u",
        "deal.custom['budget'] > 10",
        "dyn(deal.title) > 5",
        "type(deal.value) == double",
        "int(deal.value) % 2 == 0",
        "[1, 2].all(n, n > 0)",
        "{'a': true}.a",
        "now.getDayOfWeek() < 5 && now.getHours() >= 9",
        "-deal.value < 0",
        "!(deal.value > 5)",
    ],
)
def test_rules_whose_kinds_fit_are_accepted(rule):
    assert check_rule(rule, FIELDS) is None


def test_the_kinds_of_custom_fields_follow_the_types_given():
    assert check_rule("deal.custom.budget > 5000", FIELDS) is None
    as_text = {**FIELDS, "budget": "text"}

    assert refusal("deal.custom.budget > 5000", as_text) == (
        "column 20: '>' compares text with a number, which fails on every deal"
    )


def test_custom_fields_named_without_types_may_be_anything():
    assert check_rule("deal.custom.budget > 5000", ["budget"]) is None
    assert check_rule("deal.custom.budget > 5000") is None


def test_a_rule_that_does_not_compile_is_not_marked_never_met():
    problem = rule_problem("deal.value >")

    assert problem is not None and not problem.never_met


def test_the_kind_of_a_rule_names_what_it_gives():
    assert kind_of("deal.value + 1.0").name == "double"
    assert kind_of("now - deal.created_at").name == "duration"
    assert kind_of("activities.map(a, a.at)").item.name == "timestamp"
    assert kind_of("deal.custom.x", {"x": "date"}).name == "timestamp"


def test_a_condition_whose_branches_are_both_lists_still_gives_a_list():
    assert refusal("!(deal.value > 1.0 ? [1] : activities)") == (
        "column 3: what ! negates must be true or false, not a list"
    )


def test_nesting_deeper_than_the_checker_reads_is_left_to_the_rule_engine():
    assert check_rule("!" * 1000 + "true") is None
