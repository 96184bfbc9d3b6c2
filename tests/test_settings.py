import pytest
from django.core.exceptions import ImproperlyConfigured

from dealgate.settings import database_from_url


def test_sqlite_url_gives_an_absolute_path():
    db = database_from_url("sqlite:////srv/dealgate/db.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/srv/dealgate/db.sqlite3"


def test_postgres_url_keeps_connections_open():
    db = database_from_url("postgres://sales:s%40cret@db.local:5433/dealgate")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "sales",
        "s@cret",
        "db.local",
        "5433",
        "dealgate",
    )
    assert db["CONN_MAX_AGE"] > 0


def test_unknown_database_scheme_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_from_url("mysql://localhost/dealgate")


def test_sqlite_file_is_opened_with_a_write_ahead_log_and_a_large_cache(
    tmp_path, django_db_blocker
):
    from django.db.backends.sqlite3.base import DatabaseWrapper

    db = database_from_url(f"sqlite:///{tmp_path}/wal.sqlite3")
    settings_dict = {
        **db,
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
    }
    wrapper = DatabaseWrapper(settings_dict, alias="wal")
    with django_db_blocker.unblock():
        with wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone() == ("wal",)
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone() == (2,)  # FULL
            cursor.execute("PRAGMA cache_size")
            assert cursor.fetchone() == (-65536,)  # KiB
        wrapper.close()


def test_postgres_url_query_goes_to_the_driver():
    options = database_from_url("postgres://localhost/dealgate?sslmode=require")
    assert options["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.django_db
def test_fixed_sql_run_repeatedly_is_prepared_and_orm_statements_are_not():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's prepared statements")
    from dealgate.accounts.models import User
    from dealgate.clocks import bulk

    for n in range(6):
        list(User.objects.filter(username=f"nobody-{n}"))
        with bulk.prepared_cursor() as cursor:
            cursor.execute("SELECT %s::text AS fixed_sql_probe", [f"n{n}"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert [s for s in prepared if "fixed_sql_probe" in s] != []
    assert [s for s in prepared if '"accounts_user"."username"' in s] == []


@pytest.mark.django_db
def test_prepared_statements_can_be_turned_off(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's prepared statements")
    from dealgate.clocks import bulk

    settings.PREPARED_STATEMENTS = False
    for n in range(8):
        with bulk.prepared_cursor() as cursor:
            cursor.execute("SELECT %s::text AS unprepared_probe", [f"n{n}"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE '%%unprepared_probe%%'"
        )
        assert cursor.fetchone()[0] == 0
