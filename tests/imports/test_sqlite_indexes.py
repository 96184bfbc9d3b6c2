"""SQLite: a large load builds the tables' secondary indexes once, after
writing, and a failed load leaves indexes and rows exactly as they were."""

import pytest
from django.db import connection

from dealgate.deals.models import Deal, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports import bulk, indexes
from dealgate.imports.services import import_deals
from tests.importing import (
    SMALL_HEADER,
    SMALL_MAPPING,
    SMALL_ROWS,
    make_import_pipeline,
    write_csv,
    write_mapping,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's indexes"),
]


def schema() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name IN ('deals_deal', 'deals_stageevent') ORDER BY name"
        )
        return cursor.fetchall()


@pytest.fixture
def any_size(monkeypatch):
    """Lift the indexes whatever the size of the load; record each decision."""
    monkeypatch.setattr(indexes, "REBUILD_MIN_ROWS", 0)
    decided = []
    lift = indexes.SqliteIndexes.lift

    def spy(self, expected_rows):
        decided.append((lift(self, expected_rows), len(schema())))
        return decided[-1][0]

    monkeypatch.setattr(indexes.SqliteIndexes, "lift", spy)
    return decided


def run_import(tmp_path, text, **options):
    mapping = write_mapping(tmp_path, SMALL_MAPPING)
    path = write_csv(tmp_path, SMALL_HEADER + text)
    return import_deals(path, mapping, pipeline=options.pop("pipeline"), **options)


def test_a_large_load_drops_the_secondary_indexes_and_builds_them_again(
    tmp_path, any_size
):
    before = schema()
    report = run_import(tmp_path, SMALL_ROWS, pipeline=make_import_pipeline())
    assert report.committed and Deal.objects.count() == 3
    unique = [name for name, sql in before if sql and "UNIQUE" in sql]
    # During the load only the unique and automatic indexes were left.
    assert any_size == [(True, len(unique) + sum(sql is None for _, sql in before))]
    assert schema() == before
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA integrity_check")
        assert cursor.fetchone()[0] == "ok"


def test_a_bad_row_leaves_the_indexes_and_rows_as_they_were(
    tmp_path, any_size, monkeypatch
):
    monkeypatch.setattr(indexes, "REBUILD_TABLE_SHARE", 0)
    sales = make_import_pipeline()
    run_import(tmp_path, SMALL_ROWS, pipeline=sales)
    before = schema(), Deal.objects.count(), StageEvent.objects.count()
    report = run_import(
        tmp_path,
        "D7,Nova rollout,Talking,2026-03-10,\nD8,Broken,Nowhere,,\n",
        pipeline=sales,
    )
    assert not report.committed and report.bad_row_count == 1
    assert any_size[-1][0] is True
    assert (schema(), Deal.objects.count(), StageEvent.objects.count()) == before


def test_a_write_that_fails_leaves_the_indexes_as_they_were(
    tmp_path, any_size, monkeypatch
):
    sales = make_import_pipeline()
    before = schema()

    def write_then_fail(self, deals, closes):
        raise ValidationError("the disk is full")

    monkeypatch.setattr(bulk.SqliteWriter, "write", write_then_fail)
    with pytest.raises(ValidationError):
        run_import(tmp_path, SMALL_ROWS, pipeline=sales)
    assert any_size == [(True, any_size[0][1])]
    assert schema() == before and Deal.objects.count() == 0


def test_a_small_load_into_a_large_table_keeps_its_indexes(
    tmp_path, any_size, monkeypatch
):
    sales = make_import_pipeline()
    many = "".join(f"E{n},Deal {n},Open,,\n" for n in range(20))
    run_import(tmp_path, many, pipeline=sales)
    run_import(tmp_path, SMALL_ROWS, pipeline=sales)
    # 20 rows lifted them into an empty table; 3 rows into 20 do not.
    assert [lifted for lifted, _ in any_size] == [True, False]
    assert Deal.objects.count() == 23


def triggers() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        )
        return [name for (name,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "bad row"])
def test_an_interrupt_as_the_import_rolls_back_keeps_no_deal_and_every_index(
    tmp_path, any_size, monkeypatch, dry_run
):
    # Ctrl-C landing just as the import's transaction starts its rollback,
    # before the rollback itself runs: turning autocommit back on committed
    # the load, with its indexes and the insights trigger dropped.
    sales = make_import_pipeline()
    before = schema(), triggers()
    rows = SMALL_ROWS if dry_run else SMALL_ROWS + "D8,Broken,Nowhere,,\n"

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(connection, "rollback", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_import(tmp_path, rows, pipeline=sales, dry_run=dry_run)
    monkeypatch.undo()
    assert any_size[0][0] is True
    assert (schema(), triggers()) == before
    assert "insights_deal_inserted" in before[1]
    assert not Deal.objects.exists() and not StageEvent.objects.exists()
