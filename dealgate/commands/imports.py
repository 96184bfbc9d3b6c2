"""`dealgate import deals FILE --mapping NAME|FILE`: bulk-import deals.

The word is `import`, a Python keyword, hence the module's name. The report
goes to stdout; a progress line goes to stderr while the file is read (only
on a terminal). Exit status: 0 when deals were (or, for a dry run, would be)
imported, or when nothing was new (every row already present, or no rows at
all: running a file again is normal), 1 when bad rows leave nothing to
import, 2 for a file, mapping or pipeline that cannot be used at all, 130
when interrupted (with the report, if the import had ended before the Ctrl-C
could stop it).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from dealgate.core.text import counted


def import_kinds(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `WHAT` of `dealgate import WHAT`: made on the first call, so each
    area (deals here, leads in its own module) adds its own kind."""
    parser = subparsers.choices.get("import")
    if parser is None:
        parser = subparsers.add_parser("import", help="import deals or leads from CSV")
        kinds = parser.add_subparsers(dest="kind", metavar="WHAT")
        kinds.required = True
        parser.set_defaults(import_kinds=kinds)
    return parser.get_default("import_kinds")


def register(subparsers: argparse._SubParsersAction) -> None:
    deals = import_kinds(subparsers).add_parser(
        "deals",
        help="import deals (all or nothing unless --skip-bad)",
        description=(
            "Streams a CSV file of any size into a pipeline. Deals already "
            "imported from the same source are skipped, so it is safe to run "
            "again. Mapping files are described in docs/import-mapping.md."
        ),
    )
    deals.add_argument(
        "file", metavar="FILE", help="the CSV file (or its folder, for maven-crm)"
    )
    deals.add_argument(
        "--mapping",
        required=True,
        metavar="NAME|FILE",
        help="a built-in mapping (maven-crm, dealgate) or a TOML mapping file",
    )
    deals.add_argument(
        "--pipeline", metavar="KEY", help="the pipeline to fill (default: the only one)"
    )
    deals.add_argument(
        "--dry-run", action="store_true", help="check everything, write nothing"
    )
    add_encoding_option(deals)
    deals.add_argument(
        "--skip-bad",
        action="store_true",
        help="import the good rows and list the bad ones (default: all or nothing)",
    )
    deals.add_argument(
        "--exclusive",
        action="store_true",
        help=(
            "PostgreSQL, for a large first load while no one works: lock the "
            "deals, users and stages tables for the import's length and check "
            "foreign keys once at the end instead of row by row; meanwhile "
            "pages and the API answer 503 (busy) after DEALGATE_WEB_DB_WAIT "
            "seconds"
        ),
    )
    deals.set_defaults(func=run_import_deals)


def add_encoding_option(parser: argparse.ArgumentParser) -> None:
    """`--encoding NAME`, for the deals and the leads import alike."""
    parser.add_argument(
        "--encoding",
        metavar="NAME",
        help=(
            "the file's text encoding (e.g. cp1252), in place of the mapping's; "
            "taken as your word: the file is not checked for looking like UTF-8"
        ),
    )


def run_import_deals(args: argparse.Namespace) -> int:
    from dealgate.imports.services import (
        import_deals,
        pipeline_for,
        refresh_statistics,
    )

    pipeline = pipeline_for(args.pipeline)
    bar = ProgressLine(sys.stderr)
    with reported_if_interrupted_afterwards(bar):
        report = import_deals(
            args.file,
            args.mapping,
            pipeline=pipeline,
            dry_run=args.dry_run,
            all_or_nothing=not args.skip_bad,
            exclusive=args.exclusive,
            progress=bar,
            encoding=args.encoding,
        )
    bar.finish(report.rows_read)
    print("\n".join(report.lines()))
    refresh_statistics(report)
    return 1 if report.refused_for_bad_rows else 0


@contextmanager
def reported_if_interrupted_afterwards(bar: ProgressLine) -> Iterator[None]:
    """Print the report of an import a Ctrl-C was held through: it ended as
    it would have without the Ctrl-C, and says what it kept. The interrupt
    goes on, to end the command with status 130."""
    from dealgate.core.interrupts import InterruptedAfterwards

    try:
        yield
    except InterruptedAfterwards as interrupt:
        report = interrupt.result
        if report is not None:
            bar.finish(report.rows_read)
            print("\n".join(report.lines()))
        raise


class ProgressLine:
    """Rows read and rows per second, redrawn in place a few times a second.

    Only on a terminal: elsewhere (a log, cron, CI) stderr carries only
    warnings and errors, and the report on stdout gives the rows and rate.
    """

    INTERVAL = 0.25

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, rows: int, fraction: float) -> None:
        now = time.monotonic()
        if not self.live or now - self.drawn < self.INTERVAL:
            return
        self.drawn = now
        self.stream.write(f"\r{self._text(rows, now)}  {min(fraction, 1.0):4.0%}")
        self.stream.flush()

    def finish(self, rows: int) -> None:
        if not self.live:
            return
        self.stream.write(f"\r{self._text(rows, time.monotonic())}     \n")
        self.stream.flush()

    def _text(self, rows: int, now: float) -> str:
        rate = rows / max(now - self.started, 1e-6)
        return f"{counted(rows, 'row')}, {rate:,.0f} rows/s"
