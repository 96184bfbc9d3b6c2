"""An amount the file cannot give is refused saying why: one too large names
the largest the column holds, written with the file's own separators; text
that is no number at all is not told about thousands separators."""

import pytest

from dealgate.deals.models import Deal
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

MAPPING = """
source = "crm"
thousands_separator = "{thousands}"
decimal_point = "{point}"
[columns]
external_id = "Id"
title = "Deal"
value = "Wert"
custom.seats = "Plätze"
"""
GERMAN = {"thousands": ".", "point": ","}


@pytest.fixture
def sales(db):
    pipeline = make_import_pipeline()
    pipeline.custom_fields = [{"key": "seats", "label": "Seats", "type": "number"}]
    pipeline.save()
    return pipeline


def imported(tmp_path, sales, *rows: str, separators=GERMAN):
    mapping = MAPPING.format(**separators).replace(
        'custom.seats = "Plätze"\n', '[custom]\nseats = "Plätze"\n'
    )
    path = write_csv(tmp_path, "Id;Deal;Wert;Plätze\n" + "".join(rows))
    mapping_path = write_mapping(tmp_path, 'delimiter = ";"\n' + mapping)
    return import_deals(path, mapping_path, pipeline=sales, all_or_nothing=False)


def reasons(report) -> list[str]:
    return [str(bad) for bad in report.bad_rows]


def test_an_amount_too_large_names_the_largest_as_the_file_writes_it(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        "D1;Orbit;9.999.999.999.999,99;\n",
        "D2;Helix;999.999.999.999,99;\n",
    )

    assert reasons(report) == [
        "line 2: Wert: '9.999.999.999.999,99' is too large: the most it holds is "
        "999.999.999.999,99 (12 digits before the decimal point)"
    ]
    assert str(Deal.objects.get().value) == "999999999999.99"


def test_without_a_thousands_separator_the_largest_is_written_ungrouped(
    sales, tmp_path
):
    report = imported(
        tmp_path,
        sales,
        "D1;Orbit;1000000000000;\n",
        separators={"thousands": "", "point": "."},
    )

    assert reasons(report) == [
        "line 2: Wert: '1000000000000' is too large: the most it holds is "
        "999999999999.99 (12 digits before the decimal point)"
    ]


def test_a_custom_number_too_large_names_the_largest_too(sales, tmp_path):
    report = imported(tmp_path, sales, "D1;Orbit;1;1.000.000.000.000\n")

    assert reasons(report) == [
        "line 2: Plätze: '1.000.000.000.000' is too large: the most it holds is "
        "999.999.999.999,99 (12 digits before the decimal point)"
    ]


@pytest.mark.parametrize("cell", ["1e308", "2,5E3"])
def test_an_exponent_is_not_a_number_not_a_misplaced_separator(sales, tmp_path, cell):
    report = imported(tmp_path, sales, f"D1;Orbit;1;{cell}\n", f"D2;Helix;{cell};\n")

    expected = f"'{cell}' is not a number: exponents are not read; write the digits"
    assert reasons(report) == [
        f"line 2: Plätze: {expected}",
        f"line 3: Wert: {expected}",
    ]


@pytest.mark.parametrize("cell", ["x12", "12#", "1.2.3e", "1.5x"])
def test_text_with_more_than_digits_and_separators_is_not_a_number(
    sales, tmp_path, cell
):
    report = imported(tmp_path, sales, f"D1;Orbit;{cell};\n")

    assert reasons(report) == [f"line 2: Wert: '{cell}' is not a number"]


def test_digits_grouped_wrongly_are_still_told_the_separators_rule(sales, tmp_path):
    report = imported(tmp_path, sales, "D1;Orbit;12.50,5;\n")

    assert reasons(report) == [
        "line 2: Wert: '12.50,5' is not an amount with '.' between groups of "
        "three digits"
    ]


def test_too_many_decimals_quote_the_cell_as_the_file_writes_it(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        "D1;Orbit;1,234;\n",
        "D2;Helix;1.000,505;\n",
        "D3;Vega;1.000,50;\n",
    )

    assert reasons(report) == [
        "line 2: Wert: '1,234' has 3 decimal places; USD amounts have 2",
        "line 3: Wert: '1.000,505' has 3 decimal places; USD amounts have 2",
    ]
    assert str(Deal.objects.get().value) == "1000.50"
