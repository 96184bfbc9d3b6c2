"""Drafts: pipelines being edited in the builder, planned and applied.

A draft holds a whole `PipelineSpec`. Applying it goes through
`plan_pipeline` and `apply_pipeline`, exactly like `dealgate pipeline apply
FILE`, so the page and the file stay two faces of one definition: nothing
here writes a stage or a handoff.

Verbs: `working_copy` reads what the builder shows (the draft, else the
applied pipeline); `edit_draft`, `edit_stage` (a stage's fields and breach
actions together) and `replace_draft` validate one edit, then save it,
starting a draft from the applied pipeline on the first edit;
`start_pipeline` makes the draft of a new pipeline; `plan_draft` tells what
applying would change; `apply_draft` applies it and drops the draft.

Routing rules are the admins' (README, "Who may do what"), though they are
part of the pipeline file like every other key: a draft save or an apply by
anyone else that changes them is refused, naming `routing`, and nothing is
written (`check_routing_kept`). `None` as the person is the system or the
command line, which whoever has the shell runs.

Two people may have the builder open at once. Every page that changes or
applies a draft posts back `Working.seen`, digests of the draft and of the
applied pipeline as the page showed them; the verbs take it as `seen` and
refuse (`Conflict`, nothing written) when either changed since, so nobody
applies, discards or overwrites a draft they did not see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.core import criteria
from dealgate.core.digests import content_digest
from dealgate.core.pipeline_file import (
    LossReasonSpec,
    PipelineFileError,
    PipelineSpec,
    dump_pipeline,
    format_path,
    parse_pipeline,
)
from dealgate.core.text import required_text
from dealgate.errors import Conflict, NotFound, ValidationError
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.redesign import GatesRefused
from dealgate.pipelines.services import (
    MovesOutOfOrder,
    PipelinePlan,
    PlannedChange,
    StagesHoldDeals,
    apply_pipeline,
    export_pipeline,
    offered_renames,
    plan_pipeline,
)

from . import breach as breach_actions
from .edits import (
    change_pipeline,
    change_stage,
    check_key,
    spec_from_data,
    spec_to_data,
)
from .models import Draft

log = logging.getLogger("dealgate.builder")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
# Keys that would clash with the builder's own addresses (/pipelines/new/).
RESERVED_KEYS = frozenset({"new"})
# A new pipeline can lose deals from the start: a loss needs a listed reason.
DEFAULT_LOSS_REASONS = (
    LossReasonSpec("price", "Price too high"),
    LossReasonSpec("competitor", "Chose another provider"),
    LossReasonSpec("no-decision", "No decision: the buyer went quiet"),
    LossReasonSpec("other", "Other", needs_note=True),
)


@dataclass(frozen=True)
class Working:
    """The pipeline as the builder shows it: the draft when there is one,
    else the applied pipeline. `stale` is set when the applied pipeline
    changed after the draft was started (applying would undo that change).
    `applied` is the applied pipeline's spec (None when not applied yet)."""

    key: str
    spec: PipelineSpec
    draft: Draft | None
    pipeline: Pipeline | None
    stale: bool = False
    applied: PipelineSpec | None = None

    @property
    def seen(self) -> str:
        """What a page posts back to say what it showed: the digest of the
        draft ("none" without one), a dot, the digest of the applied
        pipeline ("none" when not applied yet)."""
        draft = _digest(self.spec) if self.draft is not None else NONE
        return f"{draft}.{_digest(self.applied)}"


def working_copy(key: str, *, lock: bool = False) -> Working:
    """What the builder edits for pipeline `key` (a draft read, and the
    export of the applied pipeline when there is one). With `lock`, the
    draft and pipeline rows are locked (inside the caller's transaction)."""
    drafts = Draft.objects.select_for_update() if lock else Draft.objects
    pipelines = Pipeline.objects.select_for_update() if lock else Pipeline.objects
    draft = drafts.filter(key=key).first()
    pipeline = pipelines.filter(key=key).first()
    if draft is None and pipeline is None:
        raise NotFound(f"no pipeline or draft {key!r}", field="key")
    applied = export_pipeline(pipeline) if pipeline is not None else None
    if draft is None:
        assert applied is not None
        return Working(key, applied, None, pipeline, applied=applied)
    return Working(
        key,
        spec_from_data(draft.spec),
        draft,
        pipeline,
        stale=_stale(draft, applied),
        applied=applied,
    )


