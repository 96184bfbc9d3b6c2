"""Entry and exit criteria: labelled conditions on a deal, checked by the product.

A criterion is a label a person reads ("buyer named a decision date") and a
rule the product checks, written in CEL, the Common Expression Language
(https://cel.dev), through the `common-expression-language` package. CEL has
no statements, no loops without bounds and no access to Python objects: a rule
sees only the plain values of the context below, so evaluating one is safe.
`docs/criteria.md` is the guide for people who write rules.

The context a rule sees (built by `deal_context`):

    deal.title                text
    deal.value                number, or null when the deal has no value
    deal.currency             text, "EUR"
    deal.status               "open", "won" or "lost"
    deal.stage                the current stage's key
    deal.owner                the owner's username, or null
    deal.organization         the organization's name, or null
    deal.contact              the contact person's name, or null
    deal.product              the product's name, or null
    deal.expected_close_date  date, or null
    deal.created_at           timestamp, or null
    deal.stage_entered_at     timestamp, or null
    deal.custom               map of custom fields; every field the pipeline
                              defines is present, null when unset
    activities                list of maps: kind, tag, done, at (timestamp)
    checklist                 map of checklist item key to true/false; every
                              item a rule of the pipeline names is present,
                              false until the deal ticks it
    now                       timestamp: the application's clock
    today                     date: today in the pipeline's calendar

A date is the timestamp of 00:00 UTC on that day, so dates compare exactly
with dates. Helper functions: `days(n)` is a duration of n days, `date("2026-07-15")`
is a date, `held(kind)` and `held(kind, tag)` are true when the deal has a done
activity of that kind (and tag).

Activity tags are compared without regard to case, by one rule (`tag_key`):
activities store their tags in lower case, the context gives them so, and a
rule's tag (the second argument of held(), a string compared with an
activity's `tag` or given to its startsWith, endsWith or contains) is read
in lower case when the rule is compiled; a pattern for `tag.matches` that
asks for capitals is refused instead, since lowering a pattern changes it. So is
the kind held() is given (`held("Meeting")`); a kind compared with `a.kind`
must be written as kinds are stored, in lower case.

Compiling a rule checks more than CEL's grammar: the functions it calls, the
names it starts from, the deal and activity fields it reads and the activity
kinds it names must exist, and a text it hands duration(), timestamp(),
int(), uint(), double() or matches() must be one the engine reads (the
engine is asked), so a typo is refused when the pipeline is validated rather
than at a move. `check_rule`, given the pipeline's custom
fields, also refuses a rule that reads any other: such a rule could never be
met, and every deal would need an override. So is a rule that compiles yet
can never give true or false: one that gives a number, compares a number
with text, or calls held() with a number (`rule_types` reads the rule's tree
against the kinds of the context's values and the custom fields' types).
Compiled rules are cached by their text.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import cel

from dealgate.core.custom_fields import set_values
from dealgate.core.rule_types import (
    NO_DECIMAL_REMAINDER as _NO_DECIMAL_REMAINDER,
)
from dealgate.core.rule_types import constant_arguments, type_problem
from dealgate.core.text import agreeing, counted

__all__ = [
    "ACTIVITY_KINDS",
    "CompiledRule",
    "CriteriaSet",
    "Criterion",
    "CriterionResult",
    "Evaluation",
    "RuleError",
    "check_rule",
    "compile_rule",
    "deal_context",
    "tag_key",
    "describe",
    "evaluate",
    "refusal_message",
    "rule_problem",
]

# A criterion is one condition a person can read at a glance; a longer rule is
# a sign it should be split, and the cap bounds the work a pipeline file can
# ask of the compiler.
MAX_RULE_LENGTH = 2000

ROOT_NAMES = frozenset({"deal", "activities", "checklist", "now", "today"})
DEAL_FIELDS = frozenset(
    {
        "title",
        "value",
        "currency",
        "status",
        "stage",
        "owner",
        "organization",
        "contact",
        "product",
        "expected_close_date",
        "created_at",
        "stage_entered_at",
        "custom",
    }
)
ACTIVITY_FIELDS = ("kind", "tag", "done", "at")
# The kinds of Activity.Kind (dealgate.deals.models), which this pure module
# cannot import; a test keeps the two the same.
ACTIVITY_KINDS = ("call", "email", "meeting", "note", "task")
HELPER_FUNCTIONS = frozenset({"days", "date", "held"})
# The functions of CEL's standard library that the package implements; names
# it parses but cannot run (`lowerAscii`, `math.greatest` ...) are refused.
STANDARD_FUNCTIONS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "getFullYear",
        "getMonth",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
KNOWN_FUNCTIONS = STANDARD_FUNCTIONS | HELPER_FUNCTIONS
# CEL lets `type(x) == map` name a type as if it were a variable.
TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type"}
)

_PARSE_ERROR = re.compile(r"<input>:(\d+):(\d+): (.*)")
_EXPECTING = re.compile(r" expecting (\{.*?\}|\S+)$")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")
_FUNCTION_FAILED = re.compile(
    r"Function '([^']*)' error: .*?failed: \w+: (.*?)\. Check"
)
_ENGINE_FAILED = re.compile(r"Function '([^']*)' error: ")
_DATE_LITERAL = re.compile(
    r"""(?<![\w.])date\s*\(\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*\)"""
)
# String literals and comments, in the order CEL's lexer would meet them; raw
# strings take no escapes.
_LITERAL = re.compile(
    r"""
    (?:[rR][bB]?|[bB][rR])(?:\"\"\".*?\"\"\"|'''.*?'''|"[^"\n]*"|'[^'\n]*')
    | [bB]?(?:\"\"\".*?\"\"\"|'''.*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
    | //[^\n]*
    """,
    re.DOTALL | re.VERBOSE,
)
_BOUND_NAME = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,"
)
_DEAL_FIELD = re.compile(r"(?<![\w.])deal\s*\.\s*([A-Za-z_]\w*)")
_CUSTOM_FIELD = re.compile(r"(?<![\w.])deal\s*\.\s*custom\s*(?:\.\s*([A-Za-z_]\w*)|\[)")
# A macro whose receiver is the activity list itself: `activities.exists(`.
_ACTIVITIES_END = re.compile(r"(?<![\w.])activities\s*$")
# Where code names an activity kind in a string that follows: the first
# argument of held(), and a comparison or list test of an activity's kind.
_KIND_BEFORE = re.compile(
    r"(?<![\w.])held\s*\(\s*"
    r"|(?<![\w.])[A-Za-z_]\w*\s*\.\s*kind\s*(?:[!=]=\s*|in\s*\[[^\]]*)"
)
_HELD_OPEN = re.compile(r"(?<![\w.])held\s*\(\s*$")
_KIND_AFTER = re.compile(r"\s*[!=]=\s*[A-Za-z_]\w*\s*\.\s*kind\b")
# The same for an activity's tag: a comparison or list test of `.tag`.
_TAG_BEFORE = re.compile(
    r"(?<![\w.])[A-Za-z_]\w*\s*\.\s*tag\s*"
    r"(?:[!=]=\s*|in\s*\[[^\]]*|\.\s*(?:startsWith|endsWith|contains)\s*\(\s*)"
)
# A pattern a tag is matched with: `a.tag.matches("...")`.
_TAG_PATTERN = re.compile(r"(?<![\w.])[A-Za-z_]\w*\s*\.\s*tag\s*\.\s*matches\s*\(\s*$")
_TAG_AFTER = re.compile(r"\s*[!=]=\s*[A-Za-z_]\w*\s*\.\s*tag\b")
_PLAIN_STRING = re.compile(r"""\s*(["'])([^"'\\\n]*)\1""")


class RuleError(ValueError):
    """A rule that cannot be compiled.

    `reason` says why in plain words; `line` and `column` (1-based, within the
    rule's own text) point at the problem when it is known. `never_met` marks
    a rule that compiles but can never give true or false on any deal. A pipeline file
    validator adds the rule's first line in the file to `line - 1`.
    """

    def __init__(
        self,
        reason: str,
        rule: str,
        *,
        line: int | None = None,
        column: int | None = None,
        never_met: bool = False,
    ) -> None:
        self.reason = reason
        self.never_met = never_met
        self.rule = rule
        self.line = line
        self.column = column
        super().__init__(self._message())

    def _message(self) -> str:
        if self.column is None:
            return self.reason
        if self.line is None or (self.line == 1 and "\n" not in self.rule):
            return f"column {self.column}: {self.reason}"
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass(frozen=True)
class Criterion:
    """One condition: the words people read and the rule the product checks."""

    label: str
    rule: str


@dataclass(frozen=True)
class CriteriaSet:
    """Criteria combined with `all` (every one must hold) or `any` (one is
    enough). An empty set holds in either mode: a stage without criteria does
    not block a move."""

    mode: Literal["all", "any"] = "all"
    items: Sequence[Criterion] = ()

    def __post_init__(self) -> None:
        if self.mode not in ("all", "any"):
            raise ValueError(f"mode must be 'all' or 'any', not {self.mode!r}")
        object.__setattr__(self, "items", tuple(self.items))


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run; `names` are the context roots it reads."""

    rule: str
    program: cel.Program = field(repr=False, compare=False)
    names: frozenset[str]


@dataclass(frozen=True)
class CriterionResult:
    """Whether one criterion holds. `error` is set when the rule could not be
    checked (it then counts as unmet)."""

    label: str
    rule: str
    met: bool
    error: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """Every criterion of a set, met or not; `passed` follows the set's mode."""

    mode: Literal["all", "any"]
    results: tuple[CriterionResult, ...]

    @property
    def passed(self) -> bool:
        if not self.results:
            return True
        met = (result.met for result in self.results)
        return all(met) if self.mode == "all" else any(met)

    @property
    def unmet_labels(self) -> list[str]:
        return [result.label for result in self.results if not result.met]


@lru_cache(maxsize=2048)
def compile_rule(rule: str) -> CompiledRule:
    """Compile `rule`, or raise `RuleError` saying why and where.

    The result is cached by the exact rule text, so the same text returns the
    same object; rules that fail are not cached.
    """
    if not rule.strip():
        raise RuleError("the rule is empty", rule)
    if len(rule) > MAX_RULE_LENGTH:
        raise RuleError(
            f"the rule is {len(rule)} characters long; the limit is "
            f"{MAX_RULE_LENGTH} (split it into several criteria)",
            rule,
        )
    try:
        program = cel.compile(_tags_lowered(rule))
    except ValueError as error:
        raise _parse_error(str(error), rule) from None

    references = program.references()
    _check_functions(rule, references["functions"])
    _check_dates(rule)
    _check_constants(rule)
    names = _check_names(rule, references["variables"])
    _check_activities(rule)
    return CompiledRule(rule=rule, program=program, names=names)


def check_rule(
    rule: str, custom_fields: Collection[str] | Mapping[str, str] | None = None
) -> str | None:
    """None when `rule` compiles and can give true or false, else the reason
    with its position (`rule_problem`)."""
    problem = rule_problem(rule, custom_fields)
    return None if problem is None else str(problem)


def rule_problem(
    rule: str, custom_fields: Collection[str] | Mapping[str, str] | None = None
) -> RuleError | None:
    """Why `rule` cannot serve as a criterion, or None.

    `custom_fields` are the pipeline's custom fields: their keys, or a mapping
    of key to type ("number", "date" ...). Given them, a rule that reads any
    other custom field is refused too; given their types, so is a rule that
    uses a field as another kind (a number field compared with text). Leave it
    None where the pipeline is not known. A rule that compiles but can never
    give true or false (see `rule_types`) is refused with `never_met` set.
    """
    try:
        compile_rule(rule)
        if custom_fields is not None:
            _check_custom_fields(rule, custom_fields)
    except RuleError as error:
        return error
    types = custom_fields if isinstance(custom_fields, Mapping) else None
    fault = type_problem(rule, types)
    if fault is None:
        return None
    line, column = _line_column(rule, fault.offset)
    return RuleError(fault.reason, rule, line=line, column=column, never_met=True)


def evaluate(criteria: CriteriaSet, context: Mapping[str, Any]) -> Evaluation:
    """Check every criterion of `criteria` against `context`.

    Never raises for a bad rule or an odd deal: a rule that does not compile,
    fails while running (a missing field, a null compared with a number) or
    gives something other than true or false counts as unmet, with the reason
    in `error`. `context` is what `deal_context` returns.
    """
    compiled: list[CompiledRule | RuleError] = []
    for criterion in criteria.items:
        try:
            compiled.append(compile_rule(criterion.rule))
        except RuleError as error:
            compiled.append(error)

    activation = _activation(compiled, context)
    results = tuple(
        _result(criterion, program, activation)
        for criterion, program in zip(criteria.items, compiled, strict=True)
    )
    return Evaluation(mode=criteria.mode, results=results)


def describe(evaluation: Evaluation) -> list[str]:
    """One checklist line per criterion: "✓ Budget confirmed", "✗ ..."."""
    lines = []
    for result in evaluation.results:
        label = result.label[:1].upper() + result.label[1:]
        line = f"{'✓' if result.met else '✗'} {label}"
        if result.error:
            line += f" (could not be checked: {result.error})"
        lines.append(line)
    return lines


def refusal_message(evaluation: Evaluation, stage: str, kind: str = "exit") -> str:
    """Why a move is refused, naming the unmet criteria of `stage`; `kind` is
    "exit" or "entry". Meant for an evaluation that did not pass."""
    unmet = "; ".join(evaluation.unmet_labels)
    count = len(evaluation.unmet_labels)
    # "Any" of a single criterion is that one criterion, refused as such:
    # "none of the 1 exit criteria ... (one is enough)" does not read.
    if evaluation.mode == "any" and count > 1:
        return (
            f"Refused: none of the {count} {kind} criteria of '{stage}' is met "
            f"(one is enough): {unmet}"
        )
    unmet_rules = counted(count, f"{kind} criterion", f"{kind} criteria")
    verb = agreeing(count, "is", "are")
    return f"Refused: {unmet_rules} of '{stage}' {verb} unmet: {unmet}"


def deal_context(
    *,
    title: str,
    value: Decimal | float | None,
    currency: str,
    status: str,
    stage: str,
    owner: str | None,
    organization: str | None,
    expected_close_date: dt.date | None,
    created_at: dt.datetime | None,
    stage_entered_at: dt.datetime | None,
    now: dt.datetime,
    timezone: dt.tzinfo = dt.UTC,
    contact: str | None = None,
    product: str | None = None,
    custom: Mapping[str, Any] | None = None,
    custom_fields: Mapping[str, str] | None = None,
    activities: Iterable[Mapping[str, Any]] = (),
    checklist: Mapping[str, bool] | None = None,
    checklist_items: Iterable[str] = (),
) -> dict[str, Any]:
    """The values rules see, in the shape the module docstring describes.

    Timestamps must be timezone-aware. `custom` holds the deal's custom values
    and `custom_fields` the pipeline's fields, key to type ("text", "number",
    "date", "bool", "choice"): a field missing from `custom` is null, so a rule
    can test an unset field with `!= null`, a date field stored as ISO text
    ("2026-07-15") becomes a date and a number field a decimal number.
    `activities` are mappings with at least kind, tag, done and at; other keys
    are dropped. `timezone` is the pipeline calendar's, and decides which day
    `today` is. `checklist` is what the deal stored; `checklist_items` are
    the items the pipeline's rules name, false (not ticked) unless the deal
    stored them: a deal that never saved an item has simply not ticked it.
    Only a key no rule names (one a rule reaches some other way) is missing.
    """
    return {
        "deal": {
            "title": title,
            "value": None if value is None else float(value),
            "currency": currency,
            "status": status,
            "stage": stage,
            "owner": owner,
            "organization": organization,
            "contact": contact,
            "product": product,
            "expected_close_date": _plain(expected_close_date),
            "created_at": _plain(created_at),
            "stage_entered_at": _plain(stage_entered_at),
            "custom": _plain(_custom_values(custom or {}, custom_fields or {})),
        },
        "activities": [
            {
                **{key: _plain(activity[key]) for key in ACTIVITY_FIELDS},
                "tag": tag_key(activity["tag"] or ""),
            }
            for activity in activities
        ],
        "checklist": {
            **dict.fromkeys(checklist_items, False),
            **{key: bool(done) for key, done in (checklist or {}).items()},
        },
        "now": _plain(now),
        "today": _plain(now.astimezone(timezone).date()),
    }


def _custom_values(
    values: Mapping[str, Any], types: Mapping[str, str]
) -> dict[str, Any]:
    """Every field of `types` (key to type), null when unset, typed for rules."""
    fields: dict[str, Any] = dict.fromkeys(types)
    # A blank text stored before every door read it as unset is unset too.
    fields.update(set_values(values))
    for key, kind in types.items():
        stored = fields[key]
        if kind == "date" and isinstance(stored, str):
            fields[key] = _iso_date(stored)
        # One kind of number, like deal.value: CEL refuses arithmetic that
        # mixes whole and decimal numbers, and authors should not have to know
        # which one a field happens to hold.
        elif kind == "number" and type(stored) in (int, Decimal):
            fields[key] = float(stored)
    return fields


def _iso_date(text: str) -> dt.date | str:
    # A stored value that is not a date stays text: the rules that compare it
    # with a date then fail with a reason, and the move is not broken.
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


def _plain(value: Any) -> Any:
    """`value` as something CEL reads: dates become midnight-UTC timestamps,
    decimals become numbers; anything that is not plain data is refused."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()} has no time zone")
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise TypeError(f"rules cannot read a {type(value).__name__}")


def _parse_error(message: str, rule: str) -> RuleError:
    found = _PARSE_ERROR.search(message)
    if found is None:
        return RuleError(message, rule)
    line, column, reason = found.groups()
    return RuleError(_plain_reason(reason), rule, line=int(line), column=int(column))


def _plain_reason(reason: str) -> str:
    """The parser's reason with grammar jargon turned into words."""
    reason = _EXPECTING.sub("", reason.removeprefix("Syntax error: "))
    if reason == "mismatched input '<EOF>'":
        return "the rule ends too early"
    unexpected = re.fullmatch(
        r"(?:mismatched|extraneous) input '(.*)'|no viable alternative at input '(.*)'",
        reason,
    )
    if unexpected:
        token = unexpected.group(1) or unexpected.group(2)
        hint = {"and": " (write &&)", "or": " (write ||)", "not": " (write !)"}
        return f"unexpected '{token}'{hint.get(token, '')}"
    unreadable = re.fullmatch(r"token recognition error at: '(.*)'", reason, re.S)
    if unreadable:
        text = unreadable.group(1)
        if text[:1] in "\"'":
            return f"unclosed quote at {text.strip()!r}"
        if text.strip() in ("=", "=!"):
            return f"cannot read '{text.strip()}' (compare with ==, or !=)"
        return f"cannot read '{text.strip()}'"
    if "`_?_:_`" in reason:
        return "a condition needs both parts: test ? this : that"
    return reason


def _check_functions(rule: str, functions: Iterable[str]) -> None:
    for name in functions:
        # Operators come back as `_&&_`, `!_` or `@in`: symbols, or an `@`
        # that no rule can write.
        if name.startswith("@") or not re.search(r"[A-Za-z0-9]", name):
            continue
        if name not in KNOWN_FUNCTIONS:
            line, column = _position(rule, rf"\b{re.escape(name)}\s*\(")
            raise RuleError(
                f"unknown function '{name}'", rule, line=line, column=column
            )


def _check_dates(rule: str) -> None:
    # A date written in the rule is checked now: the package reports a helper's
    # failure on stderr at every evaluation, and a typo should stop `validate`.
    code = _without_literals(rule)
    for found in _DATE_LITERAL.finditer(rule):
        if code[found.start()] != "d":
            continue  # the call is quoted inside a string, not code
        text = found.group(1) if found.group(1) is not None else found.group(2)
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            line, column = _line_column(rule, found.start())
            raise RuleError(
                f'date() takes text like "2026-07-15", not {text!r}',
                rule,
                line=line,
                column=column,
            ) from None


def _check_constants(rule: str) -> None:
    """Refuse a text written in the rule that its function can never read
    (`duration("2d")`, `timestamp("2026-07-15")`, `x.matches("[")`): the
    engine reads such a text only when the rule runs, where it would fail on
    every deal. The engine itself is asked, on the text alone, so the check
    accepts exactly what a move would."""
    for name, literal, offset in constant_arguments(rule):
        probe = f'"".matches({literal})' if name == "matches" else f"{name}({literal})"
        try:
            cel.compile(probe).execute(cel.Context({}))
        except Exception as error:  # the engine's faults come as built-in types
            line, column = _line_column(rule, offset)
            raise RuleError(
                _unreadable_constant(name, literal, str(error)),
                rule,
                line=line,
                column=column,
                never_met=True,
            ) from None


def _unreadable_constant(name: str, literal: str, engine: str) -> str:
    """Why `name` cannot read `literal`, with how to write it instead."""
    text = _PLAIN_STRING.fullmatch(literal)
    shown = text.group(2) if text else literal
    if name == "duration":
        in_days = re.fullmatch(r"\s*(\d+)\s*(d|days?|w|weeks?)\s*", shown, re.I)
        hint = (
            f"for days write days({int(in_days.group(1)) * 7})"
            if in_days and in_days.group(2)[0].lower() == "w"
            else f"for days write days({in_days.group(1)})"
            if in_days
            else "for days write days(n)"
        )
        return (
            f"duration() cannot read {shown!r}: CEL durations are written in "
            f'hours, minutes or seconds, like "48h" or "30m" ({hint})'
        )
    if name == "timestamp":
        return (
            f"timestamp() cannot read {shown!r}: it takes a full time with its "
            'zone, like "2026-07-15T09:00:00Z" (for a day write '
            'date("2026-07-15"); for a time relative to now write now - days(1))'
        )
    if name == "matches":
        return f"matches() cannot use the pattern {shown!r}: {_pattern_fault(engine)}"
    wanted = {"int": "a whole number", "uint": "a whole number of 0 or more"}
    return f"{name}() cannot read {shown!r} as {wanted.get(name, 'a decimal number')}"


def _pattern_fault(engine: str) -> str:
    """The regex engine's reason, without its picture of the pattern."""
    reasons = re.findall(r"^error: (.*?)(?:\. Check function.*)?$", engine, re.M)
    return reasons[-1] if reasons else "the rule engine cannot read it"


def _check_names(rule: str, variables: Iterable[str]) -> frozenset[str]:
    """The context roots `rule` reads; refuses unknown names and deal fields.

    CEL reports the variables a macro binds (the `a` of `activities.exists(a,
    ...)`) among the names; they are found in the text instead. A name this
    misses is caught when the rule runs, never refused wrongly.
    """
    code = _without_literals(rule)
    bound = set(_BOUND_NAME.findall(code))
    names = set(variables) - bound - TYPE_NAMES
    unknown = sorted(names - ROOT_NAMES)
    if unknown:
        line, column = _position(rule, rf"(?<![\w.]){re.escape(unknown[0])}\b")
        roots = ", ".join(sorted(ROOT_NAMES))
        raise RuleError(
            f"unknown name '{unknown[0]}' (a rule starts from {roots})",
            rule,
            line=line,
            column=column,
        )

    if "deal" not in bound:
        for found in _DEAL_FIELD.finditer(code):
            name = found.group(1)
            if name not in DEAL_FIELDS:
                line, column = _line_column(rule, found.start(1))
                if name in ROOT_NAMES:
                    hint = f"write {name}, not deal.{name}"
                else:
                    hint = _did_you_mean(name, DEAL_FIELDS - {"custom"}) or (
                        "custom fields are read as deal.custom.NAME"
                    )
                raise RuleError(
                    f"a deal has no field '{name}' ({hint})",
                    rule,
                    line=line,
                    column=column,
                )
    return frozenset(names)


def _check_activities(rule: str) -> None:
    """Refuse an activity kind or field that does not exist.

    Kinds are checked where a string names one: `held("meeting")`,
    `a.kind == "call"`, `a.kind in ["call", "email"]`. Fields are checked on
    the names a macro binds over `activities` and nothing else, so a name
    reused for another list is never refused wrongly. Tags are free text.
    """
    code = _without_literals(rule)
    for found in _LITERAL.finditer(rule):
        text = _PLAIN_STRING.fullmatch(found.group())
        if text is None or not _names_kind(code, found.start(), found.end()):
            continue
        kind = text.group(2)
        held = _held_kind(code, found.start())
        if (kind.lower() if held else kind) not in ACTIVITY_KINDS:
            line, column = _line_column(rule, found.start())
            if kind.lower() in ACTIVITY_KINDS:
                hint = f"kinds are stored in lower case: write {kind.lower()!r}"
            else:
                hint = _did_you_mean(kind.lower(), ACTIVITY_KINDS) or (
                    f"the kinds are {', '.join(ACTIVITY_KINDS)}"
                )
            raise RuleError(
                f"unknown activity kind {kind!r} ({hint})",
                rule,
                line=line,
                column=column,
            )

    _check_tag_patterns(rule, code)
    over_activities, elsewhere = set(), set()
    for found in _BOUND_NAME.finditer(code):
        receiver = _ACTIVITIES_END.search(code, 0, found.start())
        (over_activities if receiver else elsewhere).add(found.group(1))
    for bound in sorted(over_activities - elsewhere):
        pattern = rf"(?<![\w.]){re.escape(bound)}\s*\.\s*([A-Za-z_]\w*)"
        for found in re.finditer(pattern, code):
            name = found.group(1)
            if name not in ACTIVITY_FIELDS:
                line, column = _line_column(rule, found.start(1))
                hint = _did_you_mean(name, ACTIVITY_FIELDS) or (
                    f"an activity has {', '.join(ACTIVITY_FIELDS)}"
                )
                raise RuleError(
                    f"an activity has no field {name!r} ({hint})",
                    rule,
                    line=line,
                    column=column,
                )


def _check_tag_patterns(rule: str, code: str) -> None:
    """Refuse a pattern for an activity's tag that asks for a capital letter:
    tags are stored in lower case, so it could never match. (A pattern is not
    lowered as a compared text is: `\\D` and `\\d` differ.)"""
    for found in _LITERAL.finditer(rule):
        text = _PLAIN_STRING.fullmatch(found.group())
        if text is None or _TAG_PATTERN.search(code, 0, found.start()) is None:
            continue
        pattern = text.group(2)
        if pattern.startswith("(?i)") or not re.search(r"(?<!\\)[A-Z]", pattern):
            continue
        line, column = _line_column(rule, found.start())
        raise RuleError(
            f"the tag pattern {pattern!r} asks for capital letters, but tags are "
            f"stored in lower case (write {pattern.lower()!r}, or start the "
            "pattern with (?i))",
            rule,
            line=line,
            column=column,
        )


def tag_key(tag: str) -> str:
    """An activity tag as it is stored and compared: without spaces at
    either end, in lower case ("First-Reply" is "first-reply")."""
    return tag.strip().lower()


def _tags_lowered(rule: str) -> str:
    """`rule` with each string it compares with an activity's tag
    (`a.tag == "Objection"`, `a.tag in ["A", "B"]`) and the kind held() is
    given (`held("Meeting")`) in lower case (`tag_key`), so a rule meets them
    whatever case it writes them in. Positions are kept: a string whose lower
    case is longer stays as written."""
    if "tag" not in rule and "held" not in rule:
        return rule
    code = _without_literals(rule)
    pieces, done = [], 0
    for found in _LITERAL.finditer(rule):
        text = _PLAIN_STRING.fullmatch(found.group())
        if text is None or not (
            _names_tag(code, found.start(), found.end())
            or _held_kind(code, found.start())
        ):
            continue
        lowered = text.group(2).lower()
        if len(lowered) != len(text.group(2)):
            continue
        start = found.start() + text.start(2)
        pieces += [rule[done:start], lowered]
        done = start + len(lowered)
    return "".join(pieces) + rule[done:] if pieces else rule


def _names_tag(code: str, start: int, end: int) -> bool:
    """Whether the string literal at `start`..`end` is compared with an
    activity's tag, judged by the code around it."""
    before = code[max(0, start - 200) : start]
    if any(found.end() == len(before) for found in _TAG_BEFORE.finditer(before)):
        return True
    return _TAG_AFTER.match(code, end) is not None


def _held_kind(code: str, start: int) -> bool:
    """Whether the string literal at `start` is the kind held() is given."""
    return _HELD_OPEN.search(code, max(0, start - 200), start) is not None


def _names_kind(code: str, start: int, end: int) -> bool:
    """Whether the string literal at `start`..`end` of the rule is an
    activity kind, judged by the code around it."""
    before = code[max(0, start - 200) : start]
    if any(found.end() == len(before) for found in _KIND_BEFORE.finditer(before)):
        return True
    return _KIND_AFTER.match(code, end) is not None


def _check_custom_fields(rule: str, custom_fields: Collection[str]) -> None:
    """Refuse a custom field the pipeline does not define: it would read as
    missing on every deal, so no deal could ever meet the rule."""
    code = _without_literals(rule)
    if "deal" in _BOUND_NAME.findall(code):
        return
    for found in _CUSTOM_FIELD.finditer(code):
        if found.group(1) is not None:
            name, offset = found.group(1), found.start(1)
        else:
            # deal.custom["name"]: the key is the string that follows.
            text = _PLAIN_STRING.match(rule, found.end())
            if text is None:
                continue
            name, offset = text.group(2), text.start(1)
        if name in custom_fields:
            continue
        line, column = _line_column(rule, offset)
        hint = _did_you_mean(name, custom_fields)
        if hint is None:
            hint = (
                "its custom fields are " + ", ".join(sorted(custom_fields))
                if custom_fields
                else "it defines no custom fields"
            )
        raise RuleError(
            f"the pipeline has no custom field {name!r} ({hint})",
            rule,
            line=line,
            column=column,
        )


def _did_you_mean(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _without_literals(rule: str) -> str:
    """`rule` with strings and comments blanked out, positions kept, so names
    quoted in text are not taken for code."""
    return _LITERAL.sub(lambda found: re.sub(r"[^\n]", " ", found.group()), rule)


def _position(rule: str, pattern: str) -> tuple[int | None, int | None]:
    found = re.search(pattern, _without_literals(rule))
    return _line_column(rule, found.start()) if found else (None, None)


def _line_column(rule: str, offset: int) -> tuple[int, int]:
    line = rule.count("\n", 0, offset) + 1
    return line, offset - (rule.rfind("\n", 0, offset) + 1) + 1


def _activation(
    compiled: Iterable[CompiledRule | RuleError], context: Mapping[str, Any]
) -> cel.Context:
    """One CEL context shared by the rules of a set.

    Only the roots some rule reads are handed over: the package copies every
    value into its own form, about a microsecond per map entry, and the
    activity list is most of a deal's context.
    """
    needed: set[str] = set()
    for program in compiled:
        if isinstance(program, CompiledRule):
            needed |= program.names
    variables = {name: context[name] for name in needed if name in context}
    return cel.Context(variables, _helpers(context.get("activities", ())))


def _helpers(
    activities: Iterable[Mapping[str, Any]],
) -> dict[str, Callable[..., Any]]:
    # `held` reads the Python list directly, so a rule using it costs no copy
    # of the activities.
    def held(kind: str, tag: str | None = None) -> bool:
        if not isinstance(kind, str) or not isinstance(tag, str | None):
            raise TypeError("held() takes an activity kind and an optional tag")
        kind = kind.lower()
        if tag is not None:
            tag = tag_key(tag)
        return any(
            activity["done"]
            and activity["kind"] == kind
            and (tag is None or activity["tag"] == tag)
            for activity in activities
        )

    return {"held": held, "days": _days, "date": _date}


def _days(count: int | float) -> dt.timedelta:
    if isinstance(count, bool) or not isinstance(count, int | float):
        raise TypeError("days() takes a number")
    return dt.timedelta(days=count)


def _date(text: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f'date() takes text like "2026-07-15", not {text!r}') from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _result(
    criterion: Criterion,
    program: CompiledRule | RuleError,
    activation: cel.Context,
) -> CriterionResult:
    def unmet(error: str) -> CriterionResult:
        return CriterionResult(criterion.label, criterion.rule, met=False, error=error)

    if isinstance(program, RuleError):
        if program.never_met:
            return unmet(program.reason)
        return unmet(f"the rule does not compile: {program}")
    try:
        value = program.program.execute(activation)
    # The package raises the built-in exception types for a rule's faults, and
    # a move must never fail because of one rule.
    except Exception as error:
        return unmet(_runtime_reason(error))
    if value is None:
        # A branch written as null (`x != null ? x > 5.0 : null`), or an unset
        # true/false field: not met, and nothing went wrong.
        return CriterionResult(criterion.label, criterion.rule, met=False)
    if not isinstance(value, bool):
        return unmet(f"the rule gave {value!r}, not true or false")
    return CriterionResult(criterion.label, criterion.rule, met=value)


def _runtime_reason(error: Exception) -> str:
    message = str(error)
    if isinstance(error, KeyError):
        return f"no field {error.args[0]!r}" if error.args else "no such field"
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    if isinstance(error, TypeError) and message.startswith("No such overload"):
        return (
            "these values cannot be used together (is a field null? compare "
            "numbers with numbers and dates with dates)"
        )
    failed = _FUNCTION_FAILED.search(message)
    if failed:
        return failed.group(2)
    engine = _ENGINE_FAILED.match(message)
    if engine:
        return _engine_reason(engine.group(1), message)
    undefined = _UNDEFINED.search(message)
    if undefined:
        return f"'{undefined.group(1)}' is unknown or was given the wrong kind of value"
    if message.startswith("Unsupported operation: "):
        operation = message.removeprefix("Unsupported operation: ").split(". ")[0]
        return f"cannot compute {operation}{_operation_hint(operation)}"
    return message.splitlines()[0] if message else type(error).__name__


def _engine_reason(name: str, message: str) -> str:
    """A function's failure inside the rule engine, in words: the engine's own
    text names its internals ("Error { input: ... }")."""
    if name == "matches":
        return f"matches() was given a pattern it cannot use: {_pattern_fault(message)}"
    what = {
        "duration": 'a duration (written like "48h" or "30m")',
        "timestamp": 'a time (written like "2026-07-15T09:00:00Z")',
        "int": "a whole number",
        "uint": "a whole number of 0 or more",
        "double": "a decimal number",
    }.get(name)
    if what is not None:
        return f"{name}() was given text it cannot read as {what}"
    return f"{name}() could not use the value it was given"


def _operation_hint(operation: str) -> str:
    kinds = set(re.findall(r"[a-z_]+", operation))
    if "null" in kinds:
        return " (is a field null?)"
    if "%" in operation and kinds & {"float", "double"}:
        return f" ({_NO_DECIMAL_REMAINDER})"
    if {"int", "float"} <= kinds or {"int", "double"} <= kinds:
        return " (next to a decimal number, write 2.0 rather than 2)"
    return ""
