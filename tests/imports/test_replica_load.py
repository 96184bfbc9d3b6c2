"""PostgreSQL: an import writes with the per-row triggers off and does their
work itself: parent rows locked and checked, the insights log appended."""

import logging
from collections import Counter

import psycopg
import pytest
from django.db import connection

from dealgate.deals.models import Deal, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports import bulk, replica, services
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's replica mode"
    ),
]

MAPPING = """
source = "{source}"
loss_reason = "not-recorded"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
owner = "Rep"
value = "Amount"
stage_entered_at = "Entered"
close_date = "Closed"
[stages]
Open = "prospecting"
Talking = "engaging"
Won = {{ stage = "engaging", status = "won" }}
Lost = {{ stage = "engaging", status = "lost" }}
"""
ROWS = (
    "Id,Deal,Stage,Rep,Amount,Entered,Closed\n"
    "D1,Orbit migration,Won,alice,12000,2026-03-02,2026-04-14\n"
    "D2,Helix audit,Talking,bob,,2026-03-10,\n"
    "D3,Quasar support,Open,alice,3000,,\n"
    "D4,Nova rollout,Lost,bob,500,2026-02-01,2026-02-20\n"
)
# Setting the role as a role without the privilege fails as it would for an
# application's ordinary database user; the savepoint takes the role back.
REFUSED = "SET LOCAL ROLE pg_monitor; " + replica._TRY_REPLICA


def run_import(tmp_path, pipeline, source="crm", **options):
    mapping = write_mapping(tmp_path, MAPPING.format(source=source), f"{source}.toml")
    path = write_csv(tmp_path, ROWS, f"{source}.csv")
    return import_deals(path, mapping, pipeline=pipeline, **options)


def replication_role() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('session_replication_role')")
        return cursor.fetchone()[0]


def insights_changes() -> Counter:
    """The change log's rows, without their ids and sources."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, sign, pipeline_id, day, status, stage_id, loss_reason, "
            "currency, owner_id, product_id, value, dated, cycle_days "
            "FROM insights_dealchange"
        )
        return Counter(cursor.fetchall())


@pytest.fixture
def used(monkeypatch):
    """Whether each import's ReplicaLoad switched replica mode on."""
    outcomes = []
    start = replica.ReplicaLoad.start

    def spy(self, written):
        outcomes.append(start(self, written))
        return outcomes[-1]

    monkeypatch.setattr(replica.ReplicaLoad, "start", spy)
    return outcomes


def test_the_load_skips_the_row_triggers_and_logs_insights_as_they_would(
    tmp_path, alice, bob, used, monkeypatch
):
    sales = make_import_pipeline()
    run_import(tmp_path, sales, source="replica")
    by_replica = insights_changes()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM insights_dealchange")

    monkeypatch.setattr(replica, "_TRY_REPLICA", REFUSED)
    report = run_import(tmp_path, sales, source="triggers")

    assert used == [True, False]
    assert report.committed and Deal.objects.count() == 8
    assert by_replica == insights_changes()
    assert sum(by_replica.values()) == 5  # two closed deals, three entered
    assert replication_role() == "origin"


def test_without_the_privilege_the_import_keeps_the_row_triggers_and_says_so(
    tmp_path, alice, bob, used, monkeypatch, caplog
):
    monkeypatch.setattr(replica, "_TRY_REPLICA", REFUSED)
    with caplog.at_level(logging.INFO, logger="dealgate.imports"):
        report = run_import(tmp_path, make_import_pipeline())
    assert used == [False]
    assert report.committed and Deal.objects.count() == 4
    refusals = [r for r in caplog.messages if "session_replication_role" in r]
    assert len(refusals) == 1 and "row by row" in refusals[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] != "pg_monitor"


def test_an_insert_trigger_it_does_not_know_keeps_the_row_triggers(
    tmp_path, alice, bob, used, caplog
):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE seen_events (n int)")
        cursor.execute(
            "CREATE FUNCTION pg_temp.count_event() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN INSERT INTO seen_events VALUES (1); RETURN NULL; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER audit_events AFTER INSERT ON deals_stageevent "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.count_event()"
        )
    with caplog.at_level(logging.INFO, logger="dealgate.imports"):
        run_import(tmp_path, make_import_pipeline())
    assert used == [False]
    assert "insert trigger audit_events" in caplog.text
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM seen_events")
        assert cursor.fetchone()[0] == StageEvent.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_key_naming_no_row_refuses_the_import_and_keeps_nothing(
    tmp_path, alice, bob, used, monkeypatch
):
    adapt = bulk.PostgresWriter.adapt

    def adapt_wrongly(self, deal):
        if deal[bulk.EXTERNAL_ID] == "D3":
            deal[bulk.OWNER] = 987654
        adapt(self, deal)

    monkeypatch.setattr(bulk.PostgresWriter, "adapt", adapt_wrongly)
    sales = make_import_pipeline()
    with pytest.raises(ValidationError) as caught:
        run_import(tmp_path, sales)
    assert used == [True]
    assert str(caught.value).startswith("deal 'D3' (id ")
    assert "owner_id 987654 names no row of accounts_user; nothing was imported" in (
        str(caught.value)
    )
    assert caught.value.field == "owner_id"
    assert Deal.objects.count() == 0 and StageEvent.objects.count() == 0
    assert replication_role() == "origin"


