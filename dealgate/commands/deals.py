"""`dealgate deal move|show`: the deal door of the command line."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING

from dealgate.cli import CommandError
from dealgate.pipelines.loss_reasons import LossReasons

if TYPE_CHECKING:
    from dealgate.deals.models import Deal, StageEvent


# The options that carry a move's texts, by the field each fills.
OPTIONS = {
    "loss_reason": "--reason",
    "loss_note": "--note",
    "override_reason": "--override",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("deal", help="show or move one deal")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    show = actions.add_parser("show", help="a deal's fields and stage history")
    show.add_argument("deal_id", type=int)
    show.set_defaults(func=run_show)

    move = actions.add_parser(
        "move",
        help="move a deal through its gates",
        description=(
            "Move a deal to a stage key, or to won or lost. The move is refused, "
            "with every unmet criterion in words, unless the gates hold or a "
            "manager gives --override."
        ),
    )
    move.add_argument("deal_id", type=int)
    move.add_argument("to", help='a stage key, "won" or "lost"')
    move.add_argument("--as", dest="username", required=True, help="who moves it")
    move.add_argument(
        "--version", type=int, help="the version you read (refused if it changed)"
    )
    move.add_argument(
        "--reason", default="", help="loss reason, by key or label; only for lost"
    )
    move.add_argument("--note", default="", help="loss note; only for lost")
    move.add_argument(
        "--override",
        default="",
        help="a manager's written reason to pass a refused move; not for lost",
    )
    move.set_defaults(func=run_move)


def run_move(args: argparse.Namespace) -> int:
    from dealgate.accounts.models import User
    from dealgate.deals.services import (
        MoveOutOfOrder,
        move_deal,
        refuse_unused_move_fields,
    )

    user = User.objects.filter(username=args.username).first()
    if user is None:
        raise CommandError(f"--as: no user {args.username!r}")
    texts = {
        "loss_reason": args.reason,
        "loss_note": args.note,
        "override_reason": args.override,
    }
    # An option the move would not use is refused, named as typed, as the
    # API refuses such a field: never dropped without a word.
    refuse_unused_move_fields(args.to, by=user, names=OPTIONS, **texts)
    try:
        deal = move_deal(
            args.deal_id,
            args.to,
            by=user,
            expected_version=args.version,
            source="cli",
            refuse_unneeded_override=True,
            names=OPTIONS,
            **texts,
        )
    except MoveOutOfOrder as error:
        # The move's date is the command's --as-of (or DEALGATE_AS_OF).
        raise CommandError(
            f"--as-of: {error.message}; give a later --as-of, or none for now"
        ) from error
    where = deal.status if deal.status != "open" else deal.stage.name
    print(f"deal {deal.pk} ({deal.title}): now {where}, version {deal.version}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from dealgate.deals.models import Deal
    from dealgate.pipelines.calendars import calendar_for

    deal = (
        Deal.objects.select_related("pipeline", "stage", "owner", "organization")
        .filter(pk=args.deal_id)
        .first()
    )
    if deal is None:
        raise CommandError(f"no deal with id {args.deal_id}")
    print(f"{deal.title}  [{deal.status}, {deal.stage.name}, version {deal.version}]")
    print(f"  organization: {deal.organization or '-'}   owner: {deal.owner or '-'}")
    print(f"  value: {deal.value if deal.value is not None else '-'} {deal.currency}")
    if deal.status == "lost":
        print(f"  loss reason: {_loss_reason(deal)}")
        print(f"  loss note: {deal.loss_note or '-'}")
    # As the deal page shows them: in the pipeline's zone, which is named, so
    # a move just after local midnight is not read as the day before.
    zone = calendar_for(deal.pipeline).zone
    print(f"  history, times in {zone.key}:")
    for event in deal.events.select_related("from_stage", "to_stage", "by"):
        start = event.from_stage.key if event.from_stage else "-"
        end = event.to_stage.key if event.to_stage else "-"
        at = local_time(event.at, zone)
        line = f"  {at} {start} -> {end} ({_outcome(event)})"
        if event.override_reason:
            line += f"  override: {event.override_reason}"
        print(line)
    return 0


def _outcome(event: StageEvent) -> str:
    """What an event's line says of the deal's status after it: a deal
    already won or lost and moved between stages by a redesign reads as
    such, not as won or lost again then."""
    if not event.moves_closed:
        return event.to_status
    how = " by the pipeline's redesign" if event.source == "pipeline" else ""
    return f"a {event.to_status} deal moved{how}, still {event.to_status}"


def _loss_reason(deal: Deal) -> str:
    """A lost deal's reason as the deal page names it: the label, with the
    stored key when they differ; "-" when none is stored."""
    if not deal.loss_reason:
        return "-"
    label = LossReasons.of(deal.pipeline.loss_reasons).label_of(deal.loss_reason)
    return label if label == deal.loss_reason else f"{label} ({deal.loss_reason})"


def local_time(at: dt.datetime, zone: dt.tzinfo) -> str:
    """`at` as a terminal shows it: the wall time in `zone` with the zone's
    abbreviation ("2026-10-26 00:30 CET"), or its offset where the zone has
    no letters for it ("2026-10-26 03:30 +04")."""
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M %Z}"
