"""Insights over 1,000,000 deals and about 5,000,000 stage events: every query
on DuckDB (the reference), PostgreSQL and SQLite, and every page's server time.

Prints figures and asserts nothing. Goals: every insights page under 2 s on
PostgreSQL, and each query within 5 times DuckDB's time. The same SQL text
(dealgate.insights.sql) runs on all three; SQLite, without percentile_cont,
runs the ranking form of the percentile queries, as the product does there.

The history is synthetic (benchmarks/insightsbench/data.py, written once to
/tmp/dealgate-bench-ins/). Each database is loaded in its own child process:
the PostgreSQL database dealgate_bench_ins and /tmp/dealgate-bench-ins.sqlite3,
rebuilt unless --reuse finds them loaded. The indexes proposed for the models
(PROPOSED_INDEXES) are added unless --shipped-indexes.

    .venv/bin/python benchmarks/insights.py [--deals N] [--reuse] [--shipped-indexes]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from insightsbench.data import NOW as NAIVE_NOW  # noqa: E402
from insightsbench.data import STAGES, Shape, ensure  # noqa: E402

NOW = NAIVE_NOW.replace(tzinfo=dt.UTC)
ZONE = "Europe/Berlin"
POSTGRES = "postgres://postgres@127.0.0.1:5432/dealgate_bench_ins"
SQLITE_PATH = "/tmp/dealgate-bench-ins.sqlite3"
RUNS = 3
SLOW = 5.0  # seconds: a query slower than this on its warm-up is timed once more only

# The indexes these queries want, named as proposed for the models (PostgreSQL
# form; SQLite gets the key columns only, as Django's Index(include=...) does).
PROPOSED_INDEXES = {
    "event_backward": (
        "deals_stageevent",
        "(from_stage_id, to_stage_id, at)",
        "INCLUDE (deal_id)",
        "",
    ),
    "event_exits": (
        "deals_stageevent",
        "(from_stage_id, at)",
        "INCLUDE (from_status, from_business_minutes, from_entered_at, deal_id)",
        "",
    ),
    "deal_closed": (
        "deals_deal",
        "(pipeline_id, closed_at)",
        "INCLUDE (status, stage_id, owner_id, product_id, organization_id, source, "
        "currency, value, created_at, loss_reason)",
        "WHERE status IN ('won', 'lost')",
    ),
    "deal_entry": (
        "deals_deal",
        "(pipeline_id, (COALESCE(created_at, stage_entered_at)))",
        "INCLUDE (status, stage_id, owner_id, product_id, organization_id, source)",
        "",
    ),
    "deal_open_age": (
        "deals_deal",
        "(pipeline_id, stage_id, stage_entered_at)",
        "INCLUDE (owner_id, product_id, organization_id, source)",
        "WHERE status = 'open'",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--shipped-indexes", action="store_true")
    parser.add_argument("--child", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    shape = Shape(args.deals)
    if args.child:
        child(args.child, shape, reuse=args.reuse, proposed=not args.shipped_indexes)
        return

    started = time.perf_counter()
    deals, events = ensure(shape)
    print(f"Insights: {deals:,} deals, {events:,} stage events, {STAGES} stages")
    print(f"(data ready in {time.perf_counter() - started:.0f} s)")
    results = {"DuckDB": duckdb_results(shape)}
    for vendor, name in (("postgresql", "PostgreSQL"), ("sqlite", "SQLite")):
        results[name] = run_child(vendor, args)
    report(results, proposed=not args.shipped_indexes)


def run_child(vendor: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", vendor, "--deals", str(args.deals)]
    command += ["--reuse"] * args.reuse + ["--shipped-indexes"] * args.shipped_indexes
    env = dict(
        os.environ,
        DATABASE_URL=POSTGRES if vendor == "postgresql" else f"sqlite:///{SQLITE_PATH}",
        DJANGO_SETTINGS_MODULE="dealgate.settings",
        DEALGATE_ALLOWED_HOSTS="testserver",
        DEALGATE_VAR_DIR="/tmp/dealgate-bench-ins",
        DEALGATE_LOG_LEVEL="WARNING",
    )
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"{vendor}: not measured: {reason}")
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the queries ------------------------------------------------------------------


def scopes() -> dict[str, object]:
    """The page's default period (the last 365 days, in the pipeline's zone)
    and all time, as `dealgate.insights.sql.Scope`s of the bench pipeline."""
    from zoneinfo import ZoneInfo

    from dealgate.insights import sql

    zone = ZoneInfo(ZONE)
    today = NOW.astimezone(zone).date()

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)

    common = {"pipeline_id": 1, "stage_ids": tuple(range(1, STAGES + 1))}
    return {
        "365 d": sql.Scope(
            start=midnight(today - dt.timedelta(days=364)),
            end=midnight(today + dt.timedelta(days=1)),
            **common,
        ),
        "all": sql.Scope(**common),
    }


def late_entries() -> dict[int, dt.datetime]:
    """Per stage, the entry instant past which a deal is over its age limit."""
    from dealgate.core.calendar import Calendar
    from dealgate.core.metrics import entered_before_for_age

    calendar = Calendar.office_hours(ZONE)
    return {
        stage: entered_before_for_age(calendar, NOW, 5 + 5 * (stage - 1))
        for stage in range(1, STAGES + 1)
    }


def queries(vendor: str, scope) -> dict[str, list]:
    """Name -> the Queries of one figure: every statement the insights pages
    run, as built for `vendor` (the same builders the product calls). On
    SQLite a figure may take two statements where PostgreSQL takes one."""
    from dealgate.core.metrics import weeks_ending
    from dealgate.insights import sql

    dialect = sql.Dialect(vendor)
    quantiles = (0.5, 0.8)
    mondays = weeks_ending(NOW.date(), 9)
    bounds = [
        dialect.instant(dt.datetime.combine(day, dt.time(), dt.UTC))
        for day in [*mondays, mondays[-1] + dt.timedelta(weeks=1)]
    ]
    week_scope = type(scope)(
        pipeline_id=scope.pipeline_id,
        stage_ids=scope.stage_ids,
        start=dt.datetime.combine(mondays[0], dt.time(), dt.UTC),
        end=dt.datetime.combine(mondays[-1] + dt.timedelta(weeks=1), dt.time(), dt.UTC),
    )
    found = {
        "open deals per stage (width, limits)": sql.open_by_stage(
            dialect, scope, late_entries()
        ),
        "median and p80 age of open deals": sql.ranked(
            dialect, sql.open_entries(dialect, scope), quantiles, descending=True
        ),
        "conversion (furthest stage reached)": sql.reach(dialect, scope),
        "loss reasons by stage": sql.lost_by_stage(dialect, scope),
        "review: win rate over 9 weeks": sql.closed(
            dialect, week_scope, sql.buckets("d.closed_at", bounds)
        ),
        "review: new deals over 9 weeks": sql.entered(
            dialect, week_scope, sql.buckets(sql.ENTRY, bounds)
        ),
    }
    # Outcomes and the sales cycle come in one pass where percentile_cont
    # exists, in two on SQLite: as dealgate.insights.queries.outcomes runs them.
    for label, grouping in (("", sql.ALL), (" by owner", sql.BY_OWNER)):
        name = f"win rate, won value, cycle{label}"
        if dialect.native_percentiles:
            found[name] = sql.closed(dialect, scope, grouping, quantiles)
        else:
            found[name] = [
                sql.closed(dialect, scope, grouping),
                sql.percentiles(
                    dialect, sql.cycle_days(dialect, scope, grouping), quantiles
                ),
            ]
    name = "time in stage median and p80"
    if dialect.native_percentiles:
        found[name] = sql.exit_spreads(dialect, scope, quantiles)
        # The same figure as one GROUP BY: DuckDB's best form, for reference.
        found["time in stage, as one GROUP BY"] = sql.exit_spreads(
            dialect, scope, quantiles, per_stage=False
        )
    else:
        found[name] = [
            sql.exit_counts(dialect, scope),
            sql.percentiles(
                dialect,
                sql.stage_durations(dialect, scope, scope.stage_ids),
                quantiles,
            ),
        ]
    return {
        name: one if isinstance(one, list) else [one] for name, one in found.items()
    }


def timed(run) -> float:
    """Median seconds of RUNS runs after one warm-up (fewer when slow)."""
    started = time.perf_counter()
    run()
    warm = time.perf_counter() - started
    runs = 1 if warm > SLOW else RUNS
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def duckdb_results(shape: Shape) -> dict:
    from insightsbench.load import load_duckdb

    started = time.perf_counter()
    conn = load_duckdb(shape)
    print(f"(DuckDB loaded in {time.perf_counter() - started:.0f} s)")
    result = {"queries": {}}
    for label, scope in scopes().items():
        for name, statements in queries("duckdb", scope).items():

            def run(statements=statements):
                for query in statements:
                    text = query.sql.replace("%s", "?")
                    conn.execute(text, list(query.params)).fetchall()

            result["queries"][f"{name}|{label}"] = timed(run)
    return result


# -- a database in a child process -------------------------------------------------


def child(vendor: str, shape: Shape, *, reuse: bool, proposed: bool) -> None:
    started = time.perf_counter()
    loaded = reuse and _already_loaded(vendor, shape)
    if not loaded:
        _fresh_database(vendor)
    import django

    django.setup()
    from django.core.management import call_command
    from insightsbench.load import load_postgres, load_sqlite, seed_reference_rows

    call_command("migrate", interactive=False, verbosity=0)
    if not loaded:
        seed_reference_rows()
        if vendor == "postgresql":
            load_postgres(POSTGRES.replace("postgres://", "postgresql://"), shape)
        else:
            load_sqlite(SQLITE_PATH, shape)
    if proposed:
        _add_indexes(vendor)
    load_seconds = time.perf_counter() - started
    result = {"load": load_seconds, "queries": {}, "pages": {}}
    from dealgate.insights.queries import fetch, session

    for label, scope in scopes().items():
        for name, statements in queries(vendor, scope).items():

            def run(statements=statements):
                with session():
                    for query in statements:
                        fetch(query)

            result["queries"][f"{name}|{label}"] = timed(run)
    result["pages"] = _pages()
    print(json.dumps(result))


def _already_loaded(vendor: str, shape: Shape) -> bool:
    try:
        if vendor == "postgresql":
            import psycopg

            with psycopg.connect(POSTGRES.replace("postgres://", "postgresql://")) as c:
                count = c.execute("SELECT COUNT(*) FROM deals_deal").fetchone()[0]
        else:
            import sqlite3

            if not Path(SQLITE_PATH).exists():
                return False
            with sqlite3.connect(SQLITE_PATH) as c:
                count = c.execute("SELECT COUNT(*) FROM deals_deal").fetchone()[0]
    except Exception:
        return False
    return count == shape.deals


def _fresh_database(vendor: str) -> None:
    if vendor == "sqlite":
        Path(SQLITE_PATH).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as conn:
        conn.execute("DROP DATABASE IF EXISTS dealgate_bench_ins WITH (FORCE)")
        conn.execute("CREATE DATABASE dealgate_bench_ins")


def _add_indexes(vendor: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name, (table, columns, include, where) in PROPOSED_INDEXES.items():
            extra = f"{include} {where}" if vendor == "postgresql" else where
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} {columns} {extra}"
            )
        cursor.execute("ANALYZE")


def _pages() -> dict[str, float]:
    """Server time of each insights page: a logged-in GET through Django."""
    from django.test import Client

    from dealgate import timesource
    from dealgate.accounts.models import User

    timesource.set_now(NOW)
    user, _ = User.objects.get_or_create(username="bench-manager", role="manager")
    client = Client()
    client.force_login(user)
    pages = {
        "/insights/ (last 365 days)": "/insights/",
        "/insights/ (all time)": "/insights/?period=all",
        "/insights/ (365 days, one owner)": "/insights/?owner=rep3",
        "/insights/bottlenecks/": "/insights/bottlenecks/",
        "/insights/review/": "/insights/review/",
    }
    found = {}
    for name, url in pages.items():

        def get(u=url):
            response = client.get(u)
            assert response.status_code == 200, (u, response.status_code)

        found[name] = timed(get)
    return found


# -- printing ---------------------------------------------------------------------


def report(results: dict, *, proposed: bool) -> None:
    duck = results["DuckDB"]["queries"]
    pg = results.get("PostgreSQL", {}).get("queries", {})
    lite = results.get("SQLite", {}).get("queries", {})
    indexes = "with the proposed indexes" if proposed else "with the shipped schema"
    print(f"\nQuery time, seconds (median of {RUNS} after a warm-up), {indexes}")
    header = (
        f"{'query':<40}{'period':<8}{'DuckDB':>8}{'PostgreSQL':>12}{'x Duck':>8}"
        f"{'SQLite':>9}{'x Duck':>8}"
    )
    print(header)
    print("-" * len(header))
    for key in sorted({*duck, *pg, *lite}, key=lambda k: (k.split("|")[1], k)):
        name, period = key.split("|")
        base = duck.get(key)
        cells = [f"{name:<40}{period:<8}", _seconds(base, 8)]
        for found, width in ((pg.get(key), 12), (lite.get(key), 9)):
            cells += [_seconds(found, width), _ratio(found, base)]
        print("".join(cells))
    print("\nPage server time, seconds (logged-in GET, median)")
    for name in ("PostgreSQL", "SQLite"):
        for page, seconds in results.get(name, {}).get("pages", {}).items():
            print(f"{name:<12}{page:<40}{seconds:>8.2f}")
    for name in ("PostgreSQL", "SQLite"):
        load = results.get(name, {}).get("load")
        if load is not None:
            print(f"({name} built or checked in {load:.0f} s)")
    print("\nx Duck: the query's time over DuckDB's on the same rows (goal: 5x)")


def _seconds(value: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.3f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return f"{'':>8}"
    return f"{value / base:>7.1f}x"


if __name__ == "__main__":
    main()
