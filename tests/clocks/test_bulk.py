"""The raw statements under the sweep and the hot inserts: array literals,
where_in, insert and insert_unless_taken."""

import datetime as dt

import pytest
from django.db import connection

from dealgate.clocks import bulk

pytestmark = pytest.mark.django_db

AWARE = dt.datetime(2026, 3, 29, 0, 30, 15, 250, tzinfo=dt.UTC)
TRICKY = ["plain", "with, comma", 'a "quote"', "back\\slash", "{brace}", "NULL", ""]


def test_array_literal_quotes_every_character_that_means_something_to_postgres():
    assert bulk.pg_array([1, 22, None]) == "{1,22,NULL}"
    assert bulk.pg_array([True, False]) == "{t,f}"
    assert bulk.pg_array(['say "hi", \\o/']) == '{"say \\"hi\\", \\\\o/"}'


def test_array_literal_refuses_a_naive_instant():
    with pytest.raises(ValueError, match="no time zone"):
        bulk.pg_array([dt.datetime(2026, 1, 1)])


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="array literals are PostgreSQL's"
)
def test_array_literals_read_back_as_the_values_they_were_made_from():
    rows, _ = bulk.run(
        "SELECT %s::text[], %s::bigint[], %s::timestamptz[], %s::boolean[]",
        [
            bulk.pg_array(TRICKY),
            bulk.pg_array([1, None, 2**40]),
            bulk.pg_array([AWARE, None]),
            bulk.pg_array([True, False, None]),
        ],
    )
    assert rows == [(TRICKY, [1, None, 2**40], [AWARE, None], [True, False, None])]


def test_where_in_selects_every_id_and_no_other(django_user_model):
    users = [django_user_model.objects.create(username=f"u{n}") for n in range(5)]
    wanted = [users[0].pk, users[3].pk, users[4].pk]
    found = set()
    table = connection.ops.quote_name(django_user_model._meta.db_table)
    for condition, params, count in bulk.where_in("id", wanted):
        rows, _ = bulk.run(f"SELECT id FROM {table} WHERE {condition}", params)
        assert len(rows) == count
        found |= {row[0] for row in rows}
    assert found == set(wanted)


def test_insert_writes_the_row_as_save_would_and_sends_its_signals(django_user_model):
    from django.db.models import signals

    from dealgate.accounts.models import Team

    seen = []

    def record(sender, instance, **kwargs):
        seen.append((kwargs["signal"], instance.pk, kwargs.get("created")))

    signals.pre_save.connect(record, sender=Team)
    signals.post_save.connect(record, sender=Team)
    try:
        team = Team(name="North")
        bulk.insert(team)
    finally:
        signals.pre_save.disconnect(record, sender=Team)
        signals.post_save.disconnect(record, sender=Team)

    assert team.pk is not None and not team._state.adding
    assert Team.objects.get(pk=team.pk).name == "North"
    assert seen == [(signals.pre_save, None, None), (signals.post_save, team.pk, True)]


def test_insert_unless_taken_skips_a_second_running_clock_with_the_same_key(
    pipeline, alice
):
    from dealgate.clocks.models import Clock
    from dealgate.deals.models import Deal

    deal = Deal.objects.create(
        pipeline=pipeline, stage=pipeline.stages.first(), title="Acme", owner=alice
    )

    def clock() -> Clock:
        return Clock(
            kind=Clock.Kind.NEXT_STEP,
            key=f"deal:{deal.pk}:test",
            pipeline=pipeline,
            deal=deal,
            started_at=AWARE,
            due_at=AWARE + dt.timedelta(days=3),
            late_after=AWARE + dt.timedelta(days=3),
            window_minutes=60,
        )

    first, second = clock(), clock()

    assert bulk.insert_unless_taken(first) is True
    assert bulk.insert_unless_taken(second) is False
    assert second.pk is None
    assert Clock.objects.filter(key=f"deal:{deal.pk}:test").count() == 1


