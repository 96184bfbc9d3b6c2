"""A row with several bad values lists each of them: no bad value hides
another, whatever columns they are in (docs/import-mapping.md)."""

import datetime as dt
from collections import Counter
from itertools import combinations

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal, Product
from dealgate.imports.rows import DealRows
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

BEGAN = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)
# Every column a mapping can read, custom fields of each type included.
MAPPING = """
source = "crm"
[columns]
external_id = "Id"
title = "Name"
organization = "Account"
product = "Product"
owner = "Owner"
stage = "Stage"
status = "Status"
value = "Amount"
currency = "Currency"
created_at = "Created"
stage_entered_at = "Entered"
close_date = "Closed"
expected_close_date = "Expected"
loss_reason = "Reason"
loss_note = "Why"
notes = "Notes"
[stages]
Open = "prospecting"
Lost = { stage = "engaging", status = "lost" }
[custom]
budget = "Budget"
due = "Due"
signed = "Signed"
tier = "Tier"
need = "Need"
"""
# A good lost deal, column by column, and a bad value for each column.
GOOD = {
    "Id": "D",
    "Name": "Orbit migration",
    "Account": "Acme",
    "Product": "Widget",
    "Owner": "alice",
    "Stage": "Lost",
    "Status": "lost",
    "Amount": "1200",
    "Currency": "EUR",
    "Created": "2026-03-01",
    "Entered": "2026-03-02",
    "Closed": "2026-04-14",
    "Expected": "2026-04-30",
    "Reason": "price",
    "Why": "too dear",
    "Notes": "call in May",
    "Budget": "5",
    "Due": "2026-07-31",
    "Signed": "yes",
    "Tier": "gold",
    "Need": "hosting",
}
BAD = {
    "Id": "I" * 101,
    "Name": "N" * 400,
    "Account": "A" * 300,
    "Product": "Gizmo",
    "Owner": "nobody",
    "Stage": "Nowhere",
    "Status": "maybe",
    "Amount": "lots",
    "Currency": "EURO",
    "Created": "2026-13-01",
    "Entered": "2026-02-30",
    "Closed": "someday",
    "Expected": "soon",
    "Reason": "R" * 101,
    "Why": "w" * 2_001,
    "Notes": "n" * 10_001,
    "Budget": "two",
    "Due": "tomorrow",
    "Signed": "perhaps",
    "Tier": "diamond",
    "Need": "x" * 2_001,
}
COLUMNS = tuple(GOOD)


@pytest.fixture
def sales(db, alice):
    pipeline = make_import_pipeline(
        loss_reasons=[{"key": "price", "label": "Price", "needs_note": True}]
    )
    pipeline.custom_fields = [
        {"key": "budget", "type": "number"},
        {"key": "due", "type": "date"},
        {"key": "signed", "type": "bool"},
        {"key": "tier", "type": "choice", "choices": ["gold", "silver"]},
        {"key": "need", "type": "text"},
    ]
    pipeline.save()
    Product.objects.create(name="Widget")
    return pipeline


def record(number: int, bad: tuple[str, ...] = (), **cells: str) -> str:
    """A CSV line: the good deal, with the bad value of each column in `bad`
    and `cells` put in; its id is made unique unless the id is bad."""
    values = {**GOOD, "Id": f"D{number}", **cells}
    values.update({column: BAD[column] for column in bad})
    return ",".join(values[column] for column in COLUMNS) + "\n"


def imported(tmp_path, sales, *records: str, mapping: str = MAPPING):
    path = write_csv(tmp_path, ",".join(COLUMNS) + "\n" + "".join(records))
    with timesource.frozen_at(BEGAN):
        return import_deals(
            path,
            write_mapping(tmp_path, mapping),
            pipeline=sales,
            all_or_nothing=False,
        )


def named(report) -> dict[int, list[str]]:
    """The columns each bad line names, in the report's order."""
    lines: dict[int, list[str]] = {}
    for bad in report.bad_rows:
        lines.setdefault(bad.line, []).append(bad.column)
    return lines


def test_the_good_row_imports(sales, tmp_path):
    report = imported(tmp_path, sales, record(1))

    assert report.committed and not report.bad_rows
    assert Deal.objects.get().custom == {
        "budget": 5,
        "due": "2026-07-31",
        "signed": True,
        "tier": "gold",
        "need": "hosting",
    }


def test_a_row_with_every_column_bad_names_every_column_once(sales, tmp_path):
    report = imported(tmp_path, sales, record(1, COLUMNS))

    assert report.bad_row_count == 1
    assert Counter(named(report)[2]) == Counter(COLUMNS)
    reasons = {bad.column: bad.reason for bad in report.bad_rows}
    assert reasons["Name"] == "is 400 characters long; the limit is 300"
    assert reasons["Account"] == "is 300 characters long; the limit is 200"
    assert reasons["Reason"] == "is 101 characters long; the limit is 100"
    assert reasons["Why"] == "is 2,001 characters long; the limit is 2,000"
    assert reasons["Closed"] == "'someday' is not a date in YYYY-MM-DD"


