"""Gated moves through the service, with 100,000 deals on PostgreSQL.

Prints figures and asserts nothing. Every move goes through
`dealgate.deals.services.move_deal`: lock, version check, criteria on fields,
custom fields, a checklist and activities, the event with its business
minutes, and the clocks. A primary-key read of the same deals in the same run
is the baseline, and one more move shows its statements. Goal: p99 under 20 ms
at 100,000 deals.

    .venv/bin/python benchmarks/moves.py [--sqlite]
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

DEALS = 100_000
MOVES = 2_000
WARM_UP = 100
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/dealgate_bench_moves"
SQLITE_PATH = "/tmp/dealgate-bench-moves.sqlite3"
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
ENTERED = NOW - dt.timedelta(days=3)

EXIT_CRITERIA = {
    "mode": "all",
    "items": [
        {
            "label": "Value over 1,000",
            "rule": "deal.value != null && deal.value > 1000",
        },
        {"label": "Decision date named", "rule": "deal.expected_close_date != null"},
        {"label": "Budget confirmed", "rule": "checklist.budget == true"},
        {"label": "Discovery meeting held", "rule": 'held("meeting", "discovery")'},
        {"label": "Seats known", "rule": "deal.custom.seats != null"},
    ],
}


def main() -> None:
    sqlite = "--sqlite" in sys.argv
    url = f"sqlite:///{SQLITE_PATH}" if sqlite else POSTGRES_URL
    fresh_database(url)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dealgate.settings",
        DEALGATE_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    deal_ids = seed()
    print(f"Moves: {DEALS:,} open deals, {MOVES:,} gated moves, 5 exit criteria")
    print(f"database: {'SQLite' if sqlite else 'PostgreSQL'}\n")
    counted, deal_ids = deal_ids[-1], deal_ids[:-1]
    report("primary-key read (baseline)", time_reads(deal_ids))
    report("move_deal, criteria met", time_moves(deal_ids))
    show_queries(counted)


def fresh_database(url: str) -> None:
    if url.startswith("sqlite"):
        Path(SQLITE_PATH).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as conn:
        conn.execute("DROP DATABASE IF EXISTS dealgate_bench_moves WITH (FORCE)")
        conn.execute("CREATE DATABASE dealgate_bench_moves")


def seed() -> list[int]:
    """A five-stage pipeline, 100,000 open deals in its first stage, and the
    facts the criteria read for the deals that will move."""
    from django.db import transaction

    from dealgate.accounts.models import User
    from dealgate.deals.models import Activity, Deal
    from dealgate.pipelines.models import Pipeline, Stage

    with transaction.atomic():
        rep = User.objects.create_user(username="rep", role="rep")
        pipeline = Pipeline.objects.create(
            key="bench",
            name="Bench",
            calendar={
                "timezone": "Europe/Berlin",
                "hours": {
                    d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")
                },
                "holidays": {"country": "DE", "subdivision": "BE"},
            },
            custom_fields=[{"key": "seats", "label": "Seats", "type": "number"}],
        )
        stages = [
            Stage.objects.create(
                pipeline=pipeline,
                key=f"s{n}",
                name=f"Stage {n}",
                position=n,
                owner_kind=Stage.OwnerKind.DEAL_OWNER,
                age_limit_days=10,
                exit_criteria=EXIT_CRITERIA,
            )
            for n in range(5)
        ]
        Deal.objects.bulk_create(
            (
                Deal(
                    pipeline=pipeline,
                    stage=stages[0],
                    title=f"Deal {n}",
                    owner=rep,
                    value=5000,
                    expected_close_date=dt.date(2026, 9, 30),
                    checklist={"budget": True},
                    custom={"seats": 40},
                    created_at=ENTERED,
                    stage_entered_at=ENTERED,
                )
                for n in range(DEALS)
            ),
            batch_size=5000,
        )
        ids = list(
            Deal.objects.order_by("?").values_list("pk", flat=True)[
                : MOVES + WARM_UP + 1
            ]
        )
        Activity.objects.bulk_create(
            Activity(
                deal_id=deal_id,
                kind="meeting",
                tag="discovery",
                subject="Discovery call",
                done=True,
                at=ENTERED,
            )
            for deal_id in ids
        )
    return ids


def time_reads(deal_ids: list[int]) -> list[float]:
    from django.db import transaction

    from dealgate.deals.models import Deal

    times = []
    for deal_id in deal_ids:
        started = time.perf_counter()
        with transaction.atomic():
            Deal.objects.get(pk=deal_id)
        times.append(time.perf_counter() - started)
    return times[WARM_UP:]


def time_moves(deal_ids: list[int]) -> list[float]:
    from dealgate import timesource
    from dealgate.accounts.models import User
    from dealgate.deals.services import move_deal

    rep = User.objects.get(username="rep")
    times = []
    with timesource.frozen_at(NOW):
        for deal_id in deal_ids:
            started = time.perf_counter()
            move_deal(deal_id, "s1", by=rep, expected_version=1)
            times.append(time.perf_counter() - started)
    return times[WARM_UP:]


def show_queries(deal_id: int) -> None:
    """The statements of one more move, BEGIN and COMMIT included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealgate import timesource
    from dealgate.accounts.models import User
    from dealgate.deals.services import move_deal

    rep = User.objects.get(username="rep")
    with timesource.frozen_at(NOW), CaptureQueriesContext(connection) as queries:
        move_deal(deal_id, "s1", by=rep, expected_version=1)
    print(f"\none move: {len(queries.captured_queries)} statements")
    for query in queries.captured_queries:
        # Django logs no text for a statement psycopg sent prepared.
        print(f"  {(query['sql'] or '(a prepared statement)')[:76]}")


BASELINE: list[float] = []


def report(what: str, times: list[float]) -> None:
    ordered = sorted(times)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    rate = len(times) / sum(times)
    if not BASELINE:
        BASELINE.append(p50)
    ratio = p50 / BASELINE[0]
    print(
        f"{what:<32} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
        f"{rate:7,.0f}/s  {ratio:5.1f}x baseline p50"
    )


if __name__ == "__main__":
    main()
