"""PostgreSQL: after a kept import the planner's statistics of the tables
it wrote are gathered, so the first pages after a first import are not
planned for empty tables."""

from __future__ import annotations

import pytest
from django.db import connection

from dealgate.cli import main
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's planner statistics"
    ),
]

MAPPING = """
source = "crm"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
[stages]
Open = "prospecting"
"""


def _analyzed_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", (table,))
        return cursor.fetchone()[0]


def test_the_command_gathers_statistics_of_what_it_wrote(tmp_path, alice):
    make_import_pipeline()
    mapping = write_mapping(tmp_path, MAPPING)
    rows = "".join(f"D{n},Deal {n},Open\n" for n in range(300))
    path = write_csv(tmp_path, "Id,Deal,Stage\n" + rows)

    assert main(["import", "deals", str(path), "--mapping", str(mapping)]) == 0

    # reltuples is -1 (never analyzed) or 0 until statistics are gathered.
    assert _analyzed_rows("deals_deal") == 300


def test_a_dry_run_gathers_nothing(tmp_path, alice):
    make_import_pipeline()
    mapping = write_mapping(tmp_path, MAPPING)
    path = write_csv(tmp_path, "Id,Deal,Stage\nD1,Deal,Open\n")
    before = _analyzed_rows("deals_deal")

    assert (
        main(["import", "deals", str(path), "--mapping", str(mapping), "--dry-run"])
        == 0
    )

    assert _analyzed_rows("deals_deal") == before
