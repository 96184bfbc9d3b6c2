"""`dealgate report [overview|bottlenecks|review]`: the insights in a terminal.

Prints the same tables the insights pages show, computed by the same code;
`--csv TABLE` prints one of them as CSV instead. Filters are those of the
pages: --pipeline, --period or --from/--to, --owner, --team, --source,
--segment, --product.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from dealgate.core.dates import years_problem


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="print pipeline insights: conversion, time in stage, bottlenecks",
        description=(
            "Prints the figures of the insights pages. Periods are whole days "
            "in the pipeline's calendar zone; the default is the last 365 days."
        ),
    )
    parser.add_argument(
        "page",
        nargs="?",
        default="overview",
        choices=("overview", "bottlenecks", "review"),
        help="which page's figures (default: overview)",
    )
    parser.add_argument("--pipeline", metavar="KEY", help="default: the first one")
    parser.add_argument(
        "--period",
        metavar="P",
        help="30d, 90d, 365d or all (default: 365d)",
    )
    parser.add_argument("--from", dest="first", metavar="DATE", help="YYYY-MM-DD")
    parser.add_argument("--to", dest="last", metavar="DATE", help="YYYY-MM-DD")
    parser.add_argument(
        "--owner",
        metavar="USERNAME",
        help="one owner's deals; (none) for the deals no one owns",
    )
    parser.add_argument("--team", metavar="ID|NAME")
    parser.add_argument("--source", metavar="SOURCE")
    parser.add_argument("--segment", metavar="SECTOR")
    parser.add_argument("--product", metavar="NAME")
    parser.add_argument(
        "--by",
        default="owner",
        choices=("owner", "team", "product", "source", "segment"),
        help="overview: break outcomes down by this (default: owner)",
    )
    parser.add_argument(
        "--week", metavar="DATE", help="review: a day of the week to review"
    )
    parser.add_argument("--metric", metavar="KEY", help="review: the metric to show")
    parser.add_argument(
        "--csv", metavar="TABLE", help="print this one table as CSV (e.g. funnel)"
    )
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from dealgate import timesource
    from dealgate.insights import queries, reports
    from dealgate.insights.filters import read_filters

    now = timesource.now()
    filters = read_filters(
        {
            "pipeline": args.pipeline,
            "period": args.period,
            "from": args.first,
            "to": args.last,
            "owner": args.owner,
            "team": args.team,
            "source": args.source,
            "segment": args.segment,
            "product": args.product,
        },
        now=now,
    )
    with queries.session():
        if args.page == "overview":
            report = reports.overview(filters, now, by=args.by)
        elif args.page == "bottlenecks":
            report = reports.bottlenecks(filters, now)
        else:
            week = _date(args.week) if args.week else None
            report = reports.weekly_review(
                filters, now, week=week, metric=args.metric, all_behind=bool(args.csv)
            ).report
    if args.csv:
        sys.stdout.write(report.table(args.csv).csv())
        return 0
    sys.stdout.write(report.text())
    if args.page == "overview":
        sys.stdout.write("\nWhat the figures mean\n")
        for term, meaning in reports.DEFINITIONS:
            sys.stdout.write(f"- {term}: {meaning}\n")
    return 0


def _date(text: str) -> dt.date:
    from dealgate.errors import ValidationError

    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--week must be a date like 2017-12-25; got {text!r}", field="week"
        ) from None
    problem = years_problem(day)
    if problem is not None:
        raise ValidationError(f"--week {problem}", field="week")
    return day
