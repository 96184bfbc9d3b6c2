"""Load the synthetic history (insightsbench/data.py) into a database.

PostgreSQL and SQLite get the project's own schema (Django migrations), the
reference rows (users, teams, organizations, products, the pipeline) through
the ORM and the deals and events by COPY or executemany. DuckDB gets the same
rows in tables of the same names, with the columns the insights read.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from insightsbench.data import (
    DEAL_COLUMNS,
    EVENT_COLUMNS,
    NULL,
    ORGANIZATIONS,
    PRODUCTS,
    SECTORS,
    STAGES,
    TEAMS,
    USERS,
    Shape,
)

BATCH = 50_000


def seed_reference_rows() -> None:
    """Users in teams, organizations with sectors, products and a six-stage
    pipeline whose stage ids are 1..6 (run on a freshly migrated database)."""
    from django.db import transaction

    from dealgate.accounts.models import Team, User
    from dealgate.deals.models import Organization, Product
    from dealgate.pipelines.models import Handoff, Pipeline, Stage

    with transaction.atomic():
        teams = [Team.objects.create(name=f"Team {n}") for n in range(TEAMS)]
        User.objects.bulk_create(
            User(
                username=f"rep{n}",
                first_name="Rep",
                last_name=f"Number {n}",
                role="rep",
                team=teams[n % TEAMS],
            )
            for n in range(USERS)
        )
        Organization.objects.bulk_create(
            Organization(name=f"Organization {n}", sector=SECTORS[n % len(SECTORS)])
            for n in range(ORGANIZATIONS)
        )
        Product.objects.bulk_create(
            Product(name=f"Product {n}") for n in range(PRODUCTS)
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
            settings={"bottleneck_share": 0.4},
        )
        stages = [
            Stage.objects.create(
                pipeline=pipeline,
                key=f"stage-{n}",
                name=f"Stage {n}",
                position=n,
                owner_kind="deal_owner",
                age_limit_days=5 + 5 * n,
                exit_criteria=[{"label": "checked", "rule": "true"}],
            )
            for n in range(STAGES)
        ]
        for before, after in zip([None, *stages], stages, strict=False):
            Handoff.objects.create(
                pipeline=pipeline,
                from_stage=before,
                to_stage=after,
                response_window_minutes=480,
            )
    assert [stage.pk for stage in stages] == list(range(1, STAGES + 1))


def load_postgres(url: str, shape: Shape) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        _copy(conn, "deals_deal", DEAL_COLUMNS, shape.deals_file)
        _copy(conn, "deals_stageevent", EVENT_COLUMNS, shape.events_file)
        for table in ("deals_deal", "deals_stageevent"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _copy(conn, table: str, columns: tuple[str, ...], path: Path) -> None:
    sql = (
        f"COPY {table} ({', '.join(columns)}) FROM STDIN "
        f"WITH (FORMAT csv, NULL '{NULL}')"
    )
    with conn.cursor() as cursor, cursor.copy(sql) as copy, path.open("rb") as source:
        while chunk := source.read(1 << 20):
            copy.write(chunk)


def load_sqlite(path: str, shape: Shape) -> None:
    conn = sqlite3.connect(path)
    for table, columns, source in (
        ("deals_deal", DEAL_COLUMNS, shape.deals_file),
        ("deals_stageevent", EVENT_COLUMNS, shape.events_file),
    ):
        marks = ", ".join("?" * len(columns))
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        with source.open(newline="") as handle:
            batch = []
            for row in csv.reader(handle):
                batch.append([None if cell == NULL else cell for cell in row])
                if len(batch) >= BATCH:
                    conn.executemany(insert, batch)
                    batch.clear()
            conn.executemany(insert, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


DUCK_DEAL_TYPES = {
    "id": "BIGINT",
    "pipeline_id": "BIGINT",
    "stage_id": "BIGINT",
    "status": "VARCHAR",
    "title": "VARCHAR",
    "organization_id": "BIGINT",
    "product_id": "BIGINT",
    "owner_id": "BIGINT",
    "value": "DECIMAL(14, 2)",
    "currency": "VARCHAR",
    "loss_reason": "VARCHAR",
    "loss_note": "VARCHAR",
    "notes": "VARCHAR",
    "custom": "VARCHAR",
    "checklist": "VARCHAR",
    "created_at": "TIMESTAMP",
    "stage_entered_at": "TIMESTAMP",
    "closed_at": "TIMESTAMP",
    "source": "VARCHAR",
    "external_id": "VARCHAR",
    "version": "INTEGER",
}
DUCK_EVENT_TYPES = {
    "deal_id": "BIGINT",
    "from_stage_id": "BIGINT",
    "to_stage_id": "BIGINT",
    "from_status": "VARCHAR",
    "to_status": "VARCHAR",
    "at": "TIMESTAMP",
    "from_entered_at": "TIMESTAMP",
    "from_business_minutes": "DOUBLE",
    "override_reason": "VARCHAR",
    "loss_reason": "VARCHAR",
    "source": "VARCHAR",
}


def load_duckdb(shape: Shape):
    """An in-memory DuckDB with the same deals, events, users and sectors."""
    import duckdb

    from insightsbench.data import SECTORS as sectors

    conn = duckdb.connect()
    for table, types, source in (
        ("deals_deal", DUCK_DEAL_TYPES, shape.deals_file),
        ("deals_stageevent", DUCK_EVENT_TYPES, shape.events_file),
    ):
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
        conn.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{source}', "
            f"header = false, nullstr = '{NULL}', columns = {{{columns}}})"
        )
    conn.execute(
        "CREATE TABLE accounts_user AS SELECT range + 1 AS id, "
        f"(range % {TEAMS}) + 1 AS team_id FROM range({USERS})"
    )
    sector_list = ", ".join(f"'{name}'" for name in sectors)
    conn.execute(
        "CREATE TABLE deals_organization AS SELECT range + 1 AS id, "
        f"list_extract([{sector_list}], (range % {len(sectors)}) + 1) AS sector "
        f"FROM range({ORGANIZATIONS})"
    )
    return conn
