"""Lead routing: which rule a lead matches, and which person it goes to.

Pure Python, no Django. The Django side (dealgate.leads.assign) reads the
rules from a pipeline, builds `Candidate`s from people and their open leads,
keeps each rule's rotation state in the database, and records the reason
these functions give.

Rules are written as `[[routing]]` tables in a pipeline file (format in
docs/leads.md) and read with `parse_rules`:

    [[routing]]
    name = "DACH enterprise"
    when = { country = ["DE", "AT", "CH"], company_size = { min = 200 } }
    to = "team:Central"
    how = "weighted"                  # round-robin | weighted | least-loaded
    weights = { alice = 2 }           # others weigh 1

    [[routing]]
    name = "everyone else"
    to = "user:olivia"
    fallback = true                   # takes the lead even when olivia is off

The first rule whose conditions all hold and that has someone available
takes the lead. A rule whose people are all off is passed over, with the
reason recorded; a `fallback` rule catches what is left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dealgate.core import countries
from dealgate.core.numbers import read_number
from dealgate.core.text import blank_problem, counted, looks_blank

TEXT_FIELDS = ("source", "channel", "country", "segment")
NUMBER_FIELDS = ("company_size", "value")
FIELDS = TEXT_FIELDS + NUMBER_FIELDS
ROUND_ROBIN = "round-robin"
WEIGHTED = "weighted"
LEAST_LOADED = "least-loaded"
HOWS = (ROUND_ROBIN, WEIGHTED, LEAST_LOADED)
RULE_KEYS = ("name", "when", "to", "how", "weights", "fallback")
TARGET_HELP = '"user:USERNAME", "team:TEAM NAME" or a list of "user:USERNAME"'


@dataclass(frozen=True)
class Condition:
    """One test on a lead field: one of `values` (text, compared without
    case), or a number from `minimum` to `maximum`, both inclusive."""

    field: str
    values: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def test(self, value: Any) -> tuple[bool, str]:
        """Whether `value` passes, and the reason in words either way."""
        if value is None or value == "":
            return False, f"{self.field} is not given"
        if self.values:
            text = str(value)
            passed = text.casefold() in {v.casefold() for v in self.values}
            listed = ", ".join(self.values)
            verb = "is one of" if passed else "is not one of"
            if len(self.values) == 1:
                verb = "is" if passed else "is not"
            return passed, f"{self.field} {text} {verb} {listed}"
        number = Decimal(str(value))
        if self.minimum is not None and number < self.minimum:
            return False, f"{self.field} {_num(number)} is below {_num(self.minimum)}"
        if self.maximum is not None and number > self.maximum:
            return False, f"{self.field} {_num(number)} is above {_num(self.maximum)}"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"at least {_num(self.minimum)}")
        if self.maximum is not None:
            bounds.append(f"at most {_num(self.maximum)}")
        return True, f"{self.field} {_num(number)} is {' and '.join(bounds)}"

    def to_dict(self) -> Any:
        if self.values:
            return self.values[0] if len(self.values) == 1 else list(self.values)
        bounds: dict[str, Any] = {}
        if self.minimum is not None:
            bounds["min"] = _plain_number(self.minimum)
        if self.maximum is not None:
            bounds["max"] = _plain_number(self.maximum)
        return bounds


@dataclass(frozen=True)
class Target:
    """Who a rule sends leads to: one person, a team, or a list of people."""

    kind: str  # "user", "team" or "users"
    names: tuple[str, ...]

    def __str__(self) -> str:
        if self.kind == "team":
            return f"team {self.names[0]}"
        return ", ".join(self.names)

    def to_dict(self) -> Any:
        if self.kind == "users":
            return [f"user:{name}" for name in self.names]
        return f"{self.kind}:{self.names[0]}"


@dataclass(frozen=True)
class Rule:
    name: str
    index: int
    target: Target
    when: tuple[Condition, ...] = ()
    how: str = ROUND_ROBIN
    weights: tuple[tuple[str, int], ...] = ()
    fallback: bool = False

    @property
    def label(self) -> str:
        return f'rule "{self.name}" (routing[{self.index}])'

    def weight_of(self, username: str) -> int:
        return dict(self.weights).get(username, 1)

    def to_dict(self) -> dict[str, Any]:
        """The rule as a `[[routing]]` table; `parse_rules` reads it back."""
        table: dict[str, Any] = {"name": self.name}
        if self.when:
            table["when"] = {c.field: c.to_dict() for c in self.when}
        table["to"] = self.target.to_dict()
        if self.target.kind != "user":
            table["how"] = self.how
        if self.weights:
            table["weights"] = dict(self.weights)
        if self.fallback:
            table["fallback"] = True
        return table


@dataclass(frozen=True)
class Match:
    """A rule whose conditions hold, with the conditions in words."""

    rule: Rule
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        said = "; ".join(self.reasons) if self.reasons else "no conditions"
        return f"{self.rule.label}: {said}"


@dataclass(frozen=True)
class Candidate:
    """A person a rule may choose. `off` says why they cannot take a lead
    now ("away until 20 Jun"); empty when they can. `key` orders the
    rotation (the user id) and must be unique within one rule."""

    key: int
    name: str
    weight: int = 1
    load: int = 0
    off: str = ""


@dataclass
class Pick:
    """The outcome of choosing among candidates. `state` is the rule's new
    rotation state, to be stored only when someone was chosen."""

    chosen: Candidate | None
    state: dict[str, Any]
    reason: str
    skipped: list[str] = field(default_factory=list)


# --- reading rules -----------------------------------------------------------


def parse_rules(items: Any, *, path: str = "routing") -> list[Rule]:
    """Read `[[routing]]` tables; raise `ValueError` naming the first problem
    by its path, such as `routing[2].when.country: expected ...`."""
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        raise ValueError(f"{path}: expected a list of tables ([[routing]])")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        rule = _parse_rule(item, index, where)
        if rule.name.casefold() in names:
            raise ValueError(f"{where}.name: {rule.name!r} is used by an earlier rule")
        names.add(rule.name.casefold())
        if rule.fallback and index != len(items) - 1:
            raise ValueError(
                f"{where}.fallback: a fallback rule catches the rest, so it "
                "must be the last rule"
            )
        rules.append(rule)
    return rules


def rules_to_dicts(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    return [rule.to_dict() for rule in rules]


def parse_target(value: Any, where: str) -> Target:
    """Read a rule's `to`: "user:NAME", "team:NAME" or a list of "user:NAME"."""
    if isinstance(value, str):
        kind, _, name = value.partition(":")
        if kind in ("user", "team") and name.strip():
            return Target(kind, (name.strip(),))
        raise ValueError(f"{where}: expected {TARGET_HELP}, got {value!r}")
    if isinstance(value, list | tuple) and value:
        names = []
        for position, entry in enumerate(value):
            target = parse_target(entry, f"{where}[{position}]")
            if target.kind != "user":
                raise ValueError(
                    f"{where}[{position}]: a list holds people (user:NAME); "
                    "use a team on its own"
                )
            if target.names[0] in names:
                raise ValueError(f"{where}[{position}]: {entry!r} is listed twice")
            names.append(target.names[0])
        return Target("users", tuple(names))
    raise ValueError(f"{where}: expected {TARGET_HELP}, got {value!r}")


