"""The deal page's two forms: moving a deal and editing the fields rules read.

Plain Django templates post these; this module only reads what was posted
into the shapes `deals.services.move_deal` and `update_deal` take, and says
in words what could not be read. The rules themselves live in the services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import QueryDict

from dealgate.deals import services
from dealgate.deals.models import Deal

# Deal.value is NUMERIC(14, 2): refuse what the column would reject, in words.
MAX_VALUE = Decimal("999999999999.99")


@dataclass
class EditField:
    """One input of the edit form, with the text it shows."""

    name: str  # "value", "custom:seats", "checklist:budget_confirmed"
    label: str
    kind: str  # text, number, date, bool, choice, check
    value: str = ""
    choices: tuple[str, ...] = ()
    error: str = ""


@dataclass
class MoveTarget:
    key: str
    label: str


@dataclass
class EditResult:
    fields: list[EditField]
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        return [f"{f.label}: {f.error}" for f in self.fields if f.error]


def move_targets(deal: Deal) -> list[MoveTarget]:
    """Where the deal can be sent: the other open stages, won and lost."""
    targets = [
        MoveTarget(stage.key, stage.name)
        for stage in deal.pipeline.stages.filter(retired_at=None).order_by("position")
        if deal.status != Deal.Status.OPEN or stage.pk != deal.stage_id
    ]
    if deal.status != Deal.Status.WON:
        targets.append(MoveTarget(services.WON, "Won"))
    if deal.status != Deal.Status.LOST:
        targets.append(MoveTarget(services.LOST, "Lost"))
    return targets


def edit_fields(deal: Deal) -> list[EditField]:
    """The edit form as the deal stands: title, value, expected close date,
    the pipeline's custom fields by type, and the checklist items rules read
    (plus any the deal already holds)."""
    fields = [
        EditField("title", "Title", "text", deal.title),
        EditField(
            "value",
            f"Value ({deal.currency})",
            "number",
            "" if deal.value is None else str(deal.value),
        ),
        EditField(
            "expected_close_date",
            "Expected close date",
            "date",
            deal.expected_close_date.isoformat() if deal.expected_close_date else "",
        ),
    ]
    for spec in _custom_specs(deal):
        stored = deal.custom.get(spec["key"])
        fields.append(
            EditField(
                f"custom:{spec['key']}",
                spec.get("label", spec["key"]),
                spec.get("type", "text"),
                _shown(stored),
                tuple(spec.get("choices", ())),
            )
        )
    items = services.checklist_items(deal.pipeline)
    items += [key for key in deal.checklist if key not in items]
    for key in items:
        ticked = "on" if deal.checklist.get(key) else ""
        fields.append(EditField(f"checklist:{key}", key, "check", ticked))
    return fields


def read_edit(deal: Deal, posted: QueryDict) -> EditResult:
    """The changes the posted edit form asks for, or the fields it got wrong.

    Custom values the pipeline no longer defines and checklist items the form
    does not show are kept as they are.
    """
    fields = edit_fields(deal)
    result = EditResult(fields)
    custom = dict(deal.custom)
    checklist = dict(deal.checklist)
    for f in fields:
        # An unticked checkbox is not posted at all: absent means "not done".
        f.value = posted.get(f.name, "").strip()
        try:
            parsed = _parse(f)
        except ValueError as error:
            f.error = str(error)
            continue
        if f.name.startswith("custom:"):
            key = f.name.removeprefix("custom:")
            if parsed is None:
                custom.pop(key, None)
            else:
                custom[key] = parsed
        elif f.name.startswith("checklist:"):
            checklist[f.name.removeprefix("checklist:")] = parsed
        else:
            result.changes[f.name] = parsed
    result.changes["custom"] = custom
    result.changes["checklist"] = checklist
    return result


def _parse(f: EditField) -> Any:
    text = f.value
    if f.kind == "check":
        return bool(text)
    if f.name == "title":
        if not text:
            raise ValueError("a deal needs a title")
        if len(text) > 300:
            raise ValueError("at most 300 characters")
        return text
    if not text:
        return None
    if f.kind == "number":
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a number") from None
        if not number.is_finite() or abs(number) > MAX_VALUE:
            raise ValueError(f"{text!r} is not a number this field can hold")
        if f.name == "value":
            if number.as_tuple().exponent < -2:
                raise ValueError(f"{text!r} has more than two decimal places")
            return number
        # JSON holds no Decimal; a whole number stays whole.
        return int(number) if number == number.to_integral_value() else float(number)
    if f.kind == "date":
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date like 2026-07-31") from None
        return day if f.name == "expected_close_date" else day.isoformat()
    if f.kind == "bool":
        if text not in ("yes", "no"):
            raise ValueError("choose yes or no")
        return text == "yes"
    if f.kind == "choice" and text not in f.choices:
        raise ValueError(f"{text!r} is not one of {', '.join(f.choices)}")
    return text


def _custom_specs(deal: Deal) -> list[dict[str, Any]]:
    return [
        spec
        for spec in deal.pipeline.custom_fields
        if isinstance(spec, dict) and "key" in spec
    ]


def _shown(stored: Any) -> str:
    if stored is None:
        return ""
    if isinstance(stored, bool):
        return "yes" if stored else "no"
    return str(stored)
