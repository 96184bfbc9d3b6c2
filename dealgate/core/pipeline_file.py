"""Pipeline files: a whole pipeline as TOML text, read, checked and written.

The format is documented key by key in docs/pipeline-file.md. `parse_pipeline`
turns text into a `PipelineSpec`, or raises one `PipelineFileError` that lists
every problem with its file, line and key; `check_pipeline` returns those
problems with the spec as far as it reads, so a caller can check more (the
users and teams it names) in the same run. `dump_pipeline` writes a spec back
as canonical TOML that parses to an equal spec.

Pure Python: the Django side (dealgate.pipelines.services) maps a spec onto
rows. Criteria rules are kept as text here, checked as `check_rule` does with
the file's own custom fields: a rule that could never be met is refused.
"""

from __future__ import annotations

import math
import re
import statistics
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from os import PathLike
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dealgate.clocks.rules import BreachRuleError, handoff_name, parse_duration
from dealgate.clocks.rules import parse_rules as parse_breach_rules
from dealgate.core import routing as routing_rules
from dealgate.core.checklist import MOST_CHECKLIST_ITEMS, items_in_rule
from dealgate.core.checklist import check_key as check_checklist_key
from dealgate.core.controls import IN_NAME, control_in
from dealgate.core.criteria import rule_problem
from dealgate.core.currencies import iso_currency
from dealgate.core.names import name_key
from dealgate.core.text import blank_problem, counted, looks_blank
from dealgate.core.toml_lines import (
    KeyLines,
    Path,
    format_path,
    quote_string,
    syntax_error_position,
)
from dealgate.errors import ValidationError

LEAD = "lead"
DEAL_OWNER = "deal-owner"
STAGE_OWNER = "stage-owner"
RESERVED_STAGE_KEYS = frozenset({LEAD, "won", "lost"})
FIELD_TYPES = ("text", "number", "date", "bool", "choice")
CRITERIA_MODES = ("all", "any")
DEFAULT_BOTTLENECK_SHARE = 0.4
MAX_AGE_LIMIT_DAYS = 365
# Handoff.responsible holds the text as written, in 100 characters.
MAX_OWNER_LENGTH = 100
# Used for "1d" only when the calendar gives no working hours to measure.
FALLBACK_DAY_MINUTES = 8 * 60

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
_FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,49}")
_WINDOW = re.compile(r"(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?")
_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_KEY_PART = r'(?:[A-Za-z0-9_-]+|"[^"]*")'
_CALENDAR_MESSAGE = re.compile(rf"({_KEY_PART}(?:\.{_KEY_PART})*): (.*)", re.DOTALL)
# "breach.stages.proposal.sequence[0].after: reason", as clocks.rules and
# core.routing name keys; handoff names hold "->", never a dot or a space.
_DOTTED_MESSAGE = re.compile(r"([^\s:]+): (.*)", re.DOTALL)
_DOTTED_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
# A calendar key read alone is completed with these to make a calendar.
_PROBE_ZONE = "UTC"

# What a name is called and why it must differ from the others, by the kind
# of thing `_Reader.same_name` compares.
_TELLING_APART = {
    "stage": ("named", "names must tell stages apart on the board and in reports"),
    "loss reason": (
        "labelled",
        "a loss reason is chosen by its label whatever its case and spacing, so "
        "labels must tell reasons apart",
    ),
}

_TOP_KEYS = (
    "key",
    "name",
    "description",
    "currency",
    "allow_skipping",
    "bottleneck_share",
    "calendar",
    "stages",
    "handoffs",
    "won",
    "loss_reasons",
    "custom_fields",
    "breach",
    "routing",
)
# Breach keys a stage or handoff may set for itself; the [breach] table holds
# the pipeline's defaults and the rule for missed next steps.
BREACH_RULE_KEYS = ("on_breach", "escalate_after", "task", "sequence")
# The breach keys (of a rule, and of a sequence step) that hold a span.
_SPAN_KEYS = ("escalate_after", "after")
BREACH_TOP_KEYS = (*BREACH_RULE_KEYS, "next_steps")
_STAGE_KEYS = (
    "key",
    "name",
    "buyer_action",
    "owner",
    "age_limit_days",
    "probability",
    "entry_criteria",
    "exit_criteria",
    "exit_criteria_mode",
    *BREACH_RULE_KEYS,
)
_HANDOFF_KEYS = ("from", "to", "response_window", "responsible", *BREACH_RULE_KEYS)
_FIELD_KEYS = ("key", "label", "type", "choices")
_LOSS_KEYS = ("key", "label", "needs_note")

SLUG_HELP = "lowercase letters, digits, - and _, starting with a letter or digit"
OWNER_HELP = '"deal-owner", "user:USERNAME" or "team:TEAM NAME"'


# --- the spec ----------------------------------------------------------------


@dataclass(frozen=True)
class CriterionSpec:
    """One condition, in words for people and as a rule for the product."""

    label: str
    rule: str


@dataclass(frozen=True)
class StageSpec:
    """An open stage. `owner` is "deal-owner", "user:NAME" or "team:NAME"."""

    key: str
    name: str
    buyer_action: str
    owner: str
    age_limit_days: int | None
    probability: int
    entry_criteria: tuple[CriterionSpec, ...] = ()
    exit_criteria: tuple[CriterionSpec, ...] = ()
    exit_criteria_mode: str = "all"
    # The stage's own breach keys as written (BREACH_RULE_KEYS); empty when
    # it uses the pipeline's defaults. Plain data, like the calendar.
    breach: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HandoffSpec:
    """The passage into `to_stage` from `from_stage` (a stage key or "lead").

    The window is in business minutes of the pipeline's calendar; None only in
    specs exported from a database that has no window for the handoff.
    """

    from_stage: str
    to_stage: str
    response_window_minutes: int | None
    responsible: str = STAGE_OWNER
    breach: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomFieldSpec:
    key: str
    label: str
    type: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class LossReasonSpec:
    key: str
    label: str
    needs_note: bool = False


def labels_naming_keys(reasons: Sequence[LossReasonSpec]) -> list[tuple[int, str]]:
    """The loss reasons labelled as another reason is keyed, as (index, the
    other key): a loss chosen by that label finds the keyed reason, since a
    key wins, so the label can never choose its own reason (nor ask for the
    note it may need). Compared as names are (`name_key`)."""
    keys = {name_key(reason.key): reason.key for reason in reasons}
    return [
        (index, keys[name_key(reason.label)])
        for index, reason in enumerate(reasons)
        if keys.get(name_key(reason.label), reason.key) != reason.key
    ]


