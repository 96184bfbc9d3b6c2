"""An export reads one snapshot: a deal changed by another session while the
file is being written appears as it was when the export began."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection

from dealgate.deals import export as deal_export_module
from dealgate.deals.export import deal_csv, deal_export
from dealgate.deals.models import Deal

T0 = dt.datetime(2026, 6, 1, 7, 30, tzinfo=dt.UTC)


def _deals(pipeline) -> list[Deal]:
    stage = pipeline.stages.get(key="inquiry")
    return [
        Deal.objects.create(
            pipeline=pipeline, stage=stage, title=f"Deal {n}", created_at=T0
        )
        for n in range(3)
    ]


def _written_while(monkeypatch, change) -> list[dict[str, str]]:
    """The export's rows, `change()` run by another session once the first
    deal is written. One row a fetch, so the others are read after it."""
    monkeypatch.setattr(deal_export_module, "CHUNK_ROWS", 1)
    lines = deal_csv(deal_export(), T0)
    written = [next(lines), next(lines)]
    change()
    written += list(lines)
    return list(csv.DictReader(io.StringIO("".join(written))))


def test_a_deal_changed_during_a_sqlite_export_is_written_as_it_was(
    pipeline, other_writer, monkeypatch
):
    deals = _deals(pipeline)

    def change() -> None:
        other_writer.execute(
            "UPDATE deals_deal SET title = 'Changed' WHERE id IN (?, ?)",
            [deals[0].pk, deals[2].pk],
        )

    rows = _written_while(monkeypatch, change)
    assert [row["title"] for row in rows] == ["Deal 0", "Deal 1", "Deal 2"]
    assert Deal.objects.filter(title="Changed").count() == 2


def test_a_deal_changed_during_a_postgresql_export_is_written_as_it_was(
    transactional_db, pipeline, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("a second session on the PostgreSQL test database")
    from tests.locking import OtherSession

    deals = _deals(pipeline)
    with OtherSession.opened() as other:

        def change() -> None:
            other.raw.execute(
                "UPDATE deals_deal SET title = 'Changed' WHERE id = ANY(%s)",
                [[deals[0].pk, deals[2].pk]],
            )

        rows = _written_while(monkeypatch, change)
    assert [row["title"] for row in rows] == ["Deal 0", "Deal 1", "Deal 2"]
    assert Deal.objects.filter(title="Changed").count() == 2


def test_the_export_reads_postgresql_in_one_repeatable_read_transaction(
    transactional_db, pipeline
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's isolation levels")
    _deals(pipeline)
    lines = deal_csv(deal_export(), T0)
    next(lines), next(lines)
    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        assert cursor.fetchone()[0] == "repeatable read"
        cursor.execute("SHOW transaction_read_only")
        assert cursor.fetchone()[0] == "on"
    list(lines)
    assert not connection.in_atomic_block