def _parse_rule(item: Any, index: int, where: str) -> Rule:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected a table with name and to")
    for key in item:
        if key not in RULE_KEYS:
            raise ValueError(
                f"{where}.{key}: unknown key (known: {', '.join(RULE_KEYS)})"
            )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}.name: required, a short text naming the rule")
    if looks_blank(name):
        raise ValueError(f"{where}.name: {blank_problem(name, '')}")
    if len(name.strip()) > 100:
        raise ValueError(f"{where}.name: longer than 100 characters")
    if "to" not in item:
        raise ValueError(f"{where}.to: required, {TARGET_HELP}")
    target = parse_target(item["to"], f"{where}.to")
    how = item.get("how", ROUND_ROBIN)
    if how not in HOWS:
        raise ValueError(f"{where}.how: expected one of {', '.join(HOWS)}, got {how!r}")
    if target.kind == "user" and "how" in item:
        raise ValueError(f"{where}.how: a rule for one person has no rotation")
    fallback = item.get("fallback", False)
    if not isinstance(fallback, bool):
        raise ValueError(f"{where}.fallback: expected true or false")
    when = _parse_when(item.get("when", {}), f"{where}.when")
    if fallback and (when or target.kind != "user"):
        raise ValueError(
            f"{where}.fallback: a fallback rule has no conditions and names "
            'one person (to = "user:NAME")'
        )
    weights = _parse_weights(item.get("weights"), how, target, f"{where}.weights")
    return Rule(name.strip(), index, target, when, how, weights, fallback)


