from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealgate.core.criteria import (
    CriteriaSet,
    Criterion,
    RuleError,
    check_rule,
    compile_rule,
    deal_context,
    describe,
    evaluate,
    refusal_message,
)

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)


def make_context(**changes: Any) -> dict[str, Any]:
    """A deal in "proposal" with a held discovery meeting and an open demo."""
    values: dict[str, Any] = {
        "title": "Acme ERP rollout",
        "value": Decimal("12500.00"),
        "currency": "EUR",
        "status": "open",
        "stage": "proposal",
        "owner": "alice",
        "organization": "Acme GmbH",
        "expected_close_date": dt.date(2026, 7, 31),
        "created_at": dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC),
        "stage_entered_at": dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC),
        "now": NOW,
        "custom": {"budget_confirmed": True, "seats": 40},
        "custom_fields": {
            "decision_date": "date",
            "budget_confirmed": "bool",
            "seats": "number",
        },
        "activities": [
            {"kind": "call", "tag": "intro", "done": True, "at": NOW},
            {"kind": "meeting", "tag": "discovery", "done": True, "at": NOW},
            {"kind": "meeting", "tag": "demo", "done": False, "at": NOW},
        ],
        "checklist": {"nda_signed": True, "pricing_approved": False},
    }
    values.update(changes)
    return deal_context(**values)


def check(rule: str, **changes: Any):
    """The single result of `rule` against the standard deal."""
    criteria = CriteriaSet("all", [Criterion("the rule", rule)])
    return evaluate(criteria, make_context(**changes)).results[0]


def holds(rule: str, **changes: Any) -> bool:
    result = check(rule, **changes)
    assert result.error is None, result.error
    return result.met


# Compiling


@pytest.mark.parametrize(
    ("rule", "column", "reason"),
    [
        ("deal.value >", 13, "the rule ends too early"),
        ("deal.value > 1 and true", 16, "unexpected 'and' (write &&)"),
        ("deal.value = 1", 12, "cannot read '='"),
        ('deal.title == "Acme', 15, "unclosed quote"),
        ("deal.value > 1)", 15, "unexpected ')'"),
    ],
)
def test_a_rule_that_does_not_parse_is_refused_with_reason_and_column(
    rule: str, column: int, reason: str
) -> None:
    with pytest.raises(RuleError) as raised:
        compile_rule(rule)

    assert raised.value.column == column
    assert reason in raised.value.reason
    assert str(raised.value).startswith(f"column {column}: ")


def test_an_error_in_a_multi_line_rule_names_its_line() -> None:
    with pytest.raises(RuleError) as raised:
        compile_rule('checklist.nda_signed &&\n  held("meeting") &&\n  (1 >)')

    assert (raised.value.line, raised.value.column) == (3, 7)
    assert str(raised.value) == "line 3, column 7: unexpected ')'"


@pytest.mark.parametrize(
    ("rule", "reason", "column"),
    [
        ("deals.value > 1", "unknown name 'deals'", 1),
        ("deal.valeu > 1", "a deal has no field 'valeu'", 6),
        ("checklist.x || lower(deal.title)", "unknown function 'lower'", 16),
        ("activities.all()", "unknown function 'all'", 12),
        ('deal.stage == "x" || deal.created_at < date("31.12.2026")', "date()", 40),
    ],
)
def test_names_functions_and_fields_that_do_not_exist_are_refused(
    rule: str, reason: str, column: int
) -> None:
    with pytest.raises(RuleError) as raised:
        compile_rule(rule)

    assert reason in raised.value.reason
    assert raised.value.column == column


def test_reading_activities_through_the_deal_is_refused_with_a_hint() -> None:
    with pytest.raises(RuleError) as raised:
        compile_rule("deal.activities.exists(a, a.done)")

    assert raised.value.reason == (
        "a deal has no field 'activities' (write activities, not deal.activities)"
    )


def test_text_in_quotes_and_comments_is_not_taken_for_code() -> None:
    rule = "deal.title != \"deal.nope date('x')\" // also deal.other, unknown()"

    assert check_rule(rule) is None


def test_names_bound_by_a_macro_are_not_unknown() -> None:
    rule = "activities.exists(act, act.done) && activities.map(x, x.tag).size() > 0"

    assert check_rule(rule) is None


