"""Load the demo: the demo pipeline, the real Maven CRM opportunities, logins.

Every step is idempotent, so `make demo` can run any number of times without
duplicating a deal, a user or a stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction

if TYPE_CHECKING:
    from dealgate.clocks.sweep import SweepResult
    from dealgate.core.pipeline_file import PipelineSpec
    from dealgate.imports.mappings import MappingError
    from dealgate.imports.report import ImportReport
    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import PlannedChange

DEMO_DIR = Path(__file__).resolve().parent
PIPELINE_FILE = DEMO_DIR / "pipeline.toml"
DEALS_FILE = DEMO_DIR / "data" / "maven-crm" / "sales_pipeline.csv"
# The built-in mapping the demo imports DEALS_FILE with, and the source its
# deals are kept under.
MAPPING = "maven-crm"
# The key pipeline.toml gives the demo's pipeline: a database whose only
# pipeline it is runs at the date the demo records (dealgate.timesource), and
# the clocks the demo started there stay at that date (dealgate.clocks.sweep).
PIPELINE_KEY = "maven-crm"
# The day after the data set's last close date: the demo's "now".
AS_OF = "2017-12-31"
PASSWORD = "dealgate-demo"

# (username, role, what they see): the owner is ours, the others come from the
# data set's sales teams.
LOGINS = [
    ("owner", "admin", "the firm's owner: every team, the admin"),
    ("dustin.brinkmann", "manager", "manager of the Central office"),
    ("darcel.schlecht", "rep", "the rep with the most deals"),
]

log = logging.getLogger("dealgate.demo")


@dataclass
class DemoSummary:
    pipeline_changes: list[str]
    # None when the import was skipped (`import_skipped` says why).
    import_report: ImportReport | None
    sweep: SweepResult
    logins: list[tuple[str, str, str]]
    # Whether every later command on the database runs at the demo's date.
    dated: bool = True
    # The database's pipelines other than the demo's (then it runs at the
    # real time, and only the demo's clocks stay at its date).
    other_pipelines: list[str] = field(default_factory=list)
    # What applying the shipped pipeline file would change in the demo's
    # pipeline as someone edited it, which the demo kept; empty when it was
    # applied (a first run, an unchanged one, or asked to reset it).
    kept_edits: list[str] = field(default_factory=list)
    # Why the demo's deals were not imported again: the pipeline as edited
    # no longer fits them, and they are there from an earlier run.
    import_skipped: str = ""


def load_demo(as_of: str = AS_OF, *, reset_pipeline: bool = False) -> DemoSummary:
    """Load the demo at `as_of` (a date or an ISO instant: the caller makes
    `now()` that), and record it as the date every later command on this
    database runs at, unless the database holds other pipelines: those are
    someone's own, so it runs at the real time. Either way the sweep judges
    the clocks the demo started at that date, so its sample deals send no
    notices at a later time (dealgate.clocks.sweep).

    The demo's pipeline file is applied when the pipeline is new, or
    unchanged since; one someone edited (in the builder, or from a file) is
    kept as edited, and `kept_edits` says what applying the file would undo,
    unless `reset_pipeline` asks for the file's pipeline again. Edits may
    leave the demo's data no place (a stage it maps removed): the import is
    then skipped if an earlier run made the deals (`import_skipped`), and
    refused, saying how to reset, if none did (`_misfit`)."""
    from dealgate.clocks.sweep import sweep
    from dealgate.core.pipeline_file import load_pipeline_file
    from dealgate.imports.mappings import MappingError
    from dealgate.imports.services import import_deals, refresh_statistics
    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import plan_pipeline
    from dealgate.timesource import record_as_of

    spec = load_pipeline_file(PIPELINE_FILE)
    changes, kept = [], []
    if reset_pipeline or not Pipeline.objects.filter(key=spec.key).exists():
        changes = [str(change) for change in _apply_demo_pipeline(spec)]
    else:
        # A demo run again must not undo what a manager changed meanwhile.
        kept = [str(change) for change in plan_pipeline(spec).changes]
        if kept:
            log.info(
                "demo: pipeline %s differs from %s in %d ways; kept as edited",
                spec.key,
                PIPELINE_FILE,
                len(kept),
            )
    pipeline = Pipeline.objects.get(key=spec.key)
    # Before the deals: a sweeper running meanwhile (a server's) then never
    # finds their clocks without the date that keeps them at it.
    record_as_of(as_of)
    report, skipped = None, ""
    try:
        report = import_deals(DEALS_FILE, MAPPING, pipeline=pipeline)
    except MappingError as misfit:
        skipped = _misfit(pipeline, misfit)
    if report is not None:
        refresh_statistics(report)
    ensure_logins()
    others = sorted(
        Pipeline.objects.exclude(key=spec.key).values_list("key", flat=True)
    )
    if others:
        log.warning(
            "demo: this database also holds pipeline %s, so it runs at the real "
            "time; the clocks the demo started stay at %s and send no notices",
            ", ".join(others),
            as_of,
        )
    # Act on the clocks that ran out by the as-of date, so the today page and
    # the notices show the follow-through the product would have done.
    swept = sweep()
    log.info("demo loaded: pipeline %s, %s", pipeline.key, report or skipped)
    return DemoSummary(
        pipeline_changes=changes,
        import_report=report,
        sweep=swept,
        logins=LOGINS,
        dated=not others,
        other_pipelines=others,
        kept_edits=kept,
        import_skipped=skipped,
    )


def _misfit(pipeline: Pipeline, misfit: MappingError) -> str:
    """Why the demo's deals are not imported into its pipeline as someone
    edited it, whose stages no longer fit them (`misfit`, the import's
    refusal, names the stage): a run again would only find them present,
    so with the deals there from an earlier run the import is skipped, and
    this says why. With none there, the demo has nothing to show: raises
    ValidationError saying how to put the demo's pipeline back."""
    from dealgate.deals.models import Deal
    from dealgate.errors import ValidationError

    if Deal.objects.filter(pipeline=pipeline, source=MAPPING).exists():
        log.info(
            "demo: import skipped; pipeline %s as edited no longer fits %s, whose "
            "deals it holds from an earlier run: %s",
            pipeline.key,
            DEALS_FILE.name,
            misfit.message,
        )
        return (
            f"the demo's deals are in {pipeline.key!r} already, and its stages "
            f"as edited no longer fit the demo's data ({misfit.message})"
        )
    raise ValidationError(
        f"{misfit.message}. The demo's data needs the demo's pipeline as its "
        "file has it; dealgate demo --reset-pipeline restores it",
        field=misfit.field,
    ) from None


