"""What a lead import logs: a line for a lead only once it is kept.

These tests commit for real (transactional database), since the point is
what is said at the commit and what a rollback leaves unsaid.
"""

from __future__ import annotations

import logging
import re
import shutil

import pytest

from dealgate.leads import imports
from dealgate.leads.imports import import_leads
from dealgate.leads.models import DedupDecision, Lead
from dealgate.leads.olist import LEADS_FILE
from dealgate.leads.services import capture_lead
from tests.conftest import REPO_ROOT

from .conftest import CENTRAL_RULES, inquiry

DATA = REPO_ROOT / "tests" / "data" / "leads"
FILE, MAPPING = DATA / "website-leads.csv", str(DATA / "website-leads.toml")
OLIST = DATA / "olist"
# What a capture says about a lead or an inquiry (dealgate.leads.services).
PER_LEAD = re.compile(r"^(lead \d+ captured|inquiry via )")

pytestmark = pytest.mark.django_db(transaction=True)


def _said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "dealgate.leads"]


def _without_duration(line: str) -> str:
    return re.sub(r" in \d+\.\d\d s", " in T s", line)


def _with_bad_rows(tmp_path):
    path = tmp_path / "leads.csv"
    shutil.copy(FILE, path)
    with path.open("a") as f:
        f.write("5,Nobody,,,,DE,no way to answer\n")
    return path


def test_a_committed_import_names_each_lead_it_kept_then_sums_up(routed, now, caplog):
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        report = import_leads(FILE, MAPPING, pipeline=routed)

    anna, bert, carla = Lead.objects.order_by("external_id")
    decision = DedupDecision.objects.get()
    assert report.committed
    assert [_without_duration(line) for line in _said(caplog)] == [
        f"lead {anna.pk} captured via import, assigned to alice by rule 'DACH'",
        f"lead {bert.pk} captured via import, assigned to bob by rule 'DACH'",
        f"lead {carla.pk} captured via import, assigned to olivia by rule "
        "'everyone else'",
        f"inquiry via import attached to lead {anna.pk} (email), decision "
        f"{decision.pk}",
        f"lead import website-leads.csv (mapping website, pipeline {routed.key}) "
        "committed in T s: 4 rows read; kept 3 new leads, 1 attached to an open "
        "lead or deal, 0 won deals; 0 already present, 0 bad",
    ]


def test_an_import_rolled_back_for_a_bad_row_names_no_lead(
    routed, now, caplog, tmp_path
):
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        report = import_leads(_with_bad_rows(tmp_path), MAPPING, pipeline=routed)

    assert not report.committed and not Lead.objects.exists()
    assert [_without_duration(line) for line in _said(caplog)] == [
        f"lead import leads.csv (mapping website, pipeline {routed.key}) rolled "
        "back in T s (bad rows, all or nothing): 5 rows read, nothing kept; the "
        "good rows would have made 3 new leads, 1 attached to an open lead or "
        "deal, 0 won deals; 0 already present, 1 bad",
    ]


def test_a_dry_run_names_no_lead(routed, now, caplog):
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        report = import_leads(FILE, MAPPING, pipeline=routed, dry_run=True)

    assert not report.committed and not Lead.objects.exists()
    assert [_without_duration(line) for line in _said(caplog)] == [
        f"lead import website-leads.csv (mapping website, pipeline {routed.key}) "
        "rolled back in T s (a dry run): 4 rows read, nothing kept; the good rows "
        "would have made 3 new leads, 1 attached to an open lead or deal, 0 won "
        "deals; 0 already present, 0 bad",
    ]


def test_an_import_stopped_by_an_error_names_no_lead(routed, now, caplog, monkeypatch):
    capture = imports.capture_lead
    captured = []

    def capture_then_fail(*args, **kwargs):
        if len(captured) == 2:
            raise RuntimeError("the database went away")
        captured.append(capture(*args, **kwargs))
        return captured[-1]

    monkeypatch.setattr(imports, "capture_lead", capture_then_fail)
    with (
        caplog.at_level(logging.INFO, logger="dealgate.leads"),
        pytest.raises(RuntimeError),
    ):
        import_leads(FILE, MAPPING, pipeline=routed)

    assert len(captured) == 2 and not Lead.objects.exists()
    assert _said(caplog) == []


