"""The built-in olist mapping: historic leads and their won deals.

Pinned on small files of the same shape that the project owns
(tests/data/leads/olist); the real files are read from ../shared/data when
they are there (CI has them) and the test says plainly when it skips.
"""

from __future__ import annotations

import datetime as dt
import shutil
from zoneinfo import ZoneInfo

import pytest

from dealgate.deals.models import Deal, StageEvent
from dealgate.leads.imports import import_leads
from dealgate.leads.models import Lead
from dealgate.leads.olist import BATCH, DEAL_COLUMNS, DEALS_FILE, LEADS_FILE
from dealgate.leads.report import lead_report
from tests.conftest import REPO_ROOT, SHARED
from tests.importing import retire_the_first_stage

OWNED = REPO_ROOT / "tests" / "data" / "leads" / "olist"
REAL = SHARED / "data" / "olist-marketing-funnel"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # summer time in February 2018


def _import(folder, pipeline, **kw):
    return import_leads(folder / LEADS_FILE, "olist", pipeline=pipeline, **kw)


def test_leads_and_won_deals_are_imported_as_history(pipeline, now):
    report = _import(OWNED, pipeline)

    assert report.committed, report.lines()
    assert (report.leads_created, report.deals_created) == (12, 4)
    assert Lead.objects.filter(historic=True, owner=None).count() == 12
    assert Lead.objects.filter(status="archived").count() == 8
    won = Lead.objects.filter(status="converted").select_related("deal")
    assert {lead.deal.status for lead in won} == {"won"}
    assert StageEvent.objects.filter(to_status="won").count() == 4


def test_dates_are_read_day_first_never_guessed(pipeline, now):
    _import(OWNED, pipeline)

    first = Lead.objects.get(external_id__endswith="842dd48ac68c2167bc9c2530d1bf7db1")
    # "01-02-2018" is the first of February, at midnight in Sao Paulo.
    assert first.created_at == dt.datetime(2018, 2, 1, tzinfo=SAO_PAULO)
    assert first.deal.closed_at == dt.datetime(2018, 2, 26, 19, 58, tzinfo=SAO_PAULO)


def test_mangled_stock_values_are_mapped_back_and_reported(pipeline, now):
    report = _import(OWNED, pipeline)

    stocks = sorted(
        Deal.objects.exclude(custom__average_stock=None).values_list(
            "custom__average_stock", flat=True
        )
    )
    assert stocks == ["1-5", "5-20", "unknown"]
    assert (
        report.warnings[
            "average_stock 'May-20' read as '5-20' (a spreadsheet had made it a date)"
        ]
        == 1
    )
    assert (
        report.warnings[
            "average_stock '01-May' read as '1-5' (a spreadsheet had made it a date)"
        ]
        == 1
    )


def test_empty_origin_stays_apart_from_unknown(pipeline, now):
    report = _import(OWNED, pipeline)

    assert Lead.objects.filter(source="").count() == 1
    assert Lead.objects.filter(source="unknown").count() == 2
    assert report.warnings["origin empty, kept empty (apart from 'unknown')"] == 1


def test_a_second_import_adds_nothing(pipeline, now):
    _import(OWNED, pipeline)
    again = _import(OWNED, pipeline)

    assert (again.leads_created, again.already_present) == (0, 12)
    assert (Lead.objects.count(), Deal.objects.count()) == (12, 4)


def test_a_month_first_date_is_a_bad_row_and_keeps_nothing(pipeline, now, tmp_path):
    for name in (LEADS_FILE, DEALS_FILE):
        shutil.copy(OWNED / name, tmp_path / name)
    with (tmp_path / LEADS_FILE).open("a", newline="") as f:
        f.write("ffffffffffffffffffffffffffffffff,2018-02-01,lp,social\r\n")

    report = _import(tmp_path, pipeline)

    assert not report.committed and not Lead.objects.exists()
    assert str(report.bad_rows[0]) == (
        "line 14: first_contact_date: '2018-02-01' is not a date in %d-%m-%Y "
        "(day first, e.g. 01-02-2018)"
    )


