"""Design review: checks of a pipeline's shape, its rules and, once it runs,
its data. Pure Python: the figures of an applied pipeline are gathered by
`dealgate.builder.reviews` and handed over as `PipelineData`.

Each `Finding` says what is wrong and how to fix it, and carries the path of
the key it is about (`stages[2].owner`), so a file's finding names its line.
It says so twice where a file and a page name things apart: `message` and
`fix` in the file's words (stage keys, `on_breach = [...]`, `loss_reasons`)
for the command line, `page` in the builder's (stage names, the stage form's
labels) for the web pages; one review makes both.

Shape and rules (any pipeline file):

- stage count outside five to seven;
- a stage without an owner, without exit criteria, or without an age limit;
- a handoff without a response window: from a new lead into the first stage
  and from each stage into the next must have one, and any other handoff
  listed must give one;
- a stage name that describes a seller's act instead of a buyer's: it holds
  a phrase of `SELLER_ACTS` and none of `BUYER_ACTS`;
- a criterion whose rule does not compile (`dealgate.core.criteria`);
- a criterion that can never hold, so that no deal can enter the stage
  (entry), leave it forward (exit) or be won: its rule is `false`, or an `&&`
  of comparisons of one field with numbers that no value meets
  (`deal.value > 10 && deal.value < 5`). Only that much is decided; a rule
  with `||`, `?:` or anything else it cannot read is taken as satisfiable;
- a stage less likely to win than an earlier one (its probability is lower);
- two stages with the same exit criteria (the same set of rules): the buyer
  did the same thing to leave both, so one may not mark a step of its own;
- `on_breach = []` on a stage, or as the pipeline's default where a stage
  relies on it: a deal past the age limit is then never acted on.

Data (an applied pipeline):

- a stage holding more than the pipeline's bottleneck share of open deals;
- a stage most deals skip: of at least `MIN_DEALS` closed deals that could
  have passed it, more than half went around it;
- a stage whose open deals' median age is `FAR_OVER` times its limit or more;
- lost deals without a reason: an empty reason, one the pipeline does not
  list, or a placeholder of `NO_REASON_KEYS` such as "not-recorded".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from dealgate.core import criteria
from dealgate.core.breach_words import DEFAULT_WORDS, action_label
from dealgate.core.checklist import items_in_rule
from dealgate.core.names import name_key
from dealgate.core.pipeline_file import (
    LEAD,
    CriterionSpec,
    PipelineSpec,
    StageSpec,
    labels_naming_keys,
    split_owner,
)
from dealgate.core.rounding import figure, percent
from dealgate.core.text import counted
from dealgate.core.toml_lines import Path

__all__ = [
    "BUYER_ACTS",
    "FAR_OVER",
    "MIN_DEALS",
    "NO_REASON_KEYS",
    "SELLER_ACTS",
    "Finding",
    "PipelineData",
    "StageData",
    "review",
    "seller_act",
]

MIN_STAGES, MAX_STAGES = 5, 7
# Phrases that say what a seller did. A stage is entered because the buyer
# did something, so a name built on one of these is a finding.
SELLER_ACTS = (
    "sent",
    "called",
    "emailed",
    "mailed",
    "followed up",
    "follow up",
    "demo given",
    "demoed",
    "presented",
    "pitched",
    "contacted",
    "reached out",
    "outreach",
    "prospected",
    "quoted",
    "voicemail",
    "cold call",
    "chased",
    "nurturing",
)
# Phrases that say what a buyer did; one of these clears a name that also
# holds a seller phrase ("Quote sent back signed").
BUYER_ACTS = (
    "booked",
    "requested",
    "accepted",
    "signed",
    "reviewed",
    "replied",
    "agreed",
    "asked",
    "confirmed",
    "approved",
    "chose",
    "committed",
    "attended",
    "answered",
    "responded",
    "engaged",
)
# Loss reason keys that stand for "no reason" (importers use them for
# sources that record none).
NO_REASON_KEYS = frozenset({"", "not-recorded", "unknown", "none", "n-a"})
MIN_DEALS = 5
FAR_OVER = 1.5


@dataclass(frozen=True)
class Finding:
    """One thing to fix. `code` names the check; `path` the key it is about.
    `message` and `fix` speak of the file; `page_message` and `page_fix`,
    where given, say the same in the words of the builder's pages (`page`)."""

    code: str
    path: Path
    message: str
    fix: str
    page_message: str = ""
    page_fix: str = ""

    @property
    def page(self) -> Finding:
        """The finding as a web page shows it: in the builder's words."""
        return replace(
            self,
            message=self.page_message or self.message,
            fix=self.page_fix or self.fix,
            page_message="",
            page_fix="",
        )


