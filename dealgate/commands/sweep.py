"""`dealgate sweep`: act on every clock that ran out, then send due notices."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from dealgate.cli import CommandError, log_progress
from dealgate.core.text import counted


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="act on clocks that ran out and send due notices (once, or --loop)",
        description=(
            "Take in the leads kept in the lead spool while the database was "
            "busy, find every running clock past its due time, act on it "
            "exactly once "
            "by the pipeline's breach rules (mark at risk, notify, escalate, "
            "tasks, reassign), route again the leads still waiting for an "
            "owner, then deliver due notices by email and webhook. "
            "Safe to run in several processes at once. `dealgate serve` runs "
            "one beside the web server unless given --no-sweeper."
        ),
    )
    parser.add_argument(
        "--loop", action="store_true", help="keep sweeping until stopped"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between sweeps with --loop (default: DEALGATE_SWEEP_INTERVAL)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="clocks per transaction (default: 1000)",
    )
    parser.add_argument(
        "--no-send", action="store_true", help="sweep only; leave notices queued"
    )
    parser.add_argument(
        "--backfill",
        action="store_true",
        help=(
            "first count the age clocks that bulk imports never started; "
            "with --apply, start them"
        ),
    )
    parser.add_argument(
        "--apply", action="store_true", help="with --backfill: start the clocks"
    )
    # Used by `dealgate serve`: stop when the server that started us is gone.
    parser.add_argument(
        "--exit-with-parent", action="store_true", help=argparse.SUPPRESS
    )
    parser.set_defaults(func=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    from django.conf import settings

    from dealgate.clocks.runner import run_forever, run_once

    if args.apply and not args.backfill:
        raise CommandError("--apply goes with --backfill")
    interval = settings.SWEEP_INTERVAL if args.interval is None else args.interval
    if interval <= 0:
        raise CommandError(f"--interval must be above 0 seconds; got {interval}")
    if args.batch_size is not None and args.batch_size < 1:
        raise CommandError(f"--batch-size must be 1 or more; got {args.batch_size}")
    batch = {"batch_size": args.batch_size} if args.batch_size else {}
    if args.backfill:
        _backfill(apply=args.apply)
        if not args.apply:
            return 0
    if args.loop:
        log_progress()
        stop = threading.Event()
        _stop_on_signals(stop)
        run_forever(
            interval,
            stop=stop,
            send=not args.no_send,
            exit_with_parent=args.exit_with_parent,
            **batch,
        )
        return 0
    tick = run_once(send=not args.no_send, **batch)
    if tick.drained is not None and tick.drained.any:
        print(f"lead spool: {tick.drained.summary()}")
    if tick.busy:
        print(
            "the database is busy with another writer (an import is running, "
            "say): nothing more was done; run the sweep again once it is free"
        )
        return 0
    print(f"swept {tick.sweep.summary()}")
    if tick.placed:
        print(f"leads: routed {counted(tick.placed, 'lead')} that waited for an owner")
    if tick.delivery is not None:
        print(f"sender: {tick.delivery.summary()}")
    return 0


def _backfill(*, apply: bool) -> None:
    from dealgate.clocks.services import start_missing_clocks

    found = start_missing_clocks(apply=apply)
    if apply:
        print(
            f"started {counted(found.started, 'age clock')}; already past the "
            f"limit, and acted on by this sweep: {found.overdue:,}"
        )
    elif found.missing:
        print(
            f"{counted(found.missing, 'open deal')} without an age clock (already "
            f"past the limit: {found.overdue:,}); after --apply, the first sweep "
            "flags those past the limit and notifies their owners. Run again with "
            "--apply to start the clocks."
        )
    elif not found.unknown_entry:
        print("every open deal with an age limit has its age clock; nothing to start")
    if found.unknown_entry:
        print(_unknown_entry_line(found.unknown_entry))


def _unknown_entry_line(count: int) -> str:
    """What the backfill says of open deals whose stage entry time is unknown:
    no age limit can be counted from it, so no start can make them a clock."""
    return (
        f"{counted(count, 'open deal')} in a stage with an age limit "
        f"{'has' if count == 1 else 'have'} no age clock and cannot be given "
        "one: when they entered their stage is unknown (imported without "
        "stage_entered_at), so their limit has no start. Each starts its clock "
        "when it next moves: review them on the board, where they stand last "
        "in their stage, and move on those the buyer has moved "
        '(docs/clocks.md, "Deals without a stage entry time").'
    )


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
