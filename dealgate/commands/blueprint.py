"""`dealgate blueprint [--pipeline KEY] [--last N] [-o proposed.toml]`.

Prints the blueprint of an applied pipeline: the paths its closed deals
travelled, the transitions, the time per stage for won and for lost deals,
where lost deals stopped, first responses, and what the data cannot tell.
With -o it also writes the proposed pipeline file, to edit and apply.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dealgate.core.rounding import fixed
from dealgate.core.text import counted


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "blueprint",
        help="the pipeline your closed deals actually travelled, and a proposal",
    )
    parser.add_argument("--pipeline", metavar="KEY", help="default: the only one")
    parser.add_argument(
        "--last",
        type=_positive,
        metavar="N",
        help="only the N most recently closed deals",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the proposed pipeline file here"
    )
    parser.set_defaults(func=run_blueprint)


def run_blueprint(args: argparse.Namespace) -> int:
    from dealgate.builder.blueprints import proposal_for
    from dealgate.commands.review import only_pipeline
    from dealgate.core.blueprint import proposal_text

    pipeline = only_pipeline(args.pipeline)
    proposal = proposal_for(pipeline, last=args.last)
    names = dict(pipeline.stages.values_list("key", "name"))
    for line in report(proposal.blueprint, names):
        print(line)
    if args.output:
        Path(args.output).write_text(proposal_text(proposal), encoding="utf-8")
        print(f"wrote the proposed pipeline to {args.output}")
    return 0


def report(found, names: dict[str, str]) -> list[str]:
    """The blueprint as lines of text."""
    from dealgate.builder.pages import blueprint_rows

    rows = blueprint_rows(found, names)
    lines = [
        f"blueprint of {found.scope}: {counted(found.deals, 'deal')}, "
        f"{found.won:,} won, {found.lost:,} lost",
        "paths:",
    ]
    lines += [
        f"  {text}: {deals:,} ({share})" for text, deals, share in rows["variants"]
    ]
    lines.append("transitions:")
    lines += [f"  {a} -> {b}: {n:,}" for a, b, n in rows["transitions"]]
    lines.append("business days per stage (won median / 80%; lost median / 80%):")
    for name, flow in rows["stages"]:
        lines.append(
            f"  {name}: passed by {flow.visited:,}, {_skips(flow)}; "
            f"won {_days(flow.won_days)}; lost {_days(flow.lost_days)}"
        )
    lines.append("lost deals stopped at:")
    lines += [f"  {name}: {deals:,} ({share})" for name, deals, share in rows["stops"]]
    lines.append("first responses (seen, median, 80%):")
    lines += [
        f"  {a} -> {b}: {r.minutes.n:,}, {median}, {p80}"
        for a, b, r, median, p80 in rows["responses"]
    ]
    if found.notes:
        lines.append("what the data cannot tell:")
        lines += [f"  - {note}" for note in found.notes]
    return lines


def _skips(flow) -> str:
    # A deal can skip a stage only coming from one before it; "0 of 0" would
    # read as a figure where there is none (the first stage, say).
    if not flow.could_skip:
        return (
            "none could skip it (no deal came to it or past it from an earlier stage)"
        )
    return f"skipped by {flow.skipped:,} of {flow.could_skip:,}"


def _days(spread) -> str:
    if not spread.n:
        return "no times"
    return f"{fixed(spread.median, 1)} / {fixed(spread.p80, 1)} (n={spread.n:,})"


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1, got {text!r}"
        )
    return int(text)