@dataclass(frozen=True)
class SourceMap:
    """Where a parsed spec came from, so later checks can name a line too."""

    filename: str
    lines: KeyLines
    # A handoff's index in the file; specs keep handoffs in pipeline order.
    handoff_index: dict[tuple[str, str], int]

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.filename, self.lines.line_of(path), path, message)


@dataclass(frozen=True)
class PipelineSpec:
    """A whole pipeline as a file describes it.

    Stages are in file order (their positions). Handoffs are in pipeline
    order: from a new lead first, then by the stage they leave, then by the
    stage they enter, so two specs describing the same pipeline compare equal.
    `source` takes no part in equality.
    """

    key: str
    name: str
    stages: tuple[StageSpec, ...]
    calendar: Mapping[str, Any]
    description: str = ""
    currency: str = "USD"
    allow_skipping: bool = False
    bottleneck_share: float = DEFAULT_BOTTLENECK_SHARE
    handoffs: tuple[HandoffSpec, ...] = ()
    won_criteria: tuple[CriterionSpec, ...] = ()
    loss_reasons: tuple[LossReasonSpec, ...] = ()
    custom_fields: tuple[CustomFieldSpec, ...] = ()
    # The [breach] table as written (defaults and next_steps; the stages' and
    # handoffs' own keys live on them). `breach_settings` assembles all.
    breach: Mapping[str, Any] = field(default_factory=dict)
    # [[routing]] tables in the canonical form of core.routing's to_dict, so
    # a file and the pipeline exported after applying it compare equal.
    routing: tuple[Mapping[str, Any], ...] = ()
    source: SourceMap | None = field(default=None, compare=False, repr=False)

    def summary(self) -> str:
        """E.g. "5 stages, 6 handoffs"."""
        return (
            f"{counted(len(self.stages), 'stage')}, "
            f"{counted(len(self.handoffs), 'handoff')}"
        )

    def stage_keys(self) -> list[str]:
        return [stage.key for stage in self.stages]

    def problem(self, path: Path, message: str) -> Problem:
        """A problem about part of this spec, placed in its file when known."""
        if self.source is not None:
            return self.source.problem(path, message)
        return Problem(f"pipeline {self.key}", None, path, message)

    def handoff_path(self, handoff: HandoffSpec) -> Path:
        """The path of a handoff as the file wrote it (`handoffs[3]`)."""
        ends = (handoff.from_stage, handoff.to_stage)
        if self.source is not None and ends in self.source.handoff_index:
            return ("handoffs", self.source.handoff_index[ends])
        return ("handoffs", self.handoffs.index(handoff))


# --- errors ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    filename: str
    line: int | None
    path: Path
    message: str

    def __str__(self) -> str:
        where = self.filename if self.line is None else f"{self.filename}:{self.line}"
        key = format_path(self.path)
        return f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}"


class PipelineFileError(ValidationError):
    """Everything wrong with one pipeline file, one problem per line."""

    code = "invalid_pipeline"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        first = self.problems[0]
        super().__init__(
            "\n".join(str(p) for p in self.problems),
            field=format_path(first.path) or None,
        )


# --- reading -----------------------------------------------------------------


def load_pipeline_file(path: str | PathLike[str]) -> PipelineSpec:
    """Read and check a pipeline file; errors are named after `path` as given."""
    spec, problems = check_pipeline_file(path)
    if problems or spec is None:
        raise PipelineFileError(problems)
    return spec


def parse_pipeline(text: str, filename: str = "<pipeline>") -> PipelineSpec:
    """Parse and check pipeline TOML; raise `PipelineFileError` listing all
    problems (syntax errors stop at the first, as the TOML parser does)."""
    spec, problems = check_pipeline(text, filename)
    if problems or spec is None:
        raise PipelineFileError(problems)
    return spec


def check_pipeline_file(
    path: str | PathLike[str],
) -> tuple[PipelineSpec | None, list[Problem]]:
    """`check_pipeline` on a file; a file that cannot be read is one problem."""
    filename = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, [Problem(filename, None, (), reason)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(filename, line, (), "is not UTF-8 text")]
    return check_pipeline(text, filename)


def check_pipeline(
    text: str, filename: str = "<pipeline>"
) -> tuple[PipelineSpec | None, list[Problem]]:
    """Every problem of pipeline TOML, and the spec as far as it reads.

    With problems, the spec is only good for further checks (say, of the
    users it names), never to apply; None when the TOML does not parse.
    """
    # A byte-order mark, as Windows Notepad writes "UTF-8", is not TOML.
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, reason = syntax_error_position(exc, text)
        return None, [Problem(filename, line, (), f"not valid TOML: {reason}")]
    except RecursionError:
        reason = "not a pipeline: its tables or lists are nested too deeply"
        return None, [Problem(filename, None, (), reason)]
    reader = _Reader(SourceMap(filename, KeyLines(text), {}))
    spec = reader.pipeline(data)
    return spec, reader.problems


def split_owner(owner: str) -> tuple[str, str] | None:
    """("deal-owner", "") / ("user", NAME) / ("team", NAME); None if malformed."""
    if owner == DEAL_OWNER:
        return DEAL_OWNER, ""
    kind, colon, name = owner.partition(":")
    if colon and kind in ("user", "team") and name.strip() and name == name.strip():
        return kind, name
    return None


# (pipeline keys, stage key -> own keys, handoff name -> own keys)
BreachParts = tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict]]


def breach_settings(spec: PipelineSpec) -> dict[str, Any]:
    """The breach table the clocks read (`Pipeline.settings["breach"]`):
    the [breach] keys, plus `stages.<key>` and `handoffs."<from>-><to>"` for
    the stages and handoffs that set their own keys. {} when nothing is set."""
    table: dict[str, Any] = dict(spec.breach)
    stages = {stage.key: dict(stage.breach) for stage in spec.stages if stage.breach}
    handoffs = {
        handoff_name(h.from_stage, h.to_stage): dict(h.breach)
        for h in spec.handoffs
        if h.breach
    }
    if stages:
        table["stages"] = stages
    if handoffs:
        table["handoffs"] = handoffs
    return table


def same_breach(
    old: Mapping[str, Any], new: Mapping[str, Any], day_minutes: int
) -> bool:
    """Whether two breach tables (`breach_settings`' shape) mean the same in
    a working day of `day_minutes`: a span is compared by its business
    minutes, so "1d" and "8h" are one span in a day of 09:00-17:00."""
    return _spans_in_minutes(old, day_minutes) == _spans_in_minutes(new, day_minutes)


