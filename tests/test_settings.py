import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from dealgate.settings import database_from_url
from tests.conftest import REPO_ROOT


def test_sqlite_url_gives_an_absolute_path():
    db = database_from_url("sqlite:////srv/dealgate/db.sqlite3")
    assert db["ENGINE"] == "dealgate.sqlite"
    assert db["NAME"] == "/srv/dealgate/db.sqlite3"


def test_postgres_url_keeps_connections_open():
    db = database_from_url("postgres://sales:s%40cret@db.local:5433/dealgate")
    assert db["ENGINE"] == "dealgate.postgresql"
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
    from dealgate.sqlite.base import DatabaseWrapper

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


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        ("DEALGATE_SMTP_PORT", "abc", "DEALGATE_SMTP_PORT must be a whole number"),
        ("DEALGATE_SWEEP_INTERVAL", "0", "DEALGATE_SWEEP_INTERVAL must be at least"),
        ("DEALGATE_WEB_DB_WAIT", "3s", "DEALGATE_WEB_DB_WAIT must be a number"),
        ("DEALGATE_WEB_DB_WAIT", "-1", "DEALGATE_WEB_DB_WAIT must be at least 0"),
        *(
            (
                name,
                raw,
                f"{name} must be a number of seconds greater than 0 and less "
                f"than 30 (the worker timeout); got {raw!r}",
            )
            for name in ("DEALGATE_BODY_WAIT", "DEALGATE_HEADER_WAIT")
            for raw in ("0", "inf", "nan", "45", "1e9", "ten")
        ),
        (
            "DEALGATE_HEADER_WAIT",
            "20",
            "DEALGATE_HEADER_WAIT (20) and DEALGATE_BODY_WAIT (10) must add up to "
            "less than 30 (the worker timeout)",
        ),
        *(
            (
                "DEALGATE_PROXY_ADDRESSES",
                f"10.0.0.1,{everything}",
                f"DEALGATE_PROXY_ADDRESSES must name the proxy's own addresses; "
                f"{everything!r} covers every address",
            )
            for everything in ("0.0.0.0/0", "::/0", "0.0.0.0/0.0.0.0")
        ),
        (
            "DEALGATE_SITE_URL",
            "crm.example.com",
            "DEALGATE_SITE_URL must be https://HOST or http://HOST",
        ),
        (
            "DEALGATE_PROXY_ADDRESSES",
            "10.0.0.1,*",
            "DEALGATE_PROXY_ADDRESSES must list IP addresses or networks",
        ),
        (
            "DEALGATE_PROXY_ADDRESSES",
            "proxy.local",
            "'proxy.local' is neither",
        ),
        (
            "DEALGATE_WEBHOOK_URL",
            "ftp://hooks.example.com/T0/secret",
            "not a usable webhook URL: it must start with https://",
        ),
        (
            "DEALGATE_WEBHOOK_URL",
            "https://hooks.example.com/T0/sec ret",
            "not a usable webhook URL: it holds a space",
        ),
        (
            "DEALGATE_LOG_LEVEL",
            "loud",
            "DEALGATE_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL "
            "(any case); got 'loud'",
        ),
        (
            "DEALGATE_PHONE_REGION",
            "Germany",
            "DEALGATE_PHONE_REGION must be a two-letter region code such as DE, GB "
            "or US; got 'Germany'",
        ),
        (
            "DEALGATE_PHONE_REGION",
            "XX",
            "DEALGATE_PHONE_REGION must be a region the phone library knows, such "
            "as DE, GB or US; got 'XX', a two-letter code it does not know",
        ),
    ],
)
def test_a_setting_that_cannot_be_used_names_its_variable(name, raw, says):
    found = _settings_error({name: raw})

    assert says in found
    assert "secret" not in found.replace("DEALGATE", "")


def test_the_web_waits_seconds_for_another_writer_and_commands_20():
    code = (
        "import dealgate.settings as s; "
        "print(s.WEB_DB_WAIT, s.DATABASES['default']['OPTIONS']['timeout'])"
    )
    sqlite = {"DATABASE_URL": "sqlite:///var/dealgate.sqlite3"}

    default = _run(code, {**sqlite, "DEALGATE_WEB_DB_WAIT": ""})
    shorter = _run(code, {**sqlite, "DEALGATE_WEB_DB_WAIT": "0.5"})

    assert default.stdout.split() == ["3.0", "20"]
    assert shorter.stdout.split() == ["0.5", "20"]


def test_waits_inside_the_worker_timeout_are_taken_and_default_to_5_and_10():
    code = "import dealgate.settings as s; print(s.HEADER_WAIT, s.BODY_WAIT)"
    short = {"DEALGATE_HEADER_WAIT": "29", "DEALGATE_BODY_WAIT": "0.05"}

    assert _run(code, {}).stdout.split() == ["5.0", "10.0"]
    assert _run(code, short).stdout.split() == ["29.0", "0.05"]