@pytest.mark.parametrize(
    ("rule", "reason", "column"),
    [
        (
            "held('meting')",
            "unknown activity kind 'meting' (did you mean 'meeting'?)",
            6,
        ),
        (
            'activities.exists(a, a.kind == "cal" && a.done)',
            "unknown activity kind 'cal' (did you mean 'call'?)",
            32,
        ),
        (
            'activities.exists(a, a.kind in ["call", "emial"])',
            "unknown activity kind 'emial' (did you mean 'email'?)",
            41,
        ),
        (
            'activities.exists(a, "visit" == a.kind)',
            "unknown activity kind 'visit' (the kinds are call, email, meeting, "
            "note, task)",
            22,
        ),
        (
            "activities.exists(a, a.kidn == 'call')",
            "an activity has no field 'kidn' (did you mean 'kind'?)",
            24,
        ),
        ("deal.valeu > 1", "a deal has no field 'valeu' (did you mean 'value'?)", 6),
    ],
)
def test_activity_kinds_and_fields_and_deal_fields_that_do_not_exist_are_refused(
    rule: str, reason: str, column: int
) -> None:
    with pytest.raises(RuleError) as raised:
        compile_rule(rule)

    assert (raised.value.reason, raised.value.column) == (reason, column)


@pytest.mark.parametrize(
    "rule",
    [
        "held('meeting', 'any tag, free text')",
        'held("task") && !activities.exists(a, a.tag == "objection" && !a.done)',
        'deal.custom.kind == "retainer"',
        "[{'x': 1}].exists(a, a.x == 1) && activities.exists(a, a.done)",
    ],
)
def test_tags_custom_fields_named_kind_and_other_lists_are_not_taken_for_activities(
    rule: str,
) -> None:
    assert check_rule(rule, ["kind"]) is None


@pytest.mark.parametrize(
    "rule",
    [
        "deal.custom.cal_date != null",
        "has(deal.custom.cal_date)",
        'deal.custom["cal_date"] != null',
    ],
)
def test_a_custom_field_the_pipeline_does_not_define_is_refused_with_the_close_match(
    rule: str,
) -> None:
    reason = check_rule(rule, ["call_date", "budget"])

    assert reason is not None
    assert reason.endswith(
        "the pipeline has no custom field 'cal_date' (did you mean 'call_date'?)"
    )


def test_custom_fields_are_checked_only_when_the_pipeline_is_known() -> None:
    assert check_rule("deal.custom.anything != null") is None
    assert check_rule("deal.custom.call_date != null", ["call_date"]) is None
    assert check_rule("deal.custom.x != null", []) == (
        "column 13: the pipeline has no custom field 'x' (it defines no custom fields)"
    )


def test_check_rule_gives_none_for_a_good_rule_and_the_reason_otherwise() -> None:
    assert check_rule("deal.value > 5000") is None
    assert check_rule("deal.value >") == "column 13: the rule ends too early"


def test_empty_and_overlong_rules_are_refused() -> None:
    assert check_rule("   ") == "the rule is empty"
    assert "limit is 2000" in check_rule("true && " * 300)


def test_the_same_rule_text_compiles_once() -> None:
    rule = 'deal.currency == "EUR"'

    assert compile_rule(rule) is compile_rule(rule)
    assert compile_rule(rule).names == {"deal"}


# Combining


def test_all_needs_every_criterion() -> None:
    criteria = CriteriaSet(
        "all",
        [
            Criterion("NDA signed", "checklist.nda_signed"),
            Criterion("pricing approved", "checklist.pricing_approved"),
        ],
    )

    evaluation = evaluate(criteria, make_context())

    assert not evaluation.passed
    assert [result.met for result in evaluation.results] == [True, False]
    assert evaluation.unmet_labels == ["pricing approved"]


def test_any_needs_one_criterion() -> None:
    criteria = CriteriaSet(
        "any",
        [
            Criterion("pricing approved", "checklist.pricing_approved"),
            Criterion("NDA signed", "checklist.nda_signed"),
        ],
    )

    assert evaluate(criteria, make_context()).passed
    assert not evaluate(criteria, make_context(checklist={})).passed


def test_a_set_without_criteria_passes_in_either_mode() -> None:
    assert evaluate(CriteriaSet("all", []), make_context()).passed
    assert evaluate(CriteriaSet("any", []), make_context()).passed


def test_a_set_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="'all' or 'any'"):
        CriteriaSet("most", [])  # type: ignore[arg-type]


# Failing at run time


def test_a_missing_field_counts_as_unmet_with_the_error() -> None:
    result = check("checklist.legal_review")

    assert not result.met
    assert result.error == "no field 'legal_review'"


