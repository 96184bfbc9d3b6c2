"""PostgreSQL: an exclusive large load, or any large load into tables that
hold no deals, builds the tables' secondary indexes once, after writing; a
failed load leaves indexes and rows as they were, and an ordinary import
into tables that hold deals never drops an index."""

import logging

import psycopg
import pytest
from django.db import connection

from dealgate.deals.models import Deal, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports import bulk, foreignkeys, indexes
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
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's indexes"
    ),
]


SCHEMA = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
    "('deals_deal', 'deals_stageevent') ORDER BY 1"
)


def schema() -> list[tuple[str, str, bool]]:
    """Each index's name, columns and whether it is partial. PostgreSQL
    prints a rebuilt partial index's condition in an equivalent spelling
    (an IN list comes back as an ARRAY of casts), so the text is not
    compared whole."""
    with connection.cursor() as cursor:
        cursor.execute(SCHEMA)
        return [(name, *_columns(definition)) for name, definition in cursor.fetchall()]


def _columns(definition: str) -> tuple[str, bool]:
    columns, where, _ = definition.partition(" WHERE ")
    return columns, bool(where)


@pytest.fixture
def any_size(monkeypatch):
    """Drop keys and indexes whatever the size of the load; record, for each
    import, whether the indexes went and how many were left for the COPY."""
    monkeypatch.setattr(foreignkeys, "REBUILD_MIN_ROWS", 0)
    monkeypatch.setattr(foreignkeys, "REBUILD_TABLE_SHARE", 0)
    monkeypatch.setattr(indexes, "REBUILD_MIN_ROWS", 0)
    with connection.cursor() as cursor:
        # The planner's row count, which the decisions read, is kept outside
        # transactions: an earlier test's index build may have left its own.
        cursor.execute("ANALYZE deals_deal")
    decided = []
    write = bulk.PostgresWriter._write

    def spy(self, deals, closes):
        # On the import's own connection: the copy runs in a thread of its
        # own, where Django would open another one.
        seen = self.raw.execute(SCHEMA).fetchall()
        decided.append((bool(self.indexes.lifted), len(seen)))
        write(self, deals, closes)

    monkeypatch.setattr(bulk.PostgresWriter, "_write", spy)
    return decided


def run_import(tmp_path, text, **options):
    mapping = write_mapping(tmp_path, SMALL_MAPPING)
    path = write_csv(tmp_path, SMALL_HEADER + text)
    return import_deals(path, mapping, pipeline=options.pop("pipeline"), **options)


def test_an_exclusive_large_load_builds_the_secondary_indexes_again(tmp_path, any_size):
    before = schema()
    report = run_import(
        tmp_path, SMALL_ROWS, pipeline=make_import_pipeline(), exclusive=True
    )
    assert report.committed and Deal.objects.count() == 3
    # During the load only the primary keys and the unique index were left.
    unique = [name for name, definition, _ in before if "UNIQUE" in definition]
    assert any_size == [(True, len(unique))]
    assert len(unique) == 3
    assert schema() == before


def test_an_ordinary_import_into_tables_with_deals_keeps_every_index(
    tmp_path, any_size
):
    sales = make_import_pipeline()
    run_import(tmp_path, "E1,Older deal,Open,,\n", pipeline=sales)
    before = schema()
    report = run_import(tmp_path, SMALL_ROWS, pipeline=sales)
    assert report.committed
    assert any_size[-1] == (False, len(before))
    assert schema() == before


def test_an_ordinary_large_load_into_empty_tables_builds_the_indexes_again(
    tmp_path, any_size
):
    before = schema()
    report = run_import(tmp_path, SMALL_ROWS, pipeline=make_import_pipeline())
    assert report.committed and report.deals_created == 3
    # Only the primary keys and the unique external id stay for the COPY.
    assert any_size == [(True, 3)]
    assert schema() == before
    assert Deal.objects.filter(external_id="D1").exists()


def test_a_first_import_keeps_the_indexes_once_a_lead_came_in(tmp_path, any_size):
    from django.utils import timezone

    from dealgate.leads.models import Lead

    sales = make_import_pipeline()
    # A lead form in use: its captures look for open deals, and must not
    # wait for the import's locks.
    Lead.objects.create(pipeline=sales, channel="web", created_at=timezone.now())
    before = schema()
    report = run_import(tmp_path, SMALL_ROWS, pipeline=sales)
    assert report.committed
    assert any_size == [(False, len(before))]


@pytest.mark.django_db(transaction=True)
def test_an_ordinary_load_keeps_the_indexes_when_a_reader_holds_the_tables(
    tmp_path, any_size, monkeypatch, caplog
):
    monkeypatch.setattr(indexes, "LOCK_TIMEOUT", "20ms")
    sales = make_import_pipeline()
    before = schema()
    with psycopg.connect(**connection.get_connection_params()) as reader:
        # A reader in the middle of a transaction holds a share lock.
        reader.execute("SELECT COUNT(*) FROM deals_deal").fetchone()
        with caplog.at_level(logging.INFO, logger="dealgate.imports"):
            report = run_import(tmp_path, SMALL_ROWS, pipeline=sales)
    assert report.committed and report.deals_created == 3
    assert any_size == [(False, len(before))]
    assert "the deals tables are busy" in caplog.text
    assert "their indexes are kept" in caplog.text


