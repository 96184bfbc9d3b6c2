"""ISO 4217's codes with their minor units (dealgate.core.currencies)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.core.currencies import (
    ISO_4217,
    MINOR_UNITS,
    amount_in,
    check_decimals,
    decimals_problem,
)
from dealgate.errors import ValidationError

# The codes whose amounts ISO 4217 writes whole, and those with three decimals.
WHOLE = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
THOUSANDTHS = "BHD IQD JOD KWD LYD OMR TND"


def test_every_code_has_the_minor_unit_iso_4217_gives_it():
    assert len(ISO_4217) == len(MINOR_UNITS) == 177
    by_units = {
        units: {code for code, held in MINOR_UNITS.items() if held == units}
        for units in (0, 3, 4)
    }
    assert by_units[0] == set(WHOLE.split())
    assert by_units[3] == set(THOUSANDTHS.split())
    assert by_units[4] == {"CLF", "UYW"}
    assert MINOR_UNITS["USD"] == MINOR_UNITS["EUR"] == MINOR_UNITS["HUF"] == 2
    # Metals, bond market units and the SDR have none in the standard.
    assert MINOR_UNITS["XAU"] is None and MINOR_UNITS["XDR"] is None


@pytest.mark.parametrize(
    "amount, code, problem",
    [
        ("1000.50", "JPY", "1000.50 has 2 decimal places; JPY amounts have 0"),
        ("1000.5", "KRW", "1000.5 has 1 decimal place; KRW amounts have 0"),
        ("1.2345", "KWD", "1.2345 has 4 decimal places; KWD amounts have 3"),
        ("12.345", "EUR", "12.345 has 3 decimal places; EUR amounts have 2"),
    ],
)
def test_an_amount_with_more_decimals_than_its_currency_says_so(amount, code, problem):
    assert decimals_problem(Decimal(amount), code) == problem


@pytest.mark.parametrize(
    "amount, code",
    [
        ("1000", "JPY"),
        ("1000.00", "JPY"),  # trailing zeros are no decimals
        ("1E+3", "JPY"),
        ("1.234", "BHD"),
        ("12.50", "USD"),
        ("1.23456", "XAU"),  # no minor unit in the standard: no limit here
    ],
)
def test_an_amount_within_its_currencys_decimals_is_taken(amount, code):
    assert decimals_problem(Decimal(amount), code) is None


def test_the_refusal_names_the_field_the_currency_and_its_decimals():
    with pytest.raises(ValidationError) as refused:
        check_decimals(Decimal("1000.50"), "JPY", "value")

    assert refused.value.field == "value"
    assert refused.value.message == (
        "value 1000.50 has 2 decimal places; JPY amounts have 0"
    )
    check_decimals(None, "JPY")  # no value, nothing to refuse


@pytest.mark.parametrize(
    "amount, code, message",
    [
        (
            "1.234",
            "KWD",
            "value 1.234 has 3 decimal places; Dealgate keeps KWD amounts with 2 "
            "(ISO 4217 gives KWD 3)",
        ),
        (
            "5.125",
            "BHD",
            "value 5.125 has 3 decimal places; Dealgate keeps BHD amounts with 2 "
            "(ISO 4217 gives BHD 3)",
        ),
        (
            "1.23456",
            "XAU",
            "value 1.23456 has 5 decimal places; Dealgate keeps XAU amounts with 2",
        ),
        ("1000.50", "JPY", "value 1000.50 has 2 decimal places; JPY amounts have 0"),
    ],
)
def test_decimals_past_the_two_stored_are_refused_naming_the_currency(
    amount, code, message
):
    with pytest.raises(ValidationError) as refused:
        check_decimals(Decimal(amount), code, "value")

    assert (refused.value.field, refused.value.message) == ("value", message)


@pytest.mark.parametrize("amount, code", [("1.230", "KWD"), ("5.12", "BHD")])
def test_zeros_past_the_two_stored_decimals_are_taken(amount, code):
    check_decimals(Decimal(amount), code, "value")


@pytest.mark.parametrize(
    "amount, code, written",
    [
        ("1000.00", "JPY", "1000"),
        ("1.20", "KWD", "1.20"),
        ("1000", "USD", "1000.00"),
        ("3.5", "XAU", "3.50"),
        ("12", "CLF", "12.00"),
        ("1000.50", "JPY", "1000.50"),  # stored before decimals were checked
    ],
)
def test_an_amount_is_written_with_its_currencys_decimals_at_most_two(
    amount, code, written
):
    assert str(amount_in(Decimal(amount), code)) == written
