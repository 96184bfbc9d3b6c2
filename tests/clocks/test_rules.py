"""Breach rules: read from the pipeline's `breach` table, checked key by key."""

from __future__ import annotations

import pytest

from dealgate.clocks.rules import (
    DEFAULT_ACTIONS,
    BreachRuleError,
    SequenceStep,
    parse_duration,
    parse_rules,
)

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
            'breach.escalate_after: expected a duration like "2h"',
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


def test_durations_count_working_days():
    assert parse_duration("2d 1h 5m", "k", DAY) == 2 * 480 + 65
