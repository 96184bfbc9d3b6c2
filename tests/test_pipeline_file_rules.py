"""Breach and routing rules in pipeline files: read, checked, written back."""

from __future__ import annotations

from dealgate.clocks.rules import parse_rules
from dealgate.core.pipeline_file import (
    breach_settings,
    dump_pipeline,
    parse_pipeline,
    split_breach,
)
from tests.test_pipeline_file import BASE, line_of, problems_of

RULES = """
[breach]
on_breach = ["mark_at_risk", "notify", "escalate"]
escalate_after = "1d"
task = "Follow up"
sequence = [{ after = "0m", task = "Call the buyer" }]

[breach.next_steps]
on_breach = ["notify"]

[[routing]]
name = "DACH"
when = { country = ["de", "AT"], company_size = { min = 200 } }
to = "team:Central"
how = "weighted"
weights = { alice = 2 }

[[routing]]
name = "everyone else"
to = "user:olivia"
fallback = true
"""


def with_rules(text: str = BASE) -> str:
    text = text.replace(
        "probability = 20\n",
        'probability = 20\non_breach = ["mark_at_risk", "sequence"]\n'
        'task = "Chase the call"\n',
    )
    text = text.replace(
        'response_window = "15m"\n',
        'response_window = "15m"\nescalate_after = "30m"\n',
    )
    return text + RULES


def test_breach_keys_are_read_into_the_pipeline_its_stages_and_handoffs():
    spec = parse_pipeline(with_rules())

    assert spec.breach["escalate_after"] == "1d"
    assert spec.breach["next_steps"] == {"on_breach": ["notify"]}
    assert spec.stages[1].breach == {
        "on_breach": ["mark_at_risk", "sequence"],
        "task": "Chase the call",
    }
    assert spec.stages[0].breach == {}
    assert spec.handoffs[0].breach == {"escalate_after": "30m"}


def test_the_assembled_breach_table_is_the_shape_the_clocks_read():
    spec = parse_pipeline(with_rules())

    table = breach_settings(spec)

    assert table["stages"] == {"discovery": dict(spec.stages[1].breach)}
    assert table["handoffs"] == {"lead->inquiry": {"escalate_after": "30m"}}
    rules = parse_rules(table, 480)
    assert rules.for_handoff(None, "inquiry").escalate_after_minutes == 30
    assert rules.for_stage("discovery").task == "Chase the call"
    assert rules.for_stage("discovery").sequence[0].task == "Call the buyer"
    assert split_breach(table) == (
        dict(spec.breach),
        {"discovery": dict(spec.stages[1].breach)},
        {"lead->inquiry": {"escalate_after": "30m"}},
    )


def test_routing_rules_are_kept_in_their_canonical_form():
    spec = parse_pipeline(with_rules())

    assert spec.routing[0]["when"]["country"] == ["DE", "AT"]
    assert spec.routing[0]["weights"] == {"alice": 2}
    assert spec.routing[1] == {
        "name": "everyone else",
        "to": "user:olivia",
        "fallback": True,
    }


def test_a_file_with_breach_and_routing_rules_round_trips_exactly():
    spec = parse_pipeline(with_rules())

    text = dump_pipeline(spec)

    again = parse_pipeline(text, "dumped.toml")
    assert again == spec
    assert dump_pipeline(again) == text
    assert "[breach.next_steps]" in text
    assert text.count("[[routing]]") == 2


def test_a_file_without_rules_dumps_no_rule_tables():
    text = dump_pipeline(parse_pipeline(BASE))

    assert "[breach]" not in text
    assert "[[routing]]" not in text
    assert "on_breach" not in text


def test_a_bad_stage_breach_key_is_reported_on_its_line_in_the_stage():
    text = with_rules().replace('"mark_at_risk", "sequence"]', '"shout"]')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'shout')}: stages[1].on_breach: unknown action "
        "'shout' (known: mark_at_risk, task, notify, escalate, reassign, sequence)"
    ]


def test_a_bad_handoff_breach_key_is_reported_on_its_line_in_the_handoff():
    text = with_rules().replace('escalate_after = "30m"', 'escalate_after = "soon"')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'soon')}: handoffs[0].escalate_after: must be "
        'a business-time span like "15m", "2h" or "1d", from 1m to 365d, '
        "got 'soon'"
    ]


def test_an_escalation_longer_than_any_window_is_reported_on_its_line():
    text = with_rules().replace('escalate_after = "1d"', 'escalate_after = "400d"')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, '400d')}: breach.escalate_after: must be "
        'a business-time span like "15m", "2h" or "1d", from 1m to 365d, '
        "got '400d'"
    ]


def test_a_bad_default_is_reported_in_the_breach_table_once():
    text = with_rules().replace('task = "Follow up"', 'task = ""')

    line = line_of(text, 'task = ""')

    assert problems_of(text) == [
        f"p.toml:{line}: breach.task: expected text of 1 to 200 characters"
    ]


def test_tasks_are_refused_for_missed_next_steps_in_their_table():
    text = with_rules().replace(
        'on_breach = ["notify"]', 'on_breach = ["notify", "task"]'
    )

    [problem] = problems_of(text)

    assert problem.startswith(
        f"p.toml:{line_of(text, '[breach.next_steps]') + 1}: "
        "breach.next_steps.on_breach: 'task' is not allowed"
    )


def test_a_breach_table_key_the_file_does_not_know_is_refused():
    text = with_rules().replace("[breach.next_steps]", "[breach.stages.inquiry]")

    [problem] = problems_of(text)

    assert "breach.stages: unknown key" in problem


def test_a_bad_routing_condition_is_reported_on_its_line():
    text = with_rules().replace("company_size = { min = 200 }", 'colour = "red"')

    assert problems_of(text) == [
        f"p.toml:{line_of(text, 'colour')}: routing[0].when.colour: unknown lead "
        "field (known: source, channel, country, segment, company_size, value)"
    ]


def test_a_fallback_rule_that_is_not_last_is_refused():
    text = with_rules() + '\n[[routing]]\nname = "late"\nto = "user:bob"\n'

    [problem] = problems_of(text)

    assert f"p.toml:{line_of(text, 'fallback = true')}: routing[1].fallback" in (
        problem
    )
