"""A lead import row with several bad values lists each of them, live
mappings and the olist files alike: no bad value hides another."""

from __future__ import annotations

import shutil
from collections import Counter
from itertools import combinations

import pytest

from dealgate.leads.imports import import_leads
from dealgate.leads.models import Lead
from dealgate.leads.olist import DEALS_FILE, LEADS_FILE
from tests.conftest import REPO_ROOT

OLIST = REPO_ROOT / "tests" / "data" / "leads" / "olist"
# Every lead field a live mapping can read: field = column.
FIELDS = {
    "external_id": "Id",
    "name": "Full name",
    "email": "E-mail",
    "phone": "Telephone",
    "company": "Firm",
    "website": "Web",
    "country": "Land",
    "segment": "Segment",
    "source": "Origin",
    "currency": "Currency",
    "message": "Notes",
    "company_size": "Staff",
    "value": "Budget",
}
COLUMNS = tuple(FIELDS.values())
GOOD = {
    "Id": "L",
    "Full name": "Ida Berg",
    "E-mail": "ida@berg.example",
    "Telephone": "030 1234567",
    "Firm": "Berg IT",
    "Web": "berg.example",
    "Land": "DE",
    "Segment": "smb",
    "Origin": "fair",
    "Currency": "EUR",
    "Notes": "Please call",
    "Staff": "12",
    "Budget": "1200",
}
BAD = {
    "Id": "I" * 100,
    "Full name": "N" * 201,
    "E-mail": "ida@@berg",
    "Telephone": "12",
    "Firm": "F" * 201,
    "Web": "not a site",
    "Land": "Germany",
    "Segment": "S" * 51,
    "Origin": "O" * 51,
    "Currency": "EURO",
    "Notes": "m" * 5_001,
    "Staff": "lots",
    "Budget": "lots",
}


@pytest.fixture
def mapping(tmp_path):
    lines = [f'{field} = "{column}"' for field, column in FIELDS.items()]
    path = tmp_path / "leads.toml"
    path.write_text('source = "web"\n[columns]\n' + "\n".join(lines) + "\n")
    return str(path)


def record(
    number: int, bad: tuple[str, ...] = (), cells: dict[str, str] | None = None
) -> str:
    """A CSV line: a good lead of its own, with the bad value of each column
    in `bad` and `cells` (column: text) put in."""
    values = {
        **GOOD,
        "Id": f"L{number}",
        "Full name": f"Person {number}",
        "E-mail": f"person{number}@firm{number}.example",
        "Firm": f"Firm {number}",
        "Web": f"firm{number}.example",
    }
    values.update(cells or {})
    values.update({column: BAD[column] for column in bad})
    return ",".join(values[column] for column in COLUMNS) + "\n"


def imported(tmp_path, mapping, routed, *records: str):
    path = tmp_path / "leads.csv"
    path.write_text(",".join(COLUMNS) + "\n" + "".join(records))
    return import_leads(path, mapping, pipeline=routed, all_or_nothing=False)


def named(report) -> dict[int, list[str]]:
    lines: dict[int, list[str]] = {}
    for bad in report.bad_rows:
        lines.setdefault(bad.line, []).append(bad.column)
    return lines


def test_the_good_row_is_captured(routed, now, tmp_path, mapping):
    report = imported(tmp_path, mapping, routed, record(1))

    assert report.leads_created == 1 and not report.bad_rows


def test_a_row_with_every_column_bad_names_every_column_once(
    routed, now, tmp_path, mapping
):
    report = imported(tmp_path, mapping, routed, record(1, COLUMNS))

    assert report.bad_row_count == 1
    assert Counter(named(report)[2]) == Counter(COLUMNS)
    reasons = {bad.column: bad.reason for bad in report.bad_rows}
    assert reasons["Id"] == "is too long to keep as an id"
    assert reasons["Telephone"] == (
        "'12' is not a valid phone number (read as a number in DE)"
    )
    assert not Lead.objects.exists()


