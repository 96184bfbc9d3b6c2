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
from dealgate.leads.olist import DEALS_FILE, LEADS_FILE
from dealgate.leads.report import lead_report
from tests.conftest import REPO_ROOT, SHARED

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