def test_each_column_bad_alone_or_with_any_other_is_named_with_it(sales, tmp_path):
    cases = [(column,) for column in COLUMNS] + list(combinations(COLUMNS, 2))

    report = imported(
        tmp_path,
        sales,
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


def test_a_long_title_account_and_notes_are_all_named(sales, tmp_path):
    # The tester's line 12: the title was not named when the account was bad.
    report = imported(
        tmp_path,
        sales,
        record(1, Name="N" * 400, Account="A" * 300, Notes="n" * 20_000),
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Account: is 300 characters long; the limit is 200",
        "line 2: Name: is 400 characters long; the limit is 300",
        "line 2: Notes: is 20,000 characters long; the limit is 10,000",
    ]


TEMPLATED = """
source = "crm"
title = ["{product} for {organization}", "{product}"]
[columns]
external_id = "Id"
organization = "Account"
product = "Product"
owner = "Owner"
[products]
create_missing = true
"""


def templated(tmp_path, sales, *records: str):
    path = write_csv(tmp_path, "Id,Account,Product,Owner\n" + "".join(records))
    mapping = write_mapping(tmp_path, TEMPLATED)
    return import_deals(path, mapping, pipeline=sales, all_or_nothing=False)


def test_a_title_made_from_names_is_judged_when_a_name_it_does_not_use_is_bad(
    sales, tmp_path
):
    # "{product} for {organization}" of two 200-character names is too long
    # a title, whatever the owner's column says.
    long_account, long_product = "A" * 200, "P" * 200
    report = templated(tmp_path, sales, f"D1,{long_account},{long_product},nobody\n")

    assert [(bad.column, bad.reason) for bad in report.bad_rows] == [
        ("Owner", "'nobody' matches no owner in the database"),
        ("title", "is 405 characters long; the limit is 300"),
    ]


def test_a_title_made_from_a_bad_name_is_not_judged_again(sales, tmp_path):
    # The account is too long to keep; the title it would make is not named
    # as well, nor is the title said to be empty.
    report = templated(tmp_path, sales, f"D1,{'A' * 300},{'P' * 200},alice\n")

    assert [(bad.column, bad.reason) for bad in report.bad_rows] == [
        ("Account", "is 300 characters long; the limit is 200"),
    ]


def test_every_date_in_the_far_future_is_named(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        record(1, Created="2062-03-01", Entered="2062-03-02", Closed="2062-04-14"),
    )

    assert [(bad.column, bad.reason.split(":")[0]) for bad in report.bad_rows] == [
        ("Created", "'2062-03-01' has not happened yet"),
        ("Entered", "'2062-03-02' has not happened yet"),
        ("Closed", "'2062-04-14' has not happened yet"),
    ]


def test_dates_that_read_are_judged_in_order_beside_one_that_does_not(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        record(1, Created="2026-13-01", Entered="2026-05-01", Closed="2026-04-14"),
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Created: '2026-13-01' is not a date in YYYY-MM-DD",
        "line 2: Closed: '2026-04-14' is before Entered '2026-05-01'",
    ]


def test_a_lost_deals_close_date_that_does_not_read_is_not_also_called_empty(
    sales, tmp_path
):
    report = imported(tmp_path, sales, record(1, ("Closed", "Amount")))

    assert [(bad.column, bad.reason) for bad in report.bad_rows] == [
        ("Closed", "'someday' is not a date in YYYY-MM-DD"),
        ("Amount", "'lots' is not a number"),
    ]


def test_with_the_status_unknown_what_hangs_on_it_waits_and_the_rest_is_judged(
    sales, tmp_path
):
    # The stage does not read and the status column is empty: the deal may
    # be open or closed, so no close date is asked for and the close date is
    # not put in order; the creation after the stage entry, and the loss
    # reason's text, are wrong whatever the status.
    report = imported(
        tmp_path,
        sales,
        record(
            1,
            ("Stage", "Reason"),
            Status="",
            Created="2026-03-05",
            Entered="2026-03-02",
            Closed="",
        ),
    )

    assert [bad.column for bad in report.bad_rows] == ["Stage", "Entered", "Reason"]


def test_a_status_that_contradicts_the_stage_is_named_beside_other_bad_values(
    sales, tmp_path
):
    report = imported(tmp_path, sales, record(1, ("Amount",), Status="open"))

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Status: 'open' contradicts Stage 'Lost' (lost)",
        "line 2: Amount: 'lots' is not a number",
    ]


def test_good_rows_never_take_the_slow_reading(sales, tmp_path, monkeypatch):
    def slow(self, fields, first):
        raise AssertionError(f"a good row read again after {first}")

    monkeypatch.setattr(DealRows, "_every_error", slow)
    report = imported(tmp_path, sales, record(1), record(2, Status="", Stage="Open"))

    assert report.committed and report.deals_created == 2
