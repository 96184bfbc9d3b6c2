"""An import records history and passes no gate; the docs say so plainly."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal
from dealgate.deals.services import check_move
from dealgate.imports.services import import_deals
from tests.conftest import NOW, REPO_ROOT
from tests.importing import (
    SMALL_HEADER,
    SMALL_MAPPING,
    make_import_pipeline,
    write_csv,
    write_mapping,
)

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
MAPPING_DOC = (REPO_ROOT / "docs" / "import-mapping.md").read_text(encoding="utf-8")


@pytest.fixture
def gated(db):
    """Won needs a signature, leaving prospecting a call; no skipping; the
    only loss reason needs a note."""
    pipeline = make_import_pipeline(
        loss_reasons=[{"key": "other", "label": "Other", "needs_note": True}]
    )
    pipeline.won_criteria = [{"label": "Signed", "rule": "deal.custom.signed == true"}]
    pipeline.save()
    pipeline.stages.filter(key="prospecting").update(
        exit_criteria={
            "mode": "all",
            "items": [{"label": "Call held", "rule": "false"}],
        }
    )
    return pipeline


def test_an_imported_won_row_is_won_though_no_gate_on_its_way_is_met(gated, tmp_path):
    rows = (
        "D1,Orbit migration,Won,2026-03-02,2026-04-14,\n"
        "D2,Helix audit,Lost,2026-03-10,2026-04-20,Went quiet\n"
    )
    mapping = SMALL_MAPPING.replace('"not-recorded"', '"other"').replace(
        "[stages]", 'loss_note = "Note"\n[stages]'
    )

    report = import_deals(
        write_csv(tmp_path, SMALL_HEADER.replace("\n", ",Note\n") + rows),
        write_mapping(tmp_path, mapping),
        pipeline=gated,
    )

    assert (report.deals_created, report.bad_row_count) == (2, 0)
    won = Deal.objects.get(external_id="D1")
    lost = Deal.objects.get(external_id="D2")
    assert (won.status, won.stage.key) == ("won", "engaging")
    assert (lost.status, lost.loss_reason, lost.loss_note) == (
        "lost",
        "other",
        "Went quiet",
    )
    # A person could not have got it there: entering engaging needs
    # prospecting's exit criterion, and winning needs the signature.
    won.status = Deal.Status.OPEN
    assert check_move(won, "won", now=NOW).unmet == [
        "1 won criterion of 'Sales' is unmet: Signed"
    ]
    won.stage = gated.stages.get(key="prospecting")
    assert check_move(won, "engaging", now=NOW).unmet


def test_the_readme_no_longer_says_imports_pass_the_gates():
    assert "CLI, imports) calls the same service" not in README
    assert "An import is not a move" in README
    assert '"What an import checks"' in README


@pytest.mark.parametrize(
    "said",
    [
        "## What an import checks, and what it does not",
        "**Stage entry and exit criteria, won criteria.** No rule is evaluated",
        "**A loss reason the pipeline does not list.**",
        "loss note when the pipeline lists that reason with `needs_note = true`",
        "**Who may move a deal.**",
        "That history already happened",
    ],
)
def test_the_mapping_doc_says_what_an_import_checks_and_why(said):
    assert said in MAPPING_DOC
