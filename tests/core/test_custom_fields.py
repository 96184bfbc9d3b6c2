"""The one checker of custom values the edit form, the API and imports share."""

import datetime as dt
from decimal import Decimal

import pytest

from dealgate.core.custom_fields import (
    CustomField,
    CustomValueError,
    checked_values,
    declared_fields,
    number_from_text,
)

FIELDS = declared_fields(
    [
        {"key": "seats", "label": "Seats", "type": "number"},
        {"key": "renewal", "label": "Renewal", "type": "bool"},
        {"key": "signed_on", "label": "Signed on", "type": "date"},
        {"key": "tier", "label": "Tier", "type": "choice", "choices": ["gold"]},
        {"key": "note", "label": "Note", "type": "text"},
        {"label": "a field without a key is skipped"},
    ]
)


@pytest.mark.parametrize(
    ("key", "text", "stored"),
    [
        ("seats", " 1,200 ", 1200),
        ("seats", "2.50", 2.5),
        ("renewal", "YES", True),
        ("renewal", "0", False),
        ("signed_on", "2026-07-31", "2026-07-31"),
        ("tier", "Gold", "gold"),
        ("note", "  two sites ", "two sites"),
        ("note", "   ", None),
    ],
)
def test_typed_text_is_stored_as_the_field_s_type(key, text, stored):
    value = FIELDS[key].from_text(text)
    assert value == stored and type(value) is type(stored)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("12,5", "'12,5' is not a number; write 12.5"),
        ("1.000", "'1.000' could mean 1000 or 1; write 1000 or 1"),
    ],
)
def test_a_typed_number_that_would_read_otherwise_than_meant_is_refused(text, says):
    with pytest.raises(ValueError) as refused:
        FIELDS["seats"].from_text(text)

    assert str(refused.value) == says


def test_values_read_from_a_file_are_stored_as_json_holds_them():
    assert FIELDS["seats"].checked(Decimal("3.0")) == 3
    assert FIELDS["signed_on"].checked(dt.date(2026, 7, 31)) == "2026-07-31"


def test_a_type_this_version_does_not_know_is_read_as_text():
    assert CustomField("seats", "Seats", "int").from_text("40") == "40"


def test_a_stored_value_counts_as_unchanged_only_with_its_json_type():
    stored = {"renewal": True}
    assert checked_values(FIELDS, {"renewal": True}, stored=stored) == stored
    with pytest.raises(CustomValueError) as refused:
        checked_values(FIELDS, {"renewal": 1}, stored=stored)
    assert (refused.value.key, refused.value.message) == (
        "renewal",
        "1 is not true or false",
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "1,000,000,000,000",
            "'1,000,000,000,000' is too large: the most it holds is "
            "999,999,999,999.99 (12 digits before the decimal point)",
        ),
        (
            "-1000000000000",
            "'-1000000000000' is too small: the least it holds is "
            "-999,999,999,999.99 (12 digits before the decimal point)",
        ),
    ],
)
def test_a_typed_number_beyond_the_columns_range_names_the_end_it_passed(text, says):
    with pytest.raises(ValueError) as caught:
        number_from_text(text)
    assert str(caught.value) == says
