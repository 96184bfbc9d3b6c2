"""`dealgate demo`: set up the demo on real data and serve the board."""

from __future__ import annotations

import argparse

from dealgate.core.text import counted
from dealgate.demo import loader


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="load the real demo data (idempotent) and serve the board",
        description=(
            "Creates the database, applies the demo pipeline (one edited since "
            "the demo applied it is kept, unless --reset-pipeline), imports the Maven "
            "CRM opportunities (skipped when the deals are in already and the "
            "pipeline as edited no longer fits them), then serves the board as "
            "`dealgate serve` does "
            f"(the clock sweeper included), with the clock set to {loader.AS_OF} "
            "(the data set's last day) unless --as-of or DEALGATE_AS_OF gives "
            "another date. The database records that date: later commands on it "
            "and the board run at it too, while the demo's pipeline is its only "
            "one; once it holds a pipeline of its own, it runs at the real time "
            "and the demo's clocks stay at the demo's date."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--no-serve", action="store_true", help="load the data, then stop"
    )
    parser.add_argument(
        "--reset-pipeline",
        action="store_true",
        help="apply the demo's pipeline file again, undoing edits made to the "
        "demo's pipeline since (without it, an edited pipeline is kept)",
    )
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from dealgate import timesource
    from dealgate.commands.serve import check_port_free
    from dealgate.commands.setup import ensure_database

    if not args.no_serve:
        # Before loading anything: a busy port found after the load would
        # leave only gunicorn's retries to say so.
        check_port_free(args.host, args.port, hint=_another_port)
    ensure_database(verbosity=0)
    # --as-of or DEALGATE_AS_OF (the command line put either in args.as_of)
    # holds for the server too; the demo's own date only for the load, after
    # which the server follows the date the database records, as any does.
    given = args.as_of
    as_of = given or loader.AS_OF
    with timesource.running_at(as_of):
        summary = loader.load_demo(as_of, reset_pipeline=args.reset_pipeline)
    for change in summary.pipeline_changes:
        print(f"pipeline: {change}")
    if summary.kept_edits:
        count = len(summary.kept_edits)
        print(
            f"pipeline: {loader.PIPELINE_KEY!r} differs from the demo's file "
            f"(edited since the demo applied it: {counted(count, 'change')}); "
            "kept as edited. To reset it: "
            "dealgate demo --reset-pipeline"
        )
    if summary.import_skipped:
        print(f"import: skipped; {summary.import_skipped}")
    else:
        print(summary.import_report)
    print(f"clocks: {summary.sweep.summary()}")
    # The server runs at the given date, or else at the one the database
    # holds to: the demo's, unless it has other pipelines.
    print_times(args, as_of, summary, board_as_of=bool(given) or summary.dated)
    if args.no_serve:
        return 0
    from dealgate.commands.serve import serve_with_sweeper

    serve_with_sweeper(args.host, args.port)
    return 0


def print_times(
    args: argparse.Namespace,
    as_of: str,
    summary: loader.DemoSummary,
    *,
    board_as_of: bool,
) -> None:
    """Say which time the demo, its board and later commands run at, and how
    to sign in."""
    if args.no_serve and summary.dated:
        print(f"\nDealgate demo, as of {as_of}: loaded; serve it with dealgate serve")
    elif args.no_serve:
        # The database runs at the real time: only the load was as of then.
        print(f"\nDealgate demo, loaded as of {as_of}; serve it with dealgate serve")
    else:
        at = f"as of {as_of}" if board_as_of else f"loaded as of {as_of}"
        print(f"\nDealgate demo, {at}: http://{args.host}:{args.port}/")
    if summary.dated:
        print(f"Every dealgate command on this database runs as of {as_of} too.")
    else:
        board = "" if board_as_of or args.no_serve else "the board and "
        print(
            "This database holds other pipelines too "
            f"({', '.join(summary.other_pipelines)}), so {board}other dealgate "
            "commands on it run at the real time "
            f"(give --as-of {as_of} for the demo's); the clocks the demo started "
            f"stay at {as_of} and send no notices."
        )
    print(f"Logins (password: {loader.PASSWORD}):")
    for username, role, about in summary.logins:
        print(f"  {username:<18} {role:<8} {about}")


def _another_port(free: int | None) -> str:
    if free is None:
        return "run make demo PORT=N, or dealgate demo --port N, with a free port N"
    return f"run make demo PORT={free}, or dealgate demo --port {free}"