FIRST = "842dd48ac68c2167bc9c2530d1bf7db1"  # line 2 of the owned file, won


def _owned_copy(tmp_path, *extra_rows: str):
    for name in (LEADS_FILE, DEALS_FILE):
        shutil.copy(OWNED / name, tmp_path / name)
    with (tmp_path / LEADS_FILE).open("a", newline="") as f:
        f.writelines(f"{row}\r\n" for row in extra_rows)
    return tmp_path


def test_an_mql_id_repeated_in_the_file_is_a_bad_row_naming_the_first(
    pipeline, now, tmp_path
):
    folder = _owned_copy(tmp_path, f"{FIRST},05-02-2018,lp,social")

    refused = _import(folder, pipeline)
    skipped = _import(folder, pipeline, all_or_nothing=False)

    assert not refused.committed
    assert [str(bad) for bad in refused.bad_rows] == [
        f"line 14: mql_id: '{FIRST}' is already on line 2"
    ]
    assert [str(bad) for bad in skipped.bad_rows] == [
        f"line 14: mql_id: '{FIRST}' is already on line 2"
    ]
    assert (skipped.leads_created, skipped.deals_created) == (12, 4)
    kept = Lead.objects.get(external_id=f"olist:{FIRST}")
    assert kept.created_at == dt.datetime(2018, 2, 1, tzinfo=SAO_PAULO)
    assert kept.deal is not None


def test_a_repeat_farther_apart_than_a_batch_names_the_first_line(
    pipeline, now, tmp_path
):
    ids = [f"{n:032x}" for n in range(BATCH + 1)]
    rows = [f"{mql_id},01-02-2018,lp,social" for mql_id in ids]
    (tmp_path / LEADS_FILE).write_text(
        "\r\n".join(["mql_id,first_contact_date,landing_page_id,origin", *rows])
        + f"\r\n{ids[0]},02-02-2018,lp,social\r\n"
    )
    (tmp_path / DEALS_FILE).write_text(",".join(DEAL_COLUMNS) + "\r\n")

    report = _import(tmp_path, pipeline, all_or_nothing=False)

    # Line 2 is in the first batch, the repeat on line BATCH + 3 in the second.
    assert [str(bad) for bad in report.bad_rows] == [
        f"line {BATCH + 3}: mql_id: '{ids[0]}' is already on line 2"
    ]
    assert report.leads_created == BATCH + 1 == Lead.objects.count()


def test_a_repeated_mql_id_names_the_line_written_not_an_earlier_bad_one(
    pipeline, now, tmp_path
):
    late = "ffffffffffffffffffffffffffffffff"
    folder = _owned_copy(
        tmp_path,
        f"{late},2018-02-01,lp,social",
        f"{late},01-02-2018,lp,social",
        f"{late},02-02-2018,lp,social",
    )

    report = _import(folder, pipeline, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows][1:] == [
        f"line 16: mql_id: '{late}' is already on line 15"
    ]
    assert Lead.objects.get(external_id=f"olist:{late}").created_at == dt.datetime(
        2018, 2, 1, tzinfo=SAO_PAULO
    )


def test_importing_a_file_with_repeats_again_finds_them_all_present(
    pipeline, now, tmp_path
):
    folder = _owned_copy(tmp_path, f"{FIRST},05-02-2018,lp,social")

    first = _import(folder, pipeline, all_or_nothing=False)
    again = _import(folder, pipeline, all_or_nothing=False)

    assert (first.leads_created, first.bad_row_count) == (12, 1)
    assert (again.leads_created, again.already_present, again.bad_row_count) == (
        0,
        13,
        0,
    )