def _parse_when(table: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table of lead fields")
    conditions = []
    for key, value in table.items():
        at = f"{where}.{key}"
        if key not in FIELDS:
            raise ValueError(f"{at}: unknown lead field (known: {', '.join(FIELDS)})")
        if key in TEXT_FIELDS:
            conditions.append(Condition(key, values=_texts(value, at, key)))
        else:
            low, high = _bounds(value, at)
            conditions.append(Condition(key, minimum=low, maximum=high))
    return tuple(conditions)


def _texts(value: Any, at: str, key: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, list | tuple)
        or not values
        or not all(isinstance(v, str) and not looks_blank(v) for v in values)
    ):
        raise ValueError(f'{at}: expected a text or a list of texts, e.g. ["DE", "AT"]')
    texts = tuple(v.strip() for v in values)
    if key == "country":
        for text in texts:
            if not countries.is_assigned(text.upper()):
                raise ValueError(
                    f"{at}: {text!r} is not a two-letter country code such as "
                    "DE (ISO 3166); leads carry codes, so it would never match"
                )
        texts = tuple(v.upper() for v in texts)
    return texts


def _bounds(value: Any, at: str) -> tuple[Decimal | None, Decimal | None]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{at}: expected {{ min = N }}, {{ max = N }} or both")
    for key in value:
        if key not in ("min", "max"):
            raise ValueError(f"{at}.{key}: unknown key (use min and max)")
    low = _number(value.get("min"), f"{at}.min")
    high = _number(value.get("max"), f"{at}.max")
    if low is not None and high is not None and high < low:
        raise ValueError(f"{at}: max {_num(high)} is below min {_num(low)}")
    return low, high


