"""Breach rules: read from the pipeline's `breach` table, checked key by key."""

from __future__ import annotations

import pytest

from dealgate.clocks.rules import (
    DEFAULT_ACTIONS,
    MAX_SPAN_DAYS,
    BreachRuleError,
    SequenceStep,
    parse_duration,
    parse_rules,
)
from dealgate.core.pipeline_file import MAX_AGE_LIMIT_DAYS

DAY = 480


def test_no_table_means_at_risk_notify_and_escalate():
    rules = parse_rules(None, DAY)

    assert rules.for_stage("inquiry").on_breach == DEFAULT_ACTIONS
    assert rules.for_stage("inquiry").escalate_after_minutes is None
    assert rules.next_steps.on_breach == ("notify",)


def test_stage_and_handoff_entries_override_the_default_key_by_key():
    rules = parse_rules(
        {
            "on_breach": ["notify", "escalate"],
            "escalate_after": "1d",
            "stages": {"proposal": {"on_breach": ["task"]}},
            "handoffs": {"lead->inquiry": {"escalate_after": "30m"}},
        },
        DAY,
    )

    assert rules.for_stage("proposal").on_breach == ("task",)
    assert rules.for_stage("proposal").escalate_after_minutes == 480
    assert rules.for_stage("other").on_breach == ("notify", "escalate")
    assert rules.for_handoff(None, "inquiry").escalate_after_minutes == 30
    assert rules.for_handoff("inquiry", "discovery").escalate_after_minutes == 480


def test_a_sequence_is_a_list_of_dated_tasks():
    rules = parse_rules(
        {
            "on_breach": ["sequence"],
            "sequence": [
                {"after": "0m", "task": "Call"},
                {"after": "1d 2h", "task": "Mail"},
            ],
        },
        DAY,
    )

    assert rules.default.sequence == (
        SequenceStep(0, "Call"),
        SequenceStep(600, "Mail"),
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"on_breach": ["shout"]}, "breach.on_breach: unknown action 'shout'"),
        ({"colour": "red"}, "breach.colour: unknown key"),
        (
            {"escalate_after": "soon"},
            'breach.escalate_after: must be a business-time span like "15m", "2h" '
            "or \"1d\", from 1m to 365d, got 'soon'",
        ),
        ({"on_breach": ["sequence"]}, "breach.sequence: on_breach has 'sequence'"),
        ({"stages": {"x": {"when": 1}}}, "breach.stages.x.when: unknown key"),
        (
            {"handoffs": {"inquiry": {}}},
            'breach.handoffs.inquiry: write handoffs as "from->to"',
        ),
        (
            {"next_steps": {"on_breach": ["task"]}},
            "'task' is not allowed for next steps",
        ),
        ({"sequence": [{"task": ""}]}, "breach.sequence[0].task: expected text"),
    ],
)
def test_a_wrong_key_is_named(table, message):
    with pytest.raises(
        BreachRuleError, match=message.replace("(", r"\(").replace("[", r"\[")
    ):
        parse_rules(table, DAY)


ESCALATION_RANGE = (
    'must be a business-time span like "15m", "2h" or "1d", from 1m to 365d'
)
STEP_RANGE = 'must be a business-time span like "15m", "2h" or "1d", from 0m to 365d'


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"escalate_after": "0m"},
            f"breach.escalate_after: {ESCALATION_RANGE}, got '0m'",
        ),
        (
            {"escalate_after": "366d"},
            f"breach.escalate_after: {ESCALATION_RANGE}, got '366d'",
        ),
        (
            {"handoffs": {"lead->inquiry": {"escalate_after": "365d 1m"}}},
            f"breach.handoffs.lead->inquiry.escalate_after: {ESCALATION_RANGE}, "
            "got '365d 1m'",
        ),
        (
            {"sequence": [{"task": "Call"}, {"after": "400d", "task": "Mail"}]},
            f"breach.sequence[1].after: {STEP_RANGE}, got '400d'",
        ),
        (
            {"stages": {"proposal": {"sequence": [{"after": 5, "task": "Mail"}]}}},
            f"breach.stages.proposal.sequence[0].after: {STEP_RANGE}, got 5",
        ),
    ],
)
def test_a_span_out_of_range_is_refused_naming_its_key_and_the_range(table, message):
    with pytest.raises(BreachRuleError) as refused:
        parse_rules(table, DAY)

    assert str(refused.value) == message


def test_spans_may_be_as_long_as_a_response_window_and_a_step_may_be_at_once():
    rules = parse_rules(
        {
            "escalate_after": "365d",
            "sequence": [
                {"after": "0m", "task": "Call"},
                {"after": "365d", "task": "Mail"},
            ],
        },
        DAY,
    )

    assert rules.default.escalate_after_minutes == 365 * DAY
    assert [step.after_minutes for step in rules.default.sequence] == [0, 365 * DAY]
    shortest = parse_rules({"escalate_after": "1m"}, DAY)
    assert shortest.default.escalate_after_minutes == 1


def test_a_rule_waits_at_most_as_long_as_a_response_window_may_be():
    assert MAX_SPAN_DAYS == MAX_AGE_LIMIT_DAYS


def test_durations_count_working_days():
    assert parse_duration("2d 1h 5m", "k", DAY) == 2 * 480 + 65