def test_olist_and_a_live_mapping_word_a_repeat_alike(routed, now, tmp_path):
    olist = _import(_owned_copy(tmp_path, f"{FIRST},05-02-2018,lp,social"), routed)
    live = tmp_path / "live.csv"
    live.write_text(
        "Id,Full name,E-mail,Telephone,Firm,Land,Notes\n"
        "L1,Ida Berg,ida@berg.example,,Berg IT,DE,\n"
        "L1,Jan Kurz,jan@kurz.example,,Kurz Systems,DE,\n"
    )
    website = import_leads(
        live, str(REPO_ROOT / "tests/data/leads/website-leads.toml"), pipeline=routed
    )

    assert [bad.reason for bad in olist.bad_rows + website.bad_rows] == [
        f"'{FIRST}' is already on line 2",
        "'L1' is already on line 2",
    ]


def test_the_report_gives_win_figures_and_says_what_it_cannot(pipeline, now):
    _import(OWNED, pipeline)

    report = lead_report(pipeline)
    text = "\n".join(report.lines())

    assert (report.leads, report.won, report.lost) == (12, 4, 0)
    assert report.won_before_contact == 1
    assert "won: 4 of 12 (33.3%)" in text
    assert "(empty)" in text and "unknown" in text
    assert "response times cannot be measured" in text
    assert "Only won deals are listed" in text


def test_the_real_olist_files(pipeline, now):
    if not (REAL / LEADS_FILE).is_file():
        pytest.skip(f"the Olist files are not at {REAL} (CI has them)")

    report = _import(REAL, pipeline)

    assert report.committed, report.lines()[-20:]
    assert (report.leads_created, report.deals_created) == (8000, 842)
    assert report.warnings["origin empty, kept empty (apart from 'unknown')"] == 60
    mangled = {
        k: v for k, v in report.warnings.items() if k.startswith("average_stock")
    }
    assert sum(mangled.values()) > 0
    figures = lead_report(pipeline)
    assert figures.won == 842 and f"{figures.win_rate:.1%}" == "10.5%"
    assert figures.won_before_contact == 1
    assert dict((r.source, r.leads) for r in figures.sources)["unknown"] == 1099


@pytest.mark.parametrize(
    ("column", "cell", "reason"),
    [
        ("has_company", "TRUE" * 1000, "is not TRUE or FALSE"),
        ("declared_monthly_revenue", "9" * 1000 + "x", "is not a number"),
        (
            "declared_monthly_revenue",
            "9" * 1000,
            "is too large: the most it holds is 999999999999.99 (12 digits before "
            "the decimal point)",
        ),
        ("mql_id", "f" * 1000, f"is not in {LEADS_FILE}"),
    ],
)
def test_a_long_cell_of_the_closed_deals_is_quoted_by_its_first_60_characters(
    pipeline, now, tmp_path, column, cell, reason
):
    folder = _owned_copy(tmp_path)
    header, first, *rest = (folder / DEALS_FILE).read_text().splitlines()
    fields = first.split(",")
    fields[DEAL_COLUMNS.index(column)] = cell
    (folder / DEALS_FILE).write_text("\r\n".join([header, ",".join(fields), *rest]))

    report = _import(folder, pipeline)

    assert [str(bad) for bad in report.bad_rows] == [
        f"{DEALS_FILE} line 2: {column}: {cell[:59] + '…'!r} {reason}"
    ]


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("NaN", "'NaN' is not a number"),
        ("Infinity", "'Infinity' is not a number"),
        ("-5", "'-5' is negative; amounts must be zero or more"),
        (
            "1000000000000000",
            "'1000000000000000' is too large: the most it holds is "
            "999999999999.99 (12 digits before the decimal point)",
        ),
        ("12.345", "'12.345' has more than 2 decimal places"),
    ],
)
def test_a_declared_revenue_that_is_no_amount_is_a_bad_row_not_a_crash(
    pipeline, now, tmp_path, cell, reason
):
    folder = _owned_copy(tmp_path)
    header, first, *rest = (folder / DEALS_FILE).read_text().splitlines()
    fields = first.split(",")
    fields[DEAL_COLUMNS.index("declared_monthly_revenue")] = cell
    (folder / DEALS_FILE).write_text("\r\n".join([header, ",".join(fields), *rest]))

    report = _import(folder, pipeline)

    assert [str(bad) for bad in report.bad_rows] == [
        f"{DEALS_FILE} line 2: declared_monthly_revenue: {reason}"
    ]
    assert not Lead.objects.exists()


