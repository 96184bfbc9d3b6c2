"""docs/insights.md keeps up with the code: every definition and metric."""

from __future__ import annotations

from dealgate.insights import reports
from dealgate.insights import review as rv
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "insights.md").read_text(encoding="utf-8")


def test_every_definition_on_the_page_is_in_the_docs():
    for term, _ in reports.DEFINITIONS:
        assert f"**{term}" in DOC, term


def test_every_review_metric_is_in_the_docs():
    for metric in rv.METRICS:
        assert f"| {metric.label} |" in DOC, metric.label
