"""`dealgate notices send|status`: the notice outbox from the command line."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("notices", help="send or count queued notices")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    send = actions.add_parser(
        "send",
        help="deliver every notice whose next attempt is due (email, webhook)",
    )
    send.set_defaults(func=run_send)
    status = actions.add_parser("status", help="count notices by channel and state")
    status.set_defaults(func=run_status)


def run_send(args: argparse.Namespace) -> int:
    from dealgate.clocks.outbox import deliver_all_due, pending_count

    result = deliver_all_due()
    print(
        f"{result.sent} sent, {result.retried} to retry later, {result.failed} "
        f"refused for good; {pending_count()} still queued"
    )
    return 0


def run_status(args: argparse.Namespace) -> int:
    from django.db.models import Count

    from dealgate.clocks.models import Delivery

    rows = (
        Delivery.objects.values("channel", "state")
        .annotate(n=Count("id"))
        .order_by("channel", "state")
    )
    lines = [f"{row['channel']:8} {row['state']:8} {row['n']}" for row in rows]
    print("\n".join(lines) if lines else "no notices queued or sent yet")
    return 0
