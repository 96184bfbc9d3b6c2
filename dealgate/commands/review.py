"""`dealgate review [FILE | --pipeline KEY] [--strict]`: the design review.

A file gets the shape and rule checks; an applied pipeline also the checks
of its data (widths, skips, ages against limits, lost deals without a
reason). Each finding is printed as LOCATION: KEY: MESSAGE with its fix on
the next line. With --strict any finding makes the exit status 1, so a team
can check its pipeline file in its own CI.
"""

from __future__ import annotations

import argparse
import sys

from dealgate.cli import CommandError
from dealgate.core.pipeline_file import (
    PipelineFileError,
    PipelineSpec,
    load_pipeline_file,
)
from dealgate.core.review import Finding, review
from dealgate.core.text import counted


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="check a pipeline's design: shape, rules and, once applied, its data",
        description=(
            "Review a pipeline file (shape and rules), or an applied pipeline "
            "(also its data). Without either, the only pipeline is reviewed."
        ),
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="a pipeline file")
    parser.add_argument("--pipeline", metavar="KEY", help="an applied pipeline")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when there is any finding (for CI)",
    )
    parser.set_defaults(func=run_review)


def run_review(args: argparse.Namespace) -> int:
    if args.file and args.pipeline:
        raise CommandError("give a FILE or --pipeline KEY, not both")
    if args.file:
        try:
            spec = load_pipeline_file(args.file)
        except PipelineFileError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return 1
        findings = review(spec)
        name = args.file
    else:
        spec, findings = _review_applied(args.pipeline)
        name = f"pipeline {spec.key}"
    _print(spec, findings, name)
    return 1 if args.strict and findings else 0


def _review_applied(key: str | None) -> tuple[PipelineSpec, list[Finding]]:
    from dealgate import timesource
    from dealgate.builder.figures import figures_for
    from dealgate.pipelines.services import export_pipeline

    pipeline = only_pipeline(key)
    spec = export_pipeline(pipeline)
    return spec, review(spec, figures_for(pipeline, timesource.now()).review)


def only_pipeline(key: str | None):
    """The pipeline named `key`, or the only one there is."""
    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import get_pipeline

    if key:
        return get_pipeline(key)
    keys = list(Pipeline.objects.order_by("key").values_list("key", flat=True))
    if len(keys) != 1:
        known = ", ".join(keys) or "none yet"
        raise CommandError(
            f"say which pipeline with --pipeline KEY (pipelines: {known})"
        )
    return get_pipeline(keys[0])


def _print(spec: PipelineSpec, findings: list[Finding], name: str) -> None:
    for finding in findings:
        print(spec.problem(finding.path, finding.message))
        print(f"  fix: {finding.fix}")
    count = len(findings)
    if count:
        print(f"{name}: {counted(count, 'finding')}")
    else:
        print(f"{name}: no findings")