def _stale(draft: Draft, applied: PipelineSpec | None) -> bool:
    if applied is None or draft.base is None:
        return (applied is None) != (draft.base is None)
    return spec_from_data(draft.base) != applied


NONE = "none"


def _digest(spec: PipelineSpec | None) -> str:
    """A short digest of everything `spec` defines; equal specs, equal digests."""
    if spec is None:
        return NONE
    return content_digest(spec_to_data(spec))


def check_seen(working: Working, seen: str, *, applying: bool = False) -> None:
    """Refuse (Conflict) when the page that posted `seen` showed another
    draft than `working`'s, or, when `applying` or editing the applied
    pipeline itself, another applied pipeline. A blank or garbled `seen` is
    refused too: without it nothing tells what the person saw."""
    shown_draft, dot, shown_applied = seen.strip().partition(".")
    if not (dot and shown_draft and shown_applied):
        raise ValidationError(
            "the form did not say which draft it showed; reload the page and try again",
            field="seen",
        )
    draft, _, applied = working.seen.partition(".")
    saw = "you reviewed it" if applying else "you opened it"
    if shown_draft != draft:
        if draft == NONE:
            what = "the draft was applied or discarded"
        elif shown_draft == NONE:
            what = "someone started a draft of this pipeline"
        else:
            what = "the draft changed"
        raise Conflict(f"{what} since {saw}; review it again")
    if (applying or working.draft is None) and shown_applied != applied:
        saw = "you reviewed the draft" if applying else "you opened it"
        raise Conflict(f"the applied pipeline changed since {saw}; review it again")


def start_pipeline(key: str, name: str, timezone: str, by: User | None) -> Draft:
    """The draft of a new pipeline: no stages yet, Monday to Friday 09:00 to
    17:00 in `timezone`, and a few common loss reasons."""
    check_key(key, "a pipeline key")
    if key in RESERVED_KEYS:
        raise ValidationError(
            f"{key!r} names a builder page; choose another key", field="key"
        )
    name = required_text(name, "name", missing="a pipeline needs a name")
    if Pipeline.objects.filter(key=key).exists():
        raise ValidationError(f"there is already a pipeline {key!r}", field="key")
    if Draft.objects.filter(key=key).exists():
        raise ValidationError(
            f"a pipeline {key!r} is already being built; open it from the list",
            field="key",
        )
    spec = PipelineSpec(
        key=key,
        name=name,
        stages=(),
        calendar={"hours": {day: ["09:00-17:00"] for day in WEEKDAYS}},
        loss_reasons=DEFAULT_LOSS_REASONS,
    )
    spec = change_pipeline(spec, timezone=timezone)
    now = timesource.now()
    draft = Draft(
        key=key,
        spec=spec_to_data(spec),
        base=None,
        created_by=by,
        updated_by=by,
        created_at=now,
        updated_at=now,
    )
    _save(draft, f"there is already a draft {key!r}")
    log.info("pipeline %s started in the builder by %s", key, _who(by))
    return draft


def edit_draft(
    key: str,
    by: User | None,
    change: Callable[[PipelineSpec], PipelineSpec],
    *,
    seen: str | None = None,
) -> PipelineSpec:
    """Apply `change` to the draft of `key` and save it (the draft row is
    locked meanwhile). `change` raises ValidationError to refuse; a `seen`
    other than the draft's now is a Conflict (see `check_seen`)."""
    with transaction.atomic():
        draft = _locked_draft(key, by, seen)
        before = spec_from_data(draft.spec)
        spec = change(before)
        _check_routing_edit(key, before, spec, by)
        draft.spec = spec_to_data(spec)
        _touch(draft, by)
    log.info("draft %s edited by %s", key, _who(by))
    return spec


def replace_draft(
    key: str, by: User | None, spec: PipelineSpec, *, seen: str | None = None
) -> None:
    """Make `spec` (from a file or a blueprint) the draft of `key`; `seen`
    as for `edit_draft`."""
    if spec.key != key:
        raise ValidationError(
            f"the file describes pipeline {spec.key!r}, not {key!r}; keys cannot "
            "be changed here",
            field="key",
        )
    edit_draft(key, by, lambda _old: spec, seen=seen)