def test_read_builds_instances_as_the_orm_does_with_the_extra_columns(pipeline):
    from dealgate.pipelines.models import Pipeline

    fields, select = bulk.columns(Pipeline, "p")
    table = connection.ops.quote_name(Pipeline._meta.db_table)

    ((found, extra),) = bulk.read(
        Pipeline,
        fields,
        f"SELECT {select}, 7 FROM {table} p WHERE p.id = %s",
        [pipeline.pk],
    )

    expected = Pipeline.objects.get(pk=pipeline.pk)
    for field in Pipeline._meta.concrete_fields:
        name = field.attname
        assert getattr(found, name) == getattr(expected, name), name
    assert extra == (7,)
    assert not found._state.adding


def test_read_leaves_fields_not_read_to_load_on_first_use(pipeline):
    from dealgate.pipelines.models import Pipeline

    fields, select = bulk.columns(Pipeline, "p", ["id", "key"])
    table = connection.ops.quote_name(Pipeline._meta.db_table)

    ((found, _),) = bulk.read(Pipeline, fields, f"SELECT {select} FROM {table} p", [])

    assert found.get_deferred_fields() >= {"calendar", "settings"}
    assert found.calendar == pipeline.calendar


def test_columns_names_the_fields_a_model_lacks():
    from dealgate.pipelines.models import Pipeline

    with pytest.raises(ValueError, match=r"Pipeline has no fields \['colour'\]"):
        bulk.columns(Pipeline, "p", ["id", "colour"])


def test_sqlite_values_are_stored_as_the_orm_stores_them():
    berlin = dt.timezone(dt.timedelta(hours=2))
    assert bulk._sqlite_value(AWARE) == "2026-03-29 00:30:15.000250"
    assert bulk._sqlite_value(AWARE.astimezone(berlin)) == "2026-03-29 00:30:15.000250"
    assert bulk._sqlite_value("text") == "text"
    assert bulk._sqlite_value(None) is None


def test_insert_linked_gives_each_child_the_parents_new_id_and_runs_then(pipeline):
    from dealgate.accounts.models import Team
    from dealgate.pipelines.models import Pipeline, Stage

    other = Team.objects.create(name="Other")
    parent = Pipeline(key="linked", name="Linked")
    first = Stage(name="First", position=0)
    second = Stage(name="Second", position=1)
    table = connection.ops.quote_name(Team._meta.db_table)

    bulk.insert_linked(
        parent,
        [
            (first, {"pipeline_id": bulk.PARENT_ID, "key": "first-of-{}"}),
            # Quotes and percent signs in a template are text, not SQL.
            (second, {"pipeline_id": bulk.PARENT_ID, "key": "it's 100% {}"}),
        ],
        (f"UPDATE {table} SET name = %s WHERE id = %s", ["Renamed", other.pk]),
    )

    assert parent.pk is not None and not parent._state.adding
    assert first.pk is not None and second.pk is not None
    stored = {stage.pk: stage for stage in Stage.objects.filter(pipeline=parent)}
    assert stored[first.pk].key == first.key == f"first-of-{parent.pk}"
    assert stored[second.pk].key == second.key == f"it's 100% {parent.pk}"
    assert (stored[first.pk].name, stored[second.pk].position) == ("First", 1)
    assert Team.objects.get(pk=other.pk).name == "Renamed"


def test_insert_linked_names_a_linked_field_the_child_lacks():
    from dealgate.pipelines.models import Pipeline, Stage

    with pytest.raises(ValueError, match=r"Stage has no fields \['colour'\]"):
        bulk.insert_linked(
            Pipeline(key="p", name="P"), [(Stage(name="S"), {"colour": "{}"})]
        )


