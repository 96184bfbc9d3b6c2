"""Deal import: rows/s and memory against Django's bulk_create of the same rows.

Prints figures and asserts nothing. Files: the Maven demo data (8,800 rows)
and maven-shaped synthetic files of 100,000 and 200,000 rows (opportunities
drawn from the demo with new ids, side files copied). Databases: a scratch
SQLite file under /tmp and the PostgreSQL database dealgate_bench_imp, both
rebuilt on every run.

Every measurement runs in its own child process from an empty deals table:
`import` is `import_deals` with the maven-crm mapping; `bulk_create` reads the
same file with csv.DictReader, resolves the same names and dates, and saves
deals and their stage events with bulk_create in batches of 1,000, in one
transaction. Rows/s counts file rows (deals). Memory: growth of the child's
peak RSS during the run, and for the importer a separate run under
tracemalloc for the peak of Python allocations. "cpu s" and "db s" are the
import's CPU seconds per 100,000 rows in the process (SQLite's work included)
and in its PostgreSQL backend: steadier than rows/s on a busy machine.
"onto 100,000" imports 100,000 more rows into a table that already holds
100,000 deals (written, untimed, just before): the first import of an
installation may build the indexes after the load, a later one may not.
"pre-converted" times the same import of 100,000 rows with the file
already read and converted, untimed, before the clock starts: the
databases' share of the work, a ceiling for the whole import.
Goal: 50,000 rows/s on both databases (about 3 times bulk_create) and
memory flat as the file grows.

    .venv/bin/python benchmarks/import_deals.py [--repeat 3] [--quick]

BENCH_LOG_LEVEL=INFO shows the importer's own log lines (index builds,
foreign keys) from each child.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "dealgate" / "demo" / "data" / "maven-crm"
WORK = Path("/tmp/dealgate-bench-imp")
SQLITE_PATH = WORK / "bench.sqlite3"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_DB = "dealgate_bench_imp"
DATABASES = [
    ("SQLite", f"sqlite:///{SQLITE_PATH}"),
    ("PostgreSQL", f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DB}"),
]
SIDE_FILES = ("accounts.csv", "products.csv", "sales_teams.csv")
ZONE = "America/New_York"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
GOAL = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure")
    parser.add_argument("--quick", action="store_true", help="demo data only, once")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "FOLDER"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(*args.child)))
        return
    files = [("demo", DEMO_DIR)]
    if not args.quick:
        files += [(f"{n:,} rows", synthetic(n)) for n in (100_000, 200_000)]
    repeat = 1 if args.quick else args.repeat
    print(f"Import: rows/s (median of {repeat}) and memory; goal {GOAL:,} rows/s")
    print(f"load average at the start: {load_average()}\n")
    header = (
        f"{'database':<11}{'file':<13}{'import':>10}{'bulk_create':>12}{'ratio':>7}"
        f"{'RSS +MB':>9}{'heap MB':>9}{'bulk RSS +MB':>13}{'cpu s':>8}{'db s':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, url in DATABASES:
        fresh_database(name, url)
        for label, folder in files:
            line = measure(url, folder, repeat)
            print(f"{name:<11}{label:<13}{line}", flush=True)
            if name == "PostgreSQL":
                runs = [child(url, "import-exclusive", folder) for _ in range(repeat)]
                rate = statistics.median(r["rows"] / r["seconds"] for r in runs)
                print(f"{'':<11}{'--exclusive':<13}{rate:>10,.0f}", flush=True)
        if not args.quick:
            for method, label in (
                ("import-onto", "onto 100,000"),
                ("import-converted", "pre-converted"),
            ):
                runs = [child(url, method, synthetic(100_000)) for _ in range(repeat)]
                rate = statistics.median(r["rows"] / r["seconds"] for r in runs)
                cpu = statistics.median(r["cpu"] * 1e5 / r["rows"] for r in runs)
                server = statistics.median(
                    r["server_cpu"] * 1e5 / r["rows"] for r in runs
                )
                print(
                    f"{name:<11}{label:<13}{rate:>10,.0f}{'':>50}"
                    f"{cpu:>8.2f}{server:>8.2f}",
                    flush=True,
                )
    print(f"\nload average at the end: {load_average()}")


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load: figures from a busy machine
    are not comparable with a quiet one's."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def measure(url: str, folder: Path, repeat: int) -> str:
    imports = [child(url, "import", folder) for _ in range(repeat)]
    baseline = [child(url, "bulk_create", folder) for _ in range(repeat)]
    traced = child(url, "import-traced", folder)
    rate = statistics.median(r["rows"] / r["seconds"] for r in imports)
    base = statistics.median(r["rows"] / r["seconds"] for r in baseline)
    growth = max(r["rss_growth_kb"] for r in imports) / 1024
    base_growth = max(r["rss_growth_kb"] for r in baseline) / 1024
    heap = traced["heap_peak_bytes"] / 2**20
    # CPU seconds per 100,000 rows, the process's and PostgreSQL's backend:
    # steadier than rows/s on a busy machine.
    cpu = statistics.median(r["cpu"] * 1e5 / r["rows"] for r in imports)
    server = statistics.median(r["server_cpu"] * 1e5 / r["rows"] for r in imports)
    return (
        f"{rate:>10,.0f}{base:>12,.0f}{rate / base:>6.1f}x"
        f"{growth:>9.1f}{heap:>9.1f}{base_growth:>13.1f}{cpu:>8.2f}{server:>8.2f}"
    )


def child(url: str, method: str, folder: Path) -> dict:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dealgate.settings",
        DEALGATE_VAR_DIR=str(WORK),
        DEALGATE_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, __file__, "--child", method, str(folder)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{method} on {folder} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_database(name: str, url: str) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if name == "SQLite":
        SQLITE_PATH.unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB}")
            admin.execute(f"CREATE DATABASE {POSTGRES_DB}")
    env = dict(os.environ, DATABASE_URL=url, DEALGATE_VAR_DIR=str(WORK))
    subprocess.run(
        [sys.executable, "-m", "dealgate", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )


def synthetic(rows: int, prefix: str = "SYN") -> Path:
    """A maven-shaped folder: `rows` opportunities drawn from the demo data,
    their ids made of `prefix` and a number."""
    folder = (
        WORK / f"synthetic-{rows}" if prefix == "SYN" else WORK / f"{prefix}-{rows}"
    )
    target = folder / "sales_pipeline.csv"
    if target.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        shutil.copy(DEMO_DIR / name, folder / name)
    with open(DEMO_DIR / "sales_pipeline.csv", newline="") as source:
        header, *demo = list(csv.reader(source))
    pick = random.Random(rows).choice
    with open(target, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        for number in range(rows):
            writer.writerow([f"{prefix}{number:08d}", *pick(demo)[1:]])
    return folder


# -- in the child process ------------------------------------------------------


def run_child(method: str, folder: str) -> dict:
    import django

    django.setup()
    # Loaded before the clock starts, as Django's models are for bulk_create:
    # loading the modules is a fixed cost (0.1-0.2 s), not a per-row one.
    import dealgate.imports.services  # noqa: F401

    pipeline = bench_pipeline()
    empty_deals()
    if method == "import-onto":
        # The table's first 100,000 deals, untimed; their ids differ.
        dealgate_import(
            synthetic(100_000, "PRE"), pipeline, traced=False, exclusive=False
        )
        vacuum_analyze()
    if method == "import-converted":
        converted = read_and_convert(Path(folder), pipeline)
    before = peak_rss_kb()
    server = server_cpu_seconds()
    cpu = time.process_time()
    started = time.perf_counter()
    if method == "bulk_create":
        rows = orm_import(Path(folder), pipeline)
    elif method == "import-converted":
        rows = converted_import(Path(folder), pipeline, converted)
    else:
        rows, heap = dealgate_import(
            Path(folder),
            pipeline,
            traced=method == "import-traced",
            exclusive=method == "import-exclusive",
        )
    seconds = time.perf_counter() - started
    result = {
        "rows": rows,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "server_cpu": server_cpu_seconds() - server,
        "rss_growth_kb": peak_rss_kb() - before,
    }
    if method == "import-traced":
        result["heap_peak_bytes"] = heap
    return result


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bench_pipeline():
    from dealgate.pipelines.models import Pipeline, Stage

    pipeline, created = Pipeline.objects.get_or_create(
        key="bench",
        defaults={
            "name": "Bench",
            "calendar": {
                "timezone": ZONE,
                "hours": {day: ["09:00-17:00"] for day in WEEKDAYS},
                "holidays": {"country": "US"},
            },
            "loss_reasons": [{"key": "not-recorded", "label": "Not recorded"}],
        },
    )
    if created:
        for position, key in enumerate(["prospecting", "engaging"]):
            Stage.objects.create(
                pipeline=pipeline, key=key, name=key.title(), position=position
            )
    return pipeline


def empty_deals() -> None:
    from django.db import connection, transaction

    tables = connection.introspection.table_names()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM deals_stageevent")
        cursor.execute("DELETE FROM deals_deal")
        if "insights_dealchange" in tables:
            # The insights triggers log every deal written or deleted; start
            # each run from the same empty log.
            cursor.execute("DELETE FROM insights_dealchange")
    vacuum_analyze()


def vacuum_analyze() -> None:
    """PostgreSQL: the statistics and visibility map of a settled table."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    tables = connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE deals_deal")
        cursor.execute("VACUUM ANALYZE deals_stageevent")
        if "insights_dealchange" in tables:
            cursor.execute("VACUUM ANALYZE insights_dealchange")