@dataclass(frozen=True)
class StageData:
    """What the deals of one stage show. Ages are business days."""

    open_deals: int = 0
    share: float | None = None  # of all open deals, 0 to 1
    median_age_days: float | None = None  # of open deals with a known entry
    could_skip: int = 0  # closed deals with a stage before it and it or one after
    skipped: int = 0  # of those, the ones that went around it


@dataclass(frozen=True)
class PipelineData:
    stages: Mapping[str, StageData] = field(default_factory=dict)
    lost: int = 0
    lost_without_reason: int = 0  # empty, unlisted or a placeholder
    lost_empty_reason: int = 0  # of those, the empty ones
    lost_placeholder_reason: int = 0  # and those of a NO_REASON_KEYS placeholder


def review(spec: PipelineSpec, data: PipelineData | None = None) -> list[Finding]:
    """Every finding for `spec`, shape and rules first, then the data ones
    when `data` (the figures of the applied pipeline) is given."""
    findings = _stage_count(spec)
    for index, stage in enumerate(spec.stages):
        findings += _stage_shape(index, stage)
    findings += _handoffs(spec)
    findings += _rules(spec)
    findings += _never_holds(spec)
    findings += _probabilities(spec)
    findings += _same_exits(spec)
    findings += _no_breach_actions(spec)
    findings += _checklist_spellings(spec)
    findings += _loss_reasons(spec)
    if data is not None:
        for index, stage in enumerate(spec.stages):
            stage_data = data.stages.get(stage.key)
            if stage_data is not None:
                findings += _stage_data(spec, index, stage, stage_data)
        findings += _losses(data)
    return findings


def seller_act(name: str) -> str | None:
    """The seller phrase `name` is built on, or None when it names a buyer's
    act (or neither)."""
    text = name.casefold()
    if any(_holds(text, phrase) for phrase in BUYER_ACTS):
        return None
    return next((phrase for phrase in SELLER_ACTS if _holds(text, phrase)), None)


def _holds(text: str, phrase: str) -> bool:
    words = r"[\s-]+".join(re.escape(word) for word in phrase.split())
    return re.search(rf"(?<![a-z]){words}(?![a-z])", text) is not None


# --- shape -------------------------------------------------------------------


def _stage_count(spec: PipelineSpec) -> list[Finding]:
    count = len(spec.stages)
    if MIN_STAGES <= count <= MAX_STAGES:
        return []
    if count < MIN_STAGES:
        fix = (
            "split the stage where deals wait longest by what the buyer does "
            "inside it (the blueprint shows where that is)"
        )
    else:
        fix = "merge stages that deals pass quickly or mostly skip"
    return [
        Finding(
            "stage-count",
            ("stages",),
            f"{counted(count, 'stage')}: five to seven is the usual good size",
            fix,
        )
    ]


