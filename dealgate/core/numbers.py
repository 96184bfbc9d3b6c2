"""How every door reads a number a person typed: one rule, read exactly or
refused.

Digits with "." before any decimals ("1250", "12.50", "-3"), and "," only
between groups of three digits ("1,250", "1,250.50"), as the deal page has
always taken them. Anything else is refused, never guessed at, with a
message saying how to write the number: a decimal comma ("12,50" must not
become 1250), "." between thousands ("1.250.000"), spaces, currency signs,
exponents.

"1.250" is refused too, though it reads as a number: whoever groups
thousands with "." (most of Europe) means 1250 by it, anyone else 1.25, and
nothing in the text tells which. Only that shape is ambiguous, a "." with
exactly three digits after it and one to three before, the first not 0:
"0.125", "1250.500", "1.2500" and "1,250.500" read as written. An amount
in a currency ISO 4217 writes with three decimals or more (KWD, BHD, OMR:
"1.234" is 1 dinar 234 fils) reads that shape as written too, so its
decimals are judged by the currency's rule, and nothing suggests reading it
as thousands; the reader is told the currency wherever one is known.

Numbers that arrive as data (a JSON number, a file cell read by its
mapping's separators) are not text a person typed and are not read here.

Whole numbers in a URL or a form field that counts (an offset, an id, a
version) are read by `whole_number`: plain ASCII digits within stated
bounds. Anything may arrive there: words, a sign, digits of other scripts
("²" is a digit to `str.isdigit` but not to `int`), thousands of digits, or
a number larger than a 64-bit column holds, on which SQLite fails with
"datatype mismatch" and PostgreSQL with "out of range".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dealgate.core.currencies import MINOR_UNITS
from dealgate.core.text import cut
from dealgate.errors import ValidationError

_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
# Grouped thousands start with a digit other than 0: "0,500" is a decimal comma.
_GROUPED = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?")
_AMBIGUOUS = re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}")

# What the refusal's suggestion sees through: currency signs and codes, and
# spaces, apostrophes (Swiss "1'250") or underscores between groups of three.
_CURRENCY = re.compile(r"[$€£¥₹₽₩₺₫₪]|^[A-Za-z]{3}|[A-Za-z]{3}$")
_SPACED = re.compile(r"\d{1,3}(?:[ '\u00a0\u202f_]\d{3})+")
_DECIMAL_COMMA = re.compile(r"\d+,\d+")
_DOT_GROUPED = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_COMMA_GROUPED = re.compile(r"\d+(?:,\d+)*,\d{3}(?:\.\d+)?")
_EXPONENT = re.compile(r"\d+(?:\.\d+)?[eE][+-]?\d{1,2}")
# Beyond any field's range (Deal.value is NUMERIC(14, 2)); an exponent that
# big is suggested nowhere.
_LARGEST_SUGGESTED = Decimal("1e15")


# The longest text read as a number: beyond any field's digits, grouping and
# sign (Deal.value holds 14 digits).
_LONGEST = 40

_HELD = {0: "is not a whole number", 2: "has more than two decimal places"}

# An amount's column (Deal.value, Lead.value) is NUMERIC(14, 2): 12 digits
# before the decimal point. Its largest value is named wherever an amount
# is refused as too large; a test holds these to the models.
AMOUNT_WHOLE_DIGITS = 12
MAX_AMOUNT = Decimal("999999999999.99")


class TooLong(ValueError):
    """Text longer than any number a field holds, refused unread."""


class AmbiguousNumber(ValueError):
    """Text like "1.250", which reads as two numbers a thousand apart."""


def decimals_as_written(currency: str | None) -> bool:
    """Whether an amount in `currency` (an ISO 4217 code, any case; None or
    "" for none known) reads "1.234" as written: a currency with three
    decimals or more, where that is how an amount is written."""
    if not currency:
        return False
    places = MINOR_UNITS.get(currency.strip().upper())
    return places is not None and places > 2


def read_number(
    text: str, *, places: int | None = None, currency: str | None = None
) -> Decimal:
    """The number `text` says by the module's rule, exactly as written
    ("12.50" keeps its places). Raises ValueError quoting the text and saying
    how to write it; AmbiguousNumber for text like "1.250".

    `places`, the decimals the field holds, only shapes that message: for an
    amount "12.345" cannot mean 12.345, and the message says so rather than
    offer it. The caller still checks the places of what is returned.
    `currency`, the code of the amount's currency when one is known: in one
    with three decimals "1.234" is read as written (`decimals_as_written`),
    for the currency's decimals rule to judge."""
    stripped = text.strip()
    if len(stripped) > _LONGEST:
        # Decimal would read thousands of digits; nothing here can hold them.
        raise TooLong(f"{cut(text, 30)!r} is longer than any number here")
    if _AMBIGUOUS.fullmatch(stripped) and not decimals_as_written(currency):
        raise AmbiguousNumber(_ambiguous(text, stripped, places))
    if _PLAIN.fullmatch(stripped) or _GROUPED.fullmatch(stripped):
        return Decimal(stripped.replace(",", ""))
    plain = _plain_form(stripped)
    how = plain if plain is not None else "it like 1250 or 12.50"
    raise ValueError(f"{text!r} is not a number; write {how}")


def too_large(
    shown: str, *, largest: str = f"{MAX_AMOUNT:,}", whole: int = AMOUNT_WHOLE_DIGITS
) -> str:
    """The refusal of a number `shown` (quoted as the message quotes it)
    beyond its column: the `largest` value it holds, written as the reader
    writes numbers, and the `whole` digits it holds before the point."""
    return (
        f"{shown} is too large: the most it holds is {largest} "
        f"({whole} digits before the decimal point)"
    )