def test_a_rule_that_does_not_compile_counts_as_unmet_without_raising() -> None:
    result = check("deal.value >")

    assert not result.met
    assert (
        result.error == "the rule does not compile: column 13: the rule ends too early"
    )


def test_a_rule_that_is_not_true_or_false_counts_as_unmet() -> None:
    result = check("deal.value")

    assert not result.met
    assert result.error == "the rule gave 12500.0, not true or false"


def test_mixing_whole_and_decimal_numbers_is_unmet_with_a_hint() -> None:
    result = check("deal.value * 2 > 10000")

    assert not result.met
    assert result.error == (
        "cannot compute float * int (next to a decimal number, write 2.0 rather than 2)"
    )
    assert holds("deal.value * 2.0 > 10000")


def test_a_number_custom_field_is_a_decimal_number_like_the_value() -> None:
    assert holds("deal.custom.seats * 1.5 == 60.0")
    assert holds("deal.custom.seats == 40")


def test_a_failing_rule_never_hides_behind_or() -> None:
    # CEL's `||` is commutative over errors: a true side wins either way.
    assert holds("checklist.unknown || checklist.nda_signed")
    assert not check("checklist.unknown || checklist.pricing_approved").met


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="deal.valuecustom ()&|!=<>\"'1_-+*/%[]{},:?", max_size=40))
def test_any_text_as_a_rule_gives_a_result_and_never_met_with_an_error(
    rule: str,
) -> None:
    criteria = CriteriaSet("all", [Criterion("fuzzed", rule)])

    result = evaluate(criteria, make_context()).results[0]

    assert result.met in (True, False)
    assert not (result.met and result.error)


# Nulls


def test_an_empty_value_is_null() -> None:
    assert holds("deal.value == null", value=None)
    assert not holds("deal.value != null && deal.value > 5000", value=None)


def test_comparing_null_with_a_number_is_unmet_with_the_error() -> None:
    result = check("deal.value > 5000", value=None)

    assert not result.met
    assert "is a field null?" in result.error


def test_a_deal_without_contact_has_a_null_contact() -> None:
    assert holds("deal.contact == null")
    assert holds('deal.contact == "Jane Buyer"', contact="Jane Buyer")


def test_an_unset_custom_field_is_null_and_present() -> None:
    assert holds("deal.custom.decision_date == null")
    assert holds("has(deal.custom.decision_date)")
    assert not holds("has(deal.custom.never_defined)")


def test_a_set_custom_field_is_not_null() -> None:
    custom = {"decision_date": dt.date(2026, 7, 15)}

    assert holds("deal.custom.decision_date != null", custom=custom)


def test_reading_a_field_of_a_null_organization_is_unmet_with_the_error() -> None:
    result = check('deal.organization.name == "Acme"', organization=None)

    assert not result.met
    assert result.error


# Activities


def test_activities_exists_finds_a_held_discovery_meeting() -> None:
    rule = 'activities.exists(a, a.kind == "meeting" && a.tag == "discovery" && a.done)'

    assert holds(rule)
    assert not holds(rule, activities=[])


def test_an_activity_not_done_does_not_count() -> None:
    assert not holds(
        'activities.exists(a, a.kind == "meeting" && a.tag == "demo" && a.done)'
    )


def test_held_matches_done_activities_by_kind_and_tag() -> None:
    assert holds('held("meeting", "discovery")')
    assert holds('held("call")')
    assert not holds('held("meeting", "demo")')
    assert not holds('held("email")')


def test_activities_can_be_counted_and_dated() -> None:
    assert holds("activities.filter(a, a.done).size() == 2")
    assert holds("activities.all(a, a.at <= now)")


# Dates and timestamps


def test_dates_compare_with_dates_and_with_date_literals() -> None:
    assert holds("deal.expected_close_date > today")
    assert holds('deal.expected_close_date == date("2026-07-31")')
    assert not holds("deal.expected_close_date > today", expected_close_date=NOW.date())


def test_time_since_an_empty_timestamp_is_unmet_with_the_error() -> None:
    result = check("now - deal.stage_entered_at > days(7)", stage_entered_at=None)

    assert not result.met
    assert result.error == "cannot compute timestamp - null (is a field null?)"


def test_durations_measure_time_in_stage() -> None:
    assert holds("now - deal.stage_entered_at > days(7)")
    assert not holds("now - deal.stage_entered_at > days(10)")
    assert holds("deal.expected_close_date - today == days(51)")
    assert holds('deal.expected_close_date - today < duration("1240h")')


