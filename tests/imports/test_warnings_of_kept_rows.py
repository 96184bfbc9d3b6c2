"""A warning says what an import did to a row, so it counts only the rows the
import keeps (or, in a dry run or a refused import, would keep): never a bad
row, a repeat of another line, or a row already present."""

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal, Organization
from dealgate.imports.services import import_deals
from tests.conftest import NOW
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

MAPPING = """
source = "crm"
loss_reason = "other"
[columns]
external_id = "Id"
title = "Deal"
organization = "Company"
stage = "Stage"
value = "Amount"
stage_entered_at = "Entered"
close_date = "Closed"
loss_note = "Why"
[stages]
Open = "prospecting"
Won = { stage = "engaging", status = "won" }
Lost = { stage = "engaging", status = "lost" }
"""
HEADER = "Id,Deal,Company,Stage,Amount,Entered,Closed,Why,Colour\n"


@pytest.fixture
def sales(db):
    return make_import_pipeline(
        loss_reasons=[{"key": "other", "label": "Other", "needs_note": True}]
    )


def imported(tmp_path, sales, *rows: str, **options):
    path = write_csv(tmp_path, HEADER + "".join(rows))
    mapping = write_mapping(tmp_path, MAPPING)
    options.setdefault("all_or_nothing", False)
    with timesource.frozen_at(NOW):
        return import_deals(path, mapping, pipeline=sales, **options)


def test_a_lost_row_refused_for_its_missing_note_is_not_counted_as_given_a_reason(
    sales, tmp_path
):
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Acme,Lost,100,2026-03-02,2026-04-14,,\n",
        "D2,Helix,Acme,Lost,100,2026-03-02,2026-04-14,went quiet,\n",
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Why: is empty, but loss reason 'other' needs a note (needs_note "
        "in pipeline sales)"
    ]
    assert report.warnings["lost deal without a reason, recorded as 'other'"] == 1
    assert Deal.objects.get().external_id == "D2"


def test_a_bad_rows_other_warnings_are_not_given_either(sales, tmp_path):
    Organization.objects.create(name="Acme")
    # The same row twice, save that the first has an amount that does not
    # read: no default stage, no date, no name match, no unread column for it.
    row = "{id},Orbit,ACME,,{amount},,,,blue\n"
    report = imported(
        tmp_path,
        sales,
        row.format(id="D1", amount="lots"),
        row.format(id="D2", amount=1),
    )

    assert [(bad.line, bad.column) for bad in report.bad_rows] == [(2, "Amount")]
    assert report.warnings == {
        "Stage empty, deal put in the default stage": 1,
        "no date in 'Entered' or 'Closed'; creation and stage entry unknown": 1,
        "organization 'ACME' matched 'Acme' ignoring case and spacing": 1,
        "column 'Colour' is not in the mapping; value not imported": 1,
    }


def test_a_date_in_the_future_is_counted_only_on_the_rows_kept(sales, tmp_path):
    # 2026-06-11 is within two days of the import's now, 2026-06-10 12:00.
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Acme,Won,lots,2026-06-11,2026-06-11,,\n",
        "D2,Helix,Acme,Won,5,2026-06-01,2026-06-11,,\n",
    )

    assert [(bad.line, bad.column) for bad in report.bad_rows] == [(2, "Amount")]
    future = {k: v for k, v in report.warnings.items() if "future" in k}
    assert future == {
        "Closed after 2026-06-10 12:00 UTC, in the future; kept as written": 1
    }


def test_a_repeated_id_is_a_bad_row_without_the_warnings_of_its_values(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Acme,Open,1,2026-03-02,,,\n",
        "D1,Orbit again,Acme,,1,,,,red\n",
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 3: Id: 'D1' is already on line 2"
    ]
    assert report.warnings == {}


def test_rows_already_present_give_no_warnings_on_the_next_run(sales, tmp_path):
    rows = (
        "D1,Orbit,Acme,,1,,,,blue\n",
        "D2,Helix,Acme,Lost,1,2026-03-02,2026-04-14,x,\n",
    )
    first = imported(tmp_path, sales, *rows)
    assert first.deals_created == 2
    assert first.warnings == {
        "Stage empty, deal put in the default stage": 1,
        "no date in 'Entered' or 'Closed'; creation and stage entry unknown": 1,
        "column 'Colour' is not in the mapping; value not imported": 1,
        "lost deal without a reason, recorded as 'other'": 1,
    }

    again = imported(tmp_path, sales, *rows, "D3,Quasar,Acme,Open,1,2026-03-02,,,\n")

    assert again.already_present == 2 and again.deals_created == 1
    assert again.warnings == {}


def test_an_all_or_nothing_import_counts_what_its_good_rows_would_have_had(
    sales, tmp_path
):
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Acme,Lost,100,2026-03-02,2026-04-14,,\n",
        "D2,Helix,Acme,Lost,100,2026-03-02,2026-04-14,went quiet,\n",
        all_or_nothing=True,
    )

    assert not report.committed and report.deals_created == 1
    assert report.warnings == {"lost deal without a reason, recorded as 'other'": 1}


def test_the_skip_bad_report_lists_the_bad_row_and_counts_one_reason_given(
    sales, tmp_path
):
    # The lines `dealgate import deals --skip-bad` prints. (Not the command
    # itself: on PostgreSQL it gathers the planner's statistics of the
    # deals table, which outlive the test and steer other tests' plans.)
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,,Lost,100,2026-03-02,2026-04-14,,\n",
        "D2,Helix,,Lost,100,2026-03-02,2026-04-14,went quiet,\n",
        "D3,Quasar,,Lost,100,2026-03-02,2026-04-14,,\n",
    )

    lines = report.lines()
    assert report.committed
    assert (
        "  lost deal without a reason, recorded as 'other': 1 row, on line 3" in lines
    )
    assert "bad rows (2):" in lines
    assert lines[-1] == "imported; the bad rows listed were skipped"