def _apply_demo_pipeline(spec: PipelineSpec) -> list[PlannedChange]:
    """Apply the demo's file. A reset refused because stages someone added
    hold deals says how to reset with `pipeline apply`, which takes the
    --move that `dealgate demo` does not."""
    from dealgate.errors import ValidationError
    from dealgate.pipelines.services import StagesHoldDeals, apply_pipeline

    try:
        return apply_pipeline(spec).changes
    except StagesHoldDeals as blocked:
        flags = " ".join(f"--move {key}=NEW" for key in blocked.keys)
        how = f"reset it with dealgate pipeline apply {PIPELINE_FILE} {flags}"
        raise ValidationError(blocked.blocked_message(how), field="moves") from None


@transaction.atomic
def ensure_logins() -> None:
    """Give the demo logins the printed password; create the owner if missing.

    A login whose password already is that one keeps its hash: setting it
    afresh would sign out whoever is signed in with it (a session is tied to
    the hash), as every `make demo` run again would.
    """
    users = get_user_model()
    for username, role, _ in LOGINS:
        user, _created = users.objects.get_or_create(
            username=username, defaults={"role": role}
        )
        if username == "owner":
            user.first_name, user.last_name = "Demo", "Owner"
            user.is_staff = user.is_superuser = True
        user.role = role
        if not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
        user.save()