def test_a_custom_date_field_is_a_date() -> None:
    custom = {"decision_date": dt.date(2026, 7, 15)}

    assert holds("deal.custom.decision_date < deal.expected_close_date", custom=custom)


def test_a_custom_date_stored_as_text_is_a_date() -> None:
    custom = {"decision_date": "2026-07-15"}

    assert holds('deal.custom.decision_date == date("2026-07-15")', custom=custom)


def test_a_custom_date_that_is_not_a_date_is_unmet_with_the_error() -> None:
    result = check(
        "deal.custom.decision_date < today", custom={"decision_date": "soon"}
    )

    assert not result.met
    assert result.error


def test_today_is_the_date_in_the_pipeline_calendar() -> None:
    late_evening = dt.datetime(2026, 6, 10, 23, 30, tzinfo=dt.UTC)
    berlin = ZoneInfo("Europe/Berlin")

    assert holds('today == date("2026-06-11")', now=late_evening, timezone=berlin)
    assert holds('today == date("2026-06-10")', now=late_evening)


def test_a_timestamp_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        make_context(created_at=dt.datetime(2026, 4, 2, 9, 0))


# Safety


@pytest.mark.parametrize(
    "rule",
    ['__import__("os").system("true")', "deal.__class__", 'eval("1")'],
)
def test_reaching_for_python_is_refused(rule: str) -> None:
    assert check_rule(rule) is not None


@pytest.mark.parametrize(
    "rule",
    [
        'deal["__class__"] != null',
        "deal.custom.__dict__ != null",
        "activities[0].__class__ != null",
    ],
)
def test_python_internals_are_not_there_to_read(rule: str) -> None:
    result = check(rule)

    assert not result.met
    assert result.error


def test_the_context_refuses_values_that_are_not_plain_data() -> None:
    with pytest.raises(TypeError, match="rules cannot read a object"):
        make_context(custom={"secret": object()})


def test_extra_activity_keys_are_not_handed_to_rules() -> None:
    activity = {"kind": "call", "tag": "", "done": True, "at": NOW, "by": object()}

    context = make_context(activities=[activity])

    assert set(context["activities"][0]) == {"kind", "tag", "done", "at"}


# Words


def test_describe_gives_a_checklist_line_per_criterion() -> None:
    criteria = CriteriaSet(
        "all",
        [
            Criterion("NDA signed", "checklist.nda_signed"),
            Criterion(
                "buyer named a decision date", "deal.custom.decision_date != null"
            ),
            Criterion("legal reviewed", "checklist.legal"),
        ],
    )

    lines = describe(evaluate(criteria, make_context()))

    assert lines == [
        "✓ NDA signed",
        "✗ Buyer named a decision date",
        "✗ Legal reviewed (could not be checked: no field 'legal')",
    ]


def test_refusal_message_names_the_unmet_criteria() -> None:
    criteria = CriteriaSet(
        "all",
        [
            Criterion(
                "buyer named a decision date", "deal.custom.decision_date != null"
            ),
            Criterion("budget confirmed", "checklist.pricing_approved"),
            Criterion("NDA signed", "checklist.nda_signed"),
        ],
    )

    message = refusal_message(evaluate(criteria, make_context()), "Proposal sent")

    assert message == (
        "Refused: 2 exit criteria of 'Proposal sent' are unmet: "
        "buyer named a decision date; budget confirmed"
    )


def test_refusal_message_for_one_unmet_and_for_any() -> None:
    one = CriteriaSet(
        "all", [Criterion("pricing approved", "checklist.pricing_approved")]
    )
    either = CriteriaSet("any", [Criterion("a", "false"), Criterion("b", "false")])

    assert refusal_message(evaluate(one, make_context()), "Review", "entry") == (
        "Refused: 1 entry criterion of 'Review' is unmet: pricing approved"
    )
    assert refusal_message(evaluate(either, make_context()), "Review") == (
        "Refused: none of the 2 exit criteria of 'Review' is met (one is enough): a; b"
    )


def test_refusal_message_for_any_of_one_criterion_names_it_in_the_singular() -> None:
    alone = CriteriaSet("any", [Criterion("a", "false")])

    assert refusal_message(evaluate(alone, make_context()), "Review") == (
        "Refused: 1 exit criterion of 'Review' is unmet: a"
    )