def test_numbered_placeholders_count_in_order_and_keep_literal_percents():
    assert (
        bulk.numbered("a = %s AND b LIKE 'x%%{}' AND c IN (%s, %s)")
        == "a = $1 AND b LIKE 'x%{}' AND c IN ($2, $3)"
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite uses Django's own cursor"
)
def test_the_kept_cursor_raises_djangos_errors_and_refuses_a_broken_transaction():
    from django.db import ProgrammingError, transaction
    from django.db.transaction import TransactionManagementError

    with transaction.atomic():
        with (
            pytest.raises(ProgrammingError, match="no_such_table"),
            transaction.atomic(savepoint=False),
            bulk.prepared_cursor() as cursor,
        ):
            cursor.execute("SELECT * FROM no_such_table")
        # As with Django's cursor: nothing more runs in the failed transaction.
        with (
            pytest.raises(TransactionManagementError),
            bulk.prepared_cursor() as cursor,
        ):
            cursor.execute("SELECT 1")
        transaction.set_rollback(True)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite uses Django's own cursor"
)
def test_a_nested_use_of_the_kept_cursor_does_not_disturb_the_outer_one():
    with bulk.prepared_cursor() as outer:
        outer.execute("SELECT generate_series(1, 3)")
        with bulk.prepared_cursor() as inner:
            inner.execute("SELECT 42")
            assert inner.fetchall() == [(42,)]
        assert outer.fetchall() == [(1,), (2,), (3,)]


def test_read_runs_model_init_for_a_model_someone_listens_to(team):
    from django.db.models import signals

    from dealgate.accounts.models import Team

    seen = []

    def record(sender, instance, **kwargs):
        seen.append(instance.name)

    fields, select = bulk.columns(Team, "t", ["id", "name"])
    table = connection.ops.quote_name(Team._meta.db_table)
    signals.post_init.connect(record, sender=Team)
    try:
        ((found, _),) = bulk.read(
            Team, fields, f"SELECT {select} FROM {table} t WHERE t.id = %s", [team.pk]
        )
    finally:
        signals.post_init.disconnect(record, sender=Team)

    assert seen == [team.name] and found.name == team.name
    assert not found._state.adding and found._state.db == "default"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite uses Django's own cursor"
)
@pytest.mark.django_db(transaction=True)
def test_kept_cursors_go_with_their_connection_when_it_is_replaced():
    with bulk.prepared_cursor() as cursor:
        cursor.execute("SELECT 1")
    first = connection.connection
    connection.close()

    with bulk.prepared_cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchall() == [(2,)]
        assert cursor.connection is connection.connection is not first
    kept = connection.dealgate_kept_cursors
    assert all(kept.connection is connection.connection for kept in kept.values())


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a health check of PostgreSQL's"
)
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_a_hot_statement():
    import psycopg

    from dealgate.clocks.bulk import prepared_cursor

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    admin = psycopg.connect(
        connection.connection.info.dsn.replace(
            f"dbname={connection.settings_dict['NAME']}", "dbname=postgres"
        ),
        autocommit=True,
    )
    with admin:
        # Waits (up to 5 s) until the session is gone, so its end has
        # reached this process's socket before the health check looks.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    # A new request: Django allows one health check per request.
    connection.health_check_done = False

    with prepared_cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == [(1,)]
    assert connection.connection.info.backend_pid != pid


def test_read_counts_an_init_receiver_connected_after_the_first_read(team):
    from django.db.models import signals

    from dealgate.accounts.models import Team

    fields, select = bulk.columns(Team, "t", ["id", "name"])
    sql = (
        f"SELECT {select} FROM {connection.ops.quote_name(Team._meta.db_table)} t "
        "WHERE t.id = %s"
    )
    bulk.read(Team, fields, sql, [team.pk])
    seen = []

    def record(sender, instance, **kwargs):
        seen.append(instance.pk)

    signals.post_init.connect(record, sender=Team)
    try:
        bulk.read(Team, fields, sql, [team.pk])
    finally:
        signals.post_init.disconnect(record, sender=Team)

    assert seen == [team.pk]