def test_won_deals_go_to_the_first_live_stage_never_a_retired_one(pipeline, now):
    retire_the_first_stage(pipeline)

    report = _import(OWNED, pipeline)

    assert report.committed, report.lines()
    won = Deal.objects.filter(source="olist")
    assert {deal.stage.key for deal in won} == {"discovery"}
    events = StageEvent.objects.filter(to_status="won")
    assert {(e.from_stage.key, e.to_stage.key) for e in events} == {
        ("discovery", "discovery")
    }


# The end of 31 December 2017 in Berlin, the pipeline's zone, as --as-of sets it.
AS_OF = dt.datetime(2017, 12, 31, 22, 59, 59, tzinfo=dt.UTC)


def test_won_dates_and_first_contacts_after_the_clock_are_bad_rows(pipeline):
    from dealgate import timesource

    with timesource.frozen_at(AS_OF):
        report = _import(OWNED, pipeline)

    assert not report.committed and not Deal.objects.exists()
    bad = [str(row) for row in report.bad_rows]
    not_yet = (
        "has not happened yet: it is more than 2 days after the import began, "
        "2017-12-31 23:59 Europe/Berlin"
    )
    assert f"{DEALS_FILE} line 2: won_date: '26-02-2018 19:58' {not_yet}" in bad
    assert f"line 2: first_contact_date: '01-02-2018' {not_yet}" in bad
    # The four wins are all in 2018, and so are eight first contacts; one,
    # 02-01-2018, falls within the two days' grace, but its win is bad: the
    # lead is held back with it, as is one more whose first contact is
    # earlier, and the grace's warning, given only for a row written, is not.
    assert sum(row.startswith(DEALS_FILE) for row in bad) == 4
    assert report.bad_row_count == 4 + 7
    assert report.leads_held == 2
    assert not any("first_contact_date after" in text for text in report.warnings)


def test_a_date_within_two_days_after_the_clock_is_kept_and_told(pipeline):
    from dealgate import timesource

    # The latest first contact is 31-05-2018, 03:00 UTC at midnight in Sao
    # Paulo; every win is earlier.
    at = dt.datetime(2018, 5, 30, 12, 0, tzinfo=dt.UTC)
    with timesource.frozen_at(at):
        report = _import(OWNED, pipeline)

    assert report.committed, report.lines()
    assert (report.leads_created, report.deals_created) == (12, 4)
    warning = "first_contact_date after 2018-05-30 14:00 Europe/Berlin, in the future"
    assert report.warnings[f"{warning}; kept as written"] == 1


def test_the_command_as_of_2017_refuses_the_file_naming_each_future_win(
    pipeline, settings, capsys
):
    from dealgate.cli import main

    settings.AS_OF = "2017-12-31"  # as DEALGATE_AS_OF gives it
    code = main(
        [
            "import",
            "leads",
            str(OWNED / LEADS_FILE),
            "--mapping",
            "olist",
            "--pipeline",
            pipeline.key,
        ]
    )

    out = capsys.readouterr().out
    assert code != 0 and not Lead.objects.exists()
    assert (
        f"{DEALS_FILE} line 4: won_date: '11-01-2018 10:00' has not happened yet: "
        "it is more than 2 days after the import began, 2017-12-31 23:59 Europe/Berlin"
    ) in out
