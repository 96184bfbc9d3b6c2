"""Lead commands: `dealgate import leads`, `dealgate token ...` and
`dealgate leads report|routing|away|back|capacity`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dealgate.commands.imports import add_encoding_option, import_kinds
from dealgate.core.dates import years_problem
from dealgate.core.text import counted


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_import(subparsers)
    _register_token(subparsers)
    _register_leads(subparsers)


def _register_import(subparsers: argparse._SubParsersAction) -> None:
    leads = import_kinds(subparsers).add_parser(
        "leads",
        help="import leads (all or nothing unless --skip-bad)",
        description=(
            "Captures every row as a lead (checked, de-duplicated, routed), or "
            "for the built-in olist mapping writes historic records and their "
            "won deals. Leads imported before are skipped. Mapping files: "
            "docs/leads.md."
        ),
    )
    leads.add_argument("file", metavar="FILE", help="the CSV file of leads")
    leads.add_argument(
        "--mapping", required=True, metavar="NAME|FILE", help="olist, or a TOML file"
    )
    leads.add_argument("--pipeline", metavar="KEY", help="default: the only one")
    leads.add_argument("--dry-run", action="store_true", help="write nothing")
    add_encoding_option(leads)
    leads.add_argument(
        "--skip-bad", action="store_true", help="keep the good rows, list the bad"
    )
    leads.set_defaults(func=run_import_leads)


def run_import_leads(args: argparse.Namespace) -> int:
    from dealgate.commands.imports import (
        ProgressLine,
        reported_if_interrupted_afterwards,
    )
    from dealgate.leads.imports import import_leads

    bar = ProgressLine(sys.stderr)
    with reported_if_interrupted_afterwards(bar):
        report = import_leads(
            args.file,
            args.mapping,
            pipeline=args.pipeline,
            dry_run=args.dry_run,
            all_or_nothing=not args.skip_bad,
            progress=bar,
            encoding=args.encoding,
        )
    bar.finish(report.rows_read)
    print("\n".join(report.lines()))
    return 1 if report.refused_for_bad_rows else 0


def _register_token(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "token",
        help="REST API tokens: each captures leads, or opens the lead "
        "endpoints, or the deals' too",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser(
        "create",
        help="make a token for a user; the secret is shown once",
        description=(
            "Makes an API token that acts as USERNAME, with their rights. By "
            "default it only captures leads (POST /api/v1/leads) and reads "
            "none: the token for a website's lead form, which anyone reading "
            "the page can copy. --scope leads makes one that also reads, "
            "logs on, converts and disqualifies leads (a CRM's, say), and "
            "--scope leads,deals one that opens the deals endpoints too."
        ),
    )
    create.add_argument("username")
    create.add_argument("--name", default="api", help='a label, e.g. "website"')
    create.add_argument(
        "--scope",
        choices=["capture", "leads", "leads,deals"],
        metavar="capture|leads|leads,deals",
        default="capture",
        help="what the token opens: capturing leads only (the default, for a "
        "website's form), every lead endpoint, or the deals endpoints too",
    )
    create.add_argument(
        "--pipeline",
        metavar="KEY",
        help="the pipeline its captures go to when they name none; without it, "
        "the only pipeline there is (with several, each capture must name one)",
    )
    create.set_defaults(func=run_token_create)
    listing = actions.add_parser("list", help="tokens, without their secrets")
    listing.add_argument("username", nargs="?")
    listing.set_defaults(func=run_token_list)
    bind = actions.add_parser(
        "bind",
        help="send a token's captures that name no pipeline to one pipeline",
    )
    bind.add_argument("id", type=int)
    bind.add_argument("pipeline", metavar="KEY", help="the pipeline's key")
    bind.set_defaults(func=run_token_bind)
    revoke = actions.add_parser("revoke", help="stop a token from working")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=run_token_revoke)


def _user(username: str):
    from dealgate.accounts.models import User
    from dealgate.cli import CommandError

    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user


def run_token_create(args: argparse.Namespace) -> int:
    from dealgate.leads.tokens import OPENS, create_token
    from dealgate.pipelines.services import get_pipeline

    user = _user(args.username)
    pipeline = get_pipeline(args.pipeline) if args.pipeline else None
    token, secret = create_token(user, args.name, scope=args.scope, pipeline=pipeline)
    bound = f", capturing into pipeline {pipeline.key}" if pipeline else ""
    print(
        f"token {token.pk} ({token.name}) for {args.username}, scope "
        f"{token.scope}, opening {OPENS[token.scope]}{bound}:"
    )
    print(secret)
    print("Keep it now: it is stored only as a hash and cannot be shown again.")
    return 0


def run_token_list(args: argparse.Namespace) -> int:
    from dealgate.leads.models import ApiToken

    tokens = ApiToken.objects.select_related("user", "pipeline").order_by("pk")
    if args.username:
        tokens = tokens.filter(user=_user(args.username))
    for token in tokens:
        pipeline = token.pipeline.key if token.pipeline else "unbound"
        revoked = token.revoked_at
        print(
            f"{token.pk:>4}  {token.user.username:<16}{token.name:<20}"
            f"{token.prefix}...  scope {token.scope:<12}pipeline {pipeline}  "
            f"made {_token_time(token.created_at)}, last used "
            f"{_token_time(token.last_used_at)}"
            + (f", revoked {_token_time(revoked)}" if revoked else "")
        )
    if not tokens:
        whose = f" of {args.username}" if args.username else ""
        print(f"no API tokens{whose}; make one with: dealgate token create USERNAME")
    return 0


def _token_time(instant: dt.datetime | None) -> str:
    """A token's time in UTC and marked so: real time, as tokens count it
    (timesource.wall_now), a machine's, not a pipeline's."""
    if instant is None:
        return "never"
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def run_token_bind(args: argparse.Namespace) -> int:
    from dealgate.leads.tokens import bind_token
    from dealgate.pipelines.services import get_pipeline

    token = bind_token(args.id, get_pipeline(args.pipeline))
    print(
        f"token {token.pk} ({token.name}): captures that name no pipeline go to "
        f"{token.pipeline.key}"
    )
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    from dealgate.leads.tokens import revoke_token

    token = revoke_token(args.id)
    print(f"token {token.pk} ({token.name}) revoked")
    return 0


def _register_leads(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("leads", help="lead figures, routing, availability")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    report = actions.add_parser("report", help="response and win figures")
    report.add_argument("--pipeline", metavar="KEY")
    report.add_argument("--channel", help="api, form, web or import")
    report.set_defaults(func=run_report)

    rules = actions.add_parser(
        "routing",
        help="show a pipeline's routing rules, or check and apply a file of them",
        description=(
            "Without --file, prints the rules. With --file (TOML with "
            "[[routing]] tables, as in a pipeline file), checks them and shows "
            "them; --apply stores them."
        ),
    )
    rules.add_argument("--pipeline", metavar="KEY")
    rules.add_argument("--file", metavar="FILE")
    rules.add_argument("--apply", action="store_true", help="store the file's rules")
    rules.set_defaults(func=run_routing)

    away = actions.add_parser("away", help="mark a person away for a while")
    away.add_argument("username")
    away.add_argument(
        "--until",
        required=True,
        help="the last day away (in their own or the pipelines' time zone), "
        "or an ISO instant with its offset",
    )
    away.add_argument(
        "--from",
        dest="away_from",
        metavar="DATE",
        help="the first day away, or an ISO instant with its offset "
        "(default: now, the --as-of instant on a demo)",
    )
    away.set_defaults(func=run_away)
    back = actions.add_parser("back", help="mark a person back from leave")
    back.add_argument("username")
    back.set_defaults(func=run_back)
    capacity = actions.add_parser("capacity", help="cap a person's open leads")
    capacity.add_argument("username")
    capacity.add_argument("limit", help='a number, or "none" for no cap')
    capacity.set_defaults(func=run_capacity)


def run_report(args: argparse.Namespace) -> int:
    from dealgate.leads.report import lead_report
    from dealgate.leads.services import pipeline_for_capture

    report = lead_report(pipeline_for_capture(args.pipeline), channel=args.channel)
    print("\n".join(report.lines()))
    return 0


def run_routing(args: argparse.Namespace) -> int:
    from dealgate.cli import CommandError
    from dealgate.leads.rules import dump_rules, save_rules
    from dealgate.leads.services import pipeline_for_capture

    pipeline = pipeline_for_capture(args.pipeline)
    if not args.file:
        print(dump_rules(pipeline) or "# no routing rules")
        return 0
    try:
        data = tomllib.loads(Path(args.file).read_text(encoding="utf-8-sig"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CommandError(f"{args.file}: {exc}") from None
    rules = save_rules(pipeline, data.get("routing", []), dry_run=not args.apply)
    print(f"{counted(len(rules), 'rule')} for pipeline {pipeline.key}:")
    for rule in rules:
        print(f"  {rule.label}: to {rule.target}")
    print("stored" if args.apply else "checked; nothing stored (add --apply)")
    return 0


def _availability(username: str):
    from dealgate.leads.models import Availability

    availability, _ = Availability.objects.get_or_create(user=_user(username))
    return availability


def run_away(args: argparse.Namespace) -> int:
    from dealgate import timesource
    from dealgate.cli import CommandError

    person = _user(args.username)
    zone = _zone_of(person)
    now = timesource.now()
    until = _instant("--until", args.until, zone, next_day=True)
    if until <= now:
        raise CommandError(
            f"--until {args.until.strip()} has passed; give a day still to come"
        )
    since = now
    if args.away_from is not None:
        since = _instant("--from", args.away_from, zone, next_day=False)
    if since >= until:
        raise CommandError(
            f"--from {args.away_from.strip()} is not before --until "
            f"{args.until.strip()}; leave ends after it starts"
        )
    availability = _availability(args.username)
    availability.away_from, availability.away_until = since, until
    availability.save()
    start, end = since.astimezone(zone), until.astimezone(zone)
    print(
        f"{args.username} is away from {start:%Y-%m-%d %H:%M} "
        f"until {end:%Y-%m-%d %H:%M} ({zone.key})"
    )
    return 0


def _instant(option: str, text: str, zone: ZoneInfo, *, next_day: bool) -> dt.datetime:
    """The UTC instant `text` gives for `option`: an ISO instant with its
    offset, or a day in `zone`, meaning its start, or with `next_day` its
    end (the start of the next day), so that the day itself is included.
    Either keeps to the years every door keeps to (`core.dates`)."""
    from dealgate.cli import CommandError

    text = text.strip()
    instant = None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
        else:
            instant = dt.datetime.fromisoformat(text)
            if instant.tzinfo is None:
                raise ValueError(text)
            day = instant.date()
    except ValueError:
        raise CommandError(
            f"{option} must be a date (2026-12-24) or an ISO instant with its "
            f"offset; got {text!r}"
        ) from None
    problem = years_problem(day)
    if problem is not None:
        raise CommandError(f"{option} {problem}")
    if instant is not None:
        return instant.astimezone(dt.UTC)
    day += dt.timedelta(days=int(next_day))
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _zone_of(person: Any) -> ZoneInfo:
    """Where `person` works: their own calendar's zone, else the one every
    pipeline's calendar shares, else UTC."""
    from dealgate.pipelines.calendars import calendar_for
    from dealgate.pipelines.models import Pipeline

    own = (person.calendar or {}).get("timezone")
    if own:
        return ZoneInfo(own)
    zones = {calendar_for(pipeline).zone.key for pipeline in Pipeline.objects.all()}
    return ZoneInfo(zones.pop()) if len(zones) == 1 else ZoneInfo("UTC")


def run_back(args: argparse.Namespace) -> int:
    availability = _availability(args.username)
    availability.away_from = availability.away_until = None
    availability.save()
    print(f"{args.username} is back and takes leads again")
    return 0


def run_capacity(args: argparse.Namespace) -> int:
    from dealgate.cli import CommandError

    limit = None
    if args.limit != "none":
        if not args.limit.isdigit():
            raise CommandError(
                f'limit must be a whole number or "none"; got {args.limit!r}'
            )
        limit = int(args.limit)
    availability = _availability(args.username)
    availability.capacity = limit
    availability.save()
    print(
        f"{args.username}: "
        + (f"at most {limit} open leads" if limit is not None else "no cap")
    )
    return 0
