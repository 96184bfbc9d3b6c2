"""What a deal's custom fields may hold, checked the same way at every door.

A pipeline declares its custom fields (key, label, type, choices); a deal
stores their values as JSON, typed as rules read them (docs/criteria.md): a
`number` field holds a number (a whole one stays whole; text, as an API
client may send it, is read by `dealgate.core.numbers`), a `bool` field true
or false, a `date` field ISO text like "2026-07-31", `text` and `choice`
fields text (a choice one of its choices). The edit form, the API and deal
imports all read or check values here, so a value one door lets in never
locks another (the form refusing to save what the API stored) and a rule
never meets text where the pipeline promised a number.

A value of text that holds nothing a reader sees ("", "   ", a zero-width
space) is "not set" at every door (`is_unset`): a blank answer never meets a
rule such as `deal.custom.need != null`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dealgate.core.dates import years_problem
from dealgate.core.numbers import (
    AMOUNT_WHOLE_DIGITS,
    MAX_AMOUNT,
    read_number,
    too_large,
    too_small,
)
from dealgate.core.text import CONTROL, looks_blank

# Deal.value is NUMERIC(14, 2); custom numbers keep to the same range, so the
# edit form reads both alike and a value always fits wherever it is copied.
MAX_NUMBER = MAX_AMOUNT
# The longest value of a text field, in characters: a few sentences.
MAX_TEXT = 2_000

# How forms and exported files write yes and no; matched ignoring case.
BOOL_WORDS = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "y": True,
    "n": False,
    "1": True,
    "0": False,
}


@dataclass(frozen=True)
class CustomField:
    """One custom field as the pipeline declares it. A type this version does
    not know is read as text, as the edit form shows it."""

    key: str
    label: str
    type: str = "text"
    choices: tuple[str, ...] = ()

    def from_text(self, text: str) -> Any:
        """What a form input or a file's cell says, as the deal stores it;
        None when it is empty. Raises ValueError quoting the text."""
        text = text.strip()
        if is_unset(text):
            return None
        if self.type == "number":
            return self.checked(number_from_text(text))
        if self.type == "date":
            return self.checked(text)
        if self.type == "bool":
            found = BOOL_WORDS.get(text.casefold())
            if found is None:
                raise ValueError(f"{text!r} is not yes or no")
            return found
        if self.type == "choice":
            return self.checked(text)
        return text

    def checked(self, value: Any) -> Any:
        """`value`, given as data (a JSON body, or read from a file), as the
        deal stores it; None, and text that holds nothing visible, are None
        (unset: `is_unset`). Raises ValueError saying what the field takes."""
        if is_unset(value):
            return None
        if self.type == "number":
            return _number(value)
        if self.type == "date":
            return _date(value)
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{_show(value)} is not true or false")
            return value
        if self.type == "choice":
            # Any door may write a choice in another case; the deal keeps the
            # pipeline's spelling, which is what rules compare with.
            folded = {choice.casefold(): choice for choice in self.choices}
            found = (
                folded.get(value.strip().casefold()) if isinstance(value, str) else None
            )
            if found is None:
                raise ValueError(
                    f"{_show(value)} is not one of {', '.join(self.choices)}"
                )
            return found
        if not isinstance(value, str):
            raise ValueError(f"{_show(value)} is not text")
        if len(value) > MAX_TEXT:
            raise ValueError(
                f"is {len(value):,} characters long; the limit is {MAX_TEXT:,}"
            )
        if CONTROL.search(value):
            # As notes: line breaks and tabs, no other control character.
            raise ValueError(
                "must not hold control characters other than line breaks and tabs"
            )
        return value


def is_unset(value: Any) -> bool:
    """Whether a custom value means "not set": None, or text that holds
    nothing a reader sees (`core.text.looks_blank`). Every door reads a
    custom value through this, so an empty answer never passes a gate."""
    return value is None or (isinstance(value, str) and looks_blank(value))


def set_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` without the keys whose value is not set (`is_unset`)."""
    return {key: value for key, value in values.items() if not is_unset(value)}