def _stage_shape(index: int, stage: StageSpec) -> list[Finding]:
    here: Path = ("stages", index)
    findings = []
    if split_owner(stage.owner or "") is None:
        findings.append(
            _named(
                "no-owner",
                (*here, "owner"),
                lambda name: f"{name(stage)} has no owner",
                'give it one owner: "deal-owner", "user:USERNAME" or "team:TEAM NAME"',
                "choose its Owner in the stage's form: the deal's owner, one "
                "person or one team",
            )
        )
    if not stage.exit_criteria:
        findings.append(
            _named(
                "no-exit-criteria",
                (*here, "exit_criteria"),
                lambda name: (
                    f"{name(stage)} has no exit criteria: deals leave it on feel"
                ),
                "add what must be true before a deal moves on, e.g. "
                '"The buyer named a decision date" '
                "(deal.custom.decision_date != null)",
            )
        )
    if stage.age_limit_days is None:
        findings.append(
            _named(
                "no-age-limit",
                (*here, "age_limit_days"),
                lambda name: (
                    f"{name(stage)} has no age limit: no deal here is ever at risk"
                ),
                "set age_limit_days, the business days a deal may wait here "
                "(the blueprint proposes one from past deals)",
                "set its Age limit (business days) in the stage's form, the "
                "business days a deal may wait there (the blueprint proposes "
                "one from past deals)",
            )
        )
    phrase = seller_act(stage.name)
    if phrase is not None:
        findings.append(
            _named(
                "seller-name",
                (*here, "name"),
                lambda name: (
                    f"{name(stage)} is named for what the seller did "
                    f"({phrase!r}), not for what the buyer did"
                ),
                "name it for the buyer's act that puts a deal here, e.g. "
                '"Proposal requested" rather than "Proposal sent"',
            )
        )
    return findings


def _name(stage: StageSpec) -> str:
    return f"stage '{stage.key}' ({stage.name})" if stage.name else f"'{stage.key}'"


def _page_name(stage: StageSpec) -> str:
    """A stage as the builder names it: by its name, the key only where it
    has none."""
    return f'stage "{stage.name or stage.key}"'


Namer = Callable[[StageSpec], str]


def _named(
    code: str,
    path: Path,
    say: Callable[[Namer], str],
    fix: str,
    page_fix: str = "",
) -> Finding:
    """A finding whose message names stages: by key and name for a file,
    by name for a page."""
    message, page_message = say(_name), say(_page_name)
    return Finding(
        code,
        path,
        message,
        fix,
        page_message if page_message != message else "",
        page_fix,
    )


def _handoffs(spec: PipelineSpec) -> list[Finding]:
    keys = spec.stage_keys()
    wanted = list(zip([LEAD, *keys], keys, strict=False))
    given = {(h.from_stage, h.to_stage): h for h in spec.handoffs}
    stages = {stage.key: stage for stage in spec.stages}
    findings = []
    for ends in dict.fromkeys([*wanted, *given]):
        handoff = given.get(ends)
        if handoff is not None and handoff.response_window_minutes is not None:
            continue
        if handoff is None:
            path: Path = ("handoffs",)

            def say(name: Namer, ends: tuple[str, str] = ends) -> str:
                return (
                    f"there is no handoff {_ends(ends, stages, name)}: no "
                    "response window times the answer when a deal arrives there"
                )

            page_fix = (
                'add it under Handoffs and response windows, with a "Respond '
                'within" (business time: "15m", "2h", "1d" ...)'
            )
        else:
            path = spec.handoff_path(handoff)

            def say(name: Namer, ends: tuple[str, str] = ends) -> str:
                return f"the handoff {_ends(ends, stages, name)} has no response window"

            page_fix = (
                'give it a "Respond within" under Handoffs and response '
                'windows (business time: "15m", "2h", "1d" ...)'
            )
        findings.append(
            _named(
                "no-window",
                path,
                say,
                f'give it one: [[handoffs]] from = "{ends[0]}", to = '
                f'"{ends[1]}", response_window = "1d" (business time; '
                '"15m", "2h", "1d" ...)',
                page_fix,
            )
        )
    return findings


def _ends(
    ends: tuple[str, str], stages: Mapping[str, StageSpec], name: Namer = _name
) -> str:
    """ "from a new lead to 'qualified'" for a file, "from a new lead to stage
    "Qualified"" for a page; a key no stage has is named as it is."""

    def one(key: str) -> str:
        stage = stages.get(key)
        if stage is None:
            return f"'{key}'"
        return f"'{key}'" if name is _name else name(stage)

    start = "from a new lead" if ends[0] == LEAD else f"from {one(ends[0])}"
    return f"{start} to {one(ends[1])}"


def _rules(spec: PipelineSpec) -> list[Finding]:
    fields = {custom.key: custom.type for custom in spec.custom_fields}
    findings = []
    for index, stage in enumerate(spec.stages):
        for key in ("entry_criteria", "exit_criteria"):
            items = getattr(stage, key)
            here = ("stages", index, key)
            findings += _rule_findings(
                here, items, lambda name, stage=stage: name(stage), fields
            )
    findings += _rule_findings(("won", "criteria"), spec.won_criteria, _won, fields)
    return findings