def test_a_log_level_and_a_phone_region_are_read_in_any_case():
    env = {"DEALGATE_LOG_LEVEL": "info", "DEALGATE_PHONE_REGION": "de"}
    code = (
        "import dealgate.settings as s; "
        "print(s.LOGGING['loggers']['dealgate']['level'], s.LEADS_PHONE_REGION)"
    )

    assert _run(code, env).stdout.split() == ["INFO", "DE"]


@pytest.mark.parametrize(
    ("name", "raw"),
    [("DEALGATE_LOG_LEVEL", "verbose"), ("DEALGATE_PHONE_REGION", "Germany")],
)
def test_a_bad_log_level_or_phone_region_stops_every_command_in_one_line(
    tmp_path, name, raw
):
    done = subprocess.run(
        [sys.executable, "-m", "dealgate", "user", "list"],
        env={
            **os.environ,
            name: raw,
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        },
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )

    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"dealgate: {name} must be ") and repr(raw) in line


def test_empty_number_settings_take_their_defaults():
    env = {"DEALGATE_SMTP_PORT": "", "DEALGATE_SMTP_SECURITY": "TLS"}
    code = "import dealgate.settings as s; print(s.SMTP_PORT, s.SMTP_SECURITY)"

    assert _run(code, env).stdout.split() == ["587", "tls"]


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )


def _settings_error(env: dict[str, str]) -> str:
    done = _run("import dealgate.settings", env)
    assert done.returncode != 0
    return done.stderr.strip().splitlines()[-1]


def test_migrate_makes_the_folder_of_a_new_sqlite_database(tmp_path):
    target = tmp_path / "new" / "var" / "dealgate.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "dealgate", "migrate"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{target}"},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert target.is_file()


@pytest.mark.parametrize("name", ["DEALGATE_SMTP_PASSWORD", "DEALGATE_WEBHOOK_URL"])
def test_a_secrets_file_that_cannot_be_read_stops_every_command_in_one_line(
    tmp_path, name
):
    missing = tmp_path / "no-such-secret"
    done = subprocess.run(
        [sys.executable, "-m", "dealgate", "user", "list"],
        env={
            **os.environ,
            f"{name}_FILE": str(missing),
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        },
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"dealgate: {name}_FILE: cannot read {missing} (No such file or directory)"
    ]


@pytest.mark.parametrize("name", ["DEALGATE_SMTP_PASSWORD", "DEALGATE_WEBHOOK_URL"])
def test_a_secret_given_both_directly_and_in_a_file_is_refused_naming_both(
    tmp_path, name
):
    secret = tmp_path / "secret"
    secret.write_text("https://hooks.example.com/T0/secret-in-file\n")

    found = _settings_error({name: "secret-in-env", f"{name}_FILE": str(secret)})

    assert f"{name} and {name}_FILE are both set; set only one" in found
    assert "secret-in" not in found


def test_a_secret_read_from_its_file_loses_the_final_line_break(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("pass word\n")
    code = "import dealgate.settings as s; print(repr(s.SMTP_PASSWORD))"

    done = _run(code, {"DEALGATE_SMTP_PASSWORD_FILE": str(secret)})

    assert done.stdout.strip() == "'pass word'"


def test_a_webhook_url_with_a_user_and_password_is_accepted():
    code = "import dealgate.settings as s; print(s.WEBHOOK_URL)"
    url = "http://hook:pa%40ss@127.0.0.1:8195/hooks/T0"

    assert _run(code, {"DEALGATE_WEBHOOK_URL": url}).stdout.strip() == url


HTTPS_SETTINGS = (
    "import dealgate.settings as s; print(s.SESSION_COOKIE_SECURE, "
    "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, "
    "s.CSRF_TRUSTED_ORIGINS, s.ALLOWED_HOSTS, s.PROXY_ADDRESSES, s.SITE_URL)"
)


def test_plain_local_use_sets_no_secure_cookies_hsts_or_trusted_origins():
    done = _run(HTTPS_SETTINGS, {"DEALGATE_SITE_URL": ""})

    assert done.stdout.strip() == (
        "False False 0 None [] ['127.0.0.1', 'localhost'] ['127.0.0.1', '::1']"
    )


def test_an_https_site_url_marks_cookies_secure_sends_hsts_and_trusts_its_origin():
    env = {
        "DEALGATE_SITE_URL": "https://crm.example.com:8443/",
        "DEALGATE_PROXY_ADDRESSES": "10.0.0.1, 10.0.1.0/24",
    }

    done = _run(HTTPS_SETTINGS, env)

    assert done.stdout.strip() == (
        "True True 86400 None ['https://crm.example.com:8443'] "
        "['127.0.0.1', 'localhost', 'crm.example.com'] "
        "['10.0.0.1', '10.0.1.0/24'] https://crm.example.com:8443"
    )


def test_a_plain_http_site_url_trusts_its_origin_without_secure_cookies():
    done = _run(HTTPS_SETTINGS, {"DEALGATE_SITE_URL": "http://crm.internal"})

    assert done.stdout.strip().startswith("False False 0 None ['http://crm.internal']")