def too_small(shown: str, *, least: str = "0", whole: int | None = None) -> str:
    """The refusal of a number `shown` below the `least` value its field
    holds ("0" for an amount), as `too_large` words one above; `whole`, the
    digits it holds before the point, is named for a bound set by digits."""
    digits = f" ({whole} digits before the decimal point)" if whole else ""
    return f"{shown} is too small: the least it holds is {least}{digits}"


def read_whole(text: str) -> int:
    """The whole number `text` says by the module's rule ("1,200" is 1200).
    Raises ValueError quoting the text; AmbiguousNumber for text like
    "1.000"."""
    try:
        number = read_number(text, places=0)
    except (AmbiguousNumber, TooLong):
        raise
    except ValueError:
        number = None
    if number is None or number != number.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number; write it like 12 or 1,200")
    return int(number)


def _ambiguous(text: str, stripped: str, places: int | None) -> str:
    thousands = stripped.replace(".", "")
    small = Decimal(stripped).normalize()
    if places is not None and -small.as_tuple().exponent > places:
        held = _HELD.get(places, f"more than {places} decimal places")
        return f"{text!r} {held}; if it means {thousands}, write {thousands}"
    written = format(small, "f")
    if written == stripped:
        # "1.125": a fourth decimal place is the only way to mean it.
        written = f"{stripped}0"
        return (
            f"{text!r} could mean {thousands} or {small}; write {thousands}, "
            f"or {written} for {small}"
        )
    return (
        f"{text!r} could mean {thousands} or {written}; write {thousands} or {written}"
    )


def _plain_form(text: str) -> str | None:
    """What `text` most likely means, written as the rule takes it; None
    when that cannot be told. Only ever shown, never stored: the person who
    typed it decides."""
    body = _CURRENCY.sub("", text).strip()
    body = _SPACED.sub(lambda run: re.sub(r"\D", "", run.group()), body)
    sign = body[:1] if body[:1] in "+-" else ""
    body = body.removeprefix(sign)
    if _AMBIGUOUS.fullmatch(body):
        return None
    if _PLAIN.fullmatch(body) or _GROUPED.fullmatch(body):
        plain = body.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(body):
        plain = body.replace(",", ".")
    elif _DOT_GROUPED.fullmatch(body):
        plain = body.replace(".", "").replace(",", ".")
    elif _COMMA_GROUPED.fullmatch(body):
        plain = body.replace(",", "")
    elif _EXPONENT.fullmatch(body):
        try:
            number = Decimal(body)
        except InvalidOperation:
            return None
        if number >= _LARGEST_SUGGESTED:
            return None
        plain = format(number, "f")
    else:
        return None
    return sign.replace("+", "") + plain


# The largest value of a database id (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def whole_number(
    text: str, name: str, *, most: int, least: int = 0, unit: str = ""
) -> int:
    """`text` as a whole number from `least` to `most`; a ValidationError
    naming `name` (and the `unit` counted, if given) for anything else."""
    digits = text.strip()
    # Leading zeros aside, more digits than `most` has cannot be in range;
    # counted first, so `int` never reads thousands of them.
    plain = digits.isascii() and digits.isdigit()
    short = len(digits.lstrip("0")) <= len(str(most))
    if plain and short:
        # Without its leading zeros: `int` refuses more than 4,300 digits.
        number = int(digits.lstrip("0") or "0")
        if least <= number <= most:
            return number
    what = f"a whole number of {unit}" if unit else "a whole number"
    raise ValidationError(
        f"{name} must be {what} from {least:,} to {most:,}, got {cut(text, 30)!r}",
        field=name,
    )


def as_id(text: str) -> int | None:
    """`text` as a database id when it reads as one (plain digits within the
    64-bit range), else None."""
    try:
        return whole_number(text, "id", most=MAX_ID)
    except ValidationError:
        return None


@dataclass(frozen=True)
class Place:
    """Where a page of a list ends, as its "more" link names it: the last
    row's value in the list's order (an instant; None when the row has none)
    and its id, the tie-breaker. The next page is the rows after it in that
    order, so a row that leaves the list meanwhile never moves a later one
    past a link read before, as counting rows from an offset did. Written
    `TIME,ID` (`TIME` empty for None)."""

    at: dt.datetime | None
    pk: int

    def __str__(self) -> str:
        return f"{self.at.isoformat() if self.at is not None else ''},{self.pk}"


def read_place(text: str, where: str, *, timeless: bool = True) -> Place:
    """The Place written `text` in the "more" link of `where` ("the column",
    "the notices"), or a ValidationError naming `after`. `timeless`: a place
    may have no time (a row without a value, ordered last)."""
    value, comma, pk = text.rpartition(",")
    try:
        at = dt.datetime.fromisoformat(value) if value or not timeless else None
        number = as_id(pk)
        if not comma or number is None or (at is not None and at.tzinfo is None):
            raise ValueError(text)
        # In UTC here: one past the years a column holds is refused, not left
        # to overflow in the database's adapter.
        return Place(at.astimezone(dt.UTC) if at is not None else None, number)
    except (ValueError, OverflowError):
        raise ValidationError(
            f"after must be a place in {where}, as its more link writes it "
            f"(TIME,ID), got {text[:40]!r}",
            field="after",
        ) from None
