"""One sweep over many running clocks, few of them due, on SQLite and PostgreSQL.

Prints figures and asserts nothing. Each database runs in its own child process
(Django reads its settings once per process) on its own scratch database:
/tmp/dealgate-bench-clk.sqlite3 and the PostgreSQL database dealgate_bench_clk,
both rebuilt on every run.

The clocks are written with set-based SQL (generate_series on PostgreSQL, a
recursive CTE on SQLite): age clocks of 10,000 open deals held by 30 reps,
`due` of them past their due time (at different seconds of the last hour),
spread evenly through the table. A sweep
acts with the default rules: each due clock is marked breached and at risk
with its second window (escalation) set, and its owner is told: one digest
notice per rep and batch (30 reps, batches of 1,000), queued for email and
webhook. Layouts, to show that cost follows the due clocks and not all
clocks: 100,000 with 1,000 due, 100,000 with 10,000 due, 1,000,000 with
10,000 due (the goal: under 1 s). Median of 3 sweeps per layout.

    .venv/bin/python benchmarks/sweep.py [--quick]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SQLITE_PATH = "/tmp/dealgate-bench-clk.sqlite3"
POSTGRES_NAME = "dealgate_bench_clk"
POSTGRES_URL = f"postgres://postgres@127.0.0.1:5432/{POSTGRES_NAME}"
DATABASES = [("SQLite", f"sqlite:///{SQLITE_PATH}"), ("PostgreSQL", POSTGRES_URL)]
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
DEALS = 10_000
REPS = 30
RUNS = 3
BASELINE_READS = 1_000
# (clocks, due, where the due ones sit): "spread" evenly through the table,
# the worst case for locality; "oldest" the first written, as in life, where
# clocks fall due in about the order they started.
LAYOUTS = [
    (100_000, 1_000, "spread"),
    (100_000, 10_000, "spread"),
    (1_000_000, 10_000, "spread"),
    (1_000_000, 10_000, "oldest"),
]
QUICK_LAYOUTS = LAYOUTS[:2]


def main() -> None:
    quick = "--quick" in sys.argv
    print("Sweep: one sweep at a fixed instant, default breach rules")
    print(f"(median of {RUNS} sweeps; each due clock: breach, second window, and a")
    print(" line in its rep's digest notice, which goes by email and webhook)\n")
    header = (
        f"{'database':<12}{'clocks':>11}{'due':>8}{'':>8}{'sweep s':>10}"
        f"{'us/due':>9}{'scan all s':>12}{'baseline':>10}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, url in DATABASES:
        env = dict(
            os.environ,
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="dealgate.settings",
            DEALGATE_VAR_DIR="/tmp/dealgate-bench-clk",
            DEALGATE_LOG_LEVEL="WARNING",
            DEALGATE_SMTP_HOST="127.0.0.1",
            DEALGATE_WEBHOOK_URL="http://127.0.0.1:9/hooks/bench",
            DEALGATE_AS_OF=NOW.isoformat(),
        )
        args = [sys.executable, __file__, "--child"] + (["--quick"] if quick else [])
        child = subprocess.run(args, env=env, capture_output=True, text=True)
        if child.returncode != 0:
            reason = (child.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name:<12}not measured: {reason}")
            continue
        for row in json.loads(child.stdout):
            print(
                f"{name:<12}{row['clocks']:>11,}{row['due']:>8,}{row['where']:>8}"
                f"{row['sweep']:>10.3f}"
                f"{row['sweep'] / row['due'] * 1e6:>9.0f}{row['scan']:>12.3f}"
                f"{row['baseline']:>10.3f}{row['sweep'] / row['baseline']:>7.1f}x"
            )
    print(
        "\nscan all: SELECT count(*) of every running clock, what a sweep without"
        "\nthe partial index on due time would at least pay"
        f"\nbaseline: {BASELINE_READS:,} primary-key reads of a deal through the ORM,"
        "\nmeasured beside each layout; ratio: sweep / baseline"
    )


def child() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    fresh_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from dealgate.clocks.notices import subject_url

    # Load the URL conf (for links in notices) before timing: a sweeper pays
    # it once per process, not per sweep.
    subject_url(None, None)
    pipeline_id, stage_id, first_deal, first_rep = seed_people_and_deals()
    layouts = QUICK_LAYOUTS if "--quick" in sys.argv else LAYOUTS
    rows = []
    for total, due, where in layouts:
        seeded = seed_clocks(
            total, due, where, pipeline_id, stage_id, first_deal, first_rep
        )
        times, baselines = [], []
        for _ in range(RUNS):
            baselines.append(baseline(first_deal))
            times.append(timed_sweep(due))
            reset()
        rows.append(
            {
                "clocks": total,
                "due": due,
                "where": where,
                "sweep": statistics.median(times),
                "scan": scan_all(),
                "seed": seeded,
                "baseline": statistics.median(baselines),
            }
        )
    print(json.dumps(rows))


def fresh_database(url: str) -> None:
    if url.startswith("sqlite"):
        Path(SQLITE_PATH).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {POSTGRES_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {POSTGRES_NAME}")


def seed_people_and_deals() -> tuple[int, int, int, int]:
    """A team of 30 reps under a manager, a Berlin pipeline, 10,000 open deals."""
    from django.db import transaction

    from dealgate.accounts.models import Team, User
    from dealgate.deals.models import Deal
    from dealgate.pipelines.models import Pipeline, Stage

    with transaction.atomic():
        team = Team.objects.create(name="Field")
        manager = User.objects.create(username="manager", role="manager", team=team)
        team.manager = manager
        team.save()
        reps = User.objects.bulk_create(
            User(username=f"rep{n}", email=f"rep{n}@example.com", team=team)
            for n in range(REPS)
        )
        pipeline = Pipeline.objects.create(
            key="bench",
            name="Bench",
            calendar={
                "timezone": "Europe/Berlin",
                "hours": {
                    d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")
                },
            },
        )
        stage = Stage.objects.create(
            pipeline=pipeline,
            key="inquiry",
            name="Inquiry",
            position=0,
            age_limit_days=5,
        )
        # bulk_create sends no signals: the clocks below are the only ones.
        deals = Deal.objects.bulk_create(
            (
                Deal(
                    pipeline=pipeline,
                    stage=stage,
                    title=f"Deal {n}",
                    owner=reps[n % REPS],
                    responsible=reps[n % REPS],
                    stage_entered_at=NOW - dt.timedelta(days=3),
                )
                for n in range(DEALS)
            ),
            batch_size=2_000,
        )
    return pipeline.pk, stage.pk, deals[0].pk, reps[0].pk


def seed_clocks(
    total: int,
    due: int,
    where: str,
    pipeline: int,
    stage: int,
    first_deal: int,
    first_rep: int,
) -> float:
    """`total` running age clocks, `due` of them due: every (total // due)-th
    ("spread") or the first `due` ("oldest"). One INSERT ... SELECT over a
    generated series. Returns the seconds it took."""
    from django.db import connection, transaction

    started = time.perf_counter()
    # g % 1 = 0 holds for every g, so "oldest" picks g <= due alone.
    every, first = (total // due, total) if where == "spread" else (1, due)
    past = connection.ops.adapt_datetimefield_value(NOW - dt.timedelta(hours=1))
    future = connection.ops.adapt_datetimefield_value(NOW + dt.timedelta(days=30))
    start = connection.ops.adapt_datetimefield_value(NOW - dt.timedelta(days=3))
    columns = (
        "kind, state, key, pipeline_id, deal_id, stage_id, responsible_id, "
        "window_minutes, started_at, due_at, late_after, at_risk, actions, note"
    )
    # Due clocks fall due at different seconds of the last hour, as in life.
    if connection.vendor == "postgresql":
        spread = "%s::timestamptz - (g %% 3600) * interval '1 second'"
    else:
        spread = "datetime(%s, '-' || (g %% 3600) || ' seconds')"
    due = f"CASE WHEN g %% %s = 0 AND g <= %s THEN {spread} ELSE %s END"
    # Every due time falls in working hours (NOW is a Wednesday at 14:00 in
    # Berlin, the future one a Friday then), so each is late after itself.
    values = (
        "'age', 'running', 'bench:' || g, %s, %s + (g %% %s), %s, %s + (g %% %s), "
        f"2400.0, %s, {due}, {due}, FALSE, '', ''"
    )
    params = [pipeline, first_deal, DEALS, stage, first_rep, REPS, start]
    params += [every, first, past, future] * 2
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO clocks_clock ({columns}) "
            f"SELECT {values} FROM generate_series(1, %s) AS g"
        )
        params = [*params, total]
    else:
        sql = (
            "WITH RECURSIVE series(g) AS "
            "(SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < %s) "
            f"INSERT INTO clocks_clock ({columns}) SELECT {values} FROM series"
        )
        params = [total, *params]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM clocks_delivery")
        cursor.execute("DELETE FROM clocks_notice")
        cursor.execute("DELETE FROM clocks_clock")
        cursor.execute(sql, params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def timed_sweep(due: int) -> float:
    from dealgate.clocks.sweep import sweep

    started = time.perf_counter()
    result = sweep(now=NOW)
    seconds = time.perf_counter() - started
    if result.breached != due:
        raise SystemExit(f"expected {due} breaches, got {result.summary()}")
    return seconds


def reset() -> None:
    """Undo a sweep: the breached clocks run again, its writes are gone."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM clocks_delivery")
        cursor.execute("DELETE FROM clocks_notice")
        cursor.execute(
            "UPDATE clocks_clock SET state = 'running', at_risk = FALSE, "
            "actions = '', ended_at = NULL, escalate_at = NULL "
            "WHERE state = 'breached'"
        )


def baseline(first_deal: int) -> float:
    """Machines are noisy: a fixed amount of ordinary work to compare with."""
    from dealgate.deals.models import Deal

    started = time.perf_counter()
    for n in range(BASELINE_READS):
        Deal.objects.get(pk=first_deal + n % DEALS)
    return time.perf_counter() - started


def scan_all() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM clocks_clock WHERE state = 'running'")
        cursor.fetchone()
    return time.perf_counter() - started


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
