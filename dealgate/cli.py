"""The `dealgate` command: one entry point for every task a user runs."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from dealgate import commands


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealgate",
        description="A self-hosted sales pipeline that decides, not a list that stores",
    )
    parser.add_argument(
        "--as-of",
        metavar="DATE",
        help="treat this date or ISO instant as now (demos on historical data)",
    )
    parser.add_argument(
        "--database-url", metavar="URL", help="overrides DATABASE_URL for this run"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    # Every module under dealgate.commands adds its own subcommands.
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def setup_django(args: argparse.Namespace) -> None:
    as_of = args.as_of or getattr(args, "as_of_default", None)
    if as_of:
        os.environ["DEALGATE_AS_OF"] = as_of
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_django(args)
    from django.db import OperationalError

    from dealgate.errors import DealgateError

    try:
        return int(args.func(args) or 0)
    except (CommandError, DealgateError) as exc:
        print(f"dealgate: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(f"dealgate: {_database_problem(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dealgate: interrupted; nothing was committed", file=sys.stderr)
        return 130


def _database_problem(exc: Exception) -> str:
    """One line for a database that cannot be used (down, missing, locked),
    naming it without its password; a traceback would only bury the cause."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    where = str(database["NAME"])
    if database.get("HOST"):
        where = f"{where} on {database['HOST']}:{database.get('PORT') or 5432}"
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip()
    hint = ""
    if "does not exist" in first and database["ENGINE"].endswith("postgresql"):
        hint = f"; create it first (createdb {database['NAME']})"
    return f"database {where}: {first}{hint}"


if __name__ == "__main__":
    sys.exit(main())
