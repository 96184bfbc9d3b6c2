"""Template filters for how Dealgate writes money and dates."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from dealgate.deals.queries import Money

register = template.Library()

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


@register.filter
def money(value: Money | Decimal | int | None, currency: str = "USD") -> str:
    """`$12,500` or `CHF 12,500.50`: thousands separated, cents only when some.

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
    """`$12,501`: rounded to whole units, half up, for lists and totals where
    cents on some figures and not on others would only be noise. The deal
    page shows the exact amount with `money`."""
    if isinstance(value, Money):
        value, currency = value.amount, value.currency
    if value is None:
        return "no value"
    whole = Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return _with_currency(f"{whole:,.0f}", currency)


def _with_currency(digits: str, currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{digits}" if symbol else f"{currency} {digits}"
