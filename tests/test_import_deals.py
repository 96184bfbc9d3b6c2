"""`import_deals` and `dealgate import deals` on small hand-made files."""

import datetime as dt
import gc
import logging
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import NOT_PROVIDED

from dealgate.cli import main
from dealgate.deals.models import Deal, Organization, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports import bulk, foreignkeys, services
from dealgate.imports.foreignkeys import foreign_keys
from dealgate.imports.mappings import MappingError, get_mapping
from dealgate.imports.services import import_deals
from dealgate.imports.written import WrittenIds
from tests.conftest import SHARED
from tests.importing import DATA, make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

GENERIC = """
source = "crm"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
value = "Amount"
stage_entered_at = "Entered"
close_date = "Closed"
[stages]
Open = "prospecting"
Talking = "engaging"
Won = { stage = "engaging", status = "won" }
Lost = { stage = "engaging", status = "lost" }
"""
loss_reason_line = 'loss_reason = "not-recorded"\n'


@pytest.fixture
def sales(db):
    return make_import_pipeline()


@pytest.fixture
def generic(tmp_path):
    return write_mapping(tmp_path, loss_reason_line + GENERIC)


def generic_file(tmp_path, *rows: str) -> Path:
    return write_csv(tmp_path, "Id,Deal,Stage,Amount,Entered,Closed\n" + "".join(rows))


GOOD_ROWS = (
    "D1,Orbit migration,Won,12000,2026-03-02,2026-04-14\n",
    "D2,Helix audit,Talking,,2026-03-10,\n",
    "D3,Quasar support,Open,3000,,\n",
)


# -- the shared hand-checked cases -----------------------------------------


@pytest.mark.parametrize("name", ["bom_excel", "blank_dates", "quoted_newlines"])
def test_the_case_copies_match_the_shared_cases(name):
    shared = SHARED / "cases" / "import" / f"{name}.csv"
    if not shared.exists():
        pytest.skip(f"{shared} is not present")
    assert (DATA / f"{name}.csv").read_bytes() == shared.read_bytes()


def test_a_spreadsheet_export_with_a_byte_order_mark_and_crlf(sales):
    report = import_deals(
        DATA / "bom_excel.csv", DATA / "bom_excel.toml", pipeline=sales
    )
    assert (report.deals_created, report.bad_row_count) == (2, 0)
    deals = Deal.objects.order_by("pk")
    assert [(d.title, d.value, d.expected_close_date) for d in deals] == [
        ("Northwind hosting renewal", Decimal("7200"), dt.date(2026, 5, 29)),
        ("Fabrikam backup pilot", Decimal("1850"), dt.date(2026, 6, 12)),
    ]
    assert {d.status for d in deals} == {"open"}
    assert {d.stage.key for d in deals} == {"prospecting"}


def test_blank_close_dates_mean_none_and_no_placeholder_date_appears(sales):
    report = import_deals(
        DATA / "blank_dates.csv", DATA / "blank_dates.toml", pipeline=sales
    )
    assert report.deals_created == 3
    orbit, helix, quasar = Deal.objects.order_by("pk")
    assert (orbit.status, orbit.closed_at) == (
        "won",
        dt.datetime(2026, 4, 14, tzinfo=dt.UTC),
    )
    assert [helix.status, helix.closed_at, helix.expected_close_date] == [
        "open",
        None,
        None,
    ]
    assert [quasar.status, quasar.closed_at, quasar.expected_close_date] == [
        "open",
        None,
        None,
    ]
    assert helix.value is None
    instants = [
        value
        for deal in (orbit, helix, quasar)
        for value in (deal.created_at, deal.stage_entered_at, deal.closed_at)
    ] + list(StageEvent.objects.values_list("at", flat=True))
    assert all(value is None or value.year == 2026 for value in instants)


def test_quoted_notes_keep_their_line_breaks_and_quotes(sales):
    import_deals(
        DATA / "quoted_newlines.csv", DATA / "quoted_newlines.toml", pipeline=sales
    )
    terra, vega = Deal.objects.order_by("pk")
    assert terra.notes.count("\n") == 2
    assert terra.notes.startswith("Ring the CFO first\n")
    assert vega.notes == 'Buyer wrote "go ahead" on Monday'


# -- all or nothing, skip-bad, dry run --------------------------------------


def test_one_bad_row_rolls_back_everything_and_is_reported_by_line(
    sales, tmp_path, generic
):
    path = generic_file(
        tmp_path, *GOOD_ROWS, "D4,Vega licence,Won,950,2026-03-01,2026-13-01\n"
    )
    report = import_deals(path, generic, pipeline=sales)
    assert not report.committed
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Closed: '2026-13-01' is not a date in YYYY-MM-DD"
    ]
    assert Deal.objects.count() == 0
    assert StageEvent.objects.count() == 0
    assert "nothing was imported" in report.lines()[-1]


def test_a_row_with_several_bad_values_reports_each_of_them_as_one_bad_row(
    sales, tmp_path, generic
):
    # A bad amount, a bad close date and an empty title on the same line:
    # the user should not have to fix them one import at a time.
    path = generic_file(tmp_path, *GOOD_ROWS, "D4,,Won,lots,2026-03-01,2026-13-01\n")
    report = import_deals(path, generic, pipeline=sales)
    assert not report.committed
    assert report.bad_row_count == 1
    assert [(bad.line, bad.column) for bad in report.bad_rows] == [
        (5, "Closed"),
        (5, "Deal"),
        (5, "Amount"),
    ]
    assert "'2026-13-01' is not a date" in str(report.bad_rows[0])
    assert Deal.objects.count() == 0


def test_a_bad_rows_long_value_is_quoted_by_its_first_60_characters(
    sales, tmp_path, generic
):
    path = generic_file(
        tmp_path,
        f"D1,Orbit,Open,{'9' * 100_000},2026-03-02,\n",
        f"D2,Helix,{'Z' * 5_000},1,2026-03-02,\n",
    )

    report = import_deals(path, generic, pipeline=sales)

    amount, stage = (str(bad) for bad in report.bad_rows)
    assert amount == (
        f"line 2: Amount: '{'9' * 59}…' is too large: the most it holds is "
        "999999999999.99 (12 digits before the decimal point)"
    )
    assert stage.startswith(f"line 3: Stage: '{'Z' * 59}…' is not one of Open, ")
    assert max(len(line) for line in report.lines()) < 200


def test_an_amount_of_minus_zero_is_zero(sales, tmp_path, generic):
    path = generic_file(
        tmp_path,
        "D1,Orbit,Open,-0,2026-03-02,\n",
        "D2,Helix,Open,(0.00),2026-03-02,\n",
    )

    report = import_deals(path, generic, pipeline=sales)

    assert report.committed and not report.bad_rows
    assert sorted(Deal.objects.values_list("value", flat=True)) == [0, 0]


def test_a_bad_row_read_twice_gives_no_warning(sales, tmp_path, generic):
    # Both rows have an empty stage (a warning); the first also has a bad
    # amount, found after the warning was met, so that row is read twice:
    # neither reading counts it, as it is not imported.
    path = generic_file(
        tmp_path, "D1,Helix,,lots,2026-03-02,\n", "D2,Orbit,,100,2026-03-02,\n"
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert [(bad.line, bad.column) for bad in report.bad_rows] == [(2, "Amount")]
    assert report.warnings["Stage empty, deal put in the default stage"] == 1
    assert report.deals_created == 1


def test_bad_row_lines_count_quoted_line_breaks(sales, tmp_path):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\nvalue = "Amount"\nnotes = "Notes"\n'
    )
    path = write_csv(
        tmp_path,
        'Deal,Amount,Notes\nA,1,"two\nlines"\nB,x,ok\nC,3,"a\nb\nc"\nD,$4,ok\n',
    )
    report = import_deals(path, mapping, pipeline=sales)
    assert [(bad.line, bad.column) for bad in report.bad_rows] == [
        (4, "Amount"),
        (8, "Amount"),
    ]


def test_skip_bad_imports_the_good_rows_and_lists_the_bad(sales, tmp_path, generic):
    path = generic_file(
        tmp_path,
        *GOOD_ROWS,
        "D4,Vega licence,Closed,950,2026-03-01,2026-04-01\n",
        "D5,Lyra renewal,Won,$950,2026-03-01,2026-04-01\n",
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.committed
    assert report.deals_created == 3
    assert Deal.objects.count() == 3
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Stage: 'Closed' is not one of Open, Talking, Won, Lost, "
        "prospecting, engaging",
        "line 6: Amount: '$950' is not a plain amount: leave out the currency",
    ]
    assert report.lines()[-1] == "imported; the bad rows listed were skipped"


def test_a_title_with_control_characters_or_a_nul_is_a_bad_row_on_any_database(
    sales, tmp_path, generic
):
    # Line breaks and tabs fold into spaces; other control characters would
    # lock the deal's edit form, and PostgreSQL refuses a NUL in text.
    path = generic_file(
        tmp_path,
        '"D1","Orbit\n\tplatform",Open,1,2026-03-02,\n',
        "D2,Helix\x1b[31m,Open,1,2026-03-02,\n",
        "D3,Nul\x00here,Open,1,2026-03-02,\n",
        "D4,Quasar,Open,1,2026-03-02,\n",
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows] == [
        "line 4: Deal: must be one line, without line breaks or control characters",
        "line 5: column 'Deal' contains a NUL character (the file may be damaged)",
    ]
    titles = sorted(Deal.objects.values_list("title", flat=True))
    assert titles == ["Orbit platform", "Quasar"]


