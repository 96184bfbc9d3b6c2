"""The `dealgate` command: one entry point for every task a user runs."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pkgutil
import signal
import sys
import threading

from dealgate import commands
from dealgate.core.interrupts import InterruptedAfterwards, ignored_interrupts

# The application's loggers (settings.LOGGING gives them their handler).
LOGGER = "dealgate"


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealgate",
        description="A self-hosted sales pipeline that decides, not a list that stores",
    )
    _add_common_options(parser, after_command=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    # Every module under dealgate.commands adds its own subcommands.
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    for command in _command_parsers(parser):
        _add_common_options(command, after_command=True)
    return parser


# The options of every command, and where argparse keeps their values.
COMMON_OPTIONS = {"--as-of", "--database-url", "-v", "--verbose"}
COMMON_DESTS = {"as_of", "database_url", "verbose"}


def _add_common_options(
    parser: argparse.ArgumentParser, *, after_command: bool
) -> None:
    """The options every command takes, before its name or after it.

    After it they have no default of their own: a command's parser copies
    its values over those read before the command, so a default there would
    undo `dealgate -v sweep`. Given in both places, the one after the
    command wins, as the later of an option given twice does.
    """
    taken = [
        action
        for action in parser._actions
        if action.dest in COMMON_DESTS or set(action.option_strings) & COMMON_OPTIONS
    ]
    if taken:
        # One name with two meanings: which one a user got would depend on
        # where they typed it.
        name = "/".join(taken[0].option_strings) or taken[0].dest
        raise ValueError(
            f"{parser.prog}: its {name} clashes with --as-of, --database-url or "
            "-v/--verbose, options of every dealgate command; it may not have "
            "its own"
        )
    unset = argparse.SUPPRESS if after_command else None
    group = parser.add_argument_group(
        "options of every command",
        "before the command's name or after it (after wins if given in both)",
    )
    group.add_argument(
        "--as-of",
        metavar="DATE",
        type=_as_of,
        default=unset,
        help="treat this date or ISO instant as now (demos on historical data)",
    )
    group.add_argument(
        "--database-url",
        metavar="URL",
        default=unset,
        help="overrides DATABASE_URL for this run",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if after_command else False,
        help="also log what the command did to which deal, lead or clock (INFO)",
    )


def _as_of(text: str) -> str:
    """--as-of as typed, once it reads as a date or an instant."""
    from dealgate.timesource import parse_as_of

    try:
        parse_as_of(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _command_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser`: commands, and the actions of a command
    that has them (`deal move`)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):
                found += [command, *_command_parsers(command)]
    return found


def setup_django(args: argparse.Namespace) -> None:
    # --as-of, else DEALGATE_AS_OF: left in args.as_of for a command that
    # records it.
    as_of = args.as_of or os.environ.get("DEALGATE_AS_OF")
    args.as_of = as_of
    if as_of:
        os.environ["DEALGATE_AS_OF"] = as_of
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")
    import django

    django.setup()
    _set_log_level(args)
    if not as_of:
        from dealgate.timesource import use_recorded_as_of

        # A demo database runs at its data set's last day (while the demo's
        # pipeline is its only one); `dealgate demo` loads at it before it
        # records it (timesource.running_at).
        use_recorded_as_of()


def _set_log_level(args: argparse.Namespace) -> None:
    """A command prints what it did itself, so its log shows only warnings
    and errors unless --verbose or DEALGATE_LOG_LEVEL asks for more."""
    if args.verbose:
        _log_info()
    elif not os.environ.get("DEALGATE_LOG_LEVEL"):
        logging.getLogger(LOGGER).setLevel(logging.WARNING)


def log_progress() -> None:
    """For commands that run until stopped (serve, sweep --loop), whose log is
    all they have to say: INFO, unless DEALGATE_LOG_LEVEL chose a level."""
    if not os.environ.get("DEALGATE_LOG_LEVEL"):
        _log_info()


def _log_info() -> None:
    """Log INFO lines too, keeping a lower level (DEBUG) already chosen."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` (by default the process's own arguments) and
    return its exit status."""
    try:
        return _run(argv)
    except KeyboardInterrupt as interrupt:
        if argv is None and threading.current_thread() is threading.main_thread():
            # The program itself is ending: from here on Ctrl-C is ignored,
            # or one pressed as Python shuts down prints a traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if isinstance(interrupt, InterruptedAfterwards):
            # Held until the work had ended as it would have without it.
            said = "interrupted once the work had ended; the report says what was kept"
        else:
            # Whatever a command had not committed is rolled back; what it
            # had committed stays (an interrupt can land just after a
            # commit, before the command says so), and commands are safe to
            # run again.
            said = "interrupted; work not yet committed was rolled back"
        with ignored_interrupts():  # another Ctrl-C: no traceback over it
            print(f"dealgate: {said}", file=sys.stderr)
        return 130


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # A DEALGATE_AS_OF that is no date is refused before any command runs,
    # even one given --as-of: it would break the next command without it, or
    # a server's pages one by one.
    if os.environ.get("DEALGATE_AS_OF"):
        try:
            _as_of(os.environ["DEALGATE_AS_OF"])
        except argparse.ArgumentTypeError as exc:
            print(f"dealgate: DEALGATE_AS_OF: {exc}", file=sys.stderr)
            return 2
    from django.core.exceptions import ImproperlyConfigured

    try:
        setup_django(args)
    except ImproperlyConfigured as exc:
        # A setting that cannot be used (a secret's file missing, two
        # settings for one secret): its message names the variable, and
        # every command would fail the same way.
        print(f"dealgate: {exc}", file=sys.stderr)
        return 2
    from django.db import IntegrityError, OperationalError, ProgrammingError

    from dealgate.errors import DealgateError

    try:
        return int(args.func(args) or 0)
    except (CommandError, DealgateError) as exc:
        print(f"dealgate: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError, IntegrityError) as exc:
        if isinstance(exc, ProgrammingError) and not _missing_table(exc):
            raise
        if isinstance(exc, IntegrityError) and not _clashed(exc):
            raise
        print(f"dealgate: {_database_problem(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`dealgate deal show 4 | head -3`): stop
        # quietly, and let no later flush of stdout fail again.
        # (A stdout that is no file, as under a test's capture, has no fd.)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if exc.filename is None:
            raise
        # A file or folder the user named: one line, not a traceback.
        print(f"dealgate: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


def _missing_table(exc: Exception) -> bool:
    """Whether the database is not set up, or not upgraded: a table or a
    column the code reads is not there (SQLite's and PostgreSQL's words)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text.startswith(("no such table", "no such column")) or (
        text.startswith(("relation ", "column ")) and "does not exist" in text
    )