def _won(name: Namer) -> str:
    """What holds the won criteria: "won" in a file's words, "the won
    criteria" in a page's."""
    return "won" if name is _name else "the won criteria"


def _rule_findings(
    path: Path,
    items: tuple[CriterionSpec, ...],
    owner: Callable[[Namer], str],
    fields: dict[str, str],
) -> list[Finding]:
    findings = []
    for index, item in enumerate(items):
        problem = criteria.rule_problem(item.rule, fields)
        if problem is not None:
            fault = "can never be met" if problem.never_met else "does not compile"
            findings.append(
                _named(
                    "bad-rule",
                    (*path, index, "rule"),
                    lambda name, item=item, fault=fault, problem=problem: (
                        f"the rule of {item.label!r} ({owner(name)}) {fault}: {problem}"
                    ),
                    "correct the rule; docs/criteria.md lists what a rule can "
                    "read and the functions it can call",
                )
            )
            continue
        day = day_counted_from_one(item.rule)
        if day is not None:
            findings.append(
                _named(
                    "day-of-month-from-zero",
                    (*path, index, "rule"),
                    lambda name, item=item, day=day: (
                        f"the rule of {item.label!r} ({owner(name)}) compares "
                        f"getDayOfMonth() with {day}, as if it counted from 1: it "
                        "counts from 0 (the 1st is 0, the 31st is 30), so "
                        + ("no day is 31" if day == 31 else "1 is the 2nd")
                    ),
                    "write getDate() to count days of the month from 1 "
                    f"(getDate() == {day}), or getDayOfMonth() == {day - 1}",
                )
            )
    return findings


_DAY_OF_MONTH = re.compile(
    r"getDayOfMonth\(\s*\)\s*(?:==|!=|<=|>=|<|>)\s*(\d+)\b(?!\s*[.\w])"
    r"|(?<![\w.])(\d+)\s*(?:==|!=|<=|>=|<|>)\s*[\w.()]*\.getDayOfMonth\(\s*\)"
)


def day_counted_from_one(rule: str) -> int | None:
    """The day of the month `rule` compares getDayOfMonth() with when the
    number looks counted from 1, as people count days: 1 (the 1st is 0) or
    31 (never reached); else None. Other days are left alone, since either
    count may be meant."""
    for found in _DAY_OF_MONTH.finditer(rule):
        day = int(found.group(1) or found.group(2))
        if day in (1, 31):
            return day
    return None


def _never_holds(spec: PipelineSpec) -> list[Finding]:
    """Criteria no deal can meet. An entry criterion keeps every deal out; an
    exit criterion every deal in, unless the stage asks for any one of its
    criteria and another can hold; a won criterion keeps every deal open."""
    findings = []
    for index, stage in enumerate(spec.stages):
        here = ("stages", index, "entry_criteria")
        for number, item in enumerate(stage.entry_criteria):
            reason = never_holds(item.rule)
            if reason is not None:
                findings.append(
                    _never(
                        (*here, number, "rule"),
                        item,
                        reason,
                        lambda name, stage=stage: f"no deal can enter {name(stage)}",
                    )
                )
        findings += _exits_never_hold(index, stage)
    for number, item in enumerate(spec.won_criteria):
        reason = never_holds(item.rule)
        if reason is not None:
            path = ("won", "criteria", number, "rule")
            findings.append(
                _never(path, item, reason, lambda name: "no deal can be won")
            )
    return findings


def _exits_never_hold(index: int, stage: StageSpec) -> list[Finding]:
    reasons = [never_holds(item.rule) for item in stage.exit_criteria]
    if stage.exit_criteria_mode == "any" and None in reasons:
        return []
    return [
        _never(
            ("stages", index, "exit_criteria", number, "rule"),
            item,
            reason,
            lambda name: f"no deal can leave {name(stage)} forward",
        )
        for number, (item, reason) in enumerate(
            zip(stage.exit_criteria, reasons, strict=True)
        )
        if reason is not None
    ]