def edit_stage(
    key: str,
    by: User | None,
    stage: str,
    values: Mapping[str, object],
    actions: list[str] | None,
    *,
    seen: str | None = None,
) -> None:
    """Set a stage's fields (see `edits.change_stage`) and its breach actions
    (None: the pipeline's default) in one save; `seen` as for `edit_draft`."""
    with transaction.atomic():
        draft = _locked_draft(key, by, seen)
        before = spec_from_data(draft.spec)
        spec = change_stage(before, stage, **values)
        spec = breach_actions.with_actions(spec, stage, actions)
        _check_routing_edit(key, before, spec, by)
        draft.spec = spec_to_data(spec)
        _touch(draft, by)
    log.info("draft %s: stage %s edited by %s", key, stage, _who(by))


def may_change_routing(user: User | None) -> bool:
    """True for an admin, and for the system or command line (None)."""
    return user is None or user.is_superuser or user.role == User.Role.ADMIN


def check_routing_kept(
    before: PipelineSpec | None, after: PipelineSpec, by: User | None
) -> None:
    """Refuse (ValidationError, field "routing") when `after` has other
    routing rules than `before` (None: no pipeline yet) and `by` may not
    change them."""
    if may_change_routing(by) or _routing(before) == _routing(after):
        return
    raise ValidationError(
        "routing: only an admin may change the routing rules; put the "
        "[[routing]] tables back as they were (the pipeline's file shows "
        "them) or ask an admin, and the rest of the draft is kept",
        field="routing",
    )


def _check_routing_edit(
    key: str, before: PipelineSpec, after: PipelineSpec, by: User | None
) -> None:
    """`check_routing_kept` for a draft save: rules put back as the applied
    pipeline has them are kept too, so a draft made stale by an admin's
    routing change can be brought in line again."""
    if may_change_routing(by) or _routing(before) == _routing(after):
        return
    pipeline = Pipeline.objects.filter(key=key).first()
    applied = export_pipeline(pipeline) if pipeline is not None else None
    check_routing_kept(applied, after, by)


def _routing(spec: PipelineSpec | None) -> str:
    """The routing rules of `spec` as canonical text, to compare."""
    rules = list(spec.routing) if spec is not None else []
    return json.dumps(rules, sort_keys=True, separators=(",", ":"), default=str)


def discard_draft(key: str, by: User | None, *, seen: str | None = None) -> bool:
    """Drop the draft of `key`; False when there was none. With `seen`, a
    draft changed since the page was shown is kept (Conflict): the person
    would throw away work they never saw."""
    with transaction.atomic():
        draft = Draft.objects.select_for_update().filter(key=key).first()
        if draft is None:
            return False
        if seen is not None:
            check_seen(working_copy(key, lock=True), seen)
        draft.delete()
    log.info("draft %s discarded by %s", key, _who(by))
    return True


def _locked_draft(key: str, by: User | None, seen: str | None = None) -> Draft:
    """The draft row, locked; a new one from the applied pipeline if none.
    With `seen`, refuses first when the page showed something else."""
    if seen is not None:
        check_seen(working_copy(key, lock=True), seen)
    draft = Draft.objects.select_for_update().filter(key=key).first()
    if draft is not None:
        return draft
    pipeline = Pipeline.objects.filter(key=key).first()
    if pipeline is None:
        raise NotFound(f"no pipeline or draft {key!r}", field="key")
    data = spec_to_data(export_pipeline(pipeline))
    now = timesource.now()
    return Draft(
        key=key,
        spec=data,
        base=data,
        created_by=by,
        created_at=now,
        updated_at=now,
    )


def _touch(draft: Draft, by: User | None) -> None:
    draft.updated_by = by
    draft.updated_at = timesource.now()
    _save(draft, "someone else started a draft of this pipeline at the same time")


def _save(draft: Draft, clash: str) -> None:
    inserting = draft.pk is None
    try:
        # A savepoint, so a racing insert of the same key leaves the
        # surrounding transaction usable for the check below.
        with transaction.atomic():
            draft.save()
    except IntegrityError:
        # Only a second draft of the same pipeline is a clash; any other
        # broken constraint is a fault and must surface as one.
        if inserting and Draft.objects.filter(key=draft.key).exists():
            raise Conflict(f"{clash}; reload and try again") from None
        raise


