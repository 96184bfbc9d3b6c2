from decimal import Decimal

import pytest

from dealgate.deals.queries import Money
from dealgate.web.templatetags.dealgate_format import money, whole_money


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("1234567"), "USD", "$1,234,567"),
        (Decimal("18500.50"), "EUR", "€18,500.50"),
        (Decimal("950.00"), "GBP", "£950"),
        (Decimal("1200"), "CHF", "CHF 1,200"),
        (None, "USD", "no value"),
    ],
)
def test_money_has_thousands_separators_and_cents_only_when_some(
    value, currency, shown
):
    assert money(value, currency) == shown


def test_money_takes_a_total_with_its_currency():
    assert money(Money(Decimal("4514"), "USD")) == "$4,514"


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("18500.50"), "EUR", "≈€18,501"),
        (Decimal("18500.49"), "EUR", "≈€18,500"),
        (Decimal("950.00"), "GBP", "£950"),
        (Money(Decimal("4303021.5"), "CHF"), "", "≈CHF 4,303,022"),
        (None, "USD", "no value"),
    ],
)
def test_board_totals_are_whole_units_rounded_half_up_and_marked_when_rounded(
    value, currency, shown
):
    assert whole_money(value, currency) == shown


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("1000.00"), "JPY", "¥1,000"),
        (Decimal("1.23"), "KWD", "KWD 1.23"),
        (Decimal("1.20"), "KWD", "KWD 1.20"),
        (Decimal("5.00"), "BHD", "BHD 5"),
    ],
)
def test_money_shows_a_currency_with_other_decimals_as_the_api_answers_it(
    value, currency, shown
):
    assert money(value, currency) == shown
