"""A warning of the olist import says what was done to a lead or a won deal,
so it counts only the rows the import writes (or, in a dry run or a refused
import, would write), as in the deal import: never a bad row, a repeat, a
row already present, or a closed deal whose lead is not written."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal
from dealgate.leads.imports import import_leads
from dealgate.leads.models import Lead
from dealgate.leads.olist import DEAL_COLUMNS, DEALS_FILE, LEADS_FILE

EMPTY_ORIGIN = "origin empty, kept empty (apart from 'unknown')"
MANGLED = "average_stock 'May-20' read as '5-20' (a spreadsheet had made it a date)"
UNDECLARED = "declared_monthly_revenue 0 or empty, read as not declared"
A, B, C = ("a" * 32, "b" * 32, "c" * 32)


def lead(mql_id: str, origin: str = "", day: str = "01-02-2018") -> str:
    return f"{mql_id},{day},lp,{origin}"


def closed(mql_id: str, *, has_company: str = "TRUE") -> str:
    """A won deal whose stock was made a date and whose revenue is 0."""
    values = dict.fromkeys(DEAL_COLUMNS, "")
    values |= {
        "mql_id": mql_id,
        "seller_id": "5" * 32,
        "won_date": "26-02-2018 19:58",
        "has_company": has_company,
        "average_stock": "May-20",
        "declared_monthly_revenue": "0",
    }
    return ",".join(values[column] for column in DEAL_COLUMNS)


def files(tmp_path, leads: list[str], deals: list[str]):
    header = "mql_id,first_contact_date,landing_page_id,origin"
    (tmp_path / LEADS_FILE).write_text("\r\n".join([header, *leads]) + "\r\n")
    deal_lines = [",".join(DEAL_COLUMNS), *deals]
    (tmp_path / DEALS_FILE).write_text("\r\n".join(deal_lines) + "\r\n")
    return tmp_path / LEADS_FILE


def imported(path, pipeline, **options):
    options.setdefault("all_or_nothing", False)
    return import_leads(path, "olist", pipeline=pipeline, **options)


def test_a_bad_closed_deal_gives_no_warning(pipeline, now, tmp_path):
    path = files(
        tmp_path,
        [lead(A, "social"), lead(B, "social")],
        [closed(A, has_company="maybe"), closed(B)],
    )

    report = imported(path, pipeline)

    assert [(bad.file, bad.column) for bad in report.bad_rows] == [
        (DEALS_FILE, "has_company")
    ]
    assert Deal.objects.get().external_id == B
    assert report.warnings == {MANGLED: 1, UNDECLARED: 1}


def test_a_deal_closed_twice_is_warned_of_once(pipeline, now, tmp_path):
    path = files(tmp_path, [lead(A, "social")], [closed(A), closed(A)])

    report = imported(path, pipeline)

    assert [str(bad) for bad in report.bad_rows] == [
        f"{DEALS_FILE} line 3: mql_id: '{A}' is closed twice"
    ]
    assert report.warnings == {MANGLED: 1, UNDECLARED: 1}


def test_a_closed_deal_without_its_lead_gives_no_warning(pipeline, now, tmp_path):
    path = files(tmp_path, [lead(A, "social")], [closed(B)])

    report = imported(path, pipeline)

    assert [bad.reason for bad in report.bad_rows] == [f"'{B}' is not in {LEADS_FILE}"]
    assert report.warnings == {}


def test_a_repeated_lead_is_warned_of_once_and_its_won_deal_too(
    pipeline, now, tmp_path
):
    path = files(tmp_path, [lead(A), lead(C), lead(A)], [closed(A)])

    report = imported(path, pipeline)

    assert [str(bad) for bad in report.bad_rows] == [
        f"line 4: mql_id: '{A}' is already on line 2"
    ]
    assert report.warnings == {EMPTY_ORIGIN: 2, MANGLED: 1, UNDECLARED: 1}


def test_rows_already_present_give_no_warning(pipeline, now, tmp_path):
    path = files(tmp_path, [lead(A), lead(B)], [closed(A)])
    first = imported(path, pipeline)

    again = imported(path, pipeline)

    assert first.warnings == {EMPTY_ORIGIN: 2, MANGLED: 1, UNDECLARED: 1}
    assert (again.leads_created, again.already_present) == (0, 2)
    assert again.warnings == {}


@pytest.mark.parametrize("options", [{"dry_run": True}, {"all_or_nothing": True}])
def test_an_import_that_keeps_nothing_warns_of_the_rows_it_would_write(
    pipeline, now, tmp_path, options
):
    path = files(tmp_path, [lead(A), lead(B, day="2018-02-01")], [closed(A), closed(C)])

    report = imported(path, pipeline, **options)

    assert not report.committed and not Lead.objects.exists()
    assert report.warnings == {EMPTY_ORIGIN: 1, MANGLED: 1, UNDECLARED: 1}