def _never(
    path: Path, item: CriterionSpec, reason: str, outcome: Callable[[Namer], str]
) -> Finding:
    if reason == _FALSE:
        fix = "write the condition the criterion stands for, or remove it"
    else:
        fix = (
            "correct the bounds (one written the wrong way round?) or remove "
            "the criterion"
        )
    return _named(
        "never-holds",
        path,
        lambda name: f"{item.label!r} can never hold ({reason}): {outcome(name)}",
        fix,
    )


_FALSE = "it is false"


def never_holds(rule: str) -> str | None:
    """Why `rule` is false for every deal, or None when that cannot be told
    without data. Decided: the literal `false` as the rule or as one term of
    a top-level `&&`, and terms comparing one field with a number
    (`deal.value > 10 && deal.value < 5`) that no value meets together. Any
    `||` or `?:` at the top level, or a term of another form, is left alone
    (a term not understood cannot make the rest hold)."""
    terms = _conjuncts(rule)
    if terms is None:
        return None
    bounds: dict[str, _Range] = {}
    for term in terms:
        if term == "false":
            return _FALSE
        comparison = _comparison(term)
        if comparison is None:
            continue
        field_name, op, number = comparison
        known = bounds.setdefault(field_name, _Range())
        known.add(op, number, term)
        if known.empty():
            return f"{' && '.join(known.terms)} cannot all be true"
    return None


def _conjuncts(rule: str) -> list[str] | None:
    """The terms of `rule` joined by a top-level `&&`, each without outer
    parentheses; None when the top level holds `||` or `?` (or the
    parentheses do not balance)."""
    text = _unwrap(rule.strip())
    terms, depth, start, quote = [], 0, 0, ""
    at = 0
    while at < len(text):
        ch = text[at]
        if quote:
            if ch == "\\":
                at += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0 and (text.startswith("||", at) or ch == "?"):
            return None
        elif depth == 0 and text.startswith("&&", at):
            terms.append(text[start:at])
            start = at + 2
            at += 1
        at += 1
    if depth or quote:
        return None
    terms.append(text[start:])
    return [_unwrap(term.strip()) for term in terms]


def _unwrap(text: str) -> str:
    """`text` without parentheses around all of it: "((a && b))" is "a && b"."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for at, ch in enumerate(text):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0 and at < len(text) - 1:
                return text  # "(a) && (b)": the first ")" closes early
        text = text[1:-1].strip()
    return text


_FIELD = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_OP = r"<=|>=|==|!=|<|>"
_FIELD_FIRST = re.compile(rf"({_FIELD})\s*({_OP})\s*({_NUMBER})")
_NUMBER_FIRST = re.compile(rf"({_NUMBER})\s*({_OP})\s*({_FIELD})")
# A comparison read from the number's side: `5 < x` is `x > 5`.
_TURNED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def _comparison(term: str) -> tuple[str, str, Fraction] | None:
    """(field, operator, number) of a term `FIELD OP NUMBER` or `NUMBER OP
    FIELD`, read as the field's bound; None for any other term."""
    match = _FIELD_FIRST.fullmatch(term)
    if match is not None:
        field_name, op, number = match.groups()
        return field_name, op, Fraction(number)
    match = _NUMBER_FIRST.fullmatch(term)
    if match is not None:
        number, op, field_name = match.groups()
        return field_name, _TURNED[op], Fraction(number)
    return None


@dataclass
class _Range:
    """What the comparisons read so far allow one field to be."""

    low: Fraction | None = None
    low_open: bool = False
    high: Fraction | None = None
    high_open: bool = False
    excluded: set[Fraction] = field(default_factory=set)
    terms: list[str] = field(default_factory=list)

    def add(self, op: str, number: Fraction, term: str) -> None:
        self.terms.append(term)
        if op == "!=":
            self.excluded.add(number)
            return
        if op in (">", ">=", "=="):
            self._raise_low(number, op == ">")
        if op in ("<", "<=", "=="):
            self._lower_high(number, op == "<")

    def _raise_low(self, number: Fraction, strict: bool) -> None:
        if self.low is None or number > self.low:
            self.low, self.low_open = number, strict
        elif number == self.low:
            self.low_open = self.low_open or strict

    def _lower_high(self, number: Fraction, strict: bool) -> None:
        if self.high is None or number < self.high:
            self.high, self.high_open = number, strict
        elif number == self.high:
            self.high_open = self.high_open or strict

    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        if self.low > self.high:
            return True
        if self.low == self.high:
            return self.low_open or self.high_open or self.low in self.excluded
        return False


