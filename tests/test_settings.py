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
