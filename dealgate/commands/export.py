"""`dealgate export deals|leads [filters] [OUTPUT]`: the data as CSV.

Writes to OUTPUT, or to stdout when OUTPUT is "-" or not given. A file is
written beside its name first and put in place only once complete, so a
failed or interrupted export never leaves half a file under the name (nor
replaces a good one). The columns and the formula defence are in
docs/export.md.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from dealgate.core.text import counted

# Deal.Status's values: the parser is built before Django is set up, so no
# model is imported here.
DEAL_STATUSES = ("open", "won", "lost")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write deals or leads as CSV, for a backup or a spreadsheet"
    )
    kinds = parser.add_subparsers(dest="kind", metavar="WHAT")
    kinds.required = True

    deals = kinds.add_parser(
        "deals",
        help="every deal, or those the filters choose",
        description=(
            "One row per deal, read in one consistent snapshot. Times are ISO "
            "8601 with the offset, in the pipeline's zone; text that a "
            "spreadsheet would run as a formula starts with an apostrophe."
        ),
    )
    _add_common(deals)
    deals.add_argument(
        "--status", choices=DEAL_STATUSES, help="only deals in this state"
    )
    deals.add_argument("--stage", metavar="KEY", help="only deals in this stage")
    deals.set_defaults(func=run_export_deals)

    leads = kinds.add_parser(
        "leads",
        help="every lead, or those the filters choose",
        description=(
            "One row per lead, read in one consistent snapshot, written as "
            "deals are. --status open means new, assigned and answered."
        ),
    )
    _add_common(leads)
    leads.add_argument(
        "--status",
        metavar="STATUS",
        help="only leads in this state (open, new, assigned, answered, "
        "converted, disqualified, merged, archived)",
    )
    leads.set_defaults(func=run_export_leads)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", metavar="KEY", help="only this pipeline's")
    parser.add_argument(
        "--owner", metavar="USERNAME", help="only this person's; (none): no one's"
    )
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        nargs="?",
        default="-",
        help="the file to write; - or none: stdout",
    )


def run_export_deals(args: argparse.Namespace) -> int:
    from dealgate import timesource
    from dealgate.deals.export import deal_csv, deal_export

    export = deal_export(
        pipeline=args.pipeline, status=args.status, stage=args.stage, owner=args.owner
    )
    rows = write(deal_csv(export, timesource.now()), args.output)
    _written(rows, "deal", args.output)
    return 0


def run_export_leads(args: argparse.Namespace) -> int:
    from dealgate.leads.export import lead_csv, lead_export

    export = lead_export(pipeline=args.pipeline, status=args.status, owner=args.owner)
    rows = write(lead_csv(export), args.output)
    _written(rows, "lead", args.output)
    return 0


def _written(rows: int, noun: str, output: str) -> None:
    """Say what a file holds; stdout, when it carries the file, carries
    nothing else."""
    if output != "-":
        print(f"{output}: {counted(rows, noun)} written")


def write(lines: Iterable[str], output: str) -> int:
    """Write `lines` (a header, then one per row) to stdout ("-") or, whole
    or not at all, to the file `output` (the file a link names); a FIFO or
    device is written into as it comes. UTF-8, line ends as the lines carry
    them (CRLF). Returns how many rows were written below the header."""
    count = _Counted(lines)
    if output == "-":
        for line in count:
            sys.stdout.write(line)
        sys.stdout.flush()
        return count.rows
    # A link is followed: the file it names is the one replaced.
    target = Path(os.path.realpath(output))
    if target.exists() and not target.is_file():
        # A FIFO, a device, a socket: written into as it is, never replaced
        # (renaming over /dev/null would make it a plain file for everyone).
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), output)
        with open(target, "w", encoding="utf-8", newline="") as file:
            file.writelines(count)
        return count.rows
    if not target.parent.is_dir():
        # Named as the user gave it, not as the temporary file beside it.
        raise FileNotFoundError(
            errno.ENOENT, "no such folder", str(Path(output).parent)
        )
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        with open(handle, "w", encoding="utf-8", newline="") as file:
            file.writelines(count)
        # mkstemp's file is private (0600); the export is an ordinary file.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return count.rows


class _Counted:
    """The lines of a CSV file, passed on as they come, counting its rows."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = lines
        self.rows = 0

    def __iter__(self) -> Iterator[str]:
        for at, line in enumerate(self.lines):
            self.rows = at
            yield line
