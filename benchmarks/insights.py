"""Insights over 1,000,000 deals and about 5,000,000 stage events: every query
on DuckDB (the reference), PostgreSQL and SQLite, and every page's server time.

Prints figures and asserts nothing. Goals: every insights page under 2 s on
PostgreSQL, and each query within 5 times DuckDB's time. The same SQL text
(dealgate.insights.sql) runs on all three; SQLite, without percentile_cont,
runs the ranking form of the percentile queries, as the product does there.

Where the product reads the daily rollups (dealgate.insights.rollups: counts
and sums of closed and new deals, loss reasons), PostgreSQL and SQLite run
that SQL and DuckDB runs the direct scan of the deals, which answers the same
question; the output says which. The rollups' upkeep is measured too: the
fold of the load's change log, and on PostgreSQL the cost the triggers add to
closing deals one by one, and the fold of those changes.

The history is synthetic (benchmarks/insightsbench/data.py, written once to
/tmp/dealgate-bench-ins/). Each database is loaded in its own child process:
the PostgreSQL database dealgate_bench_ins and /tmp/dealgate-bench-ins.sqlite3,
rebuilt unless --reuse finds them loaded. The indexes proposed for the
models (PROPOSED_INDEXES) are added unless --shipped-indexes. The all-time
overview is timed twice: as served (its slowest statements sent ahead to
other connections, dealgate.insights.queries.ahead) and with every statement
on the page's own connection.

    .venv/bin/python benchmarks/insights.py [--deals N] [--reuse] [--shipped-indexes]
        [--vendors postgresql,sqlite]
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
        "WHERE from_stage_id IS NOT NULL",
    ),
    "event_exits": (
        "deals_stageevent",
        "(from_stage_id, at)",
        "INCLUDE (from_status, from_business_minutes, from_entered_at, deal_id)",
        "WHERE from_stage_id IS NOT NULL",
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
        "(pipeline_id, created_at)",
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
    parser.add_argument(
        "--vendors", default="postgresql,sqlite", help="databases to measure"
    )
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
        if vendor in args.vendors.split(","):
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
    """Per stage rank, the entry instant past which a deal is over its age
    limit."""
    from dealgate.core.calendar import Calendar
    from dealgate.core.metrics import entered_before_for_age

    calendar = Calendar.office_hours(ZONE)
    return {
        stage - 1: entered_before_for_age(calendar, NOW, 5 + 5 * (stage - 1))
        for stage in range(1, STAGES + 1)
    }


# Figures the product reads from the daily rollups on PostgreSQL and SQLite;
# DuckDB runs the direct scan of the deals for the same question.
FROM_ROLLUPS = {
    "loss reasons by stage": "rollups.lost_by_stage",
    "review: win rate over 9 weeks": "rollups.closed (week bounds)",
    "review: new deals over 9 weeks": "rollups.entered (week bounds)",
    "win rate, won value, cycle": "rollups.closed + percentiles of sql.cycle_days",
    "win rate, won value, cycle by owner": "the same, by owner",
    "outcomes, overall and by owner": "both rollup sums + one GROUPING SETS pass "
    "for the cycle percentiles (PostgreSQL)",
}


def queries(vendor: str, scope) -> dict[str, list]:
    """Name -> the Queries of one figure: every statement the insights pages
    run, as built for `vendor` (the same builders the product calls). On
    SQLite a figure may take two statements where PostgreSQL takes one."""
    from dealgate.core.metrics import weeks_ending
    from dealgate.insights import rollups, sql

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
            dialect, scope, NOW, late_entries()
        ),
        "median and p80 age of open deals": sql.ranked(
            dialect, sql.open_entries(dialect, scope, NOW), quantiles, descending=True
        ),
        "conversion (furthest stage reached)": sql.reach(dialect, scope, NOW),
        "loss reasons by stage": sql.lost_by_stage(dialect, scope),
        "review: win rate over 9 weeks": sql.closed(
            dialect, week_scope, sql.buckets("d.closed_at", bounds)
        ),
        "review: new deals over 9 weeks": sql.entered(
            dialect, week_scope, sql.buckets(sql.ENTRY, bounds)
        ),
    }
    week_bounds = [
        dt.datetime.combine(day, dt.time(), dt.UTC)
        for day in [*mondays, mondays[-1] + dt.timedelta(weeks=1)]
    ]
    if vendor != "duckdb":
        # As the product asks them (dealgate.insights.queries and .review).
        found["loss reasons by stage"] = rollups.lost_by_stage(dialect, scope)
        found["review: win rate over 9 weeks"] = rollups.closed(
            dialect, week_scope, bounds=week_bounds
        )
        found["review: new deals over 9 weeks"] = rollups.entered(
            dialect, week_scope, bounds=week_bounds
        )
    # Outcomes and the sales cycle: sums from the rollup and the percentiles
    # of the won deals' cycles (dealgate.insights.queries.outcomes); DuckDB
    # does both in one pass over the deals where percentile_cont exists.
    for label, grouping, group in (
        ("", sql.ALL, None),
        (" by owner", sql.BY_OWNER, "owner"),
    ):
        name = f"win rate, won value, cycle{label}"
        if vendor != "duckdb":
            found[name] = [
                rollups.closed(dialect, scope, group),
                sql.percentiles(
                    dialect, sql.cycle_days(dialect, scope, grouping), quantiles
                ),
            ]
        elif dialect.native_percentiles:
            found[name] = sql.closed(dialect, scope, grouping, quantiles)
        else:
            found[name] = [
                sql.closed(dialect, scope, grouping),
                sql.percentiles(
                    dialect, sql.cycle_days(dialect, scope, grouping), quantiles
                ),
            ]
    # The overview asks both at once (queries.outcomes_and_total): on
    # PostgreSQL the cycle percentiles overall and by owner in one pass.
    name = "outcomes, overall and by owner"
    if vendor == "duckdb":
        found[name] = [
            sql.closed(dialect, scope, grouping, quantiles)
            for grouping in (sql.ALL, sql.BY_OWNER)
        ]
    elif dialect.native_percentiles:
        found[name] = [
            rollups.closed(dialect, scope, None),
            rollups.closed(dialect, scope, "owner"),
            sql.percentiles_with_total(
                dialect, sql.cycle_days(dialect, scope, sql.BY_OWNER), quantiles
            ),
        ]
    else:
        found[name] = [
            *found["win rate, won value, cycle"],
            *found["win rate, won value, cycle by owner"],
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
    from dealgate.insights.queries import fetch, fold, session

    result["upkeep"] = _upkeep(vendor, fold)

    for label, scope in scopes().items():
        for name, statements in queries(vendor, scope).items():

            def run(statements=statements):
                with session():
                    for query in statements:
                        fetch(query)

            result["queries"][f"{name}|{label}"] = timed(run)
    result["pages"] = _pages()
    print(json.dumps(result))


UPKEEP_DEALS = 2_000


def _upkeep(vendor: str, fold) -> dict[str, float]:
    """What the rollups cost to keep: folding the change log the load left
    (every deal, once), then closing UPKEEP_DEALS open deals one statement
    each and reopening them, with the triggers (and on PostgreSQL without,
    for the difference), and folding those changes."""
    from django.db import connection, transaction

    found: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM insights_dealchange")
        found["initial changes"] = cursor.fetchone()[0]
    started = time.perf_counter()
    fold()
    found["initial fold"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM deals_deal WHERE status = 'open' ORDER BY id LIMIT %s",
            [UPKEEP_DEALS],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("ANALYZE")
    closed_at = NOW if vendor == "postgresql" else str(NAIVE_NOW)

    def close_and_reopen() -> float:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for deal_id in ids:
                cursor.execute(
                    "UPDATE deals_deal SET status = 'won', closed_at = %s "
                    "WHERE id = %s",
                    [closed_at, deal_id],
                )
            for deal_id in ids:
                cursor.execute(
                    "UPDATE deals_deal SET status = 'open', closed_at = NULL "
                    "WHERE id = %s",
                    [deal_id],
                )
        return time.perf_counter() - started

    close_and_reopen()  # warm
    fold()
    found["close and reopen, with triggers"] = close_and_reopen()
    started = time.perf_counter()
    found["changes folded"] = fold()
    found["fold of those changes"] = time.perf_counter() - started
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE deals_deal DISABLE TRIGGER USER")
        try:
            found["close and reopen, without triggers"] = close_and_reopen()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE deals_deal ENABLE TRIGGER USER")
    return found


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
    # The same page with every statement on the page's own connection, for
    # the difference the statements sent ahead make (queries.BESIDE).
    from dealgate.insights import queries

    beside, queries.BESIDE = queries.BESIDE, 0
    try:
        found["/insights/ (all time, one connection)"] = timed(
            lambda: client.get(pages["/insights/ (all time)"])
        )
    finally:
        queries.BESIDE = beside
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
    print(
        "\nRead from the daily rollups on PostgreSQL and SQLite (DuckDB scans "
        "the deals for the same question):"
    )
    for name, how in FROM_ROLLUPS.items():
        print(f"  {name}: {how}")
    for name in ("PostgreSQL", "SQLite"):
        upkeep = results.get(name, {}).get("upkeep")
        if not upkeep:
            continue
        print(f"\nRollup upkeep, {name} ({UPKEEP_DEALS:,} deals closed then reopened)")
        for what, value in upkeep.items():
            shown = f"{value:,}" if isinstance(value, int) else f"{value:.3f} s"
            print(f"  {what:<40}{shown:>14}")
        with_ = upkeep.get("close and reopen, with triggers")
        without = upkeep.get("close and reopen, without triggers")
        if with_ and without:
            added = (with_ - without) / (2 * UPKEEP_DEALS) * 1e6
            print(f"  {'added per close or reopen':<40}{added:>11.0f} us")


def _seconds(value: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.3f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return f"{'':>8}"
    return f"{value / base:>7.1f}x"


if __name__ == "__main__":
    main()
