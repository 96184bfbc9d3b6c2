"""`dealgate migrate`: create or upgrade the database."""

from __future__ import annotations

import argparse

from django.core.management import call_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="create or upgrade the database")
    parser.set_defaults(func=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    ensure_database()
    return 0


def ensure_database(verbosity: int = 1) -> None:
    """Create the SQLite folder if needed and apply every migration."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and name != ":memory:":
        from pathlib import Path

        Path(name).parent.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=verbosity)
