"""Board server time with 10,000 open deals, on SQLite and on PostgreSQL.

Prints figures and asserts nothing. Each database runs in its own child process
(Django reads its settings once per process) on its own scratch database:
/tmp/dealgate-bench-web.sqlite3 and the PostgreSQL database dealgate_bench_web,
both rebuilt on every run. Goal: the board under 150 ms of server time.

    .venv/bin/python benchmarks/board.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

OPEN_DEALS = 10_000
CLOSED_DEALS = 10_000  # closed deals share the table; the board must skip them
STAGES = 6
REQUESTS = 30
WARM_UP = 5
SQLITE_PATH = "/tmp/dealgate-bench-web.sqlite3"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/dealgate_bench_web"
DATABASES = [("SQLite", f"sqlite:///{SQLITE_PATH}"), ("PostgreSQL", POSTGRES_URL)]
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)


def main() -> None:
    print(
        f"Board: {OPEN_DEALS:,} open and {CLOSED_DEALS:,} closed deals, {STAGES} stages"
    )
    print(f"server time of {REQUESTS} logged-in GETs after {WARM_UP} warm-up (ms)\n")
    header = f"{'database':<12}{'what':<48}{'median':>8}{'p95':>8}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for name, url in DATABASES:
        env = dict(
            os.environ,
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="dealgate.settings",
            DEALGATE_ALLOWED_HOSTS="testserver",
            DEALGATE_VAR_DIR="/tmp/dealgate-bench-web",
            DEALGATE_LOG_LEVEL="WARNING",
        )
        child = subprocess.run(
            [sys.executable, __file__, "--child"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            reason = (child.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name:<12}not measured: {reason}")
            continue
        rows = json.loads(child.stdout)
        baseline = rows[0]["median"]
        for row in rows:
            ratio = row["median"] / baseline
            print(
                f"{name:<12}{row['what']:<48}{row['median']:>8.1f}"
                f"{row['p95']:>8.1f}{ratio:>7.1f}x"
            )
    print("\nratio: median against the primary-key read in the same run")


def child() -> None:
    """Build the data, then time the pages; print the rows as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    fresh_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    user, deal_id, pipeline = seed()
    print(json.dumps(measure(user, deal_id, pipeline)))


def fresh_database(url: str) -> None:
    if url.startswith("sqlite"):
        Path(SQLITE_PATH).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as conn:
        conn.execute("DROP DATABASE IF EXISTS dealgate_bench_web WITH (FORCE)")
        conn.execute("CREATE DATABASE dealgate_bench_web")


def seed():
    """Users, organizations, a six-stage pipeline and the deals, in bulk SQL."""
    from django.db import connection, transaction

    from dealgate.accounts.models import User
    from dealgate.deals.models import Deal, Organization
    from dealgate.pipelines.models import Pipeline, Stage

    rng = random.Random(7)
    with transaction.atomic():
        users = [
            User.objects.create_user(
                username=f"rep{n}", first_name="Rep", last_name=f"Number {n}"
            )
            for n in range(30)
        ]
        orgs = Organization.objects.bulk_create(
            Organization(name=f"Organization {n}") for n in range(85)
        )
        pipeline = Pipeline.objects.create(key="bench", name="Bench")
        stages = [
            Stage.objects.create(
                pipeline=pipeline,
                key=f"stage-{n}",
                name=f"Stage {n}",
                position=n,
                age_limit_days=10 + 5 * n,
            )
            for n in range(STAGES)
        ]
        weights = [35, 25, 15, 12, 8, 5]  # real boards are wide at the front
        rows = []
        for n in range(OPEN_DEALS + CLOSED_DEALS):
            is_open = n < OPEN_DEALS
            entered = NOW - dt.timedelta(minutes=rng.randrange(0, 200 * 24 * 60))
            if rng.random() < 0.03:
                entered = None  # imported without a date
            rows.append(
                (
                    pipeline.pk,
                    rng.choices(stages, weights)[0].pk,
                    "open" if is_open else rng.choice(["won", "lost"]),
                    f"Deal {n}",
                    rng.choice(orgs).pk,
                    rng.choice(users).pk,
                    rng.randrange(50, 100_000),
                    "USD",
                    "",
                    "",
                    "",
                    "{}",
                    entered,
                    entered,
                    None if is_open else NOW,
                    "bench",
                    str(n),
                    1,
                )
            )
        table = Deal._meta.db_table
        columns = (
            "pipeline_id, stage_id, status, title, organization_id, owner_id, value,"
            " currency, loss_reason, loss_note, notes, custom, created_at,"
            " stage_entered_at, closed_at, source, external_id, version"
        )
        marks = ", ".join(["%s"] * 18)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")
    deal_id = Deal.objects.filter(status="open").values_list("pk", flat=True).first()
    return users[0], deal_id, pipeline


def timed(call) -> dict[str, float]:
    for _ in range(WARM_UP):
        call()
    samples = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "median": statistics.median(samples),
        "p95": statistics.quantiles(samples, n=20)[18],
    }


def measure(user, deal_id: int, pipeline) -> list[dict]:
    from django.db import connection
    from django.db.models import Count, Sum
    from django.test import Client

    from dealgate import timesource
    from dealgate.deals.queries import board_for, open_deals

    timesource.set_now(NOW)
    client = Client()
    client.force_login(user)

    def get(path: str, headers: dict[str, str] | None = None):
        def call() -> None:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code)

        return call

    def group_by() -> None:
        list(
            open_deals(pipeline)
            .values("stage_id", "currency", "owner_id")
            .annotate(n=Count("id"), v=Sum("value"))
            .order_by()
        )

    cases = [
        ("baseline: one deal by primary key (API)", get(f"/api/v1/deals/{deal_id}")),
        ("count GROUP BY alone", group_by),
        (
            "board_for() alone, no HTTP or template",
            lambda: board_for(pipeline, now=NOW),
        ),
        ("board page", get("/")),
        ("board page, one owner", get(f"/?owner={user.username}")),
        (
            "next 30 cards of the widest column (htmx)",
            get("/board/column/?stage=stage-0&offset=30", {"HX-Request": "true"}),
        ),
    ]
    rows = [{"what": what, **timed(call)} for what, call in cases]

    # The test client never closes connections between requests, so what a
    # server without persistent connections (CONN_MAX_AGE=0) adds is timed apart.
    def reconnect() -> None:
        connection.close()
        connection.ensure_connection()

    rows.append(
        {"what": "opening a connection (per request if not kept)", **timed(reconnect)}
    )
    return rows


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