# --- planning and applying -----------------------------------------------------


# What the apply page says of a removed stage that still holds deals: its
# form asks where they go, below the plan.
WHERE_DEALS_GO = "choose where their deals go below"


def _choose_below(change: PlannedChange) -> str:
    return WHERE_DEALS_GO


@dataclass(frozen=True)
class Stranded:
    """A stage the draft removes that still holds deals."""

    key: str
    name: str
    open_deals: int
    closed_deals: int
    # Stages the draft adds in its place: it may be renamed to one instead.
    renames_to: tuple[str, ...] = ()


@dataclass
class DraftPlan:
    """What applying the draft would do. `problems` must be fixed first;
    `stranded` stages need to be told where their deals go. `needs_admin`
    is set when the draft changes the routing rules and the person planned
    for may not (`check_routing_kept`): that change is theirs to leave to
    an admin, not one they can apply, so `change_count` leaves it out."""

    working: Working
    problems: list[str] = field(default_factory=list)
    plan: PipelinePlan | None = None
    stranded: list[Stranded] = field(default_factory=list)
    needs_admin: bool = False

    @property
    def lines(self) -> list[str]:
        if self.plan is None:
            return []
        # The apply page asks where the deals of a removed stage go just
        # below its plan; a command line's --move means nothing there.
        return self.plan.lines(_choose_below, page=True)

    @property
    def change_count(self) -> int:
        """How many changes applying makes that the person may apply."""
        if self.plan is None:
            return 0
        changes = self.plan.changes
        if self.needs_admin:
            changes = [change for change in changes if change.area != "routing"]
        return len(changes)

    @property
    def has_changes(self) -> bool:
        return self.change_count > 0

    @property
    def blocked(self) -> bool:
        return bool(self.plan and self.plan.blocked)

    @property
    def carries(self) -> bool:
        """Whether applying carries open deals past gates by a new order of
        stages (`PipelinePlan.carried`), so an override may be wanted."""
        return bool(self.plan and self.plan.carried)


def plan_draft(
    working: Working,
    moves: Mapping[str, str] | None = None,
    *,
    by: User | None = None,
) -> DraftPlan:
    """What applying `working` would change; changes nothing. With `by`,
    a routing change they may not apply is the first problem, and the plan
    (when nothing else stops it) still says what else the draft changes,
    with `needs_admin` set."""
    others = draft_problems(working.spec)
    result = DraftPlan(working, problems=list(others))
    try:
        check_routing_kept(working.applied, working.spec, by)
    except ValidationError as exc:
        result.problems.insert(0, exc.message)
        result.needs_admin = True
    if others:
        return result
    try:
        result.plan = plan_pipeline(working.spec, moves=moves)
    except PipelineFileError as exc:
        result.problems += [_problem_text(working.spec, p) for p in exc.problems]
        return result
    result.stranded = [
        Stranded(c.needs_move, c.stage_name, *c.held, renames_to=c.renames_to)
        for c in result.plan.blocked
    ]
    return result


