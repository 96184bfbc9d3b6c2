"""`dealgate pipeline validate|apply|export`: pipelines as TOML files.

The file format is described in docs/pipeline-file.md. Problems in a file are
printed one per line as FILE:LINE: KEY: MESSAGE, and the command exits with
status 1. `apply` exits with status 2 when applying is refused for now (see
`REFUSED`), and `apply --dry-run` too when its plan says applying would be.
`validate` reads the database (never writes it) to check the users and teams
a file names and, when the pipeline is stored already, what `apply` would
refuse (a stage left out that still holds deals); without a database it says
what it could not check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dealgate.core.pipeline_file import (
    PipelineFileError,
    check_pipeline_file,
    dump_pipeline,
    load_pipeline_file,
)
from dealgate.core.text import counted

if TYPE_CHECKING:
    from dealgate.accounts.models import User

# The exit status of `apply` when applying is refused for now (deals sent
# past gates without an override, moves dated before a deal's history):
# `--dry-run` ends with it too when its plan says so. 1 is for a file's
# problems and removed stages told no place for their deals.
REFUSED = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pipeline", help="check, apply or export a pipeline file (TOML)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    validate = actions.add_parser(
        "validate",
        help="check pipeline files, the users and teams they name and what "
        "apply would refuse, changing nothing",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(func=run_validate)

    apply = actions.add_parser(
        "apply", help="show what a pipeline file changes, then change it"
    )
    apply.add_argument("file", metavar="FILE")
    apply.add_argument(
        "--move",
        action="append",
        default=[],
        type=_move,
        metavar="OLD=NEW",
        help="move the deals of removed stage OLD to stage NEW (repeatable)",
    )
    apply.add_argument(
        "--rename",
        action="append",
        default=[],
        type=_move,
        metavar="OLD=NEW",
        help="stage OLD, which the file leaves out, is stage NEW of the file under "
        "a new key: its deals stay, with their time in stage (repeatable)",
    )
    apply.add_argument(
        "--override",
        default="",
        metavar="REASON",
        help="a manager's written reason to send deals of removed stages forward "
        "past criteria they do not meet (only deals of their teams; an admin's: "
        "any); give --as too",
    )
    apply.add_argument(
        "--dry-run", action="store_true", help="show the changes, apply nothing"
    )
    apply.add_argument(
        "--as",
        dest="username",
        metavar="USERNAME",
        help="who applies it: named as By on the history of the deals --move moves",
    )
    apply.set_defaults(func=run_apply)

    export = actions.add_parser("export", help="write a pipeline as a file")
    export.add_argument("key", metavar="KEY", help="the pipeline's key")
    export.add_argument(
        "-o", "--output", metavar="FILE", help="write here instead of to stdout"
    )
    export.add_argument(
        "--force", action="store_true", help="replace FILE if it already exists"
    )
    export.set_defaults(func=run_export)


def run_validate(args: argparse.Namespace) -> int:
    from dealgate.pipelines.services import reference_problems, removal_problems

    unchecked = _names_unchecked()
    status = 0
    for name in args.files:
        spec, problems = check_pipeline_file(name)
        if spec is not None and unchecked is None:
            problems += reference_problems(spec)
            if not problems:
                # Only a file that reads and names real people can be planned.
                problems += removal_problems(spec)
        if problems:
            _print_problems(PipelineFileError(problems))
            status = 1
            continue
        assert spec is not None
        print(f"{name}: ok ({spec.summary()})")
    if unchecked is not None:
        print(
            f"note: users and teams were not checked, nor what apply would refuse: "
            f"{unchecked}; `dealgate migrate` sets up the database, "
            "--database-url picks another",
            file=sys.stderr,
        )
    return status


def _names_unchecked() -> str | None:
    """Why the users and teams files name cannot be looked up; None if they can.

    A SQLite file that does not exist is not created just to find it empty.
    """
    from django.db import DatabaseError, connection

    from dealgate.accounts.models import User

    name = connection.settings_dict["NAME"]
    if (
        connection.vendor == "sqlite"
        and not connection.is_in_memory_db()
        and not Path(name).exists()
    ):
        return f"there is no database at {name}"
    try:
        User.objects.exists()
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"the database cannot be read ({reason or type(exc).__name__})"
    return None


def run_apply(args: argparse.Namespace) -> int:
    from dealgate.cli import CommandError
    from dealgate.pipelines.redesign import GatesRefused
    from dealgate.pipelines.services import (
        MovesOutOfOrder,
        apply_pipeline,
        plan_pipeline,
    )

    moves = _one_each(args.move, "--move", "destinations")
    renames = _one_each(args.rename, "--rename", "new keys")
    by = _applier(args.username)
    try:
        spec = load_pipeline_file(args.file)
        plan = plan_pipeline(
            spec, moves=moves, renames=renames, by=by, override_reason=args.override
        )
    except PipelineFileError as exc:
        _print_problems(exc)
        return 1

    dry = " (dry run: nothing is applied)" if args.dry_run else ""
    print(f"plan for pipeline {spec.key!r} ({spec.name}) from {args.file}{dry}:")
    for line in plan.lines():
        print(f"  {line}")
    if plan.creates:
        from dealgate.leads.tokens import second_pipeline_warning

        warning = second_pipeline_warning()
        if warning:
            print(f"dealgate: warning: {warning}", file=sys.stderr)
    if plan.blocked:
        keys = " ".join(
            f"--move {c.needs_move}=NEW"
            + "".join(f" (or --rename {c.needs_move}={new})" for new in c.renames_to)
            for c in plan.blocked
        )
        print(
            f"dealgate: nothing applied; say where the deals of removed stages go: "
            f"{keys}",
            file=sys.stderr,
        )
        return 1
    if args.dry_run:
        if plan.refusals:
            # The status apply itself would end with (a CommandError), so a
            # script that tries first is told it would not apply.
            print(
                "dealgate: nothing would be applied now: applying is refused, "
                "as the plan's note says",
                file=sys.stderr,
            )
            return REFUSED
        return 0

    # Applying re-plans under a lock, so a change made since the plan above
    # was printed is caught rather than written blind.
    try:
        applied = apply_pipeline(
            spec, moves=moves, renames=renames, by=by, override_reason=args.override
        )
    except GatesRefused as refused:
        other = " or ".join(
            ["another --move"] * bool(refused.free)
            + ["another order of [[stages]]"] * bool(refused.carried)
        )
        raise CommandError(
            refused.message_with(
                f"{refused.default_how()} (on the command line: --override REASON "
                f"with --as USERNAME, or {other})"
            )
        ) from refused
    except MovesOutOfOrder as late:
        # The moves' date is the command's --as-of (or DEALGATE_AS_OF, or
        # the demo's recorded date); a date alone ends in as_of_zone.
        from zoneinfo import ZoneInfo

        from dealgate import timesource

        day = late.latest.astimezone(ZoneInfo(timesource.as_of_zone())).date()
        raise CommandError(
            "--as-of: "
            + late.message_with(
                f"give --as-of {day.isoformat()} or later (the date or an "
                "ISO instant), or leave the stage in the file for now"
            )
        ) from late
    if applied.has_changes:
        changes = counted(len(applied.changes), "change")
        print(f"applied {changes} to pipeline {spec.key!r}")
    return 0


def _applier(username: str | None) -> User | None:
    """The user `--as` names, refused before anything is planned when there
    is no such user; None without `--as`."""
    from dealgate.accounts.models import User
    from dealgate.cli import CommandError

    if username is None:
        return None
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"--as: no user {username!r}")
    return user


def run_export(args: argparse.Namespace) -> int:
    from dealgate.pipelines.services import export_pipeline, get_pipeline

    text = dump_pipeline(export_pipeline(get_pipeline(args.key)))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    _write_new(Path(args.output), text, replace=args.force)
    print(f"wrote pipeline {args.key!r} to {args.output}")
    return 0


def _write_new(path: Path, text: str, *, replace: bool) -> None:
    """Write `text` to `path`; a file already there is refused unless
    `replace`: it may be a hand-edited pipeline not yet applied."""
    from dealgate.cli import CommandError

    try:
        with path.open("w" if replace else "x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise CommandError(
            f"{path} already exists; use --force to replace it"
        ) from None


def _one_each(pairs: list[tuple[str, str]], flag: str, what: str) -> dict[str, str]:
    """OLD=NEW pairs as a mapping; a stage given twice with two different
    targets is refused, naming it, rather than the last silently winning."""
    from dealgate.cli import CommandError

    found: dict[str, str] = {}
    for old, new in pairs:
        if found.setdefault(old, new) != new:
            raise CommandError(
                f"{flag} {old}={found[old]} {flag} {old}={new}: stage {old!r} is "
                f"given two {what}; give it one"
            )
    return found


def _move(text: str) -> tuple[str, str]:
    old, equals, new = text.partition("=")
    if not equals or not old.strip() or not new.strip():
        raise argparse.ArgumentTypeError(
            f"expected OLD=NEW (two stage keys), got {text!r}"
        )
    return old.strip(), new.strip()


def _print_problems(error: PipelineFileError) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)
