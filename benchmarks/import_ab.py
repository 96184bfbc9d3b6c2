"""Deal import: this checkout against another, in alternating runs.

Prints figures and asserts nothing. Each version imports the same
100,000-row synthetic file (`import_deals.synthetic`) into empty tables of
its own database, migrated by its own code, through `import_deals.py
--child import` of its own checkout, in turn (ABBA order), so that a
machine's drift over the minutes falls on both alike. Use it to tell what
a change costs: single runs spread more than most changes weigh.

    .venv/bin/python benchmarks/import_ab.py --against /path/to/other/checkout \\
        [--database sqlite|postgresql] [--runs 6]

The other checkout is usually a `git worktree add /tmp/before <commit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import import_deals as bench

ROWS = 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another checkout")
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql"), default="sqlite"
    )
    parser.add_argument("--runs", type=int, default=6, help="runs per version")
    args = parser.parse_args()
    if args.against is None:
        # `make bench` runs every script: this one has nothing to compare.
        print("import_ab: give --against CHECKOUT to compare with; nothing measured")
        return
    versions = {"this": bench.ROOT, "other": args.against.resolve()}
    folder = bench.synthetic(ROWS)
    print(f"load average before: {bench.load_average()}")
    for name, root in versions.items():
        fresh(args.database, name, root)
    seconds: dict[str, list[float]] = {name: [] for name in versions}
    for run in range(args.runs):
        order = list(versions.items())
        if run % 2:
            order.reverse()
        for name, root in order:
            result = child(args.database, name, root, folder)
            seconds[name].append(result["seconds"])
            print(
                f"{name:<5} {result['seconds']:.2f} s, "
                f"{ROWS / result['seconds']:,.0f} rows/s, "
                f"cpu {result['cpu']:.2f} s, server {result['server_cpu']:.2f} s",
                flush=True,
            )
    print(f"load average after: {bench.load_average()}")
    for name, root in versions.items():
        median = statistics.median(seconds[name])
        print(
            f"{name} ({root}): median {median:.2f} s = {ROWS / median:,.0f} rows/s, "
            f"runs {min(seconds[name]):.2f}-{max(seconds[name]):.2f} s"
        )
    ratio = statistics.median(seconds["this"]) / statistics.median(seconds["other"])
    print(f"this / other: {ratio:.2f} of the time")


def url(database: str, name: str) -> str:
    if database == "sqlite":
        return f"sqlite:///{bench.WORK / f'ab-{name}.sqlite3'}"
    return f"postgres://postgres@127.0.0.1:5432/{bench.POSTGRES_DB}_{name}"


def fresh(database: str, name: str, root: Path) -> None:
    """An empty database for `name`, migrated by its own checkout."""
    bench.WORK.mkdir(parents=True, exist_ok=True)
    if database == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (bench.WORK / f"ab-{name}.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        import psycopg

        database_name = f"{bench.POSTGRES_DB}_{name}"
        with psycopg.connect(bench.POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database_name}")
            admin.execute(f"CREATE DATABASE {database_name}")
    subprocess.run(
        [sys.executable, "-m", "dealgate", "migrate"],
        env=environment(database, name, root),
        check=True,
        capture_output=True,
        cwd=root,
    )


def child(database: str, name: str, root: Path, folder: Path) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            str(root / "benchmarks" / "import_deals.py"),
            *("--child", "import", str(folder)),
        ],
        env=environment(database, name, root),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def environment(database: str, name: str, root: Path) -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=url(database, name),
        DJANGO_SETTINGS_MODULE="dealgate.settings",
        DEALGATE_VAR_DIR=str(bench.WORK),
        DEALGATE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(root),
    )


if __name__ == "__main__":
    main()