def apply_draft(
    key: str,
    by: User | None,
    moves: Mapping[str, str] | None = None,
    *,
    seen: str | None = None,
    override_reason: str = "",
    renames: Mapping[str, str] | None = None,
) -> DraftPlan:
    """Apply the draft of `key` in one transaction and drop the draft.

    Refuses (ValidationError, nothing written) while the draft has problems,
    or while a removed stage holds deals that `moves` sends nowhere; and
    (Conflict) when `seen` shows that the draft or the applied pipeline
    changed since the plan was reviewed, so what is applied is what the
    person read. The draft and pipeline rows are locked throughout, so an
    edit saved meanwhile waits and then starts a new draft rather than
    being dropped unseen. Deals sent forward past their removed stage's
    place pass their gates or `override_reason` lifts them
    (`pipelines.redesign`), else nothing is applied.
    """
    with transaction.atomic():
        working = working_copy(key, lock=True)
        if working.draft is None:
            raise ValidationError(f"there is no draft of {key!r} to apply")
        if seen is not None:
            check_seen(working, seen, applying=True)
        check_routing_kept(working.applied, working.spec, by)
        problems = draft_problems(working.spec)
        if problems:
            raise ValidationError("; ".join(problems))
        # A rename names a stage of the draft for a removed one, as a move does.
        _check_moves(working, {**(moves or {}), **(renames or {})})
        _check_renames(working, renames or {})
        try:
            plan = apply_pipeline(
                working.spec,
                moves=moves,
                renames=renames,
                by=by,
                override_reason=override_reason,
            )
        except StagesHoldDeals as blocked:
            raise ValidationError(
                blocked.blocked_message(WHERE_DEALS_GO), field=blocked.field
            ) from None
        except GatesRefused as refused:
            raise ValidationError(
                refused.message_with(
                    f"{refused.default_how()}; a reason goes in the box below"
                ),
                field="override_reason",
            ) from None
        except MovesOutOfOrder as late:
            # The site's date is DEALGATE_AS_OF's or the demo's, which no
            # page sets: the manager can wait for it or keep the stages.
            raise ValidationError(
                late.message_with(
                    "keep the stages that hold them in the draft for now, or "
                    f"apply once the site's date (its as-of date) is "
                    f"{late.earliest} or later"
                ),
                field=late.field,
            ) from None
        Draft.objects.filter(pk=working.draft.pk).delete()
    log.info("draft %s applied by %s: %d changes", key, _who(by), len(plan.changes))
    return DraftPlan(working, plan=plan)


def _check_moves(working: Working, moves: Mapping[str, str]) -> None:
    """Refuse, in the apply page's words, a choice of where deals go that
    names no stage of the draft, or a stage the draft keeps (the command
    line's own message speaks of --move and the file)."""
    keys = working.spec.stage_keys()
    applied = working.applied.stages if working.applied else ()
    names = {stage.key: stage.name for stage in applied}
    for old, new in moves.items():
        select = f"Deals of {names.get(old, old)}"
        if new not in keys:
            raise ValidationError(
                f"{select}: {new!r} is not a stage of the draft; choose one "
                "of the stages its list offers",
                field=f"move-{old}",
            )
        if old in keys:
            raise ValidationError(
                f"{select}: stage {old!r} stays in the draft; only the deals "
                "of the stages it removes are moved",
                field=f"move-{old}",
            )


def _check_renames(working: Working, renames: Mapping[str, str]) -> None:
    """Refuse a choice to keep a removed stage under a new key that the
    apply page does not offer it (`offered_renames`): a form made by hand
    could otherwise rename a stage into a later place, or one that holds
    no deals to keep."""
    if not renames:
        return
    offered = offered_renames(working.spec)
    applied = working.applied.stages if working.applied else ()
    names = {stage.key: stage.name for stage in applied}
    for old, new in renames.items():
        choices = offered.get(old, ())
        if new in choices:
            continue
        others = (
            f"it may be kept as {', '.join(map(repr, choices))}"
            if choices
            else "it may be kept under no new key here"
        )
        raise ValidationError(
            f"Deals of {names.get(old, old)}: keeping it as {new!r} is not a "
            f"choice its list offers ({others}); choose one of the stages "
            "its list offers",
            field=f"move-{old}",
        )


def draft_problems(spec: PipelineSpec) -> list[str]:
    """What keeps `spec` from being applied, in words: what a pipeline file
    would refuse, and rules that do not compile."""
    if not spec.stages:
        return ["add at least one stage"]
    try:
        parse_pipeline(dump_pipeline(spec), f"pipeline {spec.key}")
    except PipelineFileError as exc:
        return [_problem_text(spec, problem) for problem in exc.problems]
    problems = []
    for stage in spec.stages:
        for item in (*stage.entry_criteria, *stage.exit_criteria):
            reason = criteria.check_rule(item.rule)
            if reason is not None:
                problems.append(
                    f"stage '{stage.name}': the rule of {item.label!r} does not "
                    f"compile: {reason}"
                )
    return problems


def _problem_text(spec: PipelineSpec, problem) -> str:
    path = problem.path
    if len(path) >= 2 and path[0] == "stages" and isinstance(path[1], int):
        stage = spec.stages[path[1]]
        rest = format_path(path[2:]) or "the stage"
        return f"stage '{stage.name or stage.key}': {rest}: {problem.message}"
    return f"{format_path(path) or 'pipeline'}: {problem.message}"


def _who(user: User | None) -> str:
    return user.username if user else "system"
