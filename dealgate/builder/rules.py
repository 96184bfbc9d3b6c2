"""Criteria from a form: a few common conditions, written as CEL rules.

The builder offers these so that most criteria need no rule writing; each
gives a rule (see docs/criteria.md) and a label people read:

    a field is set        deal.expected_close_date != null
                          deal.custom.decision_date != null
    a checkbox is ticked  checklist.nda_signed == true
    an activity was held  held("meeting", "discovery")
    the value is above N  deal.value != null && deal.value > 5000

The value rule tests for null first: a deal without a value then fails the
criterion plainly instead of with "could not be checked".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dealgate.core.criteria import tag_key
from dealgate.core.pipeline_file import CriterionSpec, CustomFieldSpec
from dealgate.core.text import required_text
from dealgate.errors import ValidationError

FIELD_SET = "field"
CHECKBOX = "checkbox"
HELD = "held"
VALUE_ABOVE = "value"
RULE = "rule"
KINDS = (
    (FIELD_SET, "A field is set"),
    (CHECKBOX, "A checkbox is ticked"),
    (HELD, "An activity of a kind was held"),
    (VALUE_ABOVE, "The value is above an amount"),
    (RULE, "A rule written by hand"),
)
# Deal fields that can be empty, as rules read them.
DEAL_FIELDS = (
    ("expected_close_date", "Expected close date"),
    ("value", "Value"),
    ("organization", "Organization"),
    ("contact", "Contact"),
    ("product", "Product"),
    ("owner", "Owner"),
)
ACTIVITY_KINDS = (
    ("meeting", "meeting"),
    ("call", "call"),
    ("email", "email"),
    ("task", "task"),
    ("note", "note"),
)
_CHECKLIST_KEY = re.compile(r"[a-z][a-z0-9_]{0,49}")
# Tags go inside a CEL string: letters, digits, space, - and _ need no escape.
_TAG = re.compile(r"[A-Za-z0-9 _-]{0,50}")


@dataclass(frozen=True)
class Choice:
    """What the criterion form gave; only the fields of `kind` are read."""

    kind: str
    label: str = ""
    field: str = ""
    checkbox: str = ""
    activity: str = ""
    tag: str = ""
    amount: Decimal | None = None
    rule: str = ""


def field_choices(custom: Sequence[CustomFieldSpec]) -> list[tuple[str, str]]:
    """(value, words) for "a field is set": deal fields, then custom ones."""
    choices = [(key, label) for key, label in DEAL_FIELDS]
    choices += [(f"custom.{f.key}", f"{f.label} (custom)") for f in custom]
    return choices


def criterion_from(choice: Choice, custom: Sequence[CustomFieldSpec]) -> CriterionSpec:
    """The criterion a form choice describes; its label defaults to words for
    the rule. Raises ValidationError naming the form field at fault."""
    builders = {
        FIELD_SET: _field_set,
        CHECKBOX: _checkbox,
        HELD: _held,
        VALUE_ABOVE: _value_above,
        RULE: _by_hand,
    }
    if choice.kind not in builders:
        raise ValidationError(f"unknown kind of criterion {choice.kind!r}", "kind")
    rule, words = builders[choice.kind](choice, custom)
    return CriterionSpec(choice.label.strip() or words, rule)


def _field_set(choice: Choice, custom: Sequence[CustomFieldSpec]) -> tuple[str, str]:
    labels = dict(field_choices(custom))
    if choice.field not in labels:
        raise ValidationError("choose a field to be set", field="field")
    words = labels[choice.field].removesuffix(" (custom)")
    return f"deal.{choice.field} != null", f"{words} is set"


def _checkbox(choice: Choice, _custom: Sequence[CustomFieldSpec]) -> tuple[str, str]:
    key = choice.checkbox.strip()
    if not _CHECKLIST_KEY.fullmatch(key):
        raise ValidationError(
            "a checkbox key is lowercase letters, digits and _, starting with a "
            f"letter (like nda_signed); got {key!r}",
            field="checkbox",
        )
    return f"checklist.{key} == true", f"{key.replace('_', ' ').capitalize()} ticked"


def _held(choice: Choice, _custom: Sequence[CustomFieldSpec]) -> tuple[str, str]:
    kinds = dict(ACTIVITY_KINDS)
    if choice.activity not in kinds:
        raise ValidationError("choose the kind of activity", field="activity")
    tag = tag_key(choice.tag)
    if not _TAG.fullmatch(tag):
        raise ValidationError(
            "a tag is up to 50 letters, digits, spaces, - or _", field="tag"
        )
    if tag:
        rule = f'held("{choice.activity}", "{tag}")'
        return rule, f"A {kinds[choice.activity]} ({tag}) was held"
    return f'held("{choice.activity}")', f"A {kinds[choice.activity]} was held"


def _value_above(choice: Choice, _custom: Sequence[CustomFieldSpec]) -> tuple[str, str]:
    amount = choice.amount
    if amount is None or not amount.is_finite() or amount < 0:
        raise ValidationError("give an amount of 0 or more", field="amount")
    text = format(amount.normalize(), "f")
    return f"deal.value != null && deal.value > {text}", f"The value is above {text}"


def _by_hand(choice: Choice, _custom: Sequence[CustomFieldSpec]) -> tuple[str, str]:
    rule = required_text(choice.rule, "rule", missing="write the rule")
    required_text(choice.label, "label", missing="a rule written by hand needs a label")
    return rule, ""