def test_skipping_bad_rows_names_only_the_leads_kept(routed, now, caplog, tmp_path):
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        import_leads(
            _with_bad_rows(tmp_path), MAPPING, pipeline=routed, all_or_nothing=False
        )

    named = {
        int(line.split()[1])
        for line in _said(caplog)
        if line.startswith("lead ") and " captured " in line
    }
    assert named == set(Lead.objects.values_list("pk", flat=True))
    assert len(named) == 3
    assert "committed in" in _said(caplog)[-1] and _said(caplog)[-1].endswith(
        "0 already present, 1 bad"
    )


def test_a_second_run_names_the_lead_each_row_repeats(routed, now, caplog):
    import_leads(FILE, MAPPING, pipeline=routed)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        import_leads(FILE, MAPPING, pipeline=routed)

    anna, bert, carla = Lead.objects.order_by("external_id")
    # Row 4 was attached to Anna's lead by the first run.
    assert _said(caplog)[:-1] == [
        f"inquiry via import repeats lead {lead.pk} by external id"
        for lead in (anna, bert, carla, anna)
    ]


def test_a_live_capture_is_logged_as_it_is_committed(routed, now, caplog):
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        result = capture_lead(inquiry(), source="api")
        said_at_once = _said(caplog)

    assert said_at_once == [
        f"lead {result.lead.pk} captured via api, assigned to alice by rule 'DACH'"
    ]


def test_a_capture_no_rule_could_place_says_why_in_words(
    pipeline, alice, bob, now, caplog
):
    # Only the DACH rule, without the fallback.
    pipeline.settings = {"routing": CENTRAL_RULES[:1]}
    pipeline.save()
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        result = capture_lead(inquiry(country="FR"), source="api")

    assert _said(caplog) == [
        f"lead {result.lead.pk} captured via api, not assigned: no routing rule "
        "matches this lead"
    ]


def test_a_capture_in_a_pipeline_without_rules_says_so(pipeline, now, caplog):
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        result = capture_lead(inquiry(), source="api")

    [line] = _said(caplog)
    assert line == (
        f"lead {result.lead.pk} captured via api, not assigned: pipeline "
        f"{pipeline.key} has no routing rules; waiting for a manager"
    )
    assert "None" not in line


def test_a_form_submission_is_logged(client, routed, now, caplog):
    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        client.post(f"/leads/form/{routed.key}/", inquiry())

    lead = Lead.objects.get()
    assert _said(caplog) == [
        f"lead {lead.pk} captured via form, assigned to alice by rule 'DACH'"
    ]


def test_a_rolled_back_olist_import_says_it_kept_nothing(
    pipeline, now, caplog, tmp_path
):
    for name in (LEADS_FILE, "olist_closed_deals_dataset.csv"):
        shutil.copy(OLIST / name, tmp_path / name)

    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        import_leads(tmp_path / LEADS_FILE, "olist", pipeline=pipeline, dry_run=True)
        import_leads(tmp_path / LEADS_FILE, "olist", pipeline=pipeline)

    dry, kept = (_without_duration(line) for line in _said(caplog))
    assert dry.endswith(
        "rolled back in T s (a dry run): 12 rows read, nothing kept; the good rows "
        "would have made 12 new leads, 0 attached to an open lead or deal, 4 won "
        "deals; 0 already present, 0 bad"
    )
    assert kept.endswith(
        "committed in T s: 12 rows read; kept 12 new leads, 0 attached to an open "
        "lead or deal, 4 won deals; 0 already present, 0 bad"
    )
    assert not any(PER_LEAD.match(line) for line in _said(caplog))
