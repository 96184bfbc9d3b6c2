"""A won deal whose row is bad in an Olist import with --skip-bad holds its
lead back with it, so the run after the row is fixed imports both: kept
archived, the lead would count as already present to every later run and
its win would never come in, the report's wins and win rate short of the
data for good (found by hap)."""

from __future__ import annotations

import shutil

from dealgate.deals.models import Deal
from dealgate.leads.imports import import_leads
from dealgate.leads.models import Lead
from dealgate.leads.olist import DEAL_COLUMNS, DEALS_FILE, LEADS_FILE
from tests.conftest import REPO_ROOT

OWNED = REPO_ROOT / "tests" / "data" / "leads" / "olist"
FIRST = "842dd48ac68c2167bc9c2530d1bf7db1"  # line 2 of the owned deals file, won


def _with_first_revenue(folder, cell: str) -> None:
    for name in (LEADS_FILE, DEALS_FILE):
        shutil.copy(OWNED / name, folder / name)
    header, first, *rest = (folder / DEALS_FILE).read_text().splitlines()
    fields = first.split(",")
    assert fields[0] == FIRST
    fields[DEAL_COLUMNS.index("declared_monthly_revenue")] = cell
    (folder / DEALS_FILE).write_text("\r\n".join([header, ",".join(fields), *rest]))


def test_a_won_row_fixed_after_skip_bad_is_imported_by_the_next_run(
    pipeline, now, tmp_path
):
    _with_first_revenue(tmp_path, "-5")
    skipped = import_leads(
        tmp_path / LEADS_FILE, "olist", pipeline=pipeline, all_or_nothing=False
    )
    assert skipped.committed and len(skipped.bad_rows) == 1
    assert skipped.leads_held == 1
    assert not Lead.objects.filter(external_id__endswith=FIRST).exists()
    assert any(
        "held back with their bad closed deal: 1" in line for line in skipped.lines()
    )
    won_before = Deal.objects.filter(status="won").count()

    _with_first_revenue(tmp_path, "500")
    again = import_leads(tmp_path / LEADS_FILE, "olist", pipeline=pipeline)

    assert again.committed, again.lines()
    assert Deal.objects.filter(status="won").count() == won_before + 1
    lead = Lead.objects.get(external_id__endswith=FIRST)
    assert lead.status == "converted" and lead.deal.status == "won"
