"""Template filters for how Dealgate writes money and dates."""

from __future__ import annotations

from decimal import Decimal

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
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{digits}" if symbol else f"{currency} {digits}"