def test_skip_bad_with_every_row_bad_says_nothing_was_imported(
    sales, tmp_path, generic
):
    path = generic_file(tmp_path, "D1,Orbit,Won,lots,2026-03-02,2026-04-14\n")
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.deals_created == 0 and report.refused_for_bad_rows
    assert report.outcome() == "nothing was imported: every row read was bad; fix them"


def test_a_dry_run_checks_everything_and_writes_nothing(sales, tmp_path, generic):
    path = generic_file(tmp_path, *GOOD_ROWS)
    report = import_deals(path, generic, pipeline=sales, dry_run=True)
    assert (report.deals_created, report.events_created) == (3, 3)
    assert not report.committed
    assert Deal.objects.count() == 0
    assert StageEvent.objects.count() == 0
    assert report.lines()[-1] == "dry run: nothing was written"


def test_a_bad_row_in_a_dry_run_is_reported_too(sales, tmp_path, generic):
    path = generic_file(tmp_path, "D1,Orbit,Won,1,2026-03-02,\n")
    report = import_deals(path, generic, pipeline=sales, dry_run=True)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Closed: is empty, but a won deal needs one"
    ]


# -- idempotence and repeated ids -------------------------------------------


def test_importing_the_same_file_twice_adds_nothing(sales, tmp_path, generic):
    path = generic_file(tmp_path, *GOOD_ROWS)
    first = import_deals(path, generic, pipeline=sales)
    second = import_deals(path, generic, pipeline=sales)
    assert (first.deals_created, first.already_present) == (3, 0)
    assert (second.deals_created, second.already_present) == (0, 3)
    assert Deal.objects.count() == 3
    assert StageEvent.objects.count() == 3


def _asked_for(monkeypatch) -> list[list[str]]:
    """The external ids each `existing` lookup of the import asks for."""
    asked: list[list[str]] = []
    for writer in (bulk.SqliteWriter, bulk.PostgresWriter):

        def spy(self, external_ids, existing=writer.existing):
            asked.append(sorted(external_ids))
            return existing(self, external_ids)

        monkeypatch.setattr(writer, "existing", spy)
    return asked


def test_a_first_import_of_a_source_asks_only_about_ids_it_may_have_written(
    sales, tmp_path, generic, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    asked = _asked_for(monkeypatch)
    path = generic_file(tmp_path, *GOOD_ROWS, "D1,Orbit again,Open,,,\n")
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    # D2 and D3 were never written before their batch: no one asks about
    # them. D1, written by the first batch, is asked about and found.
    assert asked == [["D1"]]
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Id: 'D1' is already on line 2"
    ]
    assert report.deals_created == 3


def test_an_import_of_a_source_the_pipeline_holds_asks_about_every_id(
    sales, tmp_path, generic, monkeypatch
):
    import_deals(generic_file(tmp_path, GOOD_ROWS[0]), generic, pipeline=sales)
    asked = _asked_for(monkeypatch)
    report = import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert asked == [["D1", "D2", "D3"]]
    assert report.already_present == 1 and report.deals_created == 2


def test_the_written_ids_filter_holds_every_id_added_and_few_others():
    written = WrittenIds()
    added = [f"OPP-{number}" for number in range(20_000)]
    written.add(added)
    assert all(written.may_hold(text) for text in added)
    others = [f"OPP-{number}" for number in range(20_000, 40_000)]
    assert sum(written.may_hold(text) for text in others) <= 2


def test_an_id_repeated_in_the_file_is_a_bad_row_naming_the_first(
    sales, tmp_path, generic
):
    path = generic_file(tmp_path, *GOOD_ROWS, "D2,Helix again,Open,,,\n")
    report = import_deals(path, generic, pipeline=sales)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Id: 'D2' is already on line 3"
    ]


@pytest.mark.parametrize("batch_size", [5000, 2, 1])
def test_a_repeated_id_stays_a_bad_row_when_the_file_is_imported_again(
    sales, tmp_path, generic, monkeypatch, batch_size
):
    """The repeat's data never went in: a second run must still say so, not
    count it with its first line as already present."""
    monkeypatch.setattr(services, "BATCH_SIZE", batch_size)
    path = generic_file(tmp_path, *GOOD_ROWS, "D1,Orbit again,Open,9000,,\n")
    first = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    again = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    refused = import_deals(path, generic, pipeline=sales)
    for report in (first, again, refused):
        assert [str(bad) for bad in report.bad_rows] == [
            "line 5: Id: 'D1' is already on line 2"
        ]
    assert (again.deals_created, again.already_present) == (0, 3)
    assert not refused.committed
    assert Deal.objects.count() == 3


def test_ids_found_present_are_counted_once_each_whatever_the_filter_guesses(
    sales, tmp_path, generic, monkeypatch
):
    """The filter of ids found present may say "maybe" of an id it never
    held: such a row is counted as present after one more look at the file,
    not refused."""
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    path = generic_file(tmp_path, *GOOD_ROWS)
    import_deals(path, generic, pipeline=sales)
    monkeypatch.setattr(WrittenIds, "may_hold", lambda self, text: True)
    again = import_deals(path, generic, pipeline=sales)
    assert again.bad_rows == [] and again.committed
    assert (again.deals_created, again.already_present) == (0, 3)


def test_an_id_repeated_across_batches_is_a_bad_row_naming_the_first(
    sales, tmp_path, generic, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    path = generic_file(tmp_path, *GOOD_ROWS, "D1,Orbit again,Open,,,\n")
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.deals_created == 3
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Id: 'D1' is already on line 2"
    ]


