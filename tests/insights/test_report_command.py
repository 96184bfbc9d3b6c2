"""`dealgate report`: the pages' figures in a terminal, and one table as CSV."""

from __future__ import annotations

import re

import pytest

from dealgate import cli, timesource
from tests.conftest import NOW

from .conftest import walk

pytestmark = pytest.mark.django_db


def run(capsys, *args: str) -> tuple[int, str, str]:
    with timesource.frozen_at(NOW):
        status = cli.main(["report", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_overview_prints_the_same_tables_as_the_page(capsys, pipeline, alice):
    walk(pipeline, ["inquiry", "discovery", "won"], owner=alice)
    walk(pipeline, ["inquiry", "lost"], owner=alice)

    status, out, _ = run(capsys, "--period", "all")

    assert status == 0
    assert "Conversion: the funnel" in out
    assert re.search(r"Inquiry received +2 +1 +50\.0% +1 +0\n", out)
    assert "Alice Rep" in out
    assert "- Conversion: Of the deals that entered" in out


def test_the_bottlenecks_and_review_pages_print_too(capsys, pipeline):
    walk(pipeline, ["inquiry"])

    _, bottlenecks, _ = run(capsys, "bottlenecks")
    _, review, _ = run(capsys, "review", "--metric", "new_deals")

    assert "Width: each stage's share of the open deals" in bottlenecks
    assert "Stages missing a rule" in bottlenecks
    assert "New deals, week by week" in review


def test_one_table_prints_as_csv(capsys, pipeline):
    walk(pipeline, ["inquiry", "won"])

    status, out, _ = run(capsys, "--period", "all", "--csv", "funnel")

    assert status == 0
    assert out.splitlines()[1] == "Inquiry received,1,1,100.0,0,0"


def test_a_wrong_filter_is_one_line_naming_it(capsys, pipeline):
    status, _, err = run(capsys, "--owner", "nobody")

    assert status == 2
    assert err.strip() == "dealgate: no user 'nobody'"