def _database_problem(exc: Exception) -> str:
    """One line for a database that cannot be used (down, missing, locked),
    naming it without its password; a traceback would only bury the cause."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    where = str(database["NAME"])
    if database.get("HOST"):
        where = f"{where} on {database['HOST']}:{database.get('PORT') or 5432}"
    # The first line says what happened; PostgreSQL's DETAIL, HINT, CONTEXT
    # and the statement with its caret follow it.
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    first = next((line for line in lines if line), type(exc).__name__)
    hint = ""
    if _missing_table(exc):
        hint = "; set it up or upgrade it first with `dealgate migrate`"
    elif _clashed(exc):
        hint = (
            "; another command changed the same rows at the same moment and "
            "nothing of this one was committed: run it again"
        )
    elif "does not exist" in first and database["ENGINE"].endswith("postgresql"):
        hint = f"; create it first (createdb {database['NAME']})"
    return f"database {where}: {first}{hint}"


def _clashed(exc: Exception) -> bool:
    """Whether a concurrent writer made this one fail: a deadlock, or the
    same new row written by two at once (two imports creating one
    organization)."""
    text = str(exc)
    return text.startswith("deadlock detected") or text.startswith(
        ("duplicate key value", "UNIQUE constraint failed")
    )


if __name__ == "__main__":
    sys.exit(main())