def test_a_repeat_across_batches_names_the_line_imported_not_an_earlier_bad_one(
    sales, tmp_path, generic, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    path = generic_file(
        tmp_path,
        "D1,Orbit migration,Won,lots,2026-03-02,2026-04-14\n",  # bad amount
        *GOOD_ROWS,
        "D1,Orbit again,Open,,,\n",
        "D2,Helix again,Open,,,\n",
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.deals_created == 3
    assert [str(bad) for bad in report.bad_rows][1:] == [
        "line 6: Id: 'D1' is already on line 3",
        "line 7: Id: 'D2' is already on line 4",
    ]


def test_every_repeat_of_an_id_from_an_earlier_batch_names_the_imported_line(
    sales, tmp_path, generic, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 3)
    path = generic_file(
        tmp_path,
        *GOOD_ROWS,
        "D1,Orbit again,Open,,,\n",
        "D1,Orbit once more,Open,,,\n",
        "D4,Nova,Open,,,\n",
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.deals_created == 4
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Id: 'D1' is already on line 2",
        "line 6: Id: 'D1' is already on line 2",
    ]


def test_a_repeat_across_batches_names_the_first_line_with_the_bad_rows_all_kept(
    sales, tmp_path, generic, monkeypatch
):
    from dealgate.imports import report as report_module

    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(report_module, "MAX_BAD_ROWS", 2)
    path = generic_file(
        tmp_path, *GOOD_ROWS, "D4,Nova,Open,lots,,\n", "D1,Orbit again,Open,,,\n"
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert len(report.bad_rows) == report.bad_row_count == 2
    assert str(report.bad_rows[1]) == "line 6: Id: 'D1' is already on line 2"


@pytest.mark.parametrize("batch_size", [1, 10])
def test_a_long_repeated_id_is_quoted_by_its_first_60_characters(
    sales, tmp_path, generic, monkeypatch, batch_size
):
    monkeypatch.setattr(services, "BATCH_SIZE", batch_size)
    long_id = "OPP-" + "7" * 96
    path = generic_file(
        tmp_path, f"{long_id},Orbit,Open,,,\n", f"{long_id},Orbit again,Open,,,\n"
    )

    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows] == [
        f"line 3: Id: '{long_id[:59]}…' is already on line 2"
    ]


def test_importing_a_file_with_repeats_again_finds_its_rows_present_and_repeats_bad(
    sales, tmp_path, generic
):
    path = generic_file(tmp_path, *GOOD_ROWS, "D2,Helix again,Open,,,\n")
    first = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    again = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert (first.deals_created, first.bad_row_count) == (3, 1)
    assert (again.deals_created, again.already_present, again.bad_row_count) == (
        0,
        3,
        1,
    )


def test_a_repeat_across_batches_is_named_when_later_bad_rows_overflow(
    sales, tmp_path, generic, monkeypatch
):
    from dealgate.imports import report as report_module

    # The bad rows left out of the report come after the repeat: every line
    # before it is known, so the earlier line can still be named.
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(services, "MAX_BAD_ROWS", 2)
    monkeypatch.setattr(report_module, "MAX_BAD_ROWS", 2)
    path = generic_file(
        tmp_path,
        *GOOD_ROWS,
        "D1,Orbit again,Open,,,\n",
        "D4,Nova,Open,lots,,\n",
        "D5,Vega,Open,lots,,\n",
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.bad_row_count == 3 and report.cut_at_line == 7
    assert str(report.bad_rows[0]) == "line 5: Id: 'D1' is already on line 2"
    assert report.lines()[-4] == "bad rows (3, first 2 listed):"


def test_a_repeat_keeps_its_reason_when_its_first_line_may_be_a_bad_row_left_out(
    tmp_path, generic
):
    from dealgate.imports.mappings import get_mapping
    from dealgate.imports.report import ImportReport

    path = generic_file(tmp_path, *GOOD_ROWS, "D1,Orbit again,Open,,,\n")
    report = ImportReport(file=str(path), mapping="generic", pipeline="sales")
    report.bad(5, "Id", "'D1' appears earlier in the file")
    # Bad rows from line 2 on were left out: line 2 may be one of them.
    report.bad_rows_cut, report.cut_at_line = True, 2
    services._place_repeats(path, get_mapping(generic), 0, {5: "D1"}, {}, report, "Id")
    assert str(report.bad_rows[0]) == "line 5: Id: 'D1' appears earlier in the file"


def test_the_listed_note_counts_rows_not_their_bad_values(tmp_path):
    from dealgate.imports import report as report_module

    report = report_module.ImportReport(file="f.csv", mapping="m", pipeline="p")
    for line in range(2, 2 + report_module.MAX_BAD_ROWS // 2):
        report.bad_values(line, [("Amount", "not a number"), ("Closed", "no date")])
    assert len(report.bad_rows) == report_module.MAX_BAD_ROWS
    header = next(line for line in report.lines() if line.startswith("bad rows"))
    assert header == "bad rows (500):"
    report.bad(900, None, "one more")
    header = next(line for line in report.lines() if line.startswith("bad rows"))
    assert header == "bad rows (501, first 500 listed):"


def test_batches_write_the_same_deals_as_one_batch(
    sales, tmp_path, generic, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    report = import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert report.deals_created == 3
    assert sorted(Deal.objects.values_list("external_id", flat=True)) == [
        "D1",
        "D2",
        "D3",
    ]


# -- history ----------------------------------------------------------------


def test_a_won_deal_keeps_the_files_dates_in_its_history(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    won = Deal.objects.get(external_id="D1")
    engaging = sales.stages.get(key="engaging")
    entered = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    closed = dt.datetime(2026, 4, 14, tzinfo=dt.UTC)
    assert (won.stage, won.created_at, won.stage_entered_at, won.closed_at) == (
        engaging,
        entered,
        entered,
        closed,
    )
    events = [
        (
            e.from_stage_id,
            e.to_stage_id,
            e.from_status,
            e.to_status,
            e.at,
            e.from_entered_at,
            e.source,
        )
        for e in won.events.all()
    ]
    assert events == [
        (None, engaging.pk, "", "open", entered, None, "import"),
        (engaging.pk, engaging.pk, "open", "won", closed, entered, "import"),
    ]


def test_closing_events_carry_business_minutes_reason_and_responsible(
    sales, tmp_path, generic, alice
):
    mapping = write_mapping(
        tmp_path,
        loss_reason_line + GENERIC.replace("[columns]\n", '[columns]\nowner = "Rep"\n'),
    )
    path = write_csv(
        tmp_path,
        "Id,Deal,Stage,Amount,Entered,Closed,Rep\n"
        # Monday 2 March to Friday 6 March 2026: four working days of 8 hours.
        "D1,Orbit,Lost,,2026-03-02,2026-03-06,alice\n",
    )
    import_deals(path, mapping, pipeline=sales)
    deal = Deal.objects.get()
    assert deal.responsible == alice
    entered, lost = deal.events.all()
    assert (entered.responsible, entered.from_business_minutes) == (alice, None)
    assert (lost.loss_reason, lost.responsible) == ("not-recorded", alice)
    assert lost.from_business_minutes == 4 * 8 * 60


def test_each_batch_writes_entries_then_closes_with_their_minutes(
    sales, tmp_path, generic, monkeypatch
):
    # Two deals a batch, so batches end between a deal's neighbours.
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    path = generic_file(
        tmp_path,
        "E1,Alpha,Won,100,2026-03-02,2026-03-02\n",  # entered and won at once
        "E2,Beta,Lost,,,2026-03-05\n",  # closed, entry unknown
        "E3,Gamma,Open,,,\n",  # no history at all
        "E4,Delta,Talking,,2026-03-03,\n",
        "E5,Epsilon,Won,50,2026-03-02,2026-03-04\n",  # two working days
    )
    report = import_deals(path, generic, pipeline=sales)
    assert report.events_created == 6
    engaging = sales.stages.get(key="engaging").pk
    day = {n: dt.datetime(2026, 3, n, tzinfo=dt.UTC) for n in (2, 3, 4, 5)}
    events = StageEvent.objects.order_by("id").values_list(
        "deal__external_id",
        "from_stage",
        "to_stage",
        "from_status",
        "to_status",
        "at",
        "from_entered_at",
        "from_business_minutes",
        "loss_reason",
    )
    assert list(events) == [
        ("E1", None, engaging, "", "open", day[2], None, None, ""),
        ("E1", engaging, engaging, "open", "won", day[2], day[2], 0.0, ""),
        ("E2", engaging, engaging, "open", "lost", day[5], None, None, "not-recorded"),
        ("E4", None, engaging, "", "open", day[3], None, None, ""),
        ("E5", None, engaging, "", "open", day[2], None, None, ""),
        ("E5", engaging, engaging, "open", "won", day[4], day[2], 2 * 8 * 60, ""),
    ]


def test_team_owned_stages_route_open_deals_to_the_least_loaded_member(
    sales, tmp_path, generic, team, alice, bob
):
    sales.stages.filter(key="prospecting").update(owner_kind="team", owner_team=team)
    path = generic_file(tmp_path, *(f"D{n},Deal {n},Open,,,\n" for n in range(1, 5)))
    import_deals(path, generic, pipeline=sales)
    loads = Counter(Deal.objects.values_list("responsible__username", flat=True))
    assert loads == {"alice": 2, "bob": 2}


def test_a_teams_loads_are_read_once_the_previous_batch_is_stored(
    sales, tmp_path, generic, team, alice, bob, monkeypatch
):
    import threading

    sales.stages.filter(key="prospecting").update(owner_kind="person", owner_user=alice)
    sales.stages.filter(key="engaging").update(owner_kind="team", owner_team=team)
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    # Each batch is stored only once the import waits for it, so a read of
    # the loads made without waiting would miss the first batch's deals.
    waited_for = threading.Event()
    settle = bulk.DealWriter.settle

    def settle_releasing(self):
        if self._pending is not None:
            waited_for.set()
        settle(self)

    monkeypatch.setattr(bulk.DealWriter, "settle", settle_releasing)
    for writer in (bulk.SqliteWriter, bulk.PostgresWriter):

        def held(self, deals, closes, write=writer._write):
            waited_for.wait(timeout=10)
            waited_for.clear()
            write(self, deals, closes)

        monkeypatch.setattr(writer, "_write", held)
    rows = ["D1,Deal 1,Open,,,\n", "D2,Deal 2,Open,,,\n"]
    rows += ["D3,Deal 3,Talking,,,\n", "D4,Deal 4,Talking,,,\n"]
    import_deals(generic_file(tmp_path, *rows), generic, pipeline=sales)
    # Alice holds the first batch's two deals: the team's go to Bob.
    responsible = dict(Deal.objects.values_list("external_id", "responsible__username"))
    assert responsible == {"D1": "alice", "D2": "alice", "D3": "bob", "D4": "bob"}


def test_a_retired_stage_takes_no_imported_deals(sales, tmp_path, generic):
    sales.stages.filter(key="engaging").update(retired_at=dt.datetime.now(dt.UTC))
    with pytest.raises(MappingError, match="has no stage 'engaging'"):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)


def test_a_pipeline_calendar_without_working_time_is_refused(tmp_path, generic, db):
    pipeline = make_import_pipeline("broken")
    pipeline.calendar = {"timezone": "UTC"}
    pipeline.save()
    with pytest.raises(ValidationError, match="pipeline broken: .*no working time"):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=pipeline)


def test_a_deal_with_no_dates_gets_no_invented_history(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    quasar = Deal.objects.get(external_id="D3")
    assert (quasar.created_at, quasar.stage_entered_at) == (None, None)
    assert not quasar.events.exists()


def test_dates_become_midnight_in_the_pipelines_time_zone(tmp_path, generic, db):
    berlin = make_import_pipeline("berlin", timezone="Europe/Berlin")
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=berlin)
    won = Deal.objects.get(external_id="D1")
    assert won.stage_entered_at == dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC)
    assert won.closed_at == dt.datetime(2026, 4, 13, 22, tzinfo=dt.UTC)


def test_a_close_date_before_the_stage_entry_is_a_bad_row(sales, tmp_path, generic):
    path = generic_file(tmp_path, "D1,Orbit,Won,1,2026-04-02,2026-03-01\n")
    report = import_deals(path, generic, pipeline=sales)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Closed: '2026-03-01' is before Entered '2026-04-02'"
    ]


def test_each_pair_of_dates_that_runs_backwards_is_listed(sales, tmp_path):
    mapping = write_mapping(
        tmp_path,
        '[columns]\ntitle = "Deal"\nstatus = "Status"\ncreated_at = "Created"\n'
        'stage_entered_at = "Entered"\nclose_date = "Closed"\n',
    )
    path = write_csv(
        tmp_path,
        "Deal,Status,Created,Entered,Closed\n"
        "Orbit,won,2026-03-01,2026-02-01,2026-02-15\n"
        "Helix,won,2026-03-01,2026-02-01,2026-01-01\n",
    )

    report = import_deals(path, mapping, pipeline=sales)

    assert report.bad_row_count == 2
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Entered: '2026-02-01' is before Created '2026-03-01'",
        "line 2: Closed: '2026-02-15' is before Created '2026-03-01'",
        "line 3: Entered: '2026-02-01' is before Created '2026-03-01'",
        "line 3: Closed: '2026-01-01' is before Entered '2026-02-01'",
        "line 3: Closed: '2026-01-01' is before Created '2026-03-01'",
    ]


def test_an_open_deal_expected_to_close_before_its_creation_is_a_bad_row(
    sales, tmp_path
):
    mapping = write_mapping(
        tmp_path,
        '[columns]\ntitle = "Deal"\nstatus = "Status"\ncreated_at = "Created"\n'
        'stage_entered_at = "Entered"\nexpected_close_date = "Expected"\n',
    )
    path = write_csv(
        tmp_path,
        "Deal,Status,Created,Entered,Expected\n"
        "Orbit,open,2026-03-01,2026-03-05,2025-03-31\n"
        "Helix,open,2026-03-01,2026-02-01,2026-02-15\n"
        "Quasar,open,2026-03-01,,2026-03-01\n"
        "Nova,open,,2026-03-05,2026-03-01\n",
    )

    report = import_deals(path, mapping, pipeline=sales, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Expected: '2025-03-31' is before Created '2026-03-01'",
        "line 3: Entered: '2026-02-01' is before Created '2026-03-01'",
        "line 3: Expected: '2026-02-15' is before Created '2026-03-01'",
    ]
    # Due the day it was created; a forecast that slipped past the stage
    # entry, the file giving no creation date.
    assert sorted(Deal.objects.values_list("title", flat=True)) == ["Nova", "Quasar"]


def test_an_open_rows_close_date_read_as_its_forecast_is_named_when_before_creation(
    sales, tmp_path
):
    mapping = write_mapping(
        tmp_path,
        '[columns]\ntitle = "Deal"\ncreated_at = "Created"\nclose_date = "Closed"\n',
    )
    path = write_csv(tmp_path, "Deal,Created,Closed\nOrbit,2026-03-01,2026-02-27\n")

    report = import_deals(path, mapping, pipeline=sales)

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Closed: '2026-02-27' is before Created '2026-03-01'"
    ]
    assert not Deal.objects.exists()