def _spans_in_minutes(value: Any, day_minutes: int) -> Any:
    if isinstance(value, Mapping):
        return {
            key: (
                _span_minutes(item, day_minutes)
                if key in _SPAN_KEYS
                else _spans_in_minutes(item, day_minutes)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_spans_in_minutes(item, day_minutes) for item in value]
    return value


def _span_minutes(text: Any, day_minutes: int) -> Any:
    # A span that does not read stays as written: it is compared as text.
    try:
        return parse_duration(text, "", day_minutes)
    except BreachRuleError:
        return text


def split_breach(table: Mapping[str, Any] | None) -> BreachParts:
    """The inverse of `breach_settings`: (pipeline keys, by stage key, by
    handoff name). Entries that are not tables are left out."""
    table = table if isinstance(table, Mapping) else {}
    top = {k: v for k, v in table.items() if k not in ("stages", "handoffs")}
    parts = []
    for name in ("stages", "handoffs"):
        entries = table.get(name)
        entries = entries if isinstance(entries, Mapping) else {}
        parts.append({k: dict(v) for k, v in entries.items() if isinstance(v, Mapping)})
    return top, parts[0], parts[1]


def parse_window(text: str, day_minutes: int) -> int:
    """Business minutes in "15m", "2h", "1d" or "1d 4h"; 1d is one working day.

    Raises ValueError for anything else, and for spans of zero.
    """
    match = _WINDOW.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(text)
    days, hours, minutes = (int(part or 0) for part in match.groups())
    total = days * day_minutes + hours * 60 + minutes
    if total <= 0:
        raise ValueError(text)
    return total


def format_window(minutes: int, day_minutes: int) -> str:
    """The largest whole unit that states `minutes` exactly: "1d", "2h", "90m"."""
    if minutes % day_minutes == 0:
        return f"{minutes // day_minutes}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def day_minutes(calendar: Mapping[str, Any]) -> int:
    """Business minutes in one working day of `calendar`: what "1d" means.

    Uses `dealgate.core.calendar` when present (the median length of the
    weekdays that have hours; 24 hours when always open). Without it, or for
    a calendar that does not load, the same rule is applied to the hours
    table directly, falling back to 8 hours.
    """
    calendar_class = _calendar_class()
    if calendar_class is not None:
        try:
            return round(calendar_class.from_dict(calendar).day_minutes)
        except ValueError:
            pass
    return _measure_day(calendar)


def _calendar_class() -> Any:
    # The calendar module is optional so that files can be checked without
    # it; then only the time zone is checked (see _Reader.calendar).
    try:
        from dealgate.core import calendar
    except ImportError:
        return None
    return getattr(calendar, "Calendar", None)


def _as_text(value: Any) -> Any:
    """`value` with TOML dates and times as their ISO text, as a quoted value
    would read."""
    if isinstance(value, dict):
        return {key: _as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def _measure_day(calendar: Mapping[str, Any]) -> int:
    hours = calendar.get("hours")
    if calendar.get("always_open") is True:
        return 24 * 60
    if not isinstance(hours, Mapping):
        return FALLBACK_DAY_MINUTES
    lengths = []
    for ranges in hours.values():
        if not isinstance(ranges, list):
            continue
        total = 0
        for text in ranges:
            match = _RANGE.fullmatch(text) if isinstance(text, str) else None
            if match:
                sh, sm, eh, em = (int(part) for part in match.groups())
                total += max(0, (eh * 60 + em) - (sh * 60 + sm))
        if total:
            lengths.append(total)
    return round(statistics.median(lengths)) if lengths else FALLBACK_DAY_MINUTES


class _Reader:
    """Reads one parsed document, noting every problem instead of stopping.

    Readers return a value even for bad input so that reading goes on; the
    spec they build is thrown away when any problem was noted.
    """

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # The custom fields rules may read, key to type; None while unknown,
        # or when [[custom_fields]] is too broken to say, so rules are not
        # refused for a fault reported there.
        self.field_types: dict[str, str] | None = None
        self.noted: set[Path] = set()
        # The checklist items the rules name so far, in order of first use.
        self.checklist_items: dict[str, None] = {}

    def problem(self, path: Path, message: str) -> None:
        """Note what is wrong at `path`, once: a later check of the same key
        reads the value the first one refused ("" for a number that should
        have been a string) and would only say it again, worse."""
        if path in self.noted:
            return
        self.noted.add(path)
        self.problems.append(self.source.problem(path, message))

    def line(self, path: Path) -> int:
        return self.source.lines.line_of(path)

    def pipeline(self, data: dict[str, Any]) -> PipelineSpec:
        self.unknown_keys(data, (), _TOP_KEYS)
        # Before the stages, so that their rules are checked against them.
        custom_fields = self.custom_fields(data)
        calendar, day = self.calendar(data)
        stages = self.stages(data)
        stage_keys = [stage.key for stage in stages]
        handoffs = self.handoffs(data, stage_keys, day)
        won = self.table(data, "won", (), required=False)
        self.unknown_keys(won, ("won",), ("criteria",))
        breach = self.table(data, "breach", (), required=False)
        self.unknown_keys(breach, ("breach",), BREACH_TOP_KEYS)
        if self.storable(breach, ("breach",)):
            self.breach_rules(breach, stages, handoffs, day)
        spec = PipelineSpec(
            key=self.slug(data, "key", ()),
            name=self.text(data, "name", (), max_length=200),
            description=self.text(data, "description", (), default=""),
            currency=self.currency(data),
            allow_skipping=self.flag(data, "allow_skipping", (), default=False),
            bottleneck_share=self.share(data),
            calendar=calendar,
            stages=tuple(stages),
            handoffs=tuple(handoffs),
            won_criteria=self.criteria(won, "criteria", ("won",), "won criterion {}"),
            loss_reasons=tuple(self.loss_reasons(data)),
            custom_fields=tuple(custom_fields),
            breach=breach,
            routing=self.routing(data),
            source=self.source,
        )
        # Last, so that a value a field's own rule refused keeps its words.
        self.controls(data, ())
        return spec

    # Breach and routing rules ------------------------------------------------

    def own_breach(self, table: dict, path: Path) -> dict[str, Any]:
        """A stage's or handoff's own breach keys; checked as a whole later."""
        own = {key: table[key] for key in BREACH_RULE_KEYS if key in table}
        return own if self.storable(own, path) else {}

    def breach_rules(
        self,
        top: dict[str, Any],
        stages: list[StageSpec],
        handoffs: list[HandoffSpec],
        day: int,
    ) -> None:
        """Check the assembled rules with the clocks' own reader.

        That reader stops at the first bad key, so the defaults are read
        alone first, then each stage and handoff with them: one problem per
        table rather than one per file.
        """
        if not self.breach_problem(top, day):
            return
        for index, stage in enumerate(stages):
            if stage.breach:
                self.breach_problem(
                    {**top, "stages": {stage.key: dict(stage.breach)}},
                    day,
                    {stage.key: ("stages", index)},
                )
        for handoff in handoffs:
            if handoff.breach:
                name = handoff_name(handoff.from_stage, handoff.to_stage)
                index = self.source.handoff_index.get(
                    (handoff.from_stage, handoff.to_stage), 0
                )
                self.breach_problem(
                    {**top, "handoffs": {name: dict(handoff.breach)}},
                    day,
                    {name: ("handoffs", index)},
                )

    def breach_problem(
        self, table: dict[str, Any], day: int, owners: dict[str, Path] | None = None
    ) -> bool:
        """Note what `parse_rules` refuses in `table`; True when it reads."""
        try:
            parse_breach_rules(table, day)
        except BreachRuleError as exc:
            path, reason = _dotted_problem(str(exc), ("breach",))
            # "breach.stages.KEY.x" is written as `x` in that [[stages]] table.
            if len(path) >= 3 and path[1] in ("stages", "handoffs"):
                path = (owners or {}).get(str(path[2]), path[:3]) + path[3:]
            self.problem(path, reason)
            return False
        return True

    def routing(self, data: dict) -> tuple[dict[str, Any], ...]:
        if "routing" not in data:
            return ()
        items = data["routing"]
        if not self.storable(items, ("routing",)):
            return ()
        try:
            rules = routing_rules.parse_rules(items)
        except ValueError as exc:
            self.rule_problems(items, exc)
            return ()
        return tuple(routing_rules.rules_to_dicts(rules))

    def rule_problems(self, items: Any, error: ValueError) -> None:
        """Note what is wrong with each [[routing]] table, not only the first:
        the rules' reader stops at the first problem, so each table is read
        alone, and the whole list only when every table reads."""
        alone = []
        if isinstance(items, list):
            for index, item in enumerate(items):
                try:
                    routing_rules.parse_rules([item])
                except ValueError as exc:
                    # Read alone, the table is "routing[0]"; name its place.
                    alone.append(str(exc).replace("routing[0]", f"routing[{index}]", 1))
        for message in alone or [str(error)]:
            self.problem(*_dotted_problem(message, ("routing",)))

    # Values ------------------------------------------------------------------

    def unknown_keys(self, table: dict, path: Path, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                self.problem(
                    path + (key,), f"unknown key; expected one of {', '.join(allowed)}"
                )

    def text(
        self,
        table: dict,
        key: str,
        path: Path,
        *,
        default: str | None = None,
        max_length: int | None = None,
    ) -> str:
        """A string; required and non-empty unless a default is given."""
        if key not in table:
            if default is None:
                self.problem(path + (key,), "is required")
            return default or ""
        value = table[key]
        if not isinstance(value, str):
            self.problem(path + (key,), f"must be a string, got {_show(value)}")
            return ""
        if default is None and looks_blank(value):
            self.problem(
                path + (key,), blank_problem(value, "", missing="must not be empty")
            )
        if max_length is not None and len(value) > max_length:
            self.problem(
                path + (key,),
                f"must be at most {max_length} characters, got {len(value)}",
            )
        return value

    def slug(self, table: dict, key: str, path: Path) -> str:
        value = self.text(table, key, path)
        if value and not _SLUG.fullmatch(value):
            self.problem(
                path + (key,),
                f"must be a slug of at most 50 characters ({SLUG_HELP}), "
                f"got {_show(value)}",
            )
        return value

    def whole(
        self, table: dict, key: str, path: Path, low: int, high: int, what: str
    ) -> int | None:
        if key not in table:
            self.problem(path + (key,), f"is required: {what} from {low} to {high}")
            return None
        value = table[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not (low <= value <= high)
        ):
            self.problem(
                path + (key,),
                f"must be {what} from {low} to {high}, got {_show(value)}",
            )
            return None
        return value

    def flag(self, table: dict, key: str, path: Path, *, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(path + (key,), f"must be true or false, got {_show(value)}")
            return default
        return value

    def choice(
        self, table: dict, key: str, path: Path, options: tuple[str, ...], default: str
    ) -> str:
        wanted = " or ".join(f'"{option}"' for option in options)
        if key not in table and not default:
            self.problem(path + (key,), f"is required: {wanted}")
            return ""
        value = table.get(key, default)
        if value not in options:
            self.problem(path + (key,), f"must be {wanted}, got {_show(value)}")
        return value

    def table(
        self, data: dict, key: str, path: Path, *, required: bool
    ) -> dict[str, Any]:
        if key not in data:
            if required:
                self.problem(path + (key,), f"is required: a [{key}] table")
            return {}
        value = data[key]
        if not isinstance(value, dict):
            self.problem(path + (key,), f"must be a table, got {_show(value)}")
            return {}
        return value

    def array_of_tables(
        self, data: dict, key: str, *, required: bool
    ) -> list[tuple[Path, dict]]:
        """The items of `[[key]]` with their paths; non-tables are reported."""
        if key not in data:
            if required:
                self.problem((key,), f"is required: at least one [[{key}]] table")
            return []
        value = data[key]
        if not isinstance(value, list):
            self.problem(
                (key,), f"must be an array of tables ([[{key}]]), got {_show(value)}"
            )
            return []
        items = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                items.append(((key, index), item))
            else:
                self.problem((key, index), f"must be a table, got {_show(item)}")
        if required and not value:
            self.problem((key,), f"must hold at least one [[{key}]] table")
        return items

    def criteria(
        self, table: dict, key: str, path: Path, owner: str
    ) -> tuple[CriterionSpec, ...]:
        """The criteria under `key` of `table`; `owner` names one in a message,
        its label in place of {} ("exit criterion {} of stage 'proposal'")."""
        value = table.get(key, [])
        here = path + (key,)
        if not isinstance(value, list):
            self.problem(
                here,
                'must be an array like [{ label = "...", rule = "..." }], '
                f"got {_show(value)}",
            )
            return ()
        items = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            item_path = here + (index,)
            if not isinstance(item, dict):
                self.problem(
                    item_path,
                    f'must be a table {{ label = "...", rule = "..." }}, '
                    f"got {_show(item)}",
                )
                continue
            self.unknown_keys(item, item_path, ("label", "rule"))
            label = self.text(item, "label", item_path, max_length=300)
            rule = self.text(item, "rule", item_path)
            if rule:
                self.compiles(rule, item_path + ("rule",), owner.format(repr(label)))
                self.checklist_keys(rule, item_path + ("rule",))
            self.duplicate(seen, label, item_path + ("label",), "label")
            items.append(CriterionSpec(label, rule))
        return tuple(items)

    def compiles(self, rule: str, path: Path, criterion: str) -> None:
        """A rule that would not compile, reads a custom field the file does
        not define, or can never give true or false (with the types the file
        gives its custom fields) is refused here, not at the first move."""
        problem = rule_problem(rule, self.field_types)
        if problem is None:
            return
        if problem.never_met:
            self.problem(path, f"{criterion} can never be met: {problem}")
        else:
            self.problem(path, f"the rule does not compile: {problem}")

    def checklist_keys(self, rule: str, path: Path) -> None:
        """The checklist items a rule names keep to the limits a deal's
        checklist has: the deal page shows every item the pipeline's rules
        name and saves them with the deal, so a key it would refuse, or
        items past the most a deal holds, would refuse every save."""
        for key in items_in_rule(rule):
            try:
                check_checklist_key(key)
            except ValidationError as exc:
                self.problem(path, exc.message)
            if key in self.checklist_items:
                continue
            self.checklist_items[key] = None
            if len(self.checklist_items) == MOST_CHECKLIST_ITEMS + 1:
                self.problem(
                    path,
                    f"checklist key {_show(key)} makes the rules name "
                    f"{MOST_CHECKLIST_ITEMS + 1:,} checklist items; a deal's "
                    f"checklist holds at most {MOST_CHECKLIST_ITEMS:,}",
                )

    def duplicate(
        self, seen: dict[str, int], value: str, path: Path, what: str
    ) -> None:
        """Note `value` as seen at `path`; report it if it was seen before."""
        if not value:
            return
        if value in seen:
            self.problem(
                path, f"duplicate {what} {_show(value)} (first at line {seen[value]})"
            )
        else:
            seen[value] = self.line(path)

    # Pipeline keys -----------------------------------------------------------

    def currency(self, data: dict) -> str:
        value = data.get("currency", "USD")
        code = iso_currency(value) if isinstance(value, str) else None
        if code is None:
            self.problem(
                ("currency",),
                f'must be an ISO 4217 currency code like "USD", got {_show(value)}',
            )
            return "USD"
        return code

    def share(self, data: dict) -> float:
        value = data.get("bottleneck_share", DEFAULT_BOTTLENECK_SHARE)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (0 < value <= 1)
        ):
            self.problem(
                ("bottleneck_share",),
                f"must be a share above 0 and at most 1, like 0.4; got {_show(value)}",
            )
            return DEFAULT_BOTTLENECK_SHARE
        return float(value)

    def calendar(self, data: dict) -> tuple[dict[str, Any], int]:
        """The calendar table as written, and its working day in minutes."""
        path: Path = ("calendar",)
        if "calendar" not in data:
            self.problem(path, "is required: a [calendar] table with a timezone")
            return {}, FALLBACK_DAY_MINUTES
        table = self.table(data, "calendar", (), required=True)
        if not table:
            return table, FALLBACK_DAY_MINUTES
        stored = self.storable(table, path)
        # An unquoted date is one problem; the rest of the table is still
        # checked (with such values read as their text), so that it does
        # not hide a bad zone or bad hours.
        checked = table if stored else _as_text(table)
        calendar_class = _calendar_class()
        if calendar_class is None:
            self.time_zone(checked)
            return table, _measure_day(checked) if stored else FALLBACK_DAY_MINUTES
        try:
            calendar = calendar_class.from_dict(checked)
        except ValueError:
            for path, reason in _calendar_problems(calendar_class, checked):
                self.problem(path, reason)
            return table, FALLBACK_DAY_MINUTES
        return table, round(calendar.day_minutes) if stored else FALLBACK_DAY_MINUTES

    def time_zone(self, table: dict) -> None:
        path: Path = ("calendar", "timezone")
        value = table.get("timezone")
        if not isinstance(value, str) or not value:
            self.problem(
                path, f"must name a time zone like Europe/Berlin, got {_show(value)}"
            )
            return
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(path, f"unknown time zone {_show(value)}")

    def controls(self, value: Any, path: Path) -> None:
        """A problem for each key or string holding a control character:
        TOML's escapes ("\\u0000") let a file write what no field may hold
        (PostgreSQL refuses a NUL outright). Text may hold tabs and line
        breaks; a key holds none."""
        if isinstance(value, str):
            where = control_in(value)
            if where:
                self.problem(path, f"holds a control character ({where})")
        elif isinstance(value, dict):
            for key, item in value.items():
                where = control_in(key, IN_NAME)
                if where:
                    message = f"the key holds a control character ({where})"
                    self.problem(path + (key,), message)
                else:
                    self.controls(item, path + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.controls(item, path + (index,))

    def storable(self, value: Any, path: Path) -> bool:
        """Whether `value` survives a JSON column unchanged; problems if not."""
        if isinstance(value, dict):
            results = [self.storable(v, path + (k,)) for k, v in value.items()]
            return all(results)
        if isinstance(value, list):
            results = [self.storable(v, path + (i,)) for i, v in enumerate(value)]
            return all(results)
        if isinstance(value, date | time):  # datetime is a date
            self.problem(
                path,
                "TOML dates and times are not kept; quote it, like "
                f'"{value.isoformat()}"',
            )
            return False
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(path, f"must be a finite number, got {_show(value)}")
            return False
        return True

    # Stages and handoffs -----------------------------------------------------

    def stages(self, data: dict) -> list[StageSpec]:
        stages = []
        seen: dict[str, int] = {}
        named: dict[str, tuple[str, str, int]] = {}
        for path, table in self.array_of_tables(data, "stages", required=True):
            stage = self.stage(table, path)
            self.duplicate(seen, stage.key, path + ("key",), "stage key")
            self.same_name(named, stage.key, stage.name, path + ("name",))
            stages.append(stage)
        return stages

    def same_name(
        self,
        named: dict[str, tuple[str, str, int]],
        key: str,
        name: str,
        path: Path,
        what: str = "stage",
    ) -> None:
        """Refuse a `what` (a stage, a loss reason) with key `key` named like
        an earlier one once case and spacing are set aside: the board and the
        reports show stages by name, and a loss reason is chosen by its label
        whatever its case and spacing, so two alike cannot be told apart."""
        folded = name_key(name)
        if not folded:
            return
        if folded not in named:
            named[folded] = (key, name, self.line(path))
            return
        first_key, first_name, line = named[folded]
        verb, purpose = _TELLING_APART[what]
        self.problem(
            path,
            f"{what} {_show(key)} is {verb} {_show(name)}, as {what} "
            f"{_show(first_key)} is ({_show(first_name)}, line {line}): "
            f"{purpose}; rename one",
        )

    def stage(self, table: dict, path: Path) -> StageSpec:
        self.unknown_keys(table, path, _STAGE_KEYS)
        key = self.slug(table, "key", path)
        if key in RESERVED_STAGE_KEYS:
            self.problem(
                path + ("key",),
                f'"{key}" is reserved ("lead" starts handoffs; won and lost '
                "are the outcomes); choose another key",
            )
        return StageSpec(
            key=key,
            name=self.text(table, "name", path, max_length=200),
            buyer_action=self.text(table, "buyer_action", path, max_length=300),
            owner=self.owner(table, "owner", path, allow_stage_owner=False),
            age_limit_days=self.whole(
                table,
                "age_limit_days",
                path,
                1,
                MAX_AGE_LIMIT_DAYS,
                "a whole number of business days",
            ),
            probability=self.whole(
                table, "probability", path, 0, 100, "a whole percentage"
            )
            or 0,
            entry_criteria=self.criteria(
                table, "entry_criteria", path, f"entry criterion {{}} of stage {key!r}"
            ),
            exit_criteria=self.criteria(
                table, "exit_criteria", path, f"exit criterion {{}} of stage {key!r}"
            ),
            exit_criteria_mode=self.choice(
                table, "exit_criteria_mode", path, CRITERIA_MODES, "all"
            ),
            breach=self.own_breach(table, path),
        )

    def owner(
        self, table: dict, key: str, path: Path, *, allow_stage_owner: bool
    ) -> str:
        if allow_stage_owner and key not in table:
            return STAGE_OWNER
        if key not in table:
            self.problem(
                path + (key,),
                f"is required: every stage has one owner ({OWNER_HELP})",
            )
            return ""
        value = table[key]
        if allow_stage_owner and value == STAGE_OWNER:
            return value
        if not isinstance(value, str) or split_owner(value) is None:
            wanted = (
                f'"{STAGE_OWNER}", {OWNER_HELP}' if allow_stage_owner else OWNER_HELP
            )
            self.problem(path + (key,), f"must be {wanted}; got {_show(value)}")
            return ""
        if len(value) > MAX_OWNER_LENGTH:
            self.problem(
                path + (key,),
                f"must be at most {MAX_OWNER_LENGTH} characters, got {len(value)}",
            )
        return value

    def handoffs(
        self, data: dict, stage_keys: list[str], day: int
    ) -> list[HandoffSpec]:
        handoffs = []
        seen: dict[str, int] = {}
        for path, table in self.array_of_tables(data, "handoffs", required=False):
            handoff = self.handoff(table, path, stage_keys, day)
            ends = f"{handoff.from_stage} -> {handoff.to_stage}"
            self.duplicate(seen, ends, path, "handoff")
            ends_key = (handoff.from_stage, handoff.to_stage)
            self.source.handoff_index.setdefault(ends_key, path[1])
            handoffs.append(handoff)
        order = {key: index for index, key in enumerate([LEAD, *stage_keys])}
        handoffs.sort(
            key=lambda h: (order.get(h.from_stage, -1), order.get(h.to_stage, -1))
        )
        return handoffs

    def handoff(
        self, table: dict, path: Path, stage_keys: list[str], day: int
    ) -> HandoffSpec:
        self.unknown_keys(table, path, _HANDOFF_KEYS)
        start = self.text(table, "from", path)
        end = self.text(table, "to", path)
        if start and start != LEAD and start not in stage_keys:
            self.problem(
                path + ("from",),
                f'must be "lead" or a stage key of this file, got {_show(start)}',
            )
        if end and end not in stage_keys:
            self.problem(
                path + ("to",),
                f"must be the key of a stage in this file, got {_show(end)}",
            )
        if start and start == end:
            self.problem(path + ("to",), "a handoff must lead to another stage")
        return HandoffSpec(
            from_stage=start,
            to_stage=end,
            response_window_minutes=self.window(table, path, day),
            responsible=self.owner(table, "responsible", path, allow_stage_owner=True),
            breach=self.own_breach(table, path),
        )

    def window(self, table: dict, path: Path, day: int) -> int | None:
        here = path + ("response_window",)
        wanted = (
            'a business-time span like "15m", "2h" or "1d", from 1m to '
            f"{MAX_AGE_LIMIT_DAYS}d"
        )
        if "response_window" not in table:
            self.problem(here, f"is required: every handoff has {wanted}")
            return None
        value = table["response_window"]
        try:
            minutes = parse_window(value, day) if isinstance(value, str) else None
        except ValueError:
            minutes = None
        if minutes is None or minutes > MAX_AGE_LIMIT_DAYS * day:
            # "0m" reads, but is no span: the range says why it is refused.
            self.problem(here, f"must be {wanted}, got {_show(value)}")
            return None
        return minutes

    # Outcomes and fields -----------------------------------------------------

    def loss_reasons(self, data: dict) -> list[LossReasonSpec]:
        reasons = []
        seen: dict[str, int] = {}
        named: dict[str, tuple[str, str, int]] = {}
        paths: list[Path] = []
        for path, table in self.array_of_tables(data, "loss_reasons", required=False):
            self.unknown_keys(table, path, _LOSS_KEYS)
            reason = LossReasonSpec(
                key=self.slug(table, "key", path),
                label=self.text(table, "label", path, max_length=200),
                needs_note=self.flag(table, "needs_note", path, default=False),
            )
            self.duplicate(seen, reason.key, path + ("key",), "loss reason key")
            self.same_name(
                named, reason.key, reason.label, path + ("label",), "loss reason"
            )
            reasons.append(reason)
            paths.append(path)
        for index, other in labels_naming_keys(reasons):
            reason = reasons[index]
            self.problem(
                paths[index] + ("label",),
                f"loss reason {_show(reason.key)} is labelled {_show(reason.label)}, "
                f"which is the key of loss reason {_show(other)}: a loss chosen by "
                f"{_show(reason.label)} would be recorded as {_show(other)}; "
                "give it a label no other reason has as its key",
            )
        return reasons

    def custom_fields(self, data: dict) -> list[CustomFieldSpec]:
        fields = []
        seen: dict[str, int] = {}
        for path, table in self.array_of_tables(data, "custom_fields", required=False):
            custom = self.custom_field(table, path)
            self.duplicate(seen, custom.key, path + ("key",), "custom field key")
            fields.append(custom)
        declared = data.get("custom_fields", [])
        if isinstance(declared, list) and all(isinstance(t, dict) for t in declared):
            self.field_types = {custom.key: custom.type for custom in fields}
        return fields

    def custom_field(self, table: dict, path: Path) -> CustomFieldSpec:
        self.unknown_keys(table, path, _FIELD_KEYS)
        key = self.text(table, "key", path)
        if key and not _FIELD_KEY.fullmatch(key):
            self.problem(
                path + ("key",),
                "must be a name rules can use: lowercase letters, digits and _, "
                f"starting with a letter, at most 50 characters; got {_show(key)}",
            )
        kind = self.choice(table, "type", path, FIELD_TYPES, "")
        return CustomFieldSpec(
            key=key,
            label=self.text(table, "label", path, max_length=200),
            type=kind,
            choices=self.choices(table, path, kind),
        )

    def choices(self, table: dict, path: Path, kind: str) -> tuple[str, ...]:
        here = path + ("choices",)
        value = table.get("choices", [])
        if not isinstance(value, list):
            self.problem(here, f"must be an array of strings, got {_show(value)}")
            return ()
        if kind == "choice" and not value:
            self.problem(here, 'a choice field needs its choices, like ["a", "b"]')
        if kind != "choice" and value:
            self.problem(here, 'only fields of type "choice" take choices')
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.problem(
                    here + (index,), f"must be a non-empty string, got {_show(item)}"
                )
            elif looks_blank(item):
                self.problem(here + (index,), blank_problem(item, ""))
            else:
                self.duplicate(seen, item, here + (index,), "choice")
        return tuple(value)


def _calendar_problems(calendar_class: Any, table: dict) -> list[tuple[Path, str]]:
    """Every problem of a [calendar] table that does not load.

    The calendar's reader stops at the first problem. So each key is read
    alone, completed into a calendar (the zone, round the clock) that is
    otherwise sound, and only what is said about that key counts; weekdays,
    closed days and short days are read one by one. Only when every key reads
    alone is the whole table's own complaint (say, no working time) kept.
    """
    probes: list[tuple[Path, dict[str, Any]]] = []
    for key, value in table.items():
        here: Path = ("calendar", key)
        if key == "timezone":
            probes.append((here, {"timezone": value, "always_open": True}))
        elif key == "hours" and isinstance(value, Mapping) and value:
            for weekday, ranges in value.items():
                probe = {"timezone": _PROBE_ZONE, "hours": {weekday: ranges}}
                probes.append((here + (weekday,), probe))
        elif key == "closed_days" and isinstance(value, list):
            for index, day in enumerate(value):
                probe = {"timezone": _PROBE_ZONE, "always_open": True, key: [day]}
                probes.append((here + (index,), probe))
        elif key == "short_days" and isinstance(value, Mapping) and value:
            for day, ranges in value.items():
                probe = {
                    "timezone": _PROBE_ZONE,
                    "always_open": True,
                    key: {day: ranges},
                }
                probes.append((here + (day,), probe))
        else:
            probe = {"timezone": _PROBE_ZONE, "always_open": True, key: value}
            if key in ("hours", "always_open"):
                probe = {"timezone": _PROBE_ZONE, key: value}
            probes.append((here, probe))
    if "timezone" not in table:
        probes.append((("calendar", "timezone"), {}))

    found = []
    for here, probe in probes:
        try:
            calendar_class.from_dict(probe)
        except ValueError as exc:
            path, reason = _calendar_problem(str(exc))
            if path[:2] == here[:2]:
                found.append((_closer(path, here), reason))
    if found:
        return found
    try:
        calendar_class.from_dict(table)
    except ValueError as exc:
        return [_calendar_problem(str(exc))]
    return []


def _closer(path: Path, probed: Path) -> Path:
    """The longer of a message's path and the probed one: a closed day's
    message names the list, while the probe knows the item."""
    return probed if len(probed) > len(path) else path


def _calendar_problem(message: str) -> tuple[Path, str]:
    """Split "calendar.hours.mon: reason" into a path and the reason."""
    match = _CALENDAR_MESSAGE.fullmatch(message)
    if match is None:
        return ("calendar",), message
    parts = re.findall(_KEY_PART, match.group(1))
    path: Path = tuple(part.strip('"') for part in parts)
    if not path or path[0] != "calendar":
        path = ("calendar", *path)
    return path, match.group(2)


def _dotted_problem(message: str, fallback: Path) -> tuple[Path, str]:
    """Split "routing[2].when.country: reason" into a path and the reason."""
    match = _DOTTED_MESSAGE.fullmatch(message)
    if match is None:
        return fallback, message
    path: Path = tuple(
        int(index) if index else name
        for index, name in _DOTTED_PART.findall(match.group(1))
    )
    return path or fallback, match.group(2)


def _show(value: Any) -> str:
    """A value as the reader wrote it, shortened: "5", "\"five\"", "a table"."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "nothing"
    text = _toml_value(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- writing -----------------------------------------------------------------

_HEADER = """\
# Dealgate pipeline file. Every key is described in docs/pipeline-file.md.
# Check it with `dealgate pipeline validate FILE`; see what applying it would
# change with `dealgate pipeline apply FILE --dry-run`.

"""

# The order in which the dump writes the keys of stored tables: the order
# docs/pipeline-file.md lists them in, whatever order the database kept
# (PostgreSQL's jsonb sorts keys by length, then by byte), so that an export
# reads the same on every database. Keys not listed follow, sorted.
_CALENDAR_ORDER = (
    "timezone",
    "always_open",
    "hours",
    "holidays",
    "closed_days",
    "short_days",
)
_WEEKDAY_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOLIDAY_ORDER = ("country", "subdivision")
_SEQUENCE_STEP_ORDER = ("after", "task")


def dump_pipeline(spec: PipelineSpec) -> str:
    """Canonical TOML for `spec`, with short comments; parses to an equal spec.

    Every key is written, defaults included, so the file documents itself.
    Windows are written in the largest whole unit ("8h" may come back as "1d").
    The keys of the calendar and of breach rules are written in the order the
    format lists them, weekdays Monday to Sunday and dates in order, not in
    the order of the mappings given: the same spec gives the same text.
    """
    day = day_minutes(spec.calendar) if spec.calendar else FALLBACK_DAY_MINUTES
    blocks = [_HEADER + _dump_top(spec), _dump_calendar(spec.calendar)]
    blocks += [_dump_stage(stage) for stage in spec.stages]
    blocks += [_dump_handoff(handoff, day) for handoff in spec.handoffs]
    if spec.breach:
        blocks.append(_dump_breach(spec.breach))
    blocks.append(_dump_won(spec.won_criteria))
    blocks += [_dump_loss_reason(reason) for reason in spec.loss_reasons]
    blocks += [_dump_custom_field(custom) for custom in spec.custom_fields]
    blocks += [_dump_routing(rule) for rule in spec.routing]
    return "\n".join(blocks)


def _dump_top(spec: PipelineSpec) -> str:
    return _lines(
        ("key", spec.key, ""),
        ("name", spec.name, ""),
        ("description", spec.description, ""),
        ("currency", spec.currency, ""),
        ("allow_skipping", spec.allow_skipping, "may a deal jump forward over stages"),
        (
            "bottleneck_share",
            spec.bottleneck_share,
            "above this share of open deals, a stage is a bottleneck",
        ),
    )


def _dump_calendar(calendar: Mapping[str, Any]) -> str:
    out = [
        "# Business time (age limits, response windows) counts in this calendar.",
        "[calendar]",
    ]
    body = _dump_table_body(_canonical_calendar(calendar), ("calendar",))
    return "\n".join(out + body) + "\n"


def _canonical_calendar(calendar: Mapping[str, Any]) -> dict[str, Any]:
    """`calendar` with its keys, its weekdays, its holiday keys and its short
    days in canonical order (see `_CALENDAR_ORDER`)."""
    table = _ordered(calendar, _CALENDAR_ORDER)
    for key, order in (("hours", _WEEKDAY_ORDER), ("holidays", _HOLIDAY_ORDER)):
        if isinstance(table.get(key), Mapping):
            table[key] = _ordered(table[key], order)
    if isinstance(table.get("short_days"), Mapping):
        table["short_days"] = _ordered(table["short_days"], ())
    return table


def _canonical_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A breach rule (`[breach]`, its `next_steps`, or a stage's or handoff's
    own keys) with its keys and its sequence steps' keys in canonical order."""
    table = _ordered(rule, BREACH_TOP_KEYS)
    if isinstance(table.get("next_steps"), Mapping):
        table["next_steps"] = _canonical_rule(table["next_steps"])
    if isinstance(table.get("sequence"), list):
        table["sequence"] = [
            _ordered(step, _SEQUENCE_STEP_ORDER) if isinstance(step, Mapping) else step
            for step in table["sequence"]
        ]
    return table


def _ordered(table: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """`table`'s items, those keyed in `order` first in that order, then the
    others sorted by key."""
    rank = {key: index for index, key in enumerate(order)}
    return dict(
        sorted(table.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    )


def _dump_table_body(table: Mapping[str, Any], path: Path) -> list[str]:
    """Key = value lines first, then sub-tables: TOML needs that order."""
    lines, subtables = [], []
    for key, value in table.items():
        if isinstance(value, Mapping) and any(
            isinstance(v, Mapping | list) for v in value.values()
        ):
            subtables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in subtables:
        sub_path = path + (key,)
        lines += ["", f"[{format_path(sub_path)}]"]
        lines += _dump_table_body(value, sub_path)
    return lines


def _dump_stage(stage: StageSpec) -> str:
    out = ["[[stages]]"]
    out.append(
        _lines(
            ("key", stage.key, ""),
            ("name", stage.name, ""),
            ("buyer_action", stage.buyer_action, ""),
            ("owner", stage.owner, 'or "user:USERNAME", "team:TEAM NAME"'),
            ("age_limit_days", stage.age_limit_days, "business days"),
            ("probability", stage.probability, "percent chance to win"),
        ).rstrip("\n")
    )
    out.append(_dump_criteria("entry_criteria", stage.entry_criteria))
    out.append(_dump_criteria("exit_criteria", stage.exit_criteria))
    out.append(f"exit_criteria_mode = {_toml_value(stage.exit_criteria_mode)}")
    out += _own_breach_lines(stage.breach)
    return "\n".join(out) + "\n"


def _dump_handoff(handoff: HandoffSpec, day: int) -> str:
    window = (
        None
        if handoff.response_window_minutes is None
        else format_window(handoff.response_window_minutes, day)
    )
    return (
        "[[handoffs]]\n"
        + _lines(
            ("from", handoff.from_stage, ""),
            ("to", handoff.to_stage, ""),
            ("response_window", window, "business time"),
            ("responsible", handoff.responsible, ""),
        )
        + "".join(line + "\n" for line in _own_breach_lines(handoff.breach))
    )


def _own_breach_lines(own: Mapping[str, Any]) -> list[str]:
    """A stage's or handoff's breach keys, in the file's order of keys."""
    rule = _canonical_rule(own)
    return [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in rule.items()]


def _dump_breach(breach: Mapping[str, Any]) -> str:
    out = [
        "# When a clock runs out; stages and handoffs may set their own keys.",
        "[breach]",
    ]
    body = _dump_table_body(_canonical_rule(breach), ("breach",))
    return "\n".join(out + body) + "\n"


def _dump_routing(rule: Mapping[str, Any]) -> str:
    return "[[routing]]\n" + "".join(
        f"{_toml_key(key)} = {_toml_value(value)}\n" for key, value in rule.items()
    )


def _dump_won(criteria: tuple[CriterionSpec, ...]) -> str:
    return "[won]\n" + _dump_criteria("criteria", criteria) + "\n"


def _dump_loss_reason(reason: LossReasonSpec) -> str:
    return "[[loss_reasons]]\n" + _lines(
        ("key", reason.key, ""),
        ("label", reason.label, ""),
        ("needs_note", reason.needs_note, ""),
    )


def _dump_custom_field(custom: CustomFieldSpec) -> str:
    return "[[custom_fields]]\n" + _lines(
        ("key", custom.key, ""),
        ("label", custom.label, ""),
        ("type", custom.type, " | ".join(FIELD_TYPES)),
        ("choices", list(custom.choices), ""),
    )


def _dump_criteria(key: str, criteria: tuple[CriterionSpec, ...]) -> str:
    if not criteria:
        return f"{key} = []"
    items = [
        f"  {{ label = {_toml_value(c.label)}, rule = {_toml_value(c.rule)} }},"
        for c in criteria
    ]
    return "\n".join([f"{key} = [", *items, "]"])


def _lines(*entries: tuple[str, Any, str]) -> str:
    """`key = value  # comment` lines; entries whose value is None are left out."""
    out = []
    for key, value, comment in entries:
        if value is None:
            continue
        line = f"{_toml_key(key)} = {_toml_value(value)}"
        out.append(f"{line}  # {comment}" if comment else line)
    return "\n".join(out) + "\n"


def _toml_key(key: str) -> str:
    return format_path((key,))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()
        )
        return f"{{ {inner} }}" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