def server_cpu_seconds() -> float:
    """CPU time of this process's PostgreSQL backend (same machine); 0 for
    SQLite, whose work is counted in the process itself."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dealgate_import(
    folder: Path, pipeline, *, traced: bool, exclusive: bool
) -> tuple[int, int]:
    import tracemalloc

    from dealgate.imports.services import import_deals

    if traced:
        tracemalloc.start()
    report = import_deals(folder, "maven-crm", pipeline=pipeline, exclusive=exclusive)
    heap = tracemalloc.get_traced_memory()[1] if traced else 0
    if report.deals_created != report.rows_read:
        raise SystemExit(f"import went wrong: {report}")
    return report.rows_read, heap


def read_and_convert(folder: Path, pipeline) -> list[tuple[int, list]]:
    """Every good row of the file as the importer converts it, with its line:
    an import run whose reading pass keeps the rows and writes nothing."""
    from dealgate.imports import services

    converted: list[tuple[int, list]] = []

    def keep(source, rows, batch, report, progress) -> None:
        for record in source:
            report.rows_read += 1
            converted.append((record.line, rows.convert(record.fields)))

    with _replacing(services, "_stream", keep):
        services.import_deals(folder, "maven-crm", pipeline=pipeline)
    return converted


def converted_import(folder: Path, pipeline, converted: list[tuple[int, list]]) -> int:
    """`import_deals` fed the rows `read_and_convert` kept instead of reading
    the file: the batches, writes, index builds, checks and commit only."""
    from dealgate.imports import services

    def replay(source, rows, batch, report, progress) -> None:
        for line, deal in converted:
            report.rows_read += 1
            batch.lines.append(line)
            batch.deals.append(deal)
            if len(batch.deals) >= services.BATCH_SIZE:
                batch.flush(len(converted))
        batch.flush(report.rows_read)
        batch.count_present()

    with _replacing(services, "_stream", replay):
        report = services.import_deals(folder, "maven-crm", pipeline=pipeline)
    if report.deals_created != len(converted):
        raise SystemExit(f"import went wrong: {report}")
    return report.rows_read


@contextmanager
def _replacing(module, name: str, replacement) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


def orm_import(folder: Path, pipeline) -> int:
    """The same deals and events through the ORM: what one would write first.

    Side records exist already (the import runs first); names, stages and
    dates are resolved as the maven-crm mapping does.
    """
    from zoneinfo import ZoneInfo

    from django.db import transaction

    from dealgate.accounts.models import User
    from dealgate.deals.models import Deal, Organization, Product

    zone = ZoneInfo(ZONE)
    stages = {stage.key: stage.pk for stage in pipeline.stages.all()}
    orgs = dict(Organization.objects.values_list("name", "pk"))
    products = {
        name.replace(" ", ""): pk
        for name, pk in Product.objects.values_list("name", "pk")
    }
    owners = {f"{u.first_name} {u.last_name}": u.pk for u in User.objects.all()}
    meaning = {
        "Prospecting": ("open", "prospecting"),
        "Engaging": ("open", "engaging"),
        "Won": ("won", "engaging"),
        "Lost": ("lost", "engaging"),
    }

    def instant(text: str) -> dt.datetime | None:
        if not text:
            return None
        day = dt.date.fromisoformat(text)
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)

    count = 0
    with transaction.atomic(), open(folder / "sales_pipeline.csv", newline="") as f:
        batch: list = []
        for row in csv.DictReader(f):
            status, stage = meaning[row["deal_stage"]]
            value = Decimal(row["close_value"]) if row["close_value"] else None
            product = row["product"]
            account = row["account"]
            batch.append(
                Deal(
                    pipeline_id=pipeline.pk,
                    stage_id=stages[stage],
                    status=status,
                    title=f"{product} for {account}" if account else product,
                    organization_id=orgs.get(account),
                    product_id=products[product.replace(" ", "")],
                    owner_id=owners[row["sales_agent"]],
                    value=None if status == "lost" else value,
                    loss_reason="not-recorded" if status == "lost" else "",
                    created_at=instant(row["engage_date"]),
                    stage_entered_at=instant(row["engage_date"]),
                    closed_at=instant(row["close_date"]) if status != "open" else None,
                    source="maven-crm",
                    external_id=row["opportunity_id"],
                )
            )
            if len(batch) == 1000:
                count += save_with_events(batch)
                batch = []
        count += save_with_events(batch)
    return count


def save_with_events(deals: list) -> int:
    from dealgate.deals.models import Deal, StageEvent

    Deal.objects.bulk_create(deals)
    events = []
    for deal in deals:
        if deal.stage_entered_at is not None:
            events.append(
                StageEvent(
                    deal_id=deal.pk,
                    to_stage_id=deal.stage_id,
                    to_status="open",
                    at=deal.stage_entered_at,
                    source="import",
                )
            )
        if deal.status != "open":
            events.append(
                StageEvent(
                    deal_id=deal.pk,
                    from_stage_id=deal.stage_id,
                    to_stage_id=deal.stage_id,
                    from_status="open",
                    to_status=deal.status,
                    at=deal.closed_at,
                    from_entered_at=deal.stage_entered_at,
                    source="import",
                )
            )
    StageEvent.objects.bulk_create(events, batch_size=1000)
    return len(deals)


if __name__ == "__main__":
    main()