def test_a_forecast_is_judged_by_the_day_in_the_pipelines_zone_and_not_once_closed(
    sales, tmp_path
):
    mapping = write_mapping(
        tmp_path,
        'date_format = "YYYY-MM-DD HH:MM"\n'
        '[columns]\ntitle = "Deal"\nstatus = "Status"\ncreated_at = "Created"\n'
        'close_date = "Closed"\nexpected_close_date = "Expected"\n',
    )
    path = write_csv(
        tmp_path,
        "Deal,Status,Created,Closed,Expected\n"
        "Orbit,open,2026-03-02 16:30,,2026-03-02 00:00\n"
        "Helix,won,2026-03-02 16:30,2026-03-20 10:00,2026-01-31 00:00\n",
    )

    report = import_deals(path, mapping, pipeline=sales)

    assert report.committed and not report.bad_rows
    assert dict(Deal.objects.values_list("title", "expected_close_date")) == {
        "Orbit": dt.date(2026, 3, 2),
        "Helix": dt.date(2026, 1, 31),
    }


# -- statuses, loss reasons, names ------------------------------------------


def test_a_generic_file_with_status_and_stage_key_columns(sales, tmp_path):
    mapping = write_mapping(
        tmp_path,
        '[columns]\ntitle = "Deal"\nstatus = "Status"\nstage = "Stage"\n'
        'close_date = "Closed"\nloss_reason = "Why"\n',
    )
    path = write_csv(
        tmp_path,
        "Deal,Status,Stage,Closed,Why\n"
        "A,open,engaging,,\n"
        "B,WON,engaging,2026-05-01,\n"
        "C,lost,prospecting,2026-05-02,price\n",
    )
    report = import_deals(path, mapping, pipeline=sales)
    assert report.bad_row_count == 0
    found = Deal.objects.order_by("pk").values_list(
        "title", "status", "stage__key", "loss_reason"
    )
    assert list(found) == [
        ("A", "open", "engaging", ""),
        ("B", "won", "engaging", ""),
        ("C", "lost", "prospecting", "price"),
    ]


def test_a_lost_deal_without_a_reason_is_refused_unless_the_mapping_gives_one(
    sales, tmp_path
):
    mapping = write_mapping(tmp_path, GENERIC)
    path = generic_file(tmp_path, "D1,Orbit,Lost,0,2026-03-02,2026-04-14\n")
    report = import_deals(path, mapping, pipeline=sales)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: loss_reason: is empty, but a lost deal needs one"
    ]


def test_a_default_loss_reason_is_applied_and_reported(sales, tmp_path, generic):
    path = generic_file(tmp_path, "D1,Orbit,Lost,0,2026-03-02,2026-04-14\n")
    report = import_deals(path, generic, pipeline=sales)
    assert Deal.objects.get().loss_reason == "not-recorded"
    assert (
        report.warnings["lost deal without a reason, recorded as 'not-recorded'"] == 1
    )


def test_organizations_are_created_once_and_spelling_variants_share_one(
    sales, tmp_path
):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\norganization = "Company"\n'
    )
    Organization.objects.create(name="Acme Corporation")
    path = write_csv(
        tmp_path,
        "Deal,Company\nA,Acme Corporation\nB,acme corporation\n"
        "C,Initech\nD,INITECH \nE,\n",
    )
    report = import_deals(path, mapping, pipeline=sales)
    assert sorted(Organization.objects.values_list("name", flat=True)) == [
        "Acme Corporation",
        "Initech",
    ]
    assert dict(Deal.objects.values_list("title", "organization__name")) == {
        "A": "Acme Corporation",
        "B": "Acme Corporation",
        "C": "Initech",
        "D": "Initech",
        "E": None,
    }
    assert report.created["organizations"] == 1
    # Acme was there before; named by two rows, it is one record present.
    assert report.reused["organizations"] == 1
    assert "  organizations: 1 created, 1 already present" in report.lines()
    assert report.warnings == {
        "organization 'acme corporation' matched 'Acme Corporation' ignoring case "
        "and spacing": 1,
        "organization 'INITECH' matched 'Initech' ignoring case and spacing": 1,
        "Company empty, deal has no organization": 1,
        "no dates in the file; creation and stage entry unknown": 5,
        "no external_id column; importing the file again would create these "
        "deals again": 5,
    }


def test_long_spelling_variants_are_quoted_by_their_first_60_characters(
    sales, tmp_path
):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\norganization = "Company"\n'
    )
    known = "Acme " + "Holding " * 20
    Organization.objects.create(name=known.strip())
    new = "Initech " + "Group " * 20
    path = write_csv(
        tmp_path,
        f"Deal,Company\nA,{known.upper()}\nB,{new}\nC,{new.lower()}\n",
    )

    report = import_deals(path, mapping, pipeline=sales)

    spelled = [message for message in report.warnings if " matched " in message]
    assert spelled == [
        f"organization '{known.upper()[:59]}…' matched '{known[:59]}…' ignoring "
        "case and spacing",
        f"organization '{new.lower()[:59]}…' matched '{new[:59]}…' ignoring case "
        "and spacing",
    ]


def test_an_owner_is_found_by_username_or_full_name_and_an_unknown_one_is_bad(
    sales, tmp_path, alice, bob
):
    mapping = write_mapping(tmp_path, '[columns]\ntitle = "Deal"\nowner = "Rep"\n')
    path = write_csv(tmp_path, "Deal,Rep\nA,alice\nB,Bob Rep\nC,Carol Nobody\n")
    report = import_deals(path, mapping, pipeline=sales, all_or_nothing=False)
    assert dict(Deal.objects.values_list("title", "owner__username")) == {
        "A": "alice",
        "B": "bob",
    }
    assert [str(bad) for bad in report.bad_rows] == [
        "line 4: Rep: 'Carol Nobody' matches no owner in the database"
    ]


def test_columns_the_mapping_does_not_read_are_reported(sales, tmp_path):
    mapping = write_mapping(tmp_path, '[columns]\ntitle = "Deal"\n')
    path = write_csv(tmp_path, "Deal,Colour\nA,blue\nB,\nC,red\n")
    report = import_deals(path, mapping, pipeline=sales)
    assert (
        report.warnings["column 'Colour' is not in the mapping; value not imported"]
        == 2
    )


def test_custom_fields_currency_and_grouped_amounts(sales, tmp_path):
    sales.custom_fields = [{"key": "industry", "label": "Industry", "type": "text"}]
    sales.save()
    mapping = write_mapping(
        tmp_path,
        'thousands_separator = ","\n'
        '[columns]\ntitle = "Deal"\ncurrency = "Cur"\nvalue = "Amount"\n'
        '[custom]\nindustry = "Industry"\n',
    )
    path = write_csv(
        tmp_path, 'Deal,Cur,Amount,Industry\nA,eur,"1,200.50",Retail\nB,,7,\n'
    )
    import_deals(path, mapping, pipeline=sales)
    a, b = Deal.objects.order_by("pk")
    assert (a.currency, a.value, a.custom) == (
        "EUR",
        Decimal("1200.50"),
        {"industry": "Retail"},
    )
    assert (b.currency, b.value, b.custom) == ("USD", Decimal("7"), {})


def test_a_currency_that_is_no_iso_code_is_a_bad_value(sales, tmp_path):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\ncurrency = "Cur"\nvalue = "Amount"\n'
    )
    path = write_csv(tmp_path, "Deal,Cur,Amount\nA,XYZ,5\nB,chf,7\nC,Pounds,8\n")
    report = import_deals(path, mapping, pipeline=sales, all_or_nothing=False)
    # The cell is quoted as it holds, not as it was looked up.
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Cur: 'XYZ' is not an ISO 4217 currency code",
        "line 4: Cur: 'Pounds' is not an ISO 4217 currency code",
    ]
    assert list(Deal.objects.values_list("title", "currency")) == [("B", "CHF")]


# -- whole-file problems ----------------------------------------------------


