"""The one rule by which every door reads a number a person typed."""

from decimal import Decimal

import pytest

from dealgate.core.numbers import (
    MAX_ID,
    AmbiguousNumber,
    as_id,
    read_number,
    read_whole,
    whole_number,
)
from dealgate.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1250", "1250"),
        ("12.50", "12.50"),
        (" 1,200 ", "1200"),
        ("1,250.50", "1250.50"),
        ("1,000,000", "1000000"),
        ("-5", "-5"),
        ("0.125", "0.125"),
        ("1250.500", "1250.500"),
        ("1,250.500", "1250.500"),
        (".5", "0.5"),
    ],
)
def test_plain_and_correctly_grouped_numbers_read_exactly_as_written(text, number):
    read = read_number(text)

    assert read == Decimal(number)
    assert str(read) == number


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("12,50", "'12,50' is not a number; write 12.50"),
        ("1,2", "'1,2' is not a number; write 1.2"),
        ("-12,5", "'-12,5' is not a number; write -12.5"),
        ("1,0000", "'1,0000' is not a number; write 1.0000"),
        ("1.000,50", "'1.000,50' is not a number; write 1000.50"),
        ("1.250.000", "'1.250.000' is not a number; write 1250000"),
        ("1 250,50", "'1 250,50' is not a number; write 1250.50"),
        ("1'250", '"1\'250" is not a number; write 1250'),
        ("$1,250", "'$1,250' is not a number; write 1250"),
        ("EUR 12,50", "'EUR 12,50' is not a number; write 12.50"),
        ("1e3", "'1e3' is not a number; write 1000"),
        ("lots", "'lots' is not a number; write it like 1250 or 12.50"),
        ("NaN", "'NaN' is not a number; write it like 1250 or 12.50"),
    ],
)
def test_any_other_writing_is_refused_saying_how_to_write_it(text, says):
    with pytest.raises(ValueError) as refused:
        read_number(text)

    assert str(refused.value) == says


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1.000", "'1.000' could mean 1000 or 1; write 1000 or 1"),
        ("12.500", "'12.500' could mean 12500 or 12.5; write 12500 or 12.5"),
        ("-1.250", "'-1.250' could mean -1250 or -1.25; write -1250 or -1.25"),
        ("1.125", "'1.125' could mean 1125 or 1.125; write 1125, or 1.1250 for 1.125"),
    ],
)
def test_a_dot_before_three_digits_is_refused_as_two_readings(text, says):
    with pytest.raises(AmbiguousNumber) as refused:
        read_number(text)

    assert str(refused.value) == says


@pytest.mark.parametrize(
    ("text", "places", "says"),
    [
        (
            "12.345",
            2,
            "'12.345' has more than two decimal places; if it means 12345, write 12345",
        ),
        ("1.250", 2, "'1.250' could mean 1250 or 1.25; write 1250 or 1.25"),
        ("1.250", 0, "'1.250' is not a whole number; if it means 1250, write 1250"),
    ],
)
def test_a_reading_the_field_cannot_hold_is_not_offered(text, places, says):
    with pytest.raises(AmbiguousNumber) as refused:
        read_number(text, places=places)

    assert str(refused.value) == says


def test_whole_numbers_read_by_the_same_rule():
    assert read_whole("1,200") == 1200
    assert read_whole("40") == 40
    for text in ("1,2", "1.5", "lots"):
        with pytest.raises(ValueError, match="is not a whole number; write it like"):
            read_whole(text)
    with pytest.raises(AmbiguousNumber, match="could mean 1000 or 1"):
        read_whole("1.000")


@pytest.mark.parametrize(
    "text, expected", [("0", 0), ("30", 30), (" 7 ", 7), ("0042", 42), ("1000", 1000)]
)
def test_plain_digits_within_the_bounds_are_read(text, expected):
    assert whole_number(text, "offset", most=1000) == expected


@pytest.mark.parametrize(
    "text",
    ["", "x", "-1", "1.5", "1e3", "²", "١٢", "1001", "99999999999999999999999"],
)
def test_anything_else_is_refused_naming_the_field_and_the_range(text):
    with pytest.raises(ValidationError) as refused:
        whole_number(text, "offset", most=1000, unit="cards")

    assert refused.value.field == "offset"
    assert refused.value.message.startswith(
        "offset must be a whole number of cards from 0 to 1,000, got "
    )


def test_thousands_of_digits_are_refused_without_reading_them():
    # int() itself refuses a string past 4,300 digits with a ValueError.
    with pytest.raises(ValidationError, match=r"got '9{29}…'"):
        whole_number("9" * 5000, "version", most=MAX_ID)


def test_a_lower_bound_is_kept():
    with pytest.raises(ValidationError, match="from 1 to 10"):
        whole_number("0", "last", least=1, most=10)


@pytest.mark.parametrize(
    "text, expected",
    [("12", 12), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), ("²", None)],
)
def test_an_id_is_plain_digits_within_64_bits(text, expected):
    assert as_id(text) == expected


def test_a_typed_number_with_thousands_of_digits_is_refused_without_reading_it():
    with pytest.raises(ValueError, match="longer than any number here"):
        read_number("9" * 5000)
    with pytest.raises(ValueError, match="longer than any number here"):
        read_whole("1" * 41)


@pytest.mark.parametrize("text", ["0,500", "0,125", "-0,750", "00,500"])
def test_a_leading_zero_before_a_comma_is_a_decimal_comma_and_refused(text):
    with pytest.raises(ValueError, match="is not a number; write"):
        read_number(text)
    with pytest.raises(ValueError):
        read_whole(text)


def test_a_whole_number_with_thousands_of_leading_zeros_is_read():
    assert whole_number("0" * 5000 + "7", "version", most=MAX_ID) == 7


@pytest.mark.parametrize("currency", ["KWD", "bhd", " OMR "])
def test_a_three_decimal_currency_reads_1_234_as_written(currency):
    assert read_number("1.234", places=2, currency=currency) == Decimal("1.234")
    assert read_number("12.345", places=2, currency=currency) == Decimal("12.345")


@pytest.mark.parametrize("currency", [None, "", "USD", "JPY", "XAU", "nonsense"])
def test_other_currencies_keep_1_234_ambiguous(currency):
    with pytest.raises(AmbiguousNumber):
        read_number("1.234", places=2, currency=currency)
