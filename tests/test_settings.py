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


def test_sqlite_file_is_opened_with_a_write_ahead_log(tmp_path, django_db_blocker):
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
        wrapper.close()