def test_a_column_the_mapping_needs_but_the_file_lacks_is_named(
    sales, tmp_path, generic
):
    path = write_csv(tmp_path, "Id,Deal,Stage,Amount,Entered\nD1,A,Open,1,\n")
    with pytest.raises(ValidationError, match="no column 'Closed'"):
        import_deals(path, generic, pipeline=sales)
    assert Deal.objects.count() == 0


def test_a_mapping_naming_a_stage_the_pipeline_lacks_is_refused(sales, tmp_path):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\nstage = "S"\n[stages]\nWon = "closing"\n'
    )
    path = write_csv(tmp_path, "Deal,S\nA,Won\n")
    with pytest.raises(MappingError, match="has no stage 'closing'"):
        import_deals(path, mapping, pipeline=sales)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[columns]\nttle = "Deal"\n', "columns.ttle: not a deal field"),
        ('colour = "red"\n[columns]\ntitle = "D"\n', "colour: unknown key"),
        ("[columns]\n", "give a title column"),
        ('title = "{account}"\n', "{account} is not a template field"),
        (
            '[columns]\ntitle = "D"\n[stages]\nX = { status = "done" }\n',
            "must be one of",
        ),
        ("[columns\n", "not valid TOML"),
        ('encoding = "klingon"\n[columns]\ntitle = "D"\n', "not a known text encoding"),
        (
            'decimal_point = ","\nthousands_separator = ","\n[columns]\ntitle = "D"\n',
            "must differ from the decimal point",
        ),
        (
            'default_stage = 3\n[columns]\ntitle = "D"\n',
            "default_stage: must be a string",
        ),
    ],
)
def test_a_mapping_file_with_a_mistake_names_the_key(tmp_path, text, message):
    path = write_mapping(tmp_path, text)
    with pytest.raises(MappingError, match=message.replace("{", r"\{")):
        get_mapping(path)


def test_an_unknown_mapping_name_lists_the_built_in_ones():
    with pytest.raises(MappingError, match="maven-crm"):
        get_mapping("salesforce")


# -- the bulk writer --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "columns"),
    [(Deal, bulk.DEAL_COLUMNS), (StageEvent, (*bulk.EVENT_COLUMNS, "id"))],
)
def test_every_column_the_importer_leaves_out_may_be_left_out(model, columns):
    """A new required field must be added to the importer, not forgotten."""
    left_out = [
        field.column
        for field in model._meta.concrete_fields
        if field.column not in columns
        and not field.null
        and field.db_default is NOT_PROVIDED
    ]
    assert left_out == []
    known = {field.column for field in model._meta.concrete_fields}
    assert set(columns) <= known