def _probabilities(spec: PipelineSpec) -> list[Finding]:
    """A stage less likely to win than one before it: a deal that moved
    forward would look less likely to close, and forecasts weighted by
    probability would fall as deals progress."""
    findings = []
    highest: StageSpec | None = None
    for index, stage in enumerate(spec.stages):
        if highest is not None and stage.probability < highest.probability:
            findings.append(
                _named(
                    "probability-falls",
                    ("stages", index, "probability"),
                    lambda name, stage=stage, highest=highest: (
                        f"{name(stage)} has a {stage.probability}% chance to win, "
                        f"less than the {highest.probability}% of "
                        f"{name(highest)} before it: a deal that moves forward "
                        "would count as less likely to be won"
                    ),
                    "make each stage's probability at least that of the "
                    "stages before it (the blueprint proposes them from "
                    "past deals)",
                )
            )
        if highest is None or stage.probability > highest.probability:
            highest = stage
    return findings


def _same_exits(spec: PipelineSpec) -> list[Finding]:
    """Stages left by doing the same thing: the same set of exit rules (and,
    for more than one, the same mode)."""
    first: dict[object, StageSpec] = {}
    findings = []
    for index, stage in enumerate(spec.stages):
        if not stage.exit_criteria:
            continue
        rules = frozenset(" ".join(item.rule.split()) for item in stage.exit_criteria)
        mode = stage.exit_criteria_mode if len(rules) > 1 else ""
        earlier = first.setdefault((rules, mode), stage)
        if earlier is stage:
            continue
        findings.append(
            _named(
                "same-exit-criteria",
                ("stages", index, "exit_criteria"),
                lambda name, stage=stage, earlier=earlier: (
                    f"{name(stage)} has the same exit criteria as "
                    f"{name(earlier)}: the buyer does the same thing to leave "
                    "both, so one of them may not mark a buyer step of its own"
                ),
                "give each stage the exit criteria of its own buyer step, or "
                "merge the two stages",
            )
        )
    return findings


_EXAMPLE_ACTIONS = ("mark_at_risk", "notify")


def _no_breach_actions(spec: PipelineSpec) -> list[Finding]:
    """`on_breach = []`: a deal past its age limit is never marked, nobody
    is told, nothing is done. The pipeline's default counts only where a
    stage relies on it. On a page this is every action unticked in the
    stage's form."""
    ticked = " and ".join(f'"{action_label(a)}"' for a in _EXAMPLE_ACTIONS)
    findings = []
    relying = []
    for index, stage in enumerate(spec.stages):
        own = stage.breach.get("on_breach")
        if own is None:
            relying.append(stage)
        elif not own:
            findings.append(
                _named(
                    "no-breach-actions",
                    ("stages", index, "on_breach"),
                    lambda name, stage=stage: (
                        f"{name(stage)} has on_breach = []: nothing happens "
                        "when a deal passes its age limit, so the limit is not "
                        "enforced"
                        if name is _name
                        else f"{name(stage)} does nothing when a deal outstays "
                        "its age limit (no action is ticked), so the limit is "
                        "not enforced"
                    ),
                    'list what should happen, e.g. on_breach = ["mark_at_risk", '
                    '"notify"], or drop the key to use the pipeline\'s default',
                    f"in the stage's form, tick what should happen, e.g. "
                    f'{ticked}, or tick "Use {DEFAULT_WORDS}"',
                )
            )
    default = spec.breach.get("on_breach")
    if default is not None and not default and relying:
        findings.insert(
            0,
            _named(
                "no-breach-actions",
                ("breach", "on_breach"),
                lambda name: (
                    (
                        "the pipeline's default on_breach is []"
                        if name is _name
                        else "the pipeline's default is to do nothing"
                    )
                    + ": nothing happens when a deal passes the age limit of "
                    + ", ".join(
                        f"'{stage.key}'" if name is _name else name(stage)
                        for stage in relying
                    )
                    + ", so those limits are not enforced"
                ),
                'list what should happen, e.g. on_breach = ["mark_at_risk", '
                '"notify"], in [breach] or in each stage',
                "set the pipeline's default in its file (Edit as a file: "
                "on_breach in [breach]), or in each stage's form untick \"Use "
                f'{DEFAULT_WORDS}" and tick what should happen, e.g. {ticked}',
            ),
        )
    return findings