class CustomValueError(ValueError):
    """A custom value that does not fit its field; `key` names the field."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def declared_fields(custom_fields: Iterable[Any]) -> dict[str, CustomField]:
    """A pipeline's custom fields as stored (`Pipeline.custom_fields`), by key.
    Entries without a key are skipped, as the deal page skips them."""
    fields = {}
    for spec in custom_fields or ():
        if isinstance(spec, Mapping) and isinstance(spec.get("key"), str):
            key = spec["key"]
            fields[key] = CustomField(
                key=key,
                label=str(spec.get("label") or key),
                type=str(spec.get("type") or "text"),
                choices=tuple(str(choice) for choice in spec.get("choices") or ()),
            )
    return fields


def checked_values(
    fields: Mapping[str, CustomField],
    values: Any,
    *,
    stored: Mapping[str, Any],
) -> dict[str, Any]:
    """`values` (key to value) as the deal stores them, each checked against
    the field the pipeline declares for its key.

    A value equal to the one `stored` is kept as it is, and a stored key may
    be set to null: a deal that holds values from before its pipeline changed
    can still be saved (the edit form sends every value back). Anything else
    under a key the pipeline does not declare is refused, as is a value of
    the wrong type; CustomValueError names the key (`key` "" for `values`
    that are not an object at all).
    """
    if not isinstance(values, Mapping):
        raise CustomValueError(
            "", f"must be an object of field key to value, not {_show(values)}"
        )
    cleaned = {}
    for key, value in values.items():
        if key in stored and _same(stored[key], value) and not is_unset(value):
            cleaned[key] = value
            continue
        field = fields.get(key)
        if field is None:
            if value is None and key in stored:
                cleaned[key] = value
                continue
            known = ", ".join(fields) or "none"
            raise CustomValueError(
                key, f"the pipeline has no custom field {key!r}; its fields: {known}"
            )
        try:
            cleaned[key] = field.checked(value)
        except ValueError as exc:
            raise CustomValueError(key, str(exc)) from None
    return cleaned


def number_from_text(
    text: str, *, places: int | None = None, currency: str | None = None
) -> Decimal:
    """A number as a person types it, read by the one rule of
    `dealgate.core.numbers` ("18,500.50" yes, "12,50" and "1.250" refused,
    never read as 1250); `places` and `currency` as there. Raises ValueError
    quoting the text and saying how to write it."""
    number = read_number(text, places=places, currency=currency)
    if abs(number) > MAX_NUMBER:
        raise ValueError(_out_of_range(repr(text), number))
    return number


def _out_of_range(shown: str, number: Decimal) -> str:
    """Why a number beyond MAX_NUMBER either way is refused, naming the
    limit it passed."""
    if number > 0:
        return too_large(shown)
    return too_small(shown, least=f"{-MAX_NUMBER:,}", whole=AMOUNT_WHOLE_DIGITS)


def _number(value: Any) -> int | float:
    if isinstance(value, str):
        # Text in a JSON body is typed: read by the rule every door shares.
        value = number_from_text(value)
    # true is a number to Python, never to the people who sent it.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"{_show(value)} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{_show(value)} is not a number this field can hold")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"{_show(value)} is not a number this field can hold")
    if abs(number) > MAX_NUMBER:
        raise ValueError(_out_of_range(_show(value), number))
    # JSON holds no Decimal; a whole number stays whole.
    return int(number) if number == number.to_integral_value() else float(number)


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    text = value.strip() if isinstance(value, str) else value
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{_show(value)} is not a date like 2026-07-31") from None
    problem = years_problem(day)
    if problem is not None:
        raise ValueError(problem)
    return day.isoformat()


def _same(stored: Any, value: Any) -> bool:
    # 1 == True and 1 == 1.0 in Python; a stored value is only "the same"
    # when it is also of the same JSON type.
    return type(stored) is type(value) and stored == value


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)
