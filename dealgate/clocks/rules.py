"""What the sweeper does when a clock runs out: breach rules, read and checked.

Pure Python (no Django), so the pipeline-file parser can check the same keys.
Pipeline files write them (dealgate.core.pipeline_file.breach_settings) to
`Pipeline.settings["breach"]`, where they are read from:

    {
      "on_breach": ["mark_at_risk", "notify", "escalate"],   # pipeline default
      "escalate_after": "1d",          # default: one more window of the clock
      "task": "Follow up",             # subject of the follow-up task
      "sequence": [{"after": "0m", "task": "Call the buyer"},
                   {"after": "2d", "task": "Send a short check-in"}],
      "stages": {"proposal": {"on_breach": ["mark_at_risk", "task"]}},
      "handoffs": {"lead->inquiry": {"escalate_after": "30m"}},
      "next_steps": {"on_breach": ["notify"]}
    }

A stage or handoff entry overrides the pipeline default key by key; next
steps have their own default (`NEXT_STEP_ACTIONS`). Durations are business
time as in handoff windows ("15m", "2h", "1d 4h"; one d is one working day).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dealgate.core.text import blank_problem, looks_blank

MARK_AT_RISK = "mark_at_risk"
TASK = "task"
NOTIFY = "notify"
ESCALATE = "escalate"
REASSIGN = "reassign"
SEQUENCE = "sequence"
ACTIONS = (MARK_AT_RISK, TASK, NOTIFY, ESCALATE, REASSIGN, SEQUENCE)
# What happens when nothing is configured: the deal is flagged, its owner is
# told, and after one more window their manager is told too.
DEFAULT_ACTIONS = (MARK_AT_RISK, NOTIFY, ESCALATE)
# A missed next step tells its owner. Tasks and sequences are not allowed
# here: a task made for a missed task could go on without end.
NEXT_STEP_ACTIONS = (NOTIFY,)
NEXT_STEP_FORBIDDEN = (TASK, SEQUENCE)
DEFAULT_TASK = "Follow up"
LEAD = "lead"

_RULE_KEYS = ("on_breach", "escalate_after", "task", "sequence")
_TOP_KEYS = (*_RULE_KEYS, "stages", "handoffs", "next_steps")
_DURATION = re.compile(r"(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?")
# The longest span a rule waits, in working days: as long as a response
# window may be (pipeline_file.MAX_AGE_LIMIT_DAYS; a test holds them equal).
MAX_SPAN_DAYS = 365


class BreachRuleError(ValueError):
    """A breach rule that cannot be used; the message names the key."""


@dataclass(frozen=True)
class SequenceStep:
    """One dated task of a follow-up sequence, due `after_minutes` business
    minutes after the breach."""

    after_minutes: float
    task: str


@dataclass(frozen=True)
class BreachRule:
    """What to do when one kind of clock runs out.

    `escalate_after_minutes` None means one more window of the clock's own
    length ("after a second window").
    """

    on_breach: tuple[str, ...] = DEFAULT_ACTIONS
    escalate_after_minutes: float | None = None
    task: str = DEFAULT_TASK
    sequence: tuple[SequenceStep, ...] = ()

    def does(self, action: str) -> bool:
        return action in self.on_breach

    @property
    def schedules_escalation(self) -> bool:
        return ESCALATE in self.on_breach or REASSIGN in self.on_breach


@dataclass(frozen=True)
class BreachRules:
    """Every rule of one pipeline; look one up with `for_stage` and friends."""

    default: BreachRule = field(default_factory=BreachRule)
    stages: Mapping[str, BreachRule] = field(default_factory=dict)
    handoffs: Mapping[str, BreachRule] = field(default_factory=dict)
    next_steps: BreachRule = field(
        default_factory=lambda: BreachRule(on_breach=NEXT_STEP_ACTIONS)
    )

    def for_stage(self, stage_key: str | None) -> BreachRule:
        """The rule for a stage's age limit."""
        return self.stages.get(stage_key or "", self.default)

    def for_handoff(self, from_key: str | None, to_key: str | None) -> BreachRule:
        """The rule for a handoff's response window; `from_key` None is a lead."""
        return self.handoffs.get(handoff_name(from_key, to_key), self.default)


def handoff_name(from_key: str | None, to_key: str | None) -> str:
    """How a handoff is named in the rules: "inquiry->discovery", "lead->inquiry"."""
    return f"{from_key or LEAD}->{to_key or ''}"