def _checklist_spellings(spec: PipelineSpec) -> list[Finding]:
    """Checklist items whose keys differ by one letter, or only by case and
    punctuation: a deal shows both to tick, and a rule that reads one never
    sees the other ticked (`checklist.nda_signd` beside `nda_signed`)."""
    first: dict[str, Path] = {}
    rules = [
        (("stages", index, key, number, "rule"), item.rule)
        for index, stage in enumerate(spec.stages)
        for key in ("entry_criteria", "exit_criteria")
        for number, item in enumerate(getattr(stage, key))
    ]
    rules += [
        (("won", "criteria", number, "rule"), item.rule)
        for number, item in enumerate(spec.won_criteria)
    ]
    findings = []
    for path, rule in rules:
        for key in items_in_rule(rule):
            if key in first:
                continue
            like = next((known for known in first if _look_alike(key, known)), None)
            first[key] = path
            if like is not None:
                findings.append(
                    Finding(
                        "checklist-spelling",
                        path,
                        f"checklist items {like!r} and {key!r} are spelled "
                        "almost alike: a deal shows both to tick, and a rule "
                        "that reads one never sees the other ticked",
                        f"name one of them in every rule (the first is at "
                        f"{'.'.join(map(str, first[like]))})",
                        page_fix="name one of them in every rule (the first "
                        f"is in {_criteria_said(spec, first[like])})",
                    )
                )
    return findings


def _criteria_said(spec: PipelineSpec, path: Path) -> str:
    """Where the rule at `path` is, as the builder shows it: "an exit
    criterion of stage "Qualified"", "a won criterion"."""
    if path[0] == "won":
        return "a won criterion"
    stage = spec.stages[int(path[1])]
    which = "an entry" if path[2] == "entry_criteria" else "an exit"
    return f"{which} criterion of {_page_name(stage)}"


def _look_alike(one: str, other: str) -> bool:
    """Keys one edit apart (a letter added, dropped or changed), or the same
    once case and punctuation are set aside."""
    if _letters(one) == _letters(other):
        return True
    if abs(len(one) - len(other)) > 1 or min(len(one), len(other)) < 4:
        return False
    if len(one) == len(other):
        return sum(a != b for a, b in zip(one, other, strict=True)) == 1
    short, long = sorted((one, other), key=len)
    return any(long[:at] + long[at + 1 :] == short for at in range(len(long)))


def _letters(key: str) -> str:
    return "".join(ch for ch in key.casefold() if ch.isalnum())


# --- data ---------------------------------------------------------------------


def _stage_data(
    spec: PipelineSpec, index: int, stage: StageSpec, data: StageData
) -> list[Finding]:
    here: Path = ("stages", index)
    findings = []
    if data.share is not None and data.share > spec.bottleneck_share:
        findings.append(
            _named(
                "wide",
                here,
                lambda name: (
                    f"{name(stage)} holds {percent(data.share or 0, 0)} "
                    f"of the open deals ({data.open_deals:,}), more than the "
                    f"bottleneck share of {percent(spec.bottleneck_share, 0)}"
                ),
                "find out why deals wait here: sharpen its exit criteria, give "
                "it an owner who moves deals on, or split it",
            )
        )
    if data.could_skip >= MIN_DEALS and data.skipped > data.could_skip / 2:
        findings.append(
            _named(
                "skipped",
                here,
                lambda name: (
                    f"most deals skip {name(stage)}: {data.skipped:,} "
                    f"of the {data.could_skip:,} closed deals that could have "
                    "passed it went around it"
                ),
                "remove it, merge it into a neighbour, or make what it checks "
                "an entry criterion of the next stage",
            )
        )
    findings += _over_limit(here, stage, data)
    return findings