def test_ids_never_reuse_a_deleted_deals_id(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    highest = Deal.objects.order_by("-pk").first().pk
    Deal.objects.all().delete()
    path = write_csv(tmp_path, "Id,Deal,Stage,Amount,Entered,Closed\nD9,X,Open,,,\n")
    import_deals(path, generic, pipeline=sales)
    assert Deal.objects.get().pk > highest


def test_imported_deals_read_back_like_deals_saved_by_the_orm(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    imported = Deal.objects.get(external_id="D1")
    saved = Deal.objects.create(
        pipeline=sales,
        stage=imported.stage,
        status="won",
        title="ORM twin",
        value=Decimal("12000"),
        created_at=imported.created_at,
        stage_entered_at=imported.stage_entered_at,
        closed_at=imported.closed_at,
    )
    same_day = Deal.objects.filter(closed_at=imported.closed_at)
    assert set(same_day.values_list("pk", flat=True)) == {imported.pk, saved.pk}
    assert Deal.objects.filter(stage_entered_at__lt=imported.closed_at).count() == 3
    assert imported.value == Decimal("12000.00")
    assert (imported.custom, imported.version, imported.currency) == ({}, 1, "USD")
    assert connection.vendor in ("sqlite", "postgresql")


# -- routing to a team: only rows that are written take a turn -------------


def test_a_refused_row_takes_no_turn_in_a_teams_rotation(
    sales, tmp_path, generic, team, alice, bob
):
    sales.stages.filter(key="prospecting").update(owner_kind="team", owner_team=team)
    path = generic_file(
        tmp_path,
        "D1,First,Open,,,\n",
        "D2,Refused,Open,lots,,\n",
        "D3,Second,Open,,,\n",
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.bad_row_count == 1
    routed = dict(Deal.objects.values_list("external_id", "responsible__username"))
    assert routed == {"D1": "alice", "D3": "bob"}


def test_deals_imported_before_take_no_turn_when_the_file_is_imported_again(
    sales, tmp_path, generic, team, alice, bob
):
    sales.stages.filter(key="prospecting").update(owner_kind="team", owner_team=team)
    import_deals(generic_file(tmp_path, "D1,First,Open,,,\n"), generic, pipeline=sales)
    path = generic_file(
        tmp_path, "D1,First,Open,,,\n", "D2,Second,Open,,,\n", "D3,Third,Open,,,\n"
    )
    report = import_deals(path, generic, pipeline=sales)
    assert (report.already_present, report.deals_created) == (1, 2)
    routed = dict(Deal.objects.values_list("external_id", "responsible__username"))
    # alice has D1, so D2 goes to bob; then they are even and D3 goes to
    # the lower id. Counting D1 again would have sent D2 to alice.
    assert routed == {"D1": "alice", "D2": "bob", "D3": "alice"}


def test_closed_deals_are_routed_but_add_to_no_members_load(
    sales, tmp_path, generic, team, alice, bob
):
    sales.stages.update(owner_kind="team", owner_team=team)
    path = generic_file(
        tmp_path,
        "D1,Won one,Won,5,2026-03-02,2026-03-09\n",
        "D2,Open one,Open,,,\n",
        "D3,Open two,Open,,,\n",
    )
    import_deals(path, generic, pipeline=sales)
    routed = dict(Deal.objects.values_list("external_id", "responsible__username"))
    assert routed == {"D1": "alice", "D2": "alice", "D3": "bob"}


# -- foreign keys: checked once for the whole load ----------------------------


def _sqlite_pragma(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def _point_owner_nowhere(monkeypatch, external_id: str) -> None:
    """Make the writer store a missing user as `external_id`'s owner, as a
    bug (or a user deleted under the import) would."""
    writer = bulk.SqliteWriter if connection.vendor == "sqlite" else bulk.PostgresWriter
    adapt = writer.adapt

    def adapt_wrongly(self, deal):
        if deal[bulk.EXTERNAL_ID] == external_id:
            deal[bulk.OWNER] = 987654
        adapt(self, deal)

    monkeypatch.setattr(writer, "adapt", adapt_wrongly)


@pytest.mark.django_db(transaction=True)
def test_sqlite_checks_keys_once_and_switches_its_checks_back_on(tmp_path, generic):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's foreign_keys pragma")
    sales = make_import_pipeline()
    seen = []
    off = services.sqlite_checks_off

    def spy(conn):
        cm = off(conn)
        seen.append(cm)
        return cm

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "sqlite_checks_off", spy)
        patch.setattr(
            services.SqliteCheck,
            "verify",
            lambda self: seen.append(_sqlite_pragma("foreign_keys")),
        )
        report = import_deals(
            generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales
        )
    assert report.committed and report.deals_created == 3
    # Off during the load, on again afterwards.
    assert seen[1] == 0
    assert _sqlite_pragma("foreign_keys") == 1


@pytest.mark.django_db(transaction=True)
def test_sqlite_refuses_a_load_whose_key_names_no_row_and_keeps_nothing(
    tmp_path, generic, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's foreign_keys pragma")
    sales = make_import_pipeline()
    _point_owner_nowhere(monkeypatch, "D2")
    with pytest.raises(ValidationError) as caught:
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert "deal 'D2'" in str(caught.value)
    assert "owner_id 987654 names no row of accounts_user" in str(caught.value)
    assert caught.value.field == "owner_id"
    assert Deal.objects.count() == 0 and StageEvent.objects.count() == 0
    assert _sqlite_pragma("foreign_keys") == 1


@pytest.mark.django_db(transaction=True)
def test_sqlite_checks_each_batchs_keys_as_the_writer_stores_it(
    tmp_path, generic, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's foreign_keys pragma")
    import threading

    sales = make_import_pipeline()
    batches, at_the_end = [], []
    batch_found = foreignkeys.SqliteCheck.batch_found
    all_found = foreignkeys.SqliteCheck._all_found

    def spy_batch(self, raw, model, low, high):
        thread = threading.current_thread().name
        batches.append((model.__name__, thread.startswith("dealgate-write")))
        return batch_found(self, raw, model, low, high)

    def spy_end(self, cursor, model, keys, floor):
        at_the_end.append(model.__name__)
        return all_found(self, cursor, model, keys, floor)

    monkeypatch.setattr(foreignkeys.SqliteCheck, "batch_found", spy_batch)
    monkeypatch.setattr(foreignkeys.SqliteCheck, "_all_found", spy_end)
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    report = import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert report.committed and Deal.objects.count() == 3
    # Two batches, each checked on the writing thread (the events' keys are
    # their deals'); the end passes over the deals and events, and checks
    # what the writer did not write.
    assert batches == [("Deal", True), ("Deal", True)]
    assert "Deal" not in at_the_end and "StageEvent" not in at_the_end
    assert "Clock" in at_the_end


def test_every_key_of_an_event_sqlite_makes_is_one_its_deal_was_checked_for():
    # SQLite's import checks the keys of each batch's deals, not of the
    # events it makes from them: that holds while each event key is its
    # deal's id, one of its deal's keys to the same table, or NULL.
    deal_keys = {f"d.{key.column}": key.parent_table for key in foreign_keys(Deal)}
    deal_keys["d.id"] = Deal._meta.db_table
    statements = bulk.EventStatements(
        "events",
        ", ".join(bulk.EVENT_COLUMNS),
        "deals",
        batch="1 = 1",
        closes="(SELECT 1 AS deal_id, 2.0 AS minutes) c",
    )
    for sql in (statements.entries, statements.closes):
        chosen = sql.split(" SELECT ", 1)[1].split(" FROM ", 1)[0].split(", ")
        written = dict(zip(bulk.EVENT_COLUMNS, chosen, strict=True))
        for key in foreign_keys(StageEvent):
            value = written[key.column]
            assert value == "NULL" or deal_keys.get(value) == key.parent_table, (
                key.column,
                value,
            )


@pytest.mark.django_db(transaction=True)
def test_sqlite_checks_again_when_a_parent_goes_after_its_batch_was_checked(
    tmp_path, generic, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's foreign_keys pragma")
    sales = make_import_pipeline()
    finish = bulk.SqliteWriter.finish

    def owner_deleted_then_finish(self):
        # Every batch was checked; then the last deal's stage goes (no one
        # else can write meanwhile: only code inside the import could).
        self.settle()
        self.raw.execute(
            "DELETE FROM pipelines_stage WHERE id = "
            "(SELECT stage_id FROM deals_deal ORDER BY id DESC LIMIT 1)"
        )
        finish(self)

    monkeypatch.setattr(bulk.SqliteWriter, "finish", owner_deleted_then_finish)
    with pytest.raises(ValidationError) as caught:
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert str(caught.value).startswith("deal 'D")
    assert "names no row of pipelines_stage" in str(caught.value)
    assert Deal.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_sqlite_names_a_bad_key_found_in_a_later_batch(tmp_path, generic, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's foreign_keys pragma")
    sales = make_import_pipeline()
    _point_owner_nowhere(monkeypatch, "D3")
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    with pytest.raises(ValidationError) as caught:
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert "deal 'D3'" in str(caught.value)
    assert "owner_id 987654 names no row of accounts_user" in str(caught.value)
    assert Deal.objects.count() == 0 and StageEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_sqlite_switches_its_checks_back_on_after_a_failed_import(
    tmp_path, generic, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's foreign_keys pragma")
    sales = make_import_pipeline()

    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bulk.SqliteWriter, "write", broken)
    with pytest.raises(RuntimeError):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert _sqlite_pragma("foreign_keys") == 1


def test_inside_a_callers_transaction_keys_are_still_checked(
    sales, tmp_path, generic, monkeypatch
):
    # The test's own transaction: SQLite cannot switch its checks off here
    # and keeps its own; PostgreSQL's replica-mode load checks them itself.
    _point_owner_nowhere(monkeypatch, "D2")
    if connection.vendor == "postgresql":
        with pytest.raises(ValidationError, match="owner_id 987654 names no row"):
            import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
        return
    with pytest.raises(IntegrityError), transaction.atomic():
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            else:
                connection.check_constraints(["deals_deal"])
    assert Deal.objects.count() == 0


def _postgres_keys() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
            "('deals_deal'::regclass, 'deals_stageevent'::regclass) ORDER BY 1, 2"
        )
        return cursor.fetchall()


@pytest.fixture
def rebuild_keys(monkeypatch):
    """Drop and re-add PostgreSQL's keys whatever the size of the load."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's foreign keys")
    monkeypatch.setattr(foreignkeys, "REBUILD_MIN_ROWS", 0)
    monkeypatch.setattr(foreignkeys, "REBUILD_TABLE_SHARE", 0)
    return _postgres_keys()


def test_postgres_adds_back_every_key_it_dropped_for_a_large_load(
    sales, tmp_path, generic, rebuild_keys, monkeypatch
):
    dropped = []
    prepare = foreignkeys.PostgresKeys.prepare

    def spy(self, expected_rows):
        done = prepare(self, expected_rows)
        dropped.append((done, _postgres_keys()))
        return done

    monkeypatch.setattr(foreignkeys.PostgresKeys, "prepare", spy)
    report = import_deals(
        generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales, exclusive=True
    )
    assert report.committed and report.deals_created == 3
    assert dropped == [(True, [])]
    assert _postgres_keys() == rebuild_keys
    assert len(rebuild_keys) == 12


def test_postgres_keeps_its_keys_and_the_app_readable_unless_told_exclusive(
    sales, tmp_path, generic, rebuild_keys, monkeypatch
):
    decided = []
    prepare = foreignkeys.PostgresKeys.prepare

    def spy(self, expected_rows):
        decided.append(prepare(self, expected_rows))
        return decided[-1]

    monkeypatch.setattr(foreignkeys.PostgresKeys, "prepare", spy)
    report = import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)

    assert report.committed and report.deals_created == 3
    assert decided == [False]
    assert _postgres_keys() == rebuild_keys


def test_postgres_refuses_a_large_load_whose_key_names_no_row(
    sales, tmp_path, generic, rebuild_keys, monkeypatch
):
    _point_owner_nowhere(monkeypatch, "D2")
    with pytest.raises(ValidationError) as caught:
        import_deals(
            generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales, exclusive=True
        )
    assert "owner_id 987654 names no row of accounts_user" in str(caught.value)
    assert caught.value.field == "owner_id"


@pytest.mark.django_db(transaction=True)
def test_postgres_keeps_row_checks_when_the_tables_are_busy(
    tmp_path, generic, monkeypatch, caplog
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's table locks")
    import psycopg

    sales = make_import_pipeline()
    keys = _postgres_keys()
    monkeypatch.setattr(foreignkeys, "REBUILD_MIN_ROWS", 0)
    monkeypatch.setattr(foreignkeys, "LOCK_TIMEOUT", "20ms")
    params = connection.get_connection_params()
    with psycopg.connect(**params) as reader:
        # A reader in the middle of a transaction holds a share lock.
        reader.execute("SELECT COUNT(*) FROM deals_deal").fetchone()
        with caplog.at_level(logging.INFO, logger="dealgate.imports"):
            report = import_deals(
                generic_file(tmp_path, *GOOD_ROWS),
                generic,
                pipeline=sales,
                exclusive=True,
            )
    assert report.committed and report.deals_created == 3
    assert "foreign keys are checked row by row" in caplog.text
    assert _postgres_keys() == keys


def _writer_class() -> type[bulk.DealWriter]:
    """The writer the test database's imports use."""
    if connection.vendor == "sqlite":
        return bulk.SqliteWriter
    return bulk.PostgresWriter


def test_writes_in_a_thread_and_gives_back_the_switch_interval(
    sales, tmp_path, generic, monkeypatch
):
    import sys
    import threading

    writer = _writer_class()
    before = sys.getswitchinterval()
    seen = []
    write = writer._write

    def spy(self, deals, closes):
        seen.append((threading.current_thread().name, sys.getswitchinterval()))
        write(self, deals, closes)

    monkeypatch.setattr(writer, "_write", spy)
    report = import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert report.committed and Deal.objects.count() == 3
    [(thread, interval)] = seen
    assert thread.startswith("dealgate-write")
    assert interval == bulk.WRITE_SWITCH_INTERVAL
    assert sys.getswitchinterval() == before

    def fail(self, deals, closes):
        raise ValidationError("the disk is full")

    monkeypatch.setattr(writer, "_write", fail)
    path = generic_file(tmp_path, "D7,Nova rollout,Talking,,2026-03-10,\n")
    with pytest.raises(ValidationError, match="the disk is full"):
        import_deals(path, generic, pipeline=sales)
    assert sys.getswitchinterval() == before
    assert not Deal.objects.filter(external_id="D7").exists()


def test_a_driver_error_in_the_writing_thread_is_one_line_from_the_command(
    sales, tmp_path, generic, monkeypatch, capsys
):
    from django.db import OperationalError

    def server_gone(self, deals, closes):
        raise connection.Database.OperationalError("server closed the connection")

    monkeypatch.setattr(_writer_class(), "_write", server_gone)
    path = generic_file(tmp_path, *GOOD_ROWS)
    with pytest.raises(OperationalError, match="server closed the connection"):
        import_deals(path, generic, pipeline=sales)
    assert main(["import", "deals", str(path), "--mapping", str(generic)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("dealgate: database ")
    assert line.endswith(": server closed the connection")
    assert not Deal.objects.exists()


def _rollbacks_noted(monkeypatch):
    """An event set when the import's transaction (or savepoint) starts to
    roll back."""
    import threading

    rolled_back = threading.Event()
    for name in ("rollback", "savepoint_rollback"):
        undo = getattr(connection, name)

        def noted(*args, undo=undo):
            rolled_back.set()
            return undo(*args)

        monkeypatch.setattr(connection, name, noted)
    return rolled_back


@pytest.fixture
def held_batch(monkeypatch):
    """The writer's batch goes on until the import tells it to stop, then
    notes whether the rollback began within 0.3 s (it must not: the import
    waits for the batch). The list of notes is the fixture's value."""
    rolled_back = _rollbacks_noted(monkeypatch)
    early = []

    def slow(self, deals, closes):
        self._stopping.wait(timeout=2)
        early.append(rolled_back.wait(timeout=0.3))

    monkeypatch.setattr(_writer_class(), "_write", slow)
    return early


def test_a_second_ctrl_c_waits_for_the_batch_being_written_then_nothing_is_kept(
    sales, tmp_path, generic, monkeypatch
):
    import signal
    import threading

    writer = _writer_class()
    rolled_back = _rollbacks_noted(monkeypatch)
    early = []

    def slow(self, deals, closes):
        # The batch is still being written when the import is interrupted,
        # and a second Ctrl-C arrives while the import waits for it: the
        # import must not roll back until the batch is done with.
        self._stopping.wait(timeout=10)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        early.append(rolled_back.wait(timeout=0.3))

    def interrupt(rows, share):
        if rows >= 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_write", slow)
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 1)
    with pytest.raises(KeyboardInterrupt):
        import_deals(
            generic_file(tmp_path, *GOOD_ROWS),
            generic,
            pipeline=sales,
            progress=interrupt,
        )
    assert early == [False]
    assert rolled_back.is_set()
    assert not Deal.objects.exists()
    assert not StageEvent.objects.exists()


def test_a_ctrl_c_as_the_writer_starts_closing_still_waits_for_its_batch(
    sales, tmp_path, generic, monkeypatch, held_batch
):
    import signal

    writer = _writer_class()
    close = writer.close

    def interrupted_close(self):
        # The second Ctrl-C lands before the writer's wait has begun.
        signal.raise_signal(signal.SIGINT)
        close(self)

    def interrupt(rows, share):
        if rows >= 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(writer, "close", interrupted_close)
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 1)
    with pytest.raises(KeyboardInterrupt):
        import_deals(
            generic_file(tmp_path, *GOOD_ROWS),
            generic,
            pipeline=sales,
            progress=interrupt,
        )
    assert held_batch == [False]
    assert not Deal.objects.exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_as_a_batch_is_handed_to_the_writer_still_waits_for_it(
    sales, tmp_path, generic, monkeypatch, held_batch
):
    import signal
    from concurrent.futures import ThreadPoolExecutor

    submit = ThreadPoolExecutor.submit

    def submit_then_ctrl_c(self, *args, **kwargs):
        # Ctrl-C landing inside `submit`, once the batch is queued.
        future = submit(self, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return future

    monkeypatch.setattr(bulk.ThreadPoolExecutor, "submit", submit_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert held_batch == [False]
    assert not Deal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_postgres_ctrl_c_stops_a_write_waiting_on_a_lock(
    tmp_path, generic, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's row locks")
    import signal
    import threading

    import psycopg

    from dealgate.pipelines.models import Stage

    sales = make_import_pipeline()
    locker = psycopg.connect(**connection.get_connection_params())
    # Another session holds the stages the deals name: the writer's key
    # share lock on them waits.
    locker.execute(f"SELECT id FROM {Stage._meta.db_table} FOR UPDATE").fetchall()
    released = threading.Event()

    def release():
        released.set()
        locker.rollback()

    # Only so that a failing test ends.
    timer = threading.Timer(60, release)
    timer.start()

    def interrupt(rows, share):
        if rows >= 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 1)
    try:
        with pytest.raises(KeyboardInterrupt):
            import_deals(
                generic_file(tmp_path, *GOOD_ROWS),
                generic,
                pipeline=sales,
                progress=interrupt,
            )
        stopped_while_locked = not released.is_set()
    finally:
        timer.cancel()
        locker.close()
    assert stopped_while_locked
    assert not Deal.objects.exists() and not StageEvent.objects.exists()


def test_sqlite_writer_refuses_a_statement_outside_the_imports_transaction():
    import threading
    from types import SimpleNamespace

    executed = []
    writer = bulk.SqliteWriter.__new__(bulk.SqliteWriter)
    writer._stopping = threading.Event()
    writer._rows_per_insert = 500
    # Autocommit: a statement would commit on its own.
    writer.raw = SimpleNamespace(
        in_transaction=False, execute=lambda *args: executed.append(args)
    )
    with pytest.raises(RuntimeError, match="transaction ended"):
        writer._write([[1] + [None] * (len(bulk.DEAL_COLUMNS) - 1)], [])
    assert executed == []


def test_postgres_finds_imported_ids_by_probing_the_unique_index(
    sales, tmp_path, generic
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's query planner")
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    with connection.cursor() as cursor:
        # Deals enough for a pass over them to cost more than probes; no
        # ANALYZE, as during an import (and statistics would outlive the
        # test's transaction).
        cursor.execute(
            "INSERT INTO deals_deal (pipeline_id, stage_id, status, title, value, "
            "currency, loss_reason, loss_note, notes, custom, source, external_id, "
            "version, updated_at) SELECT pipeline_id, stage_id, status, "
            "'Deal ' || n, value, currency, '', '', '', custom, source, 'S' || n, 1, "
            "updated_at "
            "FROM deals_deal, generate_series(1, 5000) AS n "
            "WHERE external_id = 'D2'"
        )
    with transaction.atomic():
        writer = bulk.writer_for(connection, sales.pk, "crm")
        found = writer.existing(["S7", "S4999", "D1", "missing"])
        with connection.cursor() as cursor:
            cursor.execute(
                f"EXPLAIN {writer.existing_sql}",
                [["S7", "missing"], sales.pk, "crm"],
            )
            plan = " ".join(row[0] for row in cursor.fetchall())
    assert set(found) == {"S7", "S4999", "D1"}
    # One probe per id, not a pass over every deal of the pipeline.
    assert "Index Scan using deal_external_id_unique" in plan, plan
    assert "Nested Loop" in plan, plan


def _thresholds_during_import(tmp_path, generic, sales, monkeypatch) -> list:
    """The garbage collector's thresholds at each row of an import."""
    seen = []
    monkeypatch.setattr(services, "PROGRESS_EVERY", 1)
    import_deals(
        generic_file(tmp_path, *GOOD_ROWS),
        generic,
        pipeline=sales,
        progress=lambda rows, share: seen.append(gc.get_threshold()),
    )
    return seen


def test_an_import_runs_the_young_garbage_collection_rarely_and_gives_it_back(
    sales, tmp_path, generic, monkeypatch
):
    before = gc.get_threshold()
    seen = _thresholds_during_import(tmp_path, generic, sales, monkeypatch)
    assert seen[0] == (services.GC_YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before

    def fail(rows, share):
        raise ValidationError("stopped")

    with pytest.raises(ValidationError, match="stopped"):
        import_deals(
            generic_file(tmp_path, "D7,Nova rollout,Talking,,2026-03-10,\n"),
            generic,
            pipeline=sales,
            progress=fail,
        )
    assert gc.get_threshold() == before


def test_an_import_leaves_a_switched_off_garbage_collector_off(
    sales, tmp_path, generic, monkeypatch
):
    before = gc.get_threshold()
    gc.set_threshold(0, *before[1:])
    try:
        seen = _thresholds_during_import(tmp_path, generic, sales, monkeypatch)
        assert {young for young, *_ in seen} == {0}
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


# -- SQLite: the import's own reads and cache -----------------------------------


def test_sqlite_finds_imported_ids_through_the_unique_index(sales, tmp_path, generic):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's query planner")
    path = generic_file(tmp_path, *GOOD_ROWS)
    import_deals(path, generic, pipeline=sales)
    statements = []
    connection.ensure_connection()
    connection.connection.set_trace_callback(statements.append)
    try:
        # Again: the ids are stored now, and looked up.
        import_deals(path, generic, pipeline=sales)
    finally:
        connection.connection.set_trace_callback(None)
    [lookup] = [s for s in statements if s.startswith("SELECT external_id, id")]
    [holds] = [s for s in statements if "LIMIT 1" in s and "deals_deal" in s]
    with connection.cursor() as cursor:
        for statement in (lookup, holds):
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}")
            plan = " ".join(row[-1] for row in cursor.fetchall())
            assert "deal_external_id_unique" in plan, (statement, plan)


def test_sqlite_writes_deals_many_to_a_statement_within_its_parameter_limit(
    sales, tmp_path, generic
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's parameter limit")
    import sqlite3

    connection.ensure_connection()
    raw = connection.connection
    limit = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
    before = raw.getlimit(limit)
    # Room for two deal rows a statement: five rows take three statements.
    raw.setlimit(limit, 2 * len(bulk.DEAL_COLUMNS) + 1)
    try:
        rows = [f"M{n},Deal {n},Talking,{n}00,2026-03-0{n},\n" for n in range(1, 6)]
        report = import_deals(generic_file(tmp_path, *rows), generic, pipeline=sales)
    finally:
        raw.setlimit(limit, before)
    assert report.committed and report.deals_created == 5
    written = Deal.objects.order_by("external_id").values_list(
        "external_id", "title", "value", "stage_entered_at"
    )
    assert list(written) == [
        (
            f"M{n}",
            f"Deal {n}",
            Decimal(f"{n}00"),
            dt.datetime(2026, 3, n, tzinfo=dt.UTC),
        )
        for n in range(1, 6)
    ]


def test_sqlite_gives_back_its_page_cache_setting(
    sales, tmp_path, generic, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's page cache")
    # Smaller than the import's, whatever the settings give connections.
    configured = _sqlite_pragma("cache_size")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size = -2000")
    before = _sqlite_pragma("cache_size")
    sizes = []
    write = bulk.SqliteWriter.write

    def spy(self, deals, closes):
        sizes.append(_sqlite_pragma("cache_size"))
        write(self, deals, closes)

    monkeypatch.setattr(bulk.SqliteWriter, "write", spy)
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert sizes == [-bulk.SQLITE_CACHE_KIB]
    assert _sqlite_pragma("cache_size") == before
    path = generic_file(tmp_path, "D7,Broken,Talking,,2026-03-10,\n")
    monkeypatch.setattr(bulk.SqliteWriter, "write", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        import_deals(path, generic, pipeline=sales)
    assert _sqlite_pragma("cache_size") == before
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA cache_size = {configured}")


# -- the command ------------------------------------------------------------


def test_the_command_prints_the_report_and_exits_0(sales, tmp_path, generic, capsys):
    path = generic_file(tmp_path, *GOOD_ROWS)
    status = main(["import", "deals", str(path), "--mapping", str(generic)])
    out, err = capsys.readouterr()
    assert status == 0
    assert "deals: 3 created, 0 already present, 0 bad" in out
    assert out.rstrip().endswith("imported")
    # Not a terminal: stderr holds only warnings and errors; the rate is in
    # the report.
    assert err == ""
    assert "  rows read: 3 in " in out


def test_an_interrupt_after_the_commit_does_not_claim_nothing_was_kept(
    sales, tmp_path, generic, capsys, monkeypatch
):
    from dealgate.imports import report as report_module

    def interrupted(self, *args):
        # Ctrl-C landing as the committed import prints its report.
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module.ImportReport, "lines", interrupted)
    path = generic_file(tmp_path, *GOOD_ROWS)
    status = main(["import", "deals", str(path), "--mapping", str(generic)])
    err = capsys.readouterr().err
    assert status == 130
    assert Deal.objects.count() == 3
    assert "nothing was committed" not in err
    assert err.splitlines()[-1] == (
        "dealgate: interrupted; work not yet committed was rolled back"
    )


def test_a_ctrl_c_while_the_interrupt_is_reported_is_ignored(
    sales, tmp_path, generic, capsys, monkeypatch
):
    import builtins
    import signal

    from dealgate import cli
    from dealgate.imports import report as report_module

    def interrupted(self, *args):
        raise KeyboardInterrupt

    def print_with_ctrl_c(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # pressed again as the line prints
        builtins.print(*args, **kwargs)

    monkeypatch.setattr(report_module.ImportReport, "lines", interrupted)
    monkeypatch.setattr(cli, "print", print_with_ctrl_c, raising=False)
    path = generic_file(tmp_path, *GOOD_ROWS)
    assert main(["import", "deals", str(path), "--mapping", str(generic)]) == 130
    assert capsys.readouterr().err.splitlines()[-1].startswith("dealgate: interrupted")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.django_db(transaction=True)
def test_a_ctrl_c_held_through_the_commit_still_shows_what_was_kept(
    tmp_path, generic, capsys, monkeypatch
):
    import signal

    from dealgate.core.interrupts import InterruptedAfterwards

    sales = make_import_pipeline()
    commit = connection.commit

    def ctrl_c_then_commit():
        signal.raise_signal(signal.SIGINT)  # as the import commits
        commit()

    monkeypatch.setattr(connection, "commit", ctrl_c_then_commit)
    path = generic_file(tmp_path, *GOOD_ROWS)
    with pytest.raises(InterruptedAfterwards) as caught:
        import_deals(path, generic, pipeline=sales)
    assert caught.value.result.committed
    assert caught.value.result.deals_created == 3 and Deal.objects.count() == 3

    again = generic_file(tmp_path, "D4,Nova,Open,,,\n")
    assert main(["import", "deals", str(again), "--mapping", str(generic)]) == 130
    out, err = capsys.readouterr()
    assert "deals: 1 created, 0 already present, 0 bad" in out
    assert out.rstrip().endswith("imported")
    assert err.splitlines()[-1] == (
        "dealgate: interrupted once the work had ended; the report says what was kept"
    )
    assert Deal.objects.count() == 4


def test_a_rerun_of_the_same_file_says_nothing_was_new_and_exits_0(
    sales, tmp_path, generic, capsys
):
    path = generic_file(tmp_path, *GOOD_ROWS)
    assert main(["import", "deals", str(path), "--mapping", str(generic)]) == 0
    capsys.readouterr()

    status = main(["import", "deals", str(path), "--mapping", str(generic)])

    out, _ = capsys.readouterr()
    assert status == 0
    assert out.splitlines()[-1] == "nothing new: all 3 rows were already present"
    assert Deal.objects.count() == 3


def test_a_file_with_a_header_and_no_rows_says_so_and_exits_0(
    sales, tmp_path, generic, capsys
):
    path = generic_file(tmp_path)

    status = main(["import", "deals", str(path), "--mapping", str(generic)])

    out, _ = capsys.readouterr()
    assert status == 0
    assert out.splitlines()[-1] == (
        "nothing to import: the file has no rows below its header"
    )


def test_one_row_and_one_warning_are_counted_in_the_singular(
    sales, tmp_path, generic, capsys
):
    path = generic_file(tmp_path, "D1,Helix,,100,2026-03-02,\n")

    status = main(["import", "deals", str(path), "--mapping", str(generic)])

    out, err = capsys.readouterr()
    assert status == 0
    assert (
        "  Stage empty, deal put in the default stage: 1 row, on line 2"
        in out.splitlines()
    )
    assert err == ""
    report = import_deals(path, generic, pipeline=sales)
    assert str(report).startswith(f"{path}: 1 row read, 0 deals created, 1 ")
    assert str(report).endswith(
        "already present, 0 bad rows; nothing new: the row was already present"
    )


def test_the_command_exits_1_when_bad_rows_leave_nothing_imported(
    sales, tmp_path, generic, capsys
):
    path = generic_file(tmp_path, *GOOD_ROWS, "D4,Vega,Won,1,2026-03-01,2026-13-01\n")
    status = main(["import", "deals", str(path), "--mapping", str(generic)])
    out, _ = capsys.readouterr()
    assert status == 1
    assert "  line 5: Closed: '2026-13-01' is not a date in YYYY-MM-DD" in out
    assert Deal.objects.count() == 0
    status = main(
        ["import", "deals", str(path), "--mapping", str(generic), "--skip-bad"]
    )
    assert status == 0
    assert Deal.objects.count() == 3
    # Again: the good rows are already there and the bad one is skipped again,
    # which is what was asked, as the message says.
    skip_again = ["import", "deals", str(path), "--mapping", str(generic), "--skip-bad"]
    assert main(skip_again) == 0
    assert (
        capsys.readouterr()
        .out.rstrip()
        .endswith(
            "nothing new: the 3 good rows were already present; the bad rows listed "
            "were skipped"
        )
    )
    # A file of nothing but bad rows keeps nothing because of them.
    only_bad = generic_file(tmp_path, "D9,Vega,Won,1,2026-03-01,2026-13-01\n")
    assert main(["import", "deals", str(only_bad), "--mapping", str(generic)]) == 1
    only_bad_skipped = [*skip_again[:2], str(only_bad), *skip_again[3:]]
    assert main(only_bad_skipped) == 1


def test_the_command_asks_which_pipeline_when_there_are_several(
    sales, tmp_path, generic, capsys
):
    make_import_pipeline("renewals")
    path = generic_file(tmp_path, *GOOD_ROWS)
    status = main(["import", "deals", str(path), "--mapping", str(generic)])
    assert status == 2
    assert "several pipelines (renewals, sales); say which with --pipeline" in (
        capsys.readouterr().err
    )
    status = main(
        ["import", "deals", str(path), "--mapping", str(generic), "--pipeline", "sales"]
    )
    assert status == 0


def test_one_info_line_logs_the_counts_and_duration(sales, tmp_path, generic, caplog):
    with caplog.at_level(logging.INFO, logger="dealgate.imports"):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    [record] = [r for r in caplog.records if r.name == "dealgate.imports"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "3 rows read, 0 already present, 0 bad rows" in message
    assert "3 deals and 3 stage events created, committed in" in message


@pytest.mark.parametrize(
    ("dry_run", "rows", "why"),
    [
        (True, GOOD_ROWS, "a dry run"),
        (False, (*GOOD_ROWS, "D4,Bad,Won,lots,2026-03-02,2026-04-14\n"), "bad rows"),
    ],
)
def test_a_rolled_back_import_logs_that_it_kept_nothing(
    sales, tmp_path, generic, caplog, dry_run, rows, why
):
    with caplog.at_level(logging.INFO, logger="dealgate.imports"):
        import_deals(
            generic_file(tmp_path, *rows), generic, pipeline=sales, dry_run=dry_run
        )
    [record] = [r for r in caplog.records if r.name == "dealgate.imports"]
    message = record.getMessage()
    assert f"rolled back ({why}" in message
    assert (
        "nothing kept: the good rows would have made 3 deals and 3 stage events"
        in message
    )
    assert "created" not in message
    assert Deal.objects.count() == 0


def test_every_column_the_mapping_needs_but_the_file_lacks_is_named_at_once(
    sales, tmp_path, generic
):
    path = write_csv(tmp_path, "Id,Deal,Amount\nD1,A,1\n")
    with pytest.raises(ValidationError) as refused:
        import_deals(path, generic, pipeline=sales)
    assert refused.value.message.startswith(
        "the file has no columns 'Stage', 'Entered', 'Closed', which mapping "
    )
    assert Deal.objects.count() == 0


def test_a_file_not_in_the_encoding_its_mapping_sets_is_told_what_to_do(
    sales, tmp_path
):
    mapping = write_mapping(
        tmp_path, 'encoding = "cp1252"\n[columns]\ntitle = "Deal"\n'
    )
    # A DOS (cp850) export: "ü" is the byte 81, which cp1252 has not got. (A
    # UTF-8 file is told that it looks like UTF-8: see
    # test_import_encodings_and_people.)
    path = tmp_path / "deals.csv"
    path.write_bytes("Deal\nMüller office\n".encode("cp850"))
    with pytest.raises(ValidationError) as refused:
        import_deals(path, mapping, pipeline=sales)
    assert "is not cp1252 text" in refused.value.message
    assert "remove the mapping's encoding if it is UTF-8" in refused.value.message
    assert Deal.objects.count() == 0