def test_each_column_bad_alone_or_with_any_other_is_named_with_it(
    routed, now, tmp_path, mapping
):
    cases = [(column,) for column in COLUMNS] + list(combinations(COLUMNS, 2))

    report = imported(
        tmp_path,
        mapping,
        routed,
        *(record(number, bad) for number, bad in enumerate(cases)),
    )

    assert report.bad_row_count == len(cases)
    found = named(report)
    wrong = {
        bad: found.get(line, [])
        for line, bad in enumerate(cases, start=2)
        if sorted(found.get(line, [])) != sorted(bad)
    }
    assert wrong == {}


def test_a_repeated_id_is_named_beside_the_rows_bad_values(
    routed, now, tmp_path, mapping
):
    report = imported(
        tmp_path, mapping, routed, record(1), record(2, ("E-mail",), {"Id": "L1"})
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 3: Id: 'L1' is already on line 2",
        "line 3: E-mail: 'ida@@berg' is not an email address like name@example.com",
    ]


def test_a_row_without_contact_data_is_named_beside_its_bad_values(
    routed, now, tmp_path, mapping
):
    report = imported(
        tmp_path,
        mapping,
        routed,
        record(1, ("Staff",), {"E-mail": "", "Telephone": ""}),
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: E-mail: a lead needs an email address or a phone number to "
        "answer it on",
        "line 2: Staff: 'lots' is not a whole number; write it like 12 or 1,200",
    ]


def test_a_phone_is_read_in_the_rows_country(routed, now, tmp_path, mapping):
    # A New York number with its trunk prefix reads in the US, not in
    # Germany (the pipeline's region); beside another bad value it is still
    # read in the row's country.
    report = imported(
        tmp_path,
        mapping,
        routed,
        record(1, (), {"Telephone": "1 212 736 5000", "Land": "US"}),
        record(2, ("Firm",), {"Telephone": "1 212 736 5000", "Land": "US"}),
    )

    assert [(bad.line, bad.column) for bad in report.bad_rows] == [(3, "Firm")]


def test_a_values_decimals_are_judged_in_its_currency_beside_other_bad_values(
    routed, now, tmp_path, mapping
):
    report = imported(
        tmp_path,
        mapping,
        routed,
        record(1, ("Firm",), {"Currency": "JPY", "Budget": "9.5"}),
    )

    assert [bad.column for bad in report.bad_rows] == ["Firm", "Budget"]
    assert "JPY" in report.bad_rows[1].reason


# -- olist ---------------------------------------------------------------------


def olist_copy(tmp_path, leads: str = "", deals: str = ""):
    for name in (LEADS_FILE, DEALS_FILE):
        shutil.copy(OLIST / name, tmp_path / name)
    with (tmp_path / LEADS_FILE).open("a") as f:
        f.write(leads)
    with (tmp_path / DEALS_FILE).open("a") as f:
        f.write(deals)
    return tmp_path / LEADS_FILE


def test_an_olist_lead_without_id_or_date_names_both(pipeline, now, tmp_path):
    path = olist_copy(tmp_path, leads=",2018-02-01,page,organic_search\n")

    report = import_leads(path, "olist", pipeline=pipeline, all_or_nothing=False)

    assert [(bad.column, bad.reason) for bad in report.bad_rows] == [
        ("mql_id", "is empty"),
        (
            "first_contact_date",
            "'2018-02-01' is not a date in %d-%m-%Y (day first, e.g. 01-02-2018)",
        ),
    ]
    assert report.bad_row_count == 1


def test_an_olist_closed_deal_names_every_bad_value_as_one_bad_row(
    pipeline, now, tmp_path
):
    deal = "m1,s1,sdr,sr,someday,pet,online,cat,maybe,perhaps,,reseller,,NaN\n"
    path = olist_copy(tmp_path, deals=deal)

    report = import_leads(path, "olist", pipeline=pipeline, all_or_nothing=False)

    bad = [b for b in report.bad_rows if b.file == DEALS_FILE]
    assert [b.column for b in bad] == [
        "won_date",
        "has_company",
        "has_gtin",
        "declared_monthly_revenue",
    ]
    assert len({b.line for b in bad}) == 1