def _over_limit(here: Path, stage: StageSpec, data: StageData) -> list[Finding]:
    limit, median = stage.age_limit_days, data.median_age_days
    if limit is None or median is None or median < FAR_OVER * limit:
        return []
    return [
        _named(
            "over-limit",
            (*here, "age_limit_days"),
            lambda name: (
                f"open deals have sat in {name(stage)} a median of "
                f"{figure(median, 1)} business days, far over its limit of {limit}"
            ),
            "close the deals that are dead (lost, with a reason), and set the "
            "limit from what won deals needed (see the blueprint)",
        )
    ]


def _loss_reasons(spec: PipelineSpec) -> list[Finding]:
    """A pipeline that lists no loss reason, or (applied before files refused
    them) two reasons whose labels differ only in case or spacing."""
    if spec.loss_reasons:
        return _alike_loss_labels(spec)
    return [
        Finding(
            "no-loss-reasons",
            ("loss_reasons",),
            "the pipeline lists no loss reasons: a lost deal then needs a note "
            "saying why, and no reason is stored, so losses cannot be counted "
            "by reason",
            "list the reasons deals are lost for in [[loss_reasons]] (a key and "
            'a label each, e.g. "price" / "Price too high"), with an "other" '
            "that needs a note",
            page_message="the pipeline lists no loss reasons: a lost deal then "
            "needs a note saying why, and no reason is stored, so losses "
            "cannot be counted by reason",
            page_fix="list the reasons deals are lost for (Edit as a file: a "
            'key and a label each, e.g. "Price too high"), with an "Other" '
            "that needs a note",
        )
    ]


def _alike_loss_labels(spec: PipelineSpec) -> list[Finding]:
    findings = []
    first: dict[str, str] = {}
    for index, reason in enumerate(spec.loss_reasons):
        key = name_key(reason.label)
        if key and key in first:
            findings.append(
                Finding(
                    "alike-loss-labels",
                    ("loss_reasons", index, "label"),
                    f"loss reason {reason.key!r} is labelled {reason.label!r}, as "
                    f"{first[key]!r} is but for case or spacing: a reason chosen "
                    f"by that label is always {first[key]!r}",
                    "give each loss reason a label of its own",
                )
            )
        first.setdefault(key, reason.key)
    for index, other in labels_naming_keys(spec.loss_reasons):
        reason = spec.loss_reasons[index]
        findings.append(
            Finding(
                "loss-label-is-a-key",
                ("loss_reasons", index, "label"),
                f"loss reason {reason.key!r} is labelled {reason.label!r}, which is "
                f"the key of loss reason {other!r}: a loss chosen by that label is "
                f"recorded as {other!r}, without the note {reason.key!r} may need",
                "give each loss reason a label that is no other reason's key",
            )
        )
    return findings


def _losses(data: PipelineData) -> list[Finding]:
    if not data.lost_without_reason:
        return []
    unlisted = (
        data.lost_without_reason - data.lost_empty_reason - data.lost_placeholder_reason
    )

    def kinds(unlisted_words: str) -> str:
        return ", ".join(
            f"{count:,} {kind}"
            for count, kind in (
                (data.lost_empty_reason, "empty"),
                (unlisted, unlisted_words),
                (data.lost_placeholder_reason, "a placeholder"),
            )
            if count
        )

    lost = f"{data.lost_without_reason:,} of {data.lost:,} lost deals"
    return [
        Finding(
            "lost-no-reason",
            ("loss_reasons",),
            f"{lost} have no real loss reason (empty, not listed, or a "
            "placeholder such as not-recorded): " + kinds("not listed in loss_reasons"),
            "ask for a reason whenever a deal is lost (list the real ones in "
            "loss_reasons) and record the reasons of past losses where known",
            page_message=f"{lost} have no real loss reason (none given, one "
            "the pipeline does not list, or a stand-in an import wrote, such "
            'as "not recorded"): ' + kinds("not among the pipeline's loss reasons"),
            page_fix="ask for a reason whenever a deal is lost (list the real "
            "ones among the pipeline's loss reasons) and record the reasons of "
            "past losses where known",
        )
    ]
