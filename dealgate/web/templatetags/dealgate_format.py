"""Template filters for how Dealgate writes money and dates."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from dealgate.core import rounding, text
from dealgate.deals.queries import Money

register = template.Library()

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


@register.filter
def money(value: Money | Decimal | int | None, currency: str = "USD") -> str:
    """`$12,500` or `CHF 12,500.50`: the exact amount, thousands separated,
    cents only when some. One deal's value is always shown so: on its page,
    its card and in lists.

    Takes a Money, or an amount with its currency as the argument.
    """
    if isinstance(value, Money):
        value, currency = value.amount, value.currency
    if value is None:
        return "no value"
    amount = Decimal(value)
    digits = (
        f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    )
    return _with_currency(digits, currency)


@register.filter
def whole_money(value: Money | Decimal | int | None, currency: str = "USD") -> str:
    """`≈$12,501`: a sum rounded to whole units, half up, for the board's
    totals, where cents would only be noise. Marked "≈" when the rounding
    changed it, so a rounded figure never reads as an exact one; `money`
    gives the exact sum (the board shows it on hover)."""
    if isinstance(value, Money):
        value, currency = value.amount, value.currency
    if value is None:
        return "no value"
    amount = Decimal(value)
    whole = amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    mark = "" if whole == amount else "≈"
    return mark + _with_currency(f"{whole:,.0f}", currency)


def _with_currency(digits: str, currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{digits}" if symbol else f"{currency} {digits}"


@register.filter
def counted(count: int, noun: str) -> str:
    """`count` and `noun` agreeing, thousands grouped (`core.text.counted`):
    {{ n|counted:"finding" }} is "1 finding" or "2 findings". An irregular
    plural follows a bar: {{ n|counted:"criterion|criteria" }}."""
    one, _, other = noun.partition("|")
    return text.counted(int(count), one, other)


@register.filter
def agreeing(count: int, words: str) -> str:
    """The word that agrees with `count` (`core.text.agreeing`):
    {{ n|agreeing:"is|are" }}; one word alone takes its regular plural."""
    one, _, other = words.partition("|")
    return text.agreeing(int(count), one, other)


@register.filter
def figure(value: float | Decimal | int | None, places: int = 1) -> str:
    """A figure as `core.rounding.figure` writes it: halves up, a whole
    number without ".0" ("113", "2.5"); "" for None, for `|default`."""
    if value is None or value == "":
        return ""
    return rounding.figure(value, int(places))
