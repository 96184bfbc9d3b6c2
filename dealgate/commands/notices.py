"""`dealgate notices send|status`: the notice outbox from the command line."""

from __future__ import annotations

import argparse

from dealgate.core.text import counted


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("notices", help="send or count queued notices")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    send = actions.add_parser(
        "send",
        help="deliver every notice whose next attempt is due (email, webhook)",
    )
    send.set_defaults(func=run_send)
    status = actions.add_parser(
        "status",
        help="count notices written, and their deliveries by channel and state",
    )
    status.set_defaults(func=run_status)


def run_send(args: argparse.Namespace) -> int:
    from dealgate.clocks.notices import channels
    from dealgate.clocks.outbox import deliver_all_due, pending_count

    result = deliver_all_due()
    queued = pending_count()
    print(f"{result.summary()}; {counted(queued, 'delivery')} still queued")
    if not channels():
        print(f"New notices are not sent: {NO_CHANNEL}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    print("\n".join(status_lines()))
    return 0


NO_CHANNEL = (
    "no mail or webhook is configured. Set DEALGATE_SMTP_HOST (mail) or "
    "DEALGATE_WEBHOOK_URL (a webhook) where `serve` or `sweep` runs to send "
    "the notices written from then on; these stay on /notices/ only."
)
WRITTEN_WHILE_OFF = (
    "no channel was on when they were written (or, for mail, their person "
    "has no email address); a notice goes out only on the channels on when it "
    "is written, and stays on /notices/ either way."
)


def status_lines() -> list[str]:
    """What happened to the notices: how many were written (each is on its
    person's /notices/ page), their deliveries by channel and state, and why
    notices with no delivery were not sent. Three queries."""
    from django.db.models import Count, Exists, OuterRef, Q

    from dealgate.clocks.models import Delivery, Notice
    from dealgate.clocks.notices import channels

    counts = Notice.objects.aggregate(
        written=Count("id"),
        unread=Count("id", filter=Q(read_at=None)),
        unsent=Count(
            "id", filter=~Q(Exists(Delivery.objects.filter(notice=OuterRef("pk"))))
        ),
    )
    written, unsent = counts["written"], counts["unsent"]
    if not written:
        return ["no notices written yet"]
    lines = [
        f"{counted(written, 'notice')} written ({counts['unread']:,} unread), each "
        "shown to its person on /notices/"
    ]
    rows = (
        Delivery.objects.values("channel", "state")
        .annotate(n=Count("id"))
        .order_by("channel", "state")
    )
    if rows:
        lines.append("deliveries by channel and state:")
        lines += [f"  {row['channel']:8} {row['state']:8} {row['n']}" for row in rows]
    if unsent:
        why = WRITTEN_WHILE_OFF if channels() else NO_CHANNEL
        lines.append(f"{counted(unsent, 'notice')} not sent: {why}")
    return lines