@pytest.mark.django_db(transaction=True)
def test_a_named_parent_cannot_be_deleted_under_the_import_but_stays_usable(
    tmp_path, alice, bob, used, monkeypatch
):
    """What the key triggers' locks do: a signed-in page can read and update
    its user while the import runs; deleting a user the import names waits."""
    sales = make_import_pipeline()
    seen = {}
    write = bulk.PostgresWriter.write

    def write_then_look(self, deals, closes):
        write(self, deals, closes)
        with psycopg.connect(**connection.get_connection_params()) as other:
            other.execute("SET lock_timeout = '300ms'")
            seen["read"] = other.execute(
                "SELECT COUNT(*) FROM accounts_user u JOIN pipelines_stage s "
                "ON true WHERE u.id = %s",
                (alice.pk,),
            ).fetchone()[0]
            other.execute(
                "UPDATE accounts_user SET last_login = now() WHERE id = %s",
                (alice.pk,),
            )
            other.commit()
            try:
                other.execute("DELETE FROM accounts_user WHERE id = %s", (bob.pk,))
            except psycopg.errors.LockNotAvailable:
                seen["delete"] = "waits"
            other.rollback()
            seen["locks"] = other.execute(
                "SELECT DISTINCT l.mode FROM pg_locks l "
                "JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid <> pg_backend_pid() AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND c.relname IN "
                "('accounts_user', 'pipelines_stage', 'pipelines_pipeline')"
            ).fetchall()

    monkeypatch.setattr(bulk.PostgresWriter, "write", write_then_look)
    report = run_import(tmp_path, sales)
    assert used == [True] and report.committed
    assert seen["read"] > 0 and seen["delete"] == "waits"
    assert {mode for (mode,) in seen["locks"]} <= {"AccessShareLock", "RowShareLock"}


class _CountingCursor:
    """A cursor that counts the rows its FOR KEY SHARE statements asked for."""

    def __init__(self, cursor, asked: Counter) -> None:
        self._cursor, self._asked = cursor, asked

    def execute(self, sql, params=()):
        if "FOR KEY SHARE" in sql:
            table = sql.split(" FROM ", 1)[1].split()[0].strip('"')
            self._asked.update({table: len(params[0])})
        return self._cursor.execute(sql, params)


def test_each_parent_row_is_locked_once_however_many_batches_name_it(
    tmp_path, alice, bob, used, monkeypatch
):
    asked: Counter = Counter()
    lock_parents = replica.ReplicaLoad.lock_parents

    def counting(self, cursor, *args, **kwargs):
        return lock_parents(self, _CountingCursor(cursor, asked), *args, **kwargs)

    monkeypatch.setattr(replica.ReplicaLoad, "lock_parents", counting)
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    report = run_import(tmp_path, make_import_pipeline())
    assert used == [True] and report.committed and Deal.objects.count() == 4
    # Four batches of one deal: one pipeline, two owners, two stages.
    assert asked["pipelines_pipeline"] == 1
    assert asked["accounts_user"] == 2
    assert asked["pipelines_stage"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_key_naming_no_row_in_a_later_batch_still_refuses_the_import(
    tmp_path, alice, bob, used, monkeypatch
):
    adapt = bulk.PostgresWriter.adapt

    def adapt_wrongly(self, deal):
        if deal[bulk.EXTERNAL_ID] == "D4":
            deal[bulk.OWNER] = 987654
        adapt(self, deal)

    monkeypatch.setattr(bulk.PostgresWriter, "adapt", adapt_wrongly)
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    with pytest.raises(ValidationError) as caught:
        run_import(tmp_path, make_import_pipeline())
    assert used == [True]
    assert "owner_id 987654 names no row of accounts_user" in str(caught.value)
    assert Deal.objects.count() == 0 and StageEvent.objects.count() == 0
