"""This machine against ../shared/PERFORMANCE.md's ingest ceilings.

PERFORMANCE.md measured six ways of loading 100,000 rows of 10 columns on
a reference machine; the import's goal (50,000 rows/s, "about 3 times
bulk_create") was set from them. This script runs the same six steps here,
on the same kinds of rows, and prints each beside the reference figure:
how fast this machine is at the work the goal was scaled from. It uses
plain Django settings of its own, not Dealgate's, and asserts nothing.

    .venv/bin/python benchmarks/ingest_ceilings.py [--rows 100000] [--repeat 3]

Databases: a scratch SQLite file under /tmp and the PostgreSQL database
dealgate_bench_ceil on 127.0.0.1, made and dropped by the script.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

WORK = Path("/tmp/dealgate-bench-ceil")
CSV_PATH = WORK / "rows.csv"
SQLITE_PATH = WORK / "ceil.sqlite3"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_DB = "dealgate_bench_ceil"
BATCH = 1000

# PERFORMANCE.md, "Ingest (100,000 rows, 10 columns)": rows/s.
REFERENCE = {
    "stdlib csv, parse and type": 430_000,
    "SQLite executemany, one transaction": 560_000,
    "PostgreSQL COPY": 350_000,
    "PostgreSQL executemany": 63_000,
    "Django bulk_create (batches of 1,000), PostgreSQL": 25_000,
    "Django bulk_create (batches of 1,000), SQLite": 14_500,
}

HEADER = [
    "id",
    "title",
    "company",
    "amount",
    "created",
    "closed_at",
    "won",
    "stage",
    "owner",
    "note",
]
CREATE = (
    "CREATE TABLE ingest (id integer PRIMARY KEY, title varchar(200) NOT NULL, "
    "company varchar(200) NOT NULL, amount numeric(12, 2), created date NOT NULL, "
    "closed_at {instant}, won boolean NOT NULL, stage integer NOT NULL, "
    "owner varchar(100) NOT NULL, note text NOT NULL)"
)
INSERT = f"INSERT INTO ingest ({', '.join(HEADER)}) VALUES ({', '.join('?' * 10)})"

Row = tuple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per step")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    write_file(args.rows)
    rows = parse(CSV_PATH)
    as_text = sqlite_values(rows)
    setup_django()
    make_postgres()
    try:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("stdlib csv, parse and type", lambda: parse(CSV_PATH)),
            (
                "SQLite executemany, one transaction",
                lambda: sqlite_executemany(as_text),
            ),
            ("PostgreSQL COPY", lambda: postgres_copy(rows)),
            ("PostgreSQL executemany", lambda: postgres_executemany(rows)),
            (
                "Django bulk_create (batches of 1,000), PostgreSQL",
                lambda: django_bulk_create("pg", rows),
            ),
            (
                "Django bulk_create (batches of 1,000), SQLite",
                lambda: django_bulk_create("sqlite", rows),
            ),
        ]
        print(f"load average before: {load_average()}")
        print(f"\n{args.rows:,} rows of 10 columns, median of {args.repeat} runs\n")
        print("| step | rows/s here | PERFORMANCE.md | here / there |")
        print("| --- | --- | --- | --- |")
        shares = []
        for name, step in steps:
            seconds = statistics.median(timed(step) for _ in range(args.repeat))
            here = args.rows / seconds
            share = here / REFERENCE[name]
            shares.append(share)
            print(f"| {name} | {here:,.0f} | {REFERENCE[name]:,} | {share:.2f} |")
        print(
            f"\nmedian here / there: {statistics.median(shares):.2f}; "
            f"load average after: {load_average()}"
        )
    finally:
        drop_postgres()


def timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def write_file(count: int) -> None:
    pick = random.Random(7)
    start = dt.datetime(2024, 1, 1, 9, 0)
    with CSV_PATH.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(1, count + 1):
            created = start + dt.timedelta(minutes=pick.randrange(700_000))
            closed = created + dt.timedelta(hours=pick.randrange(1, 2000))
            writer.writerow(
                [
                    n,
                    f"Deal {n} {pick.choice(['rollout', 'audit', 'support'])}",
                    f"Company {pick.randrange(5000)}",
                    f"{pick.randrange(100, 100_000)}.{pick.randrange(100):02d}",
                    created.date().isoformat(),
                    closed.isoformat(sep=" ") if pick.random() < 0.6 else "",
                    "true" if pick.random() < 0.5 else "false",
                    pick.randrange(1, 7),
                    f"owner{pick.randrange(30)}",
                    "a note, with a comma" if pick.random() < 0.3 else "",
                ]
            )


def parse(path: Path) -> list[Row]:
    date, instant = dt.date.fromisoformat, dt.datetime.fromisoformat
    rows = []
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        for (
            n,
            title,
            company,
            amount,
            created,
            closed,
            won,
            stage,
            owner,
            note,
        ) in reader:
            rows.append(
                (
                    int(n),
                    title,
                    company,
                    Decimal(amount) if amount else None,
                    date(created),
                    instant(closed).replace(tzinfo=dt.UTC) if closed else None,
                    won == "true",
                    int(stage),
                    owner,
                    note,
                )
            )
    return rows


def sqlite_values(rows: list[Row]) -> list[Row]:
    """The rows as sqlite3 takes them: decimals and dates as text."""
    return [
        (r[0], r[1], r[2], str(r[3]) if r[3] is not None else None)
        + (r[4].isoformat(), r[5].isoformat() if r[5] else None)
        + r[6:]
        for r in rows
    ]


def sqlite_executemany(rows: list[Row]) -> None:
    SQLITE_PATH.unlink(missing_ok=True)
    connection = sqlite3.connect(SQLITE_PATH)
    try:
        connection.execute(CREATE.format(instant="timestamp"))
        connection.commit()
        with connection:
            connection.executemany(INSERT, rows)
    finally:
        connection.close()


def postgres_connect():
    import psycopg

    return psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{POSTGRES_DB}")


def postgres_fresh_table(connection) -> None:
    connection.execute("DROP TABLE IF EXISTS ingest")
    connection.execute(CREATE.format(instant="timestamptz"))
    connection.commit()


def postgres_copy(rows: list[Row]) -> None:
    with postgres_connect() as connection:
        postgres_fresh_table(connection)
        with connection.cursor() as cursor:
            columns = ", ".join(HEADER)
            with cursor.copy(f"COPY ingest ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        connection.commit()


def postgres_executemany(rows: list[Row]) -> None:
    with postgres_connect() as connection:
        postgres_fresh_table(connection)
        with connection.cursor() as cursor:
            cursor.executemany(INSERT.replace("?", "%s"), rows)
        connection.commit()


def setup_django() -> None:
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={
            "default": {},
            "sqlite": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(WORK / "django.sqlite3"),
            },
            "pg": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": POSTGRES_DB,
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": "5432",
            },
        },
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()


def ingest_model():
    from django.db import models

    existing = getattr(ingest_model, "model", None)
    if existing is not None:
        return existing

    class Ingest(models.Model):
        id = models.IntegerField(primary_key=True)
        title = models.CharField(max_length=200)
        company = models.CharField(max_length=200)
        amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
        created = models.DateField()
        closed_at = models.DateTimeField(null=True)
        won = models.BooleanField()
        stage = models.IntegerField()
        owner = models.CharField(max_length=100)
        note = models.TextField()

        class Meta:
            app_label = "ceilings"
            db_table = "ingest_django"

        def __str__(self) -> str:
            return self.title

    ingest_model.model = Ingest  # type: ignore[attr-defined]
    return Ingest


def django_bulk_create(alias: str, rows: list[Row]) -> None:
    from django.db import connections, transaction

    model = ingest_model()
    connection = connections[alias]
    with connection.schema_editor() as editor:
        if model._meta.db_table in connection.introspection.table_names():
            editor.delete_model(model)
        editor.create_model(model)
    objects = (model(*row) for row in rows)
    with transaction.atomic(using=alias):
        batch = []
        for instance in objects:
            batch.append(instance)
            if len(batch) == BATCH:
                model.objects.using(alias).bulk_create(batch)
                batch = []
        if batch:
            model.objects.using(alias).bulk_create(batch)


def make_postgres() -> None:
    import psycopg

    drop_postgres()
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {POSTGRES_DB}")


def drop_postgres() -> None:
    import psycopg
    from django.db import connections

    if "pg" in getattr(connections, "settings", {}):
        connections.close_all()
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