def _number(value: Any, at: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{at}: expected a number, got {value!r}")
    if isinstance(value, str):
        # A quoted bound is typed text: "1.000" is refused, never read as 1.
        try:
            number = read_number(value)
        except ValueError as exc:
            raise ValueError(f"{at}: {exc}") from None
    else:
        number = Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise ValueError(f"{at}: expected a number of zero or more, got {value!r}")
    return number


def _parse_weights(
    value: Any, how: str, target: Target, at: str
) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if how != WEIGHTED:
        raise ValueError(f'{at}: weights only apply with how = "{WEIGHTED}"')
    if not isinstance(value, Mapping):
        raise ValueError(f"{at}: expected a table of username = weight")
    weights = []
    for name, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ValueError(f"{at}.{name}: expected a whole number of 0 or more")
        if target.kind == "users" and name not in target.names:
            raise ValueError(
                f"{at}.{name}: not one of the people in to "
                f"({', '.join(target.names)}); weights name them by username"
            )
        weights.append((str(name), weight))
    return tuple(sorted(weights))


# --- matching ----------------------------------------------------------------


def conditions_hold(rule: Rule, facts: Mapping[str, Any]) -> Match | None:
    """The match when all of `rule`'s conditions hold for the lead's `facts`."""
    reasons = []
    for condition in rule.when:
        passed, reason = condition.test(facts.get(condition.field))
        if not passed:
            return None
        reasons.append(reason)
    return Match(rule, tuple(reasons))


def matching(rules: Sequence[Rule], facts: Mapping[str, Any]) -> list[Match]:
    """Every rule whose conditions hold, in rule order."""
    found = (conditions_hold(rule, facts) for rule in rules)
    return [match for match in found if match is not None]


# --- choosing ----------------------------------------------------------------


def pick(how: str, candidates: Sequence[Candidate], state: Mapping[str, Any]) -> Pick:
    """Choose one available candidate by `how`, given the rule's `state`.

    Round robin keeps a pointer to the last person chosen and gives the next
    lead to the first available person after them in key order, wrapping
    around. Someone skipped while away simply gets their next turn when they
    come back; nobody catches up on missed turns, so a person returning from
    leave is not flooded.

    Weighted uses smooth weighted round robin: each available person's
    credit grows by their weight, the one with the most credit is chosen and
    pays the available total. People who are off earn no credit meanwhile.

    Least loaded chooses the available person with the fewest open leads
    per unit of weight; ties go round robin from the pointer.
    """
    ordered = sorted(candidates, key=lambda c: c.key)
    available = [c for c in ordered if not c.off and c.weight > 0]
    skipped = [f"{c.name} ({c.off})" for c in ordered if c.off]
    skipped += [f"{c.name} (weight 0)" for c in ordered if not c.off and c.weight <= 0]
    if not available:
        return Pick(None, dict(state), "nobody is available", skipped)
    if how == WEIGHTED:
        return _weighted(available, ordered, state, skipped)
    if how == LEAST_LOADED:
        return _least_loaded(available, state, skipped)
    return _round_robin(available, state, skipped)


def _after(available: Sequence[Candidate], last: Any) -> Candidate:
    """The first candidate after key `last`, wrapping around."""
    if isinstance(last, int):
        for candidate in available:
            if candidate.key > last:
                return candidate
    return available[0]


def _round_robin(
    available: list[Candidate], state: Mapping[str, Any], skipped: list[str]
) -> Pick:
    chosen = _after(available, state.get("last"))
    return Pick(
        chosen,
        {**state, "last": chosen.key},
        f"round robin: {chosen.name}'s turn",
        skipped,
    )


def _weighted(
    available: list[Candidate],
    everyone: list[Candidate],
    state: Mapping[str, Any],
    skipped: list[str],
) -> Pick:
    members = {str(c.key) for c in everyone}
    credit = {
        key: float(value)
        for key, value in (state.get("credit") or {}).items()
        if key in members and isinstance(value, int | float) and math.isfinite(value)
    }
    total = sum(c.weight for c in available)
    for candidate in available:
        credit[str(candidate.key)] = (
            credit.get(str(candidate.key), 0.0) + candidate.weight
        )
    chosen = max(available, key=lambda c: (credit[str(c.key)], -c.key))
    credit[str(chosen.key)] -= total
    return Pick(
        chosen,
        {**state, "credit": credit, "last": chosen.key},
        f"weighted round robin: {chosen.name}'s turn (weight {chosen.weight} "
        f"of {total})",
        skipped,
    )


def _least_loaded(
    available: list[Candidate], state: Mapping[str, Any], skipped: list[str]
) -> Pick:
    def share(c: Candidate) -> float:
        return c.load / c.weight

    lowest = min(share(c) for c in available)
    tied = [c for c in available if share(c) == lowest]
    chosen = _after(tied, state.get("last"))
    also = f", tied with {counted(len(tied) - 1, 'other')}" if len(tied) > 1 else ""
    return Pick(
        chosen,
        {**state, "last": chosen.key},
        f"least loaded: {chosen.name} has {counted(chosen.load, 'open lead')}{also}",
        skipped,
    )


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else str(value)


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral() else float(value)
