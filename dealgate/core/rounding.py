"""How every figure a person reads is rounded: halves up (away from zero),
on the number as written in decimal, to a fixed number of places.

Python's `round` and its format specs round halves to even, and on the
binary value: a median of 15.125 days read "15.12", 42.5 minutes "42" and
1.25 days "1.2". Pages, text reports and CSV exports go through here, so a
figure reads the same wherever it is shown; an export that keeps more
places rounds its last one the same way.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def rounded(value: float | int | Decimal, places: int = 0) -> Decimal:
    """`value` to `places` decimals, halves up: 15.125 to 15.13, 42.5 to 43,
    1.25 to 1.3, -0.5 to -1. A float is read as its shortest decimal form
    (`repr`), so 1.005 is 1.005 and rounds to 1.01. Infinity and NaN come
    back as they are."""
    number = _decimal(value)
    if not number.is_finite():
        return number
    number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    # -0.04 to one place is 0.0, not "-0.0".
    return abs(number) if number.is_zero() else number


def hundredfold(share: float | Decimal) -> Decimal:
    """A share (0.125) as a percentage (12.5), multiplied in decimal so the
    percentage is the share's digits moved, not a float's product."""
    return _decimal(share) * 100


def whole(value: float | int | Decimal) -> int:
    """`value` to the nearest whole number, halves up (42.5 is 43)."""
    return int(rounded(value))


def fixed(
    value: float | int | Decimal, places: int = 0, *, grouped: bool = False
) -> str:
    """`value` as text with `places` decimals, halves up, and thousands
    separated by commas when `grouped`: fixed(15.125, 2) is "15.13",
    fixed(1234.5, grouped=True) is "1,235"."""
    number = rounded(value, places)
    if not number.is_finite():
        return str(number)
    spec = f",.{places}f" if grouped else f".{places}f"
    # Already at `places`: formatting a Decimal so rounds nothing again.
    return format(number, spec)


def figure(
    value: float | int | Decimal, places: int = 1, *, grouped: bool = False
) -> str:
    """`value` as `fixed` writes it, but a whole number without its zero
    decimals: figure(113.0) is "113", figure(2.25) "2.3", figure(2.04) "2".
    For figures read in a sentence or a cell, where "113.0 business days"
    says nothing "113" does not."""
    number = rounded(value, places)
    if number.is_finite() and number == number.to_integral_value():
        return fixed(number, 0, grouped=grouped)
    return fixed(number, places, grouped=grouped)


def quotient(
    numerator: float | int | Decimal, denominator: float | int | Decimal
) -> Decimal:
    """`numerator / denominator` divided in decimal (75 minutes over 60 is
    exactly 1.25 hours), to be rounded for showing."""
    return _decimal(numerator) / _decimal(denominator)


def _decimal(value: float | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def percent(share: float | Decimal, places: int = 1) -> str:
    """A share as a percentage with `places` decimals, halves up: 0.12345
    is "12.3%", 0.125 to none is "13%"."""
    return f"{fixed(hundredfold(share), places)}%"