def test_rows_written_before_the_lock_keep_the_indexes_and_free_the_tables(
    tmp_path, any_size, monkeypatch
):
    # Empty at the first look, holding a deal or a lead once locked: another
    # transaction committed one in between.
    answers = iter([False, True])
    looked = []

    def any_rows(self, also=()):
        looked.append(tuple(also))
        return next(answers)

    monkeypatch.setattr(indexes.PostgresIndexes, "_any_rows", any_rows)
    held = []
    lift = indexes.PostgresIndexes.lift_into_empty

    def spy(self, expected_rows, also_empty=()):
        lifted = lift(self, expected_rows, also_empty)
        held.append(
            self.cursor.execute(
                "SELECT COUNT(*) FROM pg_locks WHERE pid = pg_backend_pid() "
                "AND mode = 'AccessExclusiveLock' "
                "AND relation = 'deals_deal'::regclass"
            ).fetchone()[0]
        )
        return lifted

    monkeypatch.setattr(indexes.PostgresIndexes, "lift_into_empty", spy)
    before = schema()
    report = run_import(tmp_path, SMALL_ROWS, pipeline=make_import_pipeline())
    assert report.committed
    assert any_size == [(False, len(before))]
    # Rolled back to before the lock: the board can read the deals again.
    assert held == [0]
    # Both looks include the leads: a lead captured while the import waited
    # for its lock counts too.
    assert looked == [("leads_lead",), ("leads_lead",)]


def _become_a_writer_that_owns_nothing() -> None:
    """The app's role, not the tables' owner: it may write rows and lock the
    tables, not drop their keys or indexes. Rolled back with the test."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE dealgate_test_writer")
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
            "TO dealgate_test_writer"
        )
        cursor.execute(
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public "
            "TO dealgate_test_writer"
        )
        cursor.execute("SET LOCAL ROLE dealgate_test_writer")


@pytest.mark.parametrize("exclusive", [False, True])
def test_a_role_that_may_not_drop_keys_or_indexes_imports_with_them(
    tmp_path, any_size, caplog, exclusive
):
    sales = make_import_pipeline()
    before = schema()
    _become_a_writer_that_owns_nothing()
    with caplog.at_level(logging.INFO, logger="dealgate.imports"):
        report = run_import(tmp_path, SMALL_ROWS, pipeline=sales, exclusive=exclusive)
    assert report.committed and report.deals_created == 3
    assert any_size == [(False, len(before))]
    if exclusive:
        assert "may not drop the deals tables' foreign keys" in caplog.text
    assert "may not drop the deals tables' indexes" in caplog.text
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    assert schema() == before


def test_a_rebuilt_index_keeps_its_comment_statistics_and_cluster_mark(
    tmp_path, any_size
):
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX ops_title ON deals_deal (lower(title))")
        cursor.execute("COMMENT ON INDEX ops_title IS 'the operators'' own'")
        cursor.execute("ALTER INDEX ops_title ALTER COLUMN 1 SET STATISTICS 500")
        cursor.execute("ALTER TABLE deals_deal CLUSTER ON deal_board")
    report = run_import(tmp_path, SMALL_ROWS, pipeline=make_import_pipeline())
    assert report.committed and any_size[0][0] is True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT obj_description('ops_title'::regclass, 'pg_class'), "
            "(SELECT attstattarget FROM pg_attribute "
            "WHERE attrelid = 'ops_title'::regclass AND attnum = 1), "
            "(SELECT indisclustered FROM pg_index "
            "WHERE indexrelid = 'deal_board'::regclass)"
        )
        assert cursor.fetchone() == ("the operators' own", 500, True)


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
        exclusive=True,
    )
    assert not report.committed and report.bad_row_count == 1
    assert any_size[-1][0] is True
    assert (schema(), Deal.objects.count(), StageEvent.objects.count()) == before


def test_a_write_that_fails_leaves_the_indexes_as_they_were(
    tmp_path, any_size, monkeypatch
):
    before = schema()

    def write_then_fail(self, deals, closes):
        raise ValidationError("the disk is full")

    monkeypatch.setattr(bulk.PostgresWriter, "_write", write_then_fail)
    with pytest.raises(ValidationError, match="the disk is full"):
        run_import(
            tmp_path, SMALL_ROWS, pipeline=make_import_pipeline(), exclusive=True
        )
    assert schema() == before and Deal.objects.count() == 0


def test_a_small_exclusive_load_into_a_large_table_keeps_its_indexes(
    tmp_path, any_size
):
    sales = make_import_pipeline()
    many = "".join(f"E{n},Deal {n},Open,,\n" for n in range(20))
    run_import(tmp_path, many, pipeline=sales, exclusive=True)
    with connection.cursor() as cursor:
        # The planner's row count, which the decision reads.
        cursor.execute("ANALYZE deals_deal")
    run_import(tmp_path, SMALL_ROWS, pipeline=sales, exclusive=True)
    # 20 rows lifted them from an empty table; 3 rows into 20 do not.
    assert [lifted for lifted, _ in any_size] == [True, False]
    assert Deal.objects.count() == 23
