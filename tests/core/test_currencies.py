"""ISO 4217's codes with their minor units (dealgate.core.currencies)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.core.currencies import (
    ISO_4217,
    MINOR_UNITS,
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