def parse_duration(text: Any, key: str, day_minutes: float) -> float:
    """Business minutes in "15m", "2h", "1d" or "1d 4h"; one d is a working day."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise BreachRuleError(
            f'{key}: expected a duration like "2h" or "1d", got {text!r}'
        )
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return days * day_minutes + hours * 60 + minutes


def _span(text: Any, key: str, day_minutes: float, least: int) -> float:
    """Business minutes in the span `text` of rule `key`, from `least`
    minutes (1, or 0 where "at once" makes sense) to MAX_SPAN_DAYS working
    days; refused in the words of a response window's range (pipeline_file)."""
    wanted = (
        f'a business-time span like "15m", "2h" or "1d", from {least}m to '
        f"{MAX_SPAN_DAYS}d"
    )
    try:
        minutes = parse_duration(text, key, day_minutes)
    except BreachRuleError:
        minutes = None
    if minutes is None or not least <= minutes <= MAX_SPAN_DAYS * day_minutes:
        raise BreachRuleError(f"{key}: must be {wanted}, got {text!r}")
    return minutes


def parse_rules(table: Any, day_minutes: float) -> BreachRules:
    """Read the `breach` table described in the module docstring.

    Raises `BreachRuleError` naming the first key that is wrong; an empty or
    missing table gives the defaults.
    """
    if table is None or table == {}:
        return BreachRules()
    _expect_table(table, "breach", _TOP_KEYS)
    default = _rule(table, "breach", BreachRule(), day_minutes)
    stages = {
        key: _rule(entry, f"breach.stages.{key}", default, day_minutes)
        for key, entry in _tables(table.get("stages", {}), "breach.stages")
    }
    handoffs = {}
    for name, entry in _tables(table.get("handoffs", {}), "breach.handoffs"):
        if "->" not in name:
            raise BreachRuleError(
                f'breach.handoffs.{name}: write handoffs as "from->to", '
                'e.g. "lead->inquiry"'
            )
        handoffs[name] = _rule(entry, f"breach.handoffs.{name}", default, day_minutes)
    next_steps = _rule(
        table.get("next_steps", {}),
        "breach.next_steps",
        replace(default, on_breach=NEXT_STEP_ACTIONS, sequence=()),
        day_minutes,
    )
    for action in NEXT_STEP_FORBIDDEN:
        if next_steps.does(action):
            raise BreachRuleError(
                f"breach.next_steps.on_breach: {action!r} is not allowed for next steps"
            )
    return BreachRules(default, stages, handoffs, next_steps)


def _rule(table: Any, where: str, base: BreachRule, day_minutes: float) -> BreachRule:
    _expect_table(table, where, _RULE_KEYS if where != "breach" else _TOP_KEYS)
    rule = base
    if "on_breach" in table:
        rule = replace(rule, on_breach=_actions(table["on_breach"], where))
    if "escalate_after" in table:
        minutes = _span(
            table["escalate_after"], f"{where}.escalate_after", day_minutes, 1
        )
        rule = replace(rule, escalate_after_minutes=minutes)
    if "task" in table:
        task = table["task"]
        if isinstance(task, str) and looks_blank(task) and task.strip():
            raise BreachRuleError(f"{where}.task: {blank_problem(task, '')}")
        if not isinstance(task, str) or not task.strip() or len(task) > 200:
            raise BreachRuleError(f"{where}.task: expected text of 1 to 200 characters")
        rule = replace(rule, task=task.strip())
    if "sequence" in table:
        rule = replace(rule, sequence=_sequence(table["sequence"], where, day_minutes))
    if rule.does(SEQUENCE) and not rule.sequence:
        raise BreachRuleError(
            f"{where}.sequence: on_breach has 'sequence' but no steps"
        )
    return rule


def _actions(values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        raise BreachRuleError(f"{where}.on_breach: expected a list of actions")
    for value in values:
        if value not in ACTIONS:
            raise BreachRuleError(
                f"{where}.on_breach: unknown action {value!r} "
                f"(known: {', '.join(ACTIONS)})"
            )
    return tuple(dict.fromkeys(values))


def _sequence(values: Any, where: str, day_minutes: float) -> tuple[SequenceStep, ...]:
    if not isinstance(values, list | tuple):
        raise BreachRuleError(f"{where}.sequence: expected a list of steps")
    steps = []
    for index, step in enumerate(values):
        at = f"{where}.sequence[{index}]"
        _expect_table(step, at, ("after", "task"))
        task = step.get("task")
        if isinstance(task, str) and looks_blank(task) and task.strip():
            raise BreachRuleError(f"{at}.task: {blank_problem(task, '')}")
        if not isinstance(task, str) or not task.strip() or len(task) > 200:
            raise BreachRuleError(f"{at}.task: expected text of 1 to 200 characters")
        after = _span(step.get("after", "0m"), f"{at}.after", day_minutes, 0)
        steps.append(SequenceStep(after, task.strip()))
    return tuple(steps)


def _tables(value: Any, where: str) -> list[tuple[str, Any]]:
    if not isinstance(value, Mapping):
        raise BreachRuleError(f"{where}: expected a table")
    return list(value.items())


def _expect_table(value: Any, where: str, keys: tuple[str, ...]) -> None:
    if not isinstance(value, Mapping):
        raise BreachRuleError(f"{where}: expected a table")
    for key in value:
        if key not in keys:
            raise BreachRuleError(f"{where}.{key}: unknown key")
