"""Pipelines as files: plan, apply and export (format: docs/pipeline-file.md).

How a `PipelineSpec` maps onto rows:

- Pipeline: key, name, description, currency, allow_skipping, calendar (the
  [calendar] table as written), custom_fields, loss_reasons and won_criteria
  (lists of plain dicts) and `settings["bottleneck_share"]`.
- Stage: one row per [[stages]] table, `position` in file order. Entry
  criteria are a list of {"label", "rule"}; exit criteria are
  {"mode": "all" | "any", "items": [...]} (a bare list also reads as "all").
- Handoff: one row per [[handoffs]] table; the window in business minutes,
  `responsible` as written ("stage-owner", "deal-owner", "user:NAME" ...).
- Breach rules: `settings["breach"]`, assembled by `breach_settings` in the
  shape dealgate.clocks.rules reads; routing rules: `settings["routing"]`
  (core.routing's dicts). The file owns both: a file without them clears them.

A stage the file no longer lists is deleted when nothing refers to it. A stage
that history still refers to (stage events are append-only and protect their
stages) is retired instead: it stays in the database with `retired_at` set,
and `active_stages` leaves it out. Its `replaced_by` names the stage that
took its place (the `--move` target, else the stage kept just before it), so
insights can judge its history against the stages that are live now.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    F,
    OuterRef,
    ProtectedError,
    Q,
    RestrictedError,
    Subquery,
    When,
)
from django.db.models import Value as V

from dealgate import timesource
from dealgate.accounts.models import Team, User
from dealgate.accounts.teams import TeamNames, team_spelling
from dealgate.clocks import services as clocks
from dealgate.clocks.rules import DEFAULT_ACTIONS, handoff_name
from dealgate.core import business_time, routing
from dealgate.core.breach_words import actions_said
from dealgate.core.calendar import Calendar
from dealgate.core.pipeline_file import (
    BREACH_TOP_KEYS,
    DEAL_OWNER,
    DEFAULT_BOTTLENECK_SHARE,
    FALLBACK_DAY_MINUTES,
    LEAD,
    STAGE_OWNER,
    CriterionSpec,
    CustomFieldSpec,
    HandoffSpec,
    LossReasonSpec,
    PipelineFileError,
    PipelineSpec,
    Problem,
    StageSpec,
    breach_settings,
    day_minutes,
    format_window,
    same_breach,
    split_breach,
    split_owner,
)
from dealgate.core.text import agreeing, check_text, counted, cut
from dealgate.deals.models import TEXT_LIMITS, Activity, Deal, StageEvent
from dealgate.deals.services import MoveOutOfOrder, Responsible
from dealgate.errors import NotFound, ValidationError
from dealgate.leads.rules import unknown_targets, unknown_weights
from dealgate.pipelines import redesign
from dealgate.pipelines.calendars import calendar_for, local_time
from dealgate.pipelines.models import Handoff, Pipeline, Stage, active_stages

logger = logging.getLogger(__name__)

# Keys of Pipeline.settings that the file owns; other keys are left alone.
FILE_SETTINGS = ("bottleneck_share", "breach", "routing")
_STAGE_FIELDS = (
    "name",
    "buyer_action",
    "owner_kind",
    "owner_user_id",
    "owner_team_id",
    "age_limit_days",
    "probability",
    "entry_criteria",
    "exit_criteria",
)
_PIPELINE_FIELDS = ("name", "description", "currency", "allow_skipping")
# The pipeline form's labels (builder/edit.html), for the plan a page shows.
_PIPELINE_LABELS = {
    "name": "name",
    "description": "description",
    "currency": "currency",
    "allow_skipping": "deals may skip stages",
}
# A [calendar] table's keys as a page names them: the pipeline form's "time
# zone", and the parts it sends to the file in words ("working hours").
_CALENDAR_WORDS = {
    "timezone": "time zone",
    "hours": "working hours",
    "always_open": "open round the clock",
    "holidays": "public holidays",
    "closed_days": "closed days",
    "short_days": "short days",
}
# A custom field's type as a page says it.
_FIELD_TYPE_WORDS = {
    "text": "text",
    "number": "number",
    "date": "date",
    "bool": "yes or no",
    "choice": "a choice",
}
# Ids per UPDATE ... WHERE id IN (...), well under SQLite's variable limit.
_ID_BATCH = 1000
# How many of the deals a move would date out of order a refusal names.
_LATE_NAMED = 3
_REASON_LIMIT = TEXT_LIMITS["override_reason"]
_SUBJECT_LIMIT = Activity._meta.get_field("subject").max_length


def move_flag(change: PlannedChange) -> str:
    """How the command line is told where a removed stage's deals go."""
    return f"needs --move {change.needs_move}=NEW"


@dataclass(frozen=True)
class PlannedChange:
    """One change in words. `needs_move` names a removed stage that still
    holds deals and was told no place for them; such a plan cannot be
    applied. `held` counts the open and the closed deals of a removed stage.

    `text` says what changes in words any door may show; how a person
    says where the deals go is the door's own (a --move flag, a form's
    choice), so `line` adds it. `area` is "routing" for the change of the
    routing rules, which only admins may make (a door that knows who
    applies tells them apart); "" for every other change. `renames_to`
    lists the stages a blocked removal could be renamed to instead: the
    stages the file adds in its place."""

    text: str
    needs_move: str | None = None
    stage_name: str = ""
    held: tuple[int, int] = (0, 0)
    area: str = ""
    renames_to: tuple[str, ...] = ()
    # The change in the words of the builder's pages, where they differ
    # from the file's (stage names, the stage form's labels).
    page_text: str = ""

    def line(
        self,
        where_deals_go: Callable[[PlannedChange], str] = move_flag,
        *,
        page: bool = False,
    ) -> str:
        """The change as a door lists it: `text` (`page_text` for a web
        page, where given), and for a blocked removal what `where_deals_go`
        tells the person to do."""
        text = (self.page_text or self.text) if page else self.text
        if not self.needs_move:
            return text
        return f"{text} -> {where_deals_go(self)}"

    def __str__(self) -> str:
        return self.line()


@dataclass
class PipelinePlan:
    """What applying a file changes, in the order it is listed to the user.
    `carried` names the stages whose open deals the new order carries past
    gates (`_Sync._carried`): applying judges them, so a door offers the
    override it would for deals sent forward. `refusals` says why applying
    the plan now would be refused (gates, or moves dated before a deal's
    history), each also a note; empty when it would apply."""

    key: str
    creates: bool
    changes: list[PlannedChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    # The notes in the words of the builder's pages, where given.
    page_notes: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> list[PlannedChange]:
        return [change for change in self.changes if change.needs_move]

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def lines(
        self,
        where_deals_go: Callable[[PlannedChange], str] = move_flag,
        *,
        page: bool = False,
    ) -> list[str]:
        """The plan as a door lists it; `where_deals_go` and `page` as in
        `line`."""
        texts = [change.line(where_deals_go, page=page) for change in self.changes]
        notes = self.page_notes if page and self.page_notes else self.notes
        return (texts or ["no changes"]) + [f"note: {note}" for note in notes]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def get_pipeline(key: str) -> Pipeline:
    """The pipeline with this key; NotFound names the keys that exist."""
    try:
        return Pipeline.objects.get(key=key)
    except Pipeline.DoesNotExist:
        known = ", ".join(
            Pipeline.objects.order_by("key").values_list("key", flat=True)
        )
        raise NotFound(
            f"no pipeline {key!r}; pipelines: {known or 'none yet'}", field="key"
        ) from None


def only_pipeline(say_which: str) -> Pipeline:
    """The only pipeline there is, for a door that was not told which one.
    With several, ValidationError names their keys and `say_which` (how to
    name one: "in the pipeline field", "with --pipeline"); with none,
    NotFound."""
    pipelines = list(Pipeline.objects.order_by("key")[:20])
    if len(pipelines) == 1:
        return pipelines[0]
    if not pipelines:
        raise NotFound("there is no pipeline yet; create one first", field="pipeline")
    keys = ", ".join(p.key for p in pipelines)
    raise ValidationError(
        f"there are several pipelines ({keys}); say which {say_which}",
        field="pipeline",
    )


def plan_pipeline(
    spec: PipelineSpec,
    *,
    moves: Mapping[str, str] | None = None,
    renames: Mapping[str, str] | None = None,
    by: User | None = None,
    override_reason: str = "",
) -> PipelinePlan:
    """What `apply_pipeline(spec, moves=moves, by=by, ...)` would change;
    changes nothing. A note says when applying now would be refused: deals
    sent forward past their gates (`redesign`), or dated out of order.

    Raises PipelineFileError when an owner or responsible names no user or
    team, and ValidationError for a --move that cannot apply.
    """
    sync = _Sync(spec, moves, lock=False, renames=renames)
    return sync.plan(judged=(by, override_reason))


def apply_pipeline(
    spec: PipelineSpec,
    *,
    moves: Mapping[str, str] | None = None,
    renames: Mapping[str, str] | None = None,
    by: User | None = None,
    override_reason: str = "",
) -> PipelinePlan:
    """Make the database match `spec` in one transaction; return the plan.

    Idempotent: a second call finds no changes and writes nothing. Refuses
    (ValidationError, nothing written) to remove a stage that holds any deal,
    open or closed, unless `moves` maps its key to a stage of `spec`; moved
    deals get a StageEvent with source "pipeline", by `by` (the person who
    applied it; None when no one is known), dated `timesource.now()`. As for
    any move, that date may not come before a moved deal's last stage event:
    `MovesOutOfOrder` (nothing written) names how many deals and the first
    few. Locks the pipeline row, then the removed stages and moved deals.

    Moves may not get around the gates (`pipelines.redesign`): open deals
    sent past the stage that takes a removed one's place need the criteria
    on the way, or `override_reason` from a manager for deals of their
    teams (an admin any); else `GatesRefused` names them, nothing written.
    Each moved deal's event says the redesign, who applied it and any
    override.

    `renames` maps the key of a stored stage that `spec` leaves out to a
    new key of `spec`: the same stage under that key (`_Sync._rename`), so
    its deals stay, with their time in stage, clocks and history; no deal
    moves (ValidationError for a rename that cannot apply).
    """
    check_text(override_reason.strip(), "override_reason", limit=_REASON_LIMIT)
    with transaction.atomic():
        sync = _Sync(spec, moves, lock=True, renames=renames)
        plan = sync.plan()
        if plan.blocked:
            raise StagesHoldDeals(plan)
        sync.write(by, override_reason.strip())
    if plan.has_changes:
        logger.info(
            "pipeline %s: applied %s", spec.key, counted(len(plan.changes), "change")
        )
    return plan


def offered_renames(spec: PipelineSpec) -> dict[str, tuple[str, ...]]:
    """For each stored stage that `spec` removes while it holds deals, the
    stages it could be renamed to instead (`PlannedChange.renames_to`): the
    only renames a door that offers choices should take."""
    sync = _Sync(spec, None, lock=False)
    return {
        row.key: sync.rename_choices(row.key)
        for row in sync.removed
        if any(sync.deal_counts[row.id])
    }


def export_pipeline(pipeline: Pipeline) -> PipelineSpec:
    """The spec of a pipeline as stored; `dump_pipeline` turns it into a file.

    Incomplete rows (say, a stage without an owner) are exported as they are,
    so validating the exported file points at what is missing.
    """
    stages = list(active_stages(pipeline).select_related("owner_user", "owner_team"))
    keys = {stage.id: stage.key for stage in stages}
    order = {key: index for index, key in enumerate([LEAD, *keys.values()])}
    handoffs = [
        HandoffSpec(
            from_stage=keys.get(row.from_stage_id, LEAD),
            to_stage=keys[row.to_stage_id],
            response_window_minutes=row.response_window_minutes,
            responsible=row.responsible,
        )
        for row in Handoff.objects.filter(pipeline=pipeline, to_stage_id__in=keys)
        if row.from_stage_id is None or row.from_stage_id in keys
    ]
    settings = pipeline.settings or {}
    breach, stage_breach, handoff_breach = split_breach(settings.get("breach"))
    handoffs = [
        replace(
            h, breach=handoff_breach.get(handoff_name(h.from_stage, h.to_stage), {})
        )
        for h in handoffs
    ]
    handoffs.sort(key=lambda h: (order[h.from_stage], order[h.to_stage]))
    return PipelineSpec(
        key=pipeline.key,
        name=pipeline.name,
        description=pipeline.description,
        currency=pipeline.currency,
        allow_skipping=pipeline.allow_skipping,
        bottleneck_share=settings.get("bottleneck_share", DEFAULT_BOTTLENECK_SHARE),
        calendar=pipeline.calendar or {},
        stages=tuple(
            replace(stage_spec(stage), breach=stage_breach.get(stage.key, {}))
            for stage in stages
        ),
        handoffs=tuple(handoffs),
        won_criteria=_criteria_specs(pipeline.won_criteria),
        loss_reasons=tuple(
            LossReasonSpec(
                key=item.get("key", ""),
                label=item.get("label", ""),
                needs_note=bool(item.get("needs_note", False)),
            )
            for item in pipeline.loss_reasons or []
        ),
        custom_fields=tuple(
            CustomFieldSpec(
                key=item.get("key", ""),
                label=item.get("label", ""),
                type=item.get("type", ""),
                choices=tuple(item.get("choices", [])),
            )
            for item in pipeline.custom_fields or []
        ),
        breach=breach,
        routing=_routing_specs(settings.get("routing")),
    )


def _routing_specs(items: Any) -> tuple[dict[str, Any], ...]:
    """Stored rules in the canonical form a file parses to; rules that no
    longer read are exported as they are, so validating the file shows why."""
    try:
        return tuple(routing.rules_to_dicts(routing.parse_rules(items)))
    except ValueError:
        return tuple(items) if isinstance(items, list) else ()


# --- mapping between specs and rows ------------------------------------------


def owner_text(stage: Stage) -> str:
    """A stage's owner as a pipeline file writes it; "" when it has none."""
    if stage.owner_kind == Stage.OwnerKind.DEAL_OWNER:
        return DEAL_OWNER
    if stage.owner_kind == Stage.OwnerKind.PERSON and stage.owner_user:
        return f"user:{stage.owner_user.username}"
    if stage.owner_kind == Stage.OwnerKind.TEAM and stage.owner_team:
        return f"team:{stage.owner_team.name}"
    return ""


def stage_spec(stage: Stage) -> StageSpec:
    """A stage as a pipeline file describes it (without its breach rules)."""
    mode, exit_items = _exit_criteria(stage.exit_criteria)
    return StageSpec(
        key=stage.key,
        name=stage.name,
        buyer_action=stage.buyer_action,
        owner=owner_text(stage),
        age_limit_days=stage.age_limit_days,
        probability=stage.probability,
        entry_criteria=_criteria_specs(stage.entry_criteria),
        exit_criteria=exit_items,
        exit_criteria_mode=mode,
    )


def _exit_criteria(value: Any) -> tuple[str, tuple[CriterionSpec, ...]]:
    if isinstance(value, Mapping):
        return value.get("mode", "all"), _criteria_specs(value.get("items", []))
    return "all", _criteria_specs(value)


def _criteria_specs(items: Iterable[Any] | None) -> tuple[CriterionSpec, ...]:
    return tuple(
        CriterionSpec(item.get("label", ""), item.get("rule", ""))
        for item in items or []
        if isinstance(item, Mapping)
    )


def _criteria_json(criteria: Iterable[CriterionSpec]) -> list[dict[str, str]]:
    return [{"label": c.label, "rule": c.rule} for c in criteria]


def _pipeline_values(spec: PipelineSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "currency": spec.currency,
        "allow_skipping": spec.allow_skipping,
        "calendar": _plain(spec.calendar),
        "custom_fields": [
            {"key": f.key, "label": f.label, "type": f.type, "choices": list(f.choices)}
            for f in spec.custom_fields
        ],
        "loss_reasons": [
            {"key": r.key, "label": r.label, "needs_note": r.needs_note}
            for r in spec.loss_reasons
        ],
        "won_criteria": _criteria_json(spec.won_criteria),
    }


def _plain(value: Any) -> Any:
    """Mappings and tuples as the dicts and lists a JSON column gives back."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class _Owner:
    kind: str
    user: User | None = None
    team: Team | None = None


def reference_problems(spec: PipelineSpec) -> list[Problem]:
    """Every user and team the spec names that the database does not hold.

    Stage owners and handoff responsibles must name an existing, active user
    or an existing team; routing rules active users and existing teams, and
    a team rule's weights people of that team, as `leads.rules` checks them
    when rules are saved (a routing problem says to edit the `[[routing]]`
    tables). Each problem is placed at the key that names it (a weight at
    `routing[N].weights.NAME`); owners the file itself already refused are
    passed over. At most six queries, however many names.
    """
    named = [
        (("stages", i, "owner"), split_owner(s.owner))
        for i, s in enumerate(spec.stages)
    ]
    named += [
        ((*spec.handoff_path(h), "responsible"), split_owner(h.responsible))
        for h in spec.handoffs
    ]
    wanted = {
        kind: {p[1] for _, p in named if p and p[0] == kind}
        for kind in ("user", "team")
    }
    users = dict(
        User.objects.filter(username__in=wanted["user"]).values_list(
            "username", "is_active"
        )
    )
    teams = TeamNames() if wanted["team"] else None

    problems = []
    for path, part in named:
        kind, name = part or ("", "")
        if kind == "user" and not users.get(name, False):
            if name in users:
                reason = f"user {name!r} is deactivated"
            else:
                reason = f"no user with username {name!r}"
            problems.append(spec.problem(path, reason))
        elif kind == "team" and teams is not None:
            reason = teams.problem(name, missing=f"no team named {name!r}")
            if reason:
                problems.append(spec.problem(path, reason))
    try:
        rules = routing.parse_rules([dict(rule) for rule in spec.routing])
    except ValueError:
        return problems  # the file's own check has placed what is wrong
    problems += [
        spec.problem(("routing", index, "to"), reason)
        for index, reason in unknown_targets(rules, fixes=True)
    ]
    problems += [
        spec.problem(("routing", index, "weights", name), reason)
        for index, name, reason in unknown_weights(rules)
    ]
    return problems


def removal_problems(spec: PipelineSpec) -> list[Problem]:
    """What `apply_pipeline(spec)` without moves refuses, as problems of the
    file: each stage of the stored pipeline that the file leaves out and that
    still holds deals. None for a pipeline not stored yet. Reads only; call
    it once `reference_problems` finds nothing (planning raises on those).
    """
    problems = []
    for change in plan_pipeline(spec).blocked:
        key = change.needs_move or ""
        problems.append(
            spec.problem(
                ("stages",),
                f"stage {_q(key)} ({change.stage_name}) of pipeline {_q(spec.key)} "
                f"is left out of this file but holds {_deals_text(*change.held)}; "
                f"apply refuses until told where they go: --move {key}=NEW "
                "(try it with --dry-run)",
            )
        )
    return problems


def _resolve_owners(spec: PipelineSpec) -> dict[str, _Owner]:
    """Stage key -> owner; PipelineFileError lists every user and team the
    file names that does not exist (`reference_problems`)."""
    problems = reference_problems(spec)
    if problems:
        raise PipelineFileError(problems)
    wanted = [split_owner(stage.owner) or ("", "") for stage in spec.stages]
    users = {
        u.username: u
        for u in User.objects.filter(username__in={n for k, n in wanted if k == "user"})
    }
    teams = TeamNames()
    owners = {}
    for stage, (kind, name) in zip(spec.stages, wanted, strict=True):
        if kind == "user":
            owners[stage.key] = _Owner(Stage.OwnerKind.PERSON, user=users[name])
        elif kind == "team":
            owners[stage.key] = _Owner(Stage.OwnerKind.TEAM, team=teams.find(name))
        else:
            owners[stage.key] = _Owner(Stage.OwnerKind.DEAL_OWNER)
    return owners


def _with_team_spellings(spec: PipelineSpec) -> PipelineSpec:
    """`spec` with each team it names spelled as stored (`accounts.teams`:
    "team:field sales" is "team:Field Sales"): handoffs and routing rules
    keep the name as text, which the clocks and lead routing then find
    exactly; and applying the file again changes nothing. One query, none
    when the file names no team."""
    texts = [stage.owner for stage in spec.stages]
    texts += [handoff.responsible for handoff in spec.handoffs]
    texts += [rule.get("to") for rule in spec.routing]
    if not any(isinstance(text, str) and text.startswith("team:") for text in texts):
        return spec
    teams = TeamNames()

    def spelled(text: Any) -> Any:
        if not isinstance(text, str) or not text.startswith("team:"):
            return text
        name = text.removeprefix("team:").strip()
        return f"team:{team_spelling(name, teams)}" if name else text

    return replace(
        spec,
        stages=tuple(replace(s, owner=spelled(s.owner)) for s in spec.stages),
        handoffs=tuple(
            replace(h, responsible=spelled(h.responsible)) for h in spec.handoffs
        ),
        routing=tuple(
            {**rule, "to": spelled(rule["to"])} if "to" in rule else rule
            for rule in spec.routing
        ),
    )


# --- plan and write -----------------------------------------------------------


class _Sync:
    """Compares a spec with the stored pipeline, then writes the difference.

    `plan` and `write` read the same snapshot, taken in __init__ (under the
    pipeline row lock when `lock` is set), so what is shown is what is done.
    """

    def __init__(
        self,
        spec: PipelineSpec,
        moves: Mapping[str, str] | None,
        *,
        lock: bool,
        renames: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.moves = dict(moves or {})
        # New key -> the old key of a stage the file renames.
        self.renamed: dict[str, str] = {}
        pipelines = Pipeline.objects.select_for_update() if lock else Pipeline.objects
        self.pipeline: Pipeline | None = pipelines.filter(key=spec.key).first()
        self.owners = _resolve_owners(spec)
        self.spec = spec = _with_team_spellings(spec)
        self.day = day_minutes(spec.calendar) if spec.calendar else FALLBACK_DAY_MINUTES
        self.values = _pipeline_values(spec)
        self.breach = _plain(breach_settings(spec))
        self.routing = _plain(list(spec.routing))
        self.rows: dict[str, Stage] = {}
        self.retired: set[str] = set()
        self.handoffs: dict[tuple[str, str], Handoff] = {}
        # What `write` did that the clocks must follow.
        self.limits_changed: list[Stage] = []
        self.windows_changed: dict[int, int | None] = {}
        self.moved = 0
        self.overridden: dict[int, list[str]] = {}
        self.override_reason = ""
        if self.pipeline is not None:
            self._read_rows(self.pipeline)
        rename_notes = self._rename(dict(renames or {}))
        # The live stages' order before this apply rewrites positions.
        # Keys as the file names them: a renamed stage's row under its new key.
        in_order = sorted(self.rows.items(), key=lambda i: (i[1].position, i[1].pk))
        self.order_before = [key for key, _ in in_order if key not in self.retired]
        keys = set(spec.stage_keys())
        self.removed = [
            row for key, row in in_order if key not in keys and key not in self.retired
        ]
        self.deal_counts = self._count_deals(self.removed)
        self.notes = rename_notes + self._check_moves(keys)

    def _read_rows(self, pipeline: Pipeline) -> None:
        stages = pipeline.stages.select_related("owner_user", "owner_team")
        self.rows = {row.key: row for row in stages}
        self.retired = {row.key for row in self.rows.values() if row.retired_at}
        by_id = {row.id: row.key for row in self.rows.values()}
        for handoff in Handoff.objects.filter(pipeline=pipeline):
            start = by_id[handoff.from_stage_id] if handoff.from_stage_id else LEAD
            self.handoffs[(start, by_id[handoff.to_stage_id])] = handoff

    def _count_deals(self, rows: list[Stage]) -> dict[int, tuple[int, int]]:
        counts = {row.id: [0, 0] for row in rows}
        grouped = (
            Deal.objects.filter(stage__in=rows)
            .values("stage_id", "status")
            .annotate(n=Count("id"))
        )
        for item in grouped:
            slot = 0 if item["status"] == Deal.Status.OPEN else 1
            counts[item["stage_id"]][slot] += item["n"]
        return {stage_id: (pair[0], pair[1]) for stage_id, pair in counts.items()}

    def _rename(self, renames: dict[str, str]) -> list[str]:
        """Take each renamed stage's row (and its handoffs) as the stage of
        its new key, so that planning and writing find it kept; return notes.

        Refuses (ValidationError, field "renames") a rename whose new key is
        no stage of the file or names a stage stored already (live or
        retired), whose old key the file still lists, that names a stage
        `moves` empties too, or two renames to one key. A rename already
        applied (the old key gone, the new one live) is a note."""
        notes = []
        keys = set(self.spec.stage_keys())
        targets = list(renames.values())
        for old, new in renames.items():
            flag = f"--rename {old}={new}"
            row = self.rows.get(old)
            done = row is None and new in self.rows and new not in self.retired
            problem = ""
            if new not in keys:
                problem = f"{new!r} is not a stage of the file"
            elif old in keys:
                problem = f"stage {old!r} stays in the file; a rename leaves it out"
            elif done:
                notes.append(f"{flag}: there is no stage {old!r}; {new!r} is live")
                continue
            elif row is None or old in self.retired:
                problem = f"there is no live stage {old!r} to rename"
            elif new in self.rows:
                problem = (
                    f"stage {new!r} exists already"
                    + (" (retired, with its history)" if new in self.retired else "")
                    + "; a rename gives a stage a key no stage has"
                )
            elif old in self.moves:
                problem = f"give stage {old!r} either --move or --rename, not both"
            elif targets.count(new) > 1:
                problem = f"two stages are renamed to {new!r}"
            if problem:
                raise ValidationError(f"{flag}: {problem}", field="renames")
            self.rows[new] = self.rows.pop(old)
            self.renamed[new] = old
        if self.renamed:
            self.handoffs = {
                tuple(self._new_key(key) for key in ends): row
                for ends, row in self.handoffs.items()
            }
        return notes

    def _new_key(self, key: str) -> str:
        olds = {old: new for new, old in self.renamed.items()}
        return olds.get(key, key)

    def _check_moves(self, keys: set[str]) -> list[str]:
        notes = []
        removed = {row.key for row in self.removed}
        for old, new in self.moves.items():
            flag = f"--move {old}={new}"
            if new not in keys:
                raise ValidationError(
                    f"{flag}: {new!r} is not a stage of the file", field="moves"
                )
            if old in keys:
                raise ValidationError(
                    f"{flag}: stage {old!r} stays in the file; only the deals of "
                    "removed stages are moved",
                    field="moves",
                )
            if old not in removed:
                notes.append(f"{flag}: there is no stage {old!r} to empty")
            elif self._renamable(old, new):
                notes.append(
                    f"{flag}: its open deals enter {new!r} now, so their time in "
                    "stage and age clocks start over; if it is the same stage "
                    f"under a new key, --rename {old}={new} keeps them"
                )
        return notes

    def _renamable(self, old: str, new: str) -> bool:
        """Whether `new` could be removed stage `old` under a new key: a
        stage the file adds in its place (`redesign.free_targets`)."""
        return new not in self.rows and new in self._free(old)

    def rename_choices(self, old: str) -> tuple[str, ...]:
        """The stages removed stage `old` could be renamed to."""
        return tuple(key for key in self._free(old) if self._renamable(old, key))

    # Plan ----------------------------------------------------------------------

    def plan(self, judged: tuple[User | None, str] | None = None) -> PipelinePlan:
        """The plan; given `judged` (who applies, the override reason), with
        a note when the deals it sends forward would be refused."""
        spec = self.spec
        if self.pipeline is None:
            changes = [
                PlannedChange(
                    f"create pipeline {_q(spec.key)} ({spec.name})",
                    page_text=f"create the pipeline {_word(spec.name)}",
                )
            ]
        else:
            changes = self._pipeline_changes()
        changes += self._stage_changes()
        changes += [self._removal(row) for row in self.removed]
        changes += self._handoff_changes()
        changes += self._outcome_changes()
        changes += self._breach_changes()
        changes += self._routing_changes()
        carried = self._carried()
        refusals = []
        late = self._late_moves(timesource.now())
        if late is not None:
            refusals.append(late.problem)
        if judged is not None:
            refused = self._gates_refused(timesource.now(), *judged)
            if refused is not None:
                refusals.append(f"{refused.problem}; {refused.default_how()}")
        refused_notes = [f"applying now is refused: {why}" for why in refusals]
        notes = list(self.notes) + self._carried_notes(carried) + refused_notes
        page_notes = (
            list(self.notes) + self._carried_notes(carried, page=True) + refused_notes
        )
        return PipelinePlan(
            key=spec.key,
            creates=self.pipeline is None,
            changes=changes,
            notes=notes,
            carried=[c.key for c in carried],
            refusals=refusals,
            page_notes=page_notes,
        )

    def _pipeline_changes(self) -> list[PlannedChange]:
        """The pipeline's own settings and its calendar; a page names each
        by the pipeline form's label ("deals may skip stages")."""
        pipeline = self.pipeline
        assert pipeline is not None
        parts, said = [], []
        for name in _PIPELINE_FIELDS:
            old, new = getattr(pipeline, name), self.values[name]
            if old == new:
                continue
            if name == "description":
                parts.append("description changed")
                said.append("description changed")
            else:
                parts.append(_arrow(name.replace("_", " "), old, new))
                said.append(_said_arrow(_PIPELINE_LABELS[name], old, new))
        old_share = (pipeline.settings or {}).get(
            "bottleneck_share", DEFAULT_BOTTLENECK_SHARE
        )
        if old_share != self.spec.bottleneck_share:
            share = _arrow("bottleneck share", old_share, self.spec.bottleneck_share)
            parts.append(share)
            said.append(share)
        changes = []
        if parts:
            changes.append(
                PlannedChange(
                    f"change pipeline: {', '.join(parts)}",
                    page_text=f"change the pipeline: {', '.join(said)}",
                )
            )
        return changes + self._calendar_changes(pipeline.calendar or {})

    def _calendar_changes(self, old: Mapping[str, Any]) -> list[PlannedChange]:
        new = self.values["calendar"]
        changed = [
            key for key in dict.fromkeys([*old, *new]) if old.get(key) != new.get(key)
        ]
        if not changed:
            return []
        parts, said = [], []
        for key in changed:
            before, after = old.get(key), new.get(key)
            label = _CALENDAR_WORDS.get(key, key.replace("_", " "))
            if _is_scalar(before, after):
                parts.append(_arrow(key, before, after))
                said.append(_said_arrow(label, before, after))
            else:
                parts.append(f"{key} changed")
                said.append(f"{label} changed")
        return [
            PlannedChange(
                f"change calendar: {', '.join(parts)}",
                page_text=f"change the pipeline's calendar: {', '.join(said)}",
            )
        ]

    def _stage_changes(self) -> list[PlannedChange]:
        """Each stage added, renamed or changed, and a new order: named by
        key and name for a file, by name for a page (`PlannedChange.page_text`)."""
        changes = []
        for stage in self.spec.stages:
            row = self.rows.get(stage.key)
            named = _page_stage(stage.key, stage.name)
            if row is None:
                changes.append(
                    PlannedChange(
                        f"add stage {_q(stage.key)} ({stage.name})",
                        page_text=f"add {named}",
                    )
                )
            elif stage.key in self.retired:
                changes.append(
                    PlannedChange(
                        f"add stage {_q(stage.key)} ({stage.name}) back; "
                        "its history was kept",
                        page_text=f"add {named} back; its history was kept",
                    )
                )
            elif stage.key in self.renamed:
                parts = self._stage_diff(row, stage)
                said = self._stage_diff(row, stage, page=True)
                held = self._open_count(row)
                kept = (
                    f"; its {counted(held, 'open deal')} "
                    f"{agreeing(held, 'keeps its', 'keep their')} time in stage"
                    if held
                    else ""
                )
                diff = f": {', '.join(parts)}" if parts else ""
                said_diff = f": {', '.join(said)}" if said else ""
                changes.append(
                    PlannedChange(
                        f"rename stage {_q(self.renamed[stage.key])} to "
                        f"{_q(stage.key)} ({stage.name}){diff}{kept}",
                        page_text=f"change {named} (a new key){said_diff}{kept}",
                    )
                )
            else:
                parts = self._stage_diff(row, stage)
                if parts:
                    said = self._stage_diff(row, stage, page=True)
                    changes.append(
                        PlannedChange(
                            f"change stage {_q(stage.key)}: {', '.join(parts)}",
                            page_text=f"change {_page_stage(stage.key, row.name)}: "
                            + ", ".join(said),
                        )
                    )
        kept = [
            key
            for key in self.spec.stage_keys()
            if key in self.rows and key not in self.retired
        ]
        if kept != sorted(kept, key=lambda key: self.rows[key].position):
            changes.append(
                PlannedChange(
                    f"reorder stages: {', '.join(self.spec.stage_keys())}",
                    page_text="reorder stages: "
                    + ", ".join(stage.name or stage.key for stage in self.spec.stages),
                )
            )
        return changes

    def _open_count(self, row: Stage) -> int:
        return Deal.objects.filter(stage=row, status=Deal.Status.OPEN).count()

    def _stage_diff(
        self, row: Stage, stage: StageSpec, *, page: bool = False
    ) -> list[str]:
        """What changes in a stage, in a file's words or (`page`) in the
        builder's: owners by who they are, the exit mode as the form asks."""
        target = self._stage_values(stage)
        parts = []
        for name, label in (("name", "name"), ("buyer_action", "buyer action")):
            if getattr(row, name) != target[name]:
                parts.append(_arrow(label, getattr(row, name), target[name]))
        owner_fields = ("owner_kind", "owner_user_id", "owner_team_id")
        if any(getattr(row, name) != target[name] for name in owner_fields):
            if page:
                parts.append(
                    f"owner {_owner_said(owner_text(row))} -> "
                    f"{_owner_said(stage.owner or '')}"
                )
            else:
                parts.append(f"owner {owner_text(row) or 'none'} -> {stage.owner}")
        if row.age_limit_days != stage.age_limit_days:
            parts.append(_arrow("age limit", row.age_limit_days, stage.age_limit_days))
        if row.probability != stage.probability:
            parts.append(f"probability {row.probability}% -> {stage.probability}%")
        entry = _criteria_diff(
            _criteria_specs(row.entry_criteria), stage.entry_criteria
        )
        if entry:
            parts.append(f"entry criteria: {entry}")
        old_mode, old_exit = _exit_criteria(row.exit_criteria)
        exit_parts = [_criteria_diff(old_exit, stage.exit_criteria)]
        if old_mode != stage.exit_criteria_mode:
            mode = "criteria needed" if page else "mode"
            exit_parts.append(f"{mode} {old_mode} -> {stage.exit_criteria_mode}")
        if any(exit_parts):
            parts.append(f"exit criteria: {'; '.join(p for p in exit_parts if p)}")
        return parts

    def _removal(self, row: Stage) -> PlannedChange:
        open_deals, closed_deals = self.deal_counts[row.id]
        text = f"remove stage {_q(row.key)} ({row.name})"
        said = f"remove {_page_stage(row.key, row.name)}"
        if not open_deals and not closed_deals:
            return PlannedChange(text, page_text=said)
        held = _deals_text(open_deals, closed_deals)
        if row.key in self.moves:
            target = self.moves[row.key]
            forward = ""
            if open_deals and target not in self._free(row.key):
                forward = (
                    " (forward, past where its deals may go as they are: each "
                    "open deal needs the criteria on the way, or an override)"
                )
            return PlannedChange(
                f"{text}; move its {held} to {_q(target)}{forward}",
                page_text=f"{said}; move its {held} to "
                f"{_page_stage(target, self._stage_name(target))}{forward}",
            )
        return PlannedChange(
            f"remove stage {_q(row.key)} ({row.name}; holds {held})",
            page_text=f"{said} (it holds {held})",
            needs_move=row.key,
            stage_name=row.name,
            held=(open_deals, closed_deals),
            renames_to=self.rename_choices(row.key),
        )

    def _handoff_changes(self) -> list[PlannedChange]:
        """Each handoff added, changed or removed; a page names its ends by
        the stages' names ("from a new lead to "Inquiry received"") and who
        answers as the handoff form offers them ("the stage's owner")."""
        return [
            PlannedChange(text, page_text=said) for text, said in self._handoff_texts()
        ]

    def _handoff_named(self, ends: tuple[str, str]) -> str:
        start = (
            "a new lead"
            if ends[0] == LEAD
            else _page_stage(ends[0], self._stage_name(ends[0]))
        )
        return (
            f"the handoff from {start} to "
            f"{_page_stage(ends[1], self._stage_name(ends[1]))}"
        )

    def _stage_name(self, key: str) -> str:
        """The name of stage `key` in the file, else as applied ("" when
        neither knows it)."""
        for stage in self.spec.stages:
            if stage.key == key:
                return stage.name
        row = self.rows.get(key)
        return row.name if row is not None else ""

    def _handoff_texts(self) -> list[tuple[str, str]]:
        """The command line's text and the page's of each change."""
        texts = []
        wanted = {(h.from_stage, h.to_stage): h for h in self.spec.handoffs}
        for ends, handoff in wanted.items():
            row = self.handoffs.get(ends)
            name = f"handoff {ends[0]} -> {ends[1]}"
            named = self._handoff_named(ends)
            window = self._window(handoff.response_window_minutes)
            if row is None:
                texts.append(
                    (
                        f"add {name} (respond within {window}; {handoff.responsible})",
                        f"add {named} (answered within {window} by "
                        f"{_owner_said(handoff.responsible)})",
                    )
                )
                continue
            parts, said = [], []
            if row.response_window_minutes != handoff.response_window_minutes:
                old = self._window(row.response_window_minutes)
                parts.append(f"window {old} -> {window}")
                said.append(f"answered within {old} -> {window}")
            if row.responsible != handoff.responsible:
                parts.append(
                    _arrow("responsible", row.responsible, handoff.responsible)
                )
                said.append(
                    f"answered by {_owner_said(row.responsible)} -> "
                    f"{_owner_said(handoff.responsible)}"
                )
            if parts:
                texts.append(
                    (
                        f"change {name}: {', '.join(parts)}",
                        f"change {named}: {', '.join(said)}",
                    )
                )
        for ends in self.handoffs:
            if ends not in wanted:
                texts.append(
                    (
                        f"remove handoff {ends[0]} -> {ends[1]}",
                        f"remove {self._handoff_named(ends)}",
                    )
                )
        return texts

    def _window(self, minutes: int | None) -> str:
        return "no window" if minutes is None else format_window(minutes, self.day)

    def _outcome_changes(self) -> list[PlannedChange]:
        pipeline = self.pipeline
        changes = []
        old_won = _criteria_specs(pipeline.won_criteria if pipeline else [])
        won = _criteria_diff(old_won, self.spec.won_criteria)
        if won:
            changes.append(
                PlannedChange(
                    f"won criteria: {won}", page_text=f"change the won criteria: {won}"
                )
            )
        changes += _keyed_changes(
            "loss reason",
            pipeline.loss_reasons if pipeline else [],
            self.values["loss_reasons"],
            (("label", "label", "label"), ("needs_note", "needs note", "needs a note")),
        )
        changes += _keyed_changes(
            "custom field",
            pipeline.custom_fields if pipeline else [],
            self.values["custom_fields"],
            (
                ("label", "label", "label"),
                ("type", "type", "type"),
                ("choices", "choices", "choices"),
            ),
        )
        return changes

    def _breach_changes(self) -> list[PlannedChange]:
        settings = (self.pipeline.settings if self.pipeline else None) or {}
        old_breach = settings.get("breach") or {}
        if self._same_breach(old_breach):
            return []
        names = {stage.key: stage.name for stage in self.spec.stages}
        order = _BreachOrder(list(names), self.day)
        breach = _breach_diff(old_breach, self.breach, order)
        if not breach:
            return []
        said = _breach_said(old_breach, self.breach, names, order)
        return [
            PlannedChange(
                f"change breach rules: {breach}",
                page_text="change what happens when a deal outstays its age "
                f"limit: {said}",
            )
        ]

    def _routing_changes(self) -> list[PlannedChange]:
        settings = (self.pipeline.settings if self.pipeline else None) or {}
        old = settings.get("routing") or []
        routed = _routing_diff(old, self.routing)
        if not routed:
            return []
        said = _routing_diff(old, self.routing, page=True)
        return [
            PlannedChange(
                f"change routing rules: {routed}",
                area="routing",
                page_text=f"change the routing rules of new leads: {said}",
            )
        ]

    def _same_breach(self, old: Mapping[str, Any]) -> bool:
        return same_breach(old, self.breach, day_minutes(self.spec.calendar))

    # Write ---------------------------------------------------------------------

    def write(self, by: User | None = None, override_reason: str = "") -> None:
        """Write the planned changes, as `by`; rows already right are not
        saved. Refuses before writing anything when a deal it moves has a
        stage event after now (`MovesOutOfOrder`), or goes forward past
        gates that `override_reason` from `by` does not lift
        (`GatesRefused`)."""
        now = timesource.now()
        self._lock_moved_deals()
        late = self._late_moves(now)
        if late is not None:
            raise late
        verdict = self._judge(now, by, override_reason)
        if verdict.refusals:
            raise self._refusal(verdict)
        self.overridden = verdict.overridden
        self.override_reason = override_reason
        pipeline = self.pipeline or Pipeline(key=self.spec.key)
        dirty = [
            name
            for name, value in self.values.items()
            if getattr(pipeline, name) != value
        ]
        for name in dirty:
            setattr(pipeline, name, self.values[name])
        if pipeline.pk is None:
            pipeline.save()

        positions = self._write_stages(pipeline)
        self._write_carried(pipeline, by, now)
        dirty += self._write_handoffs(pipeline, positions)
        dirty += self._write_removals(pipeline, positions, by, now)

        settings = dict(pipeline.settings or {})
        settings.update({"bottleneck_share": self.spec.bottleneck_share})
        # The file is the definition: rules it leaves out are cleared.
        for name, value in (("breach", self.breach), ("routing", self.routing)):
            if name == "breach" and self._same_breach(settings.get(name) or {}):
                continue  # "8h" for "1d" in an 8-hour day: kept as it was
            if value:
                settings[name] = value
            else:
                settings.pop(name, None)
        if settings != pipeline.settings:
            pipeline.settings = settings
            dirty.append("settings")
        if dirty:
            pipeline.save(update_fields=[*dict.fromkeys(dirty), "updated_at"])
        # Clocks last, under the calendar just written.
        if self.windows_changed:
            clocks.response_windows_changed(pipeline, self.windows_changed, now)
        if "calendar" in dirty and self.pipeline is not None:
            clocks.calendar_changed(pipeline, now)
        elif self.limits_changed:
            clocks.age_limits_changed(pipeline, self.limits_changed, now)
        if self.limits_changed or self.moved:
            # Deals moved by --move, and those of a stage that gained a limit,
            # start their stay's age clock now, not at the next backfill.
            clocks.start_missing_clocks(apply=True, pipeline_id=pipeline.pk)

    def _stage_values(self, stage: StageSpec) -> dict[str, Any]:
        owner = self.owners[stage.key]
        return {
            "name": stage.name,
            "buyer_action": stage.buyer_action,
            "owner_kind": owner.kind,
            "owner_user_id": owner.user.id if owner.user else None,
            "owner_team_id": owner.team.id if owner.team else None,
            "age_limit_days": stage.age_limit_days,
            "probability": stage.probability,
            "entry_criteria": _criteria_json(stage.entry_criteria),
            "exit_criteria": {
                "mode": stage.exit_criteria_mode,
                "items": _criteria_json(stage.exit_criteria),
            },
        }

    def _write_stages(self, pipeline: Pipeline) -> dict[str, Stage]:
        """Create or update every stage of the file; return them by key."""
        written = {}
        for position, stage in enumerate(self.spec.stages):
            values = {
                **self._stage_values(stage),
                "key": stage.key,
                "position": position,
                "retired_at": None,
                "replaced_by_id": None,
            }
            row = self.rows.get(stage.key)
            if row is None:
                # A stage a redesign adds is dated (insights judge it only by
                # the deals that came to its place since); a new pipeline's
                # stages were there from the start.
                added = timesource.now() if self.pipeline is not None else None
                row = Stage.objects.create(pipeline=pipeline, added_at=added, **values)
            else:
                changed = [n for n, v in values.items() if getattr(row, n) != v]
                if "age_limit_days" in changed:
                    self.limits_changed.append(row)
                for name in changed:
                    setattr(row, name, values[name])
                if changed:
                    row.save(update_fields=changed)
            self.retired.discard(stage.key)
            written[stage.key] = row
        return written

    def _write_handoffs(
        self, pipeline: Pipeline, stages: dict[str, Stage]
    ) -> list[str]:
        wanted = {(h.from_stage, h.to_stage): h for h in self.spec.handoffs}
        touched = False
        for ends, row in self.handoffs.items():
            if ends not in wanted:
                # Its running windows end with it (the row's clocks keep
                # no handoff once it is gone).
                clocks.response_windows_changed(
                    pipeline, {row.pk: None}, timesource.now()
                )
                row.delete()
                touched = True
        for ends, handoff in wanted.items():
            values = {
                "response_window_minutes": handoff.response_window_minutes,
                "responsible": handoff.responsible,
            }
            row = self.handoffs.get(ends)
            if row is None:
                Handoff.objects.create(
                    pipeline=pipeline,
                    from_stage=stages.get(handoff.from_stage),
                    to_stage=stages[handoff.to_stage],
                    **values,
                )
                touched = True
            elif any(getattr(row, n) != v for n, v in values.items()):
                Handoff.objects.filter(pk=row.pk).update(**values)
                touched = True
                minutes = handoff.response_window_minutes
                if row.response_window_minutes != minutes:
                    self.windows_changed[row.pk] = minutes
        return ["updated_at"] if touched else []

    def _lock_moved_deals(self) -> None:
        """Lock the removed stages' rows and those of the kept stages the new
        order puts after a stage that stood after them, then the rows of the
        deals that `moves` sends on and the open deals of those kept stages
        (which it may carry past gates, `_carried`), in id order, until the
        commit.

        The stages first: a move into one (which holds its row FOR SHARE,
        `deals.services._lock_live_stage`) either commits before this and
        has its deal judged (or moved on by `_write_removals`), or waits and
        then finds the stage gone or the gates judged. The deals before their
        clocks, in id order, as a move takes them (the deal, then its
        clocks): the other order deadlocked with moves. Both before anything
        is written, so the checks read deals no move can change meanwhile."""
        keys = self.spec.stage_keys()
        reordered = [
            self.rows[key]
            for key in self.order_before
            if key in keys and self._passed(key, key)
        ]
        if not self.removed and not reordered:
            return
        list(
            Stage.objects.select_for_update()
            .filter(pk__in=[row.pk for row in [*self.removed, *reordered]])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        wanted = Q(stage__in=reordered, status=Deal.Status.OPEN)
        moved = self._moved_deals()
        if moved is not None:
            wanted |= Q(pk__in=moved.values("pk"))
        list(
            Deal.objects.select_for_update()
            .filter(wanted)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    def _moved_deals(self) -> Any:
        """The deals of the removed stages that `moves` sends on (a
        QuerySet), or None when `moves` empties no removed stage. Read again
        each time, not from the counts of __init__: under the locks a deal
        that a racing move sent into such a stage is among them."""
        rows = [row for row in self.removed if row.key in self.moves]
        return Deal.objects.filter(stage__in=rows) if rows else None

    def _late_moves(self, now: dt.datetime) -> MovesOutOfOrder | None:
        """The refusal of moving, at `now`, deals whose last stage event
        comes after it (`deals.services._check_in_order`'s rule: the latest
        of their history and of their stage entry, or close when closed);
        None when every moved deal may move then. Three queries at most
        (how many, the first few, the latest), whatever the number of deals."""
        moved = self._moved_deals()
        if moved is None:
            return None
        newest = StageEvent.objects.filter(deal=OuterRef("pk")).order_by("-at")
        late = (
            moved.annotate(last_event_at=Subquery(newest.values("at")[:1]))
            .filter(
                Q(last_event_at__gt=now)
                | Q(status=Deal.Status.OPEN, stage_entered_at__gt=now)
                | (~Q(status=Deal.Status.OPEN) & Q(closed_at__gt=now))
            )
            .order_by("pk")
        )
        count = late.count()
        if not count:
            return None
        named = [
            (deal_id, _last_event(status, entered, closed, newest_at))
            for deal_id, status, entered, closed, newest_at in late.values_list(
                "pk", "status", "stage_entered_at", "closed_at", "last_event_at"
            )[:_LATE_NAMED]
        ]
        latest = max(
            _last_event(*row)
            for row in late.values_list(
                "status", "stage_entered_at", "closed_at", "last_event_at"
            )
        )
        zone = calendar_for(self.pipeline).timezone if self.pipeline else "UTC"
        return MovesOutOfOrder(now, count, named, latest, zone)

    def _write_removals(
        self,
        pipeline: Pipeline,
        stages: dict[str, Stage],
        by: User | None,
        now: dt.datetime,
    ) -> list[str]:
        # The removed stages and moved deals are locked (_lock_moved_deals).
        keys = self.spec.stage_keys()
        carried = {c.key for c in self._carried() if c.key != c.dest}
        for row in self.removed:
            if row.key in self.moves:
                target = stages[self.moves[row.key]]
                free = target.key in self._free(row.key)
                why = _Why(
                    by,
                    self.override_reason,
                    self.overridden,
                    passed=redesign.passed_by_move(
                        self.order_before, keys, row.key, target.key
                    ),
                    judged=not free or row.key in carried,
                )
                self.moved += _move_deals(pipeline, row, target, why, now)
        for row in self.removed:
            try:
                # A savepoint, so a refused delete leaves the transaction usable.
                with transaction.atomic():
                    row.delete()
            except (ProtectedError, RestrictedError):
                self.retired.add(row.key)
                Stage.objects.filter(pk=row.pk).update(
                    retired_at=now,
                    replaced_by=self._replacement(row, stages),
                )
        return ["updated_at"] if self.removed else []

    def _free(self, key: str) -> list[str]:
        """Where the deals of removed stage `key` may go with no gate."""
        return redesign.free_targets(self.order_before, self.spec.stage_keys(), key)

    def _passed(self, source: str, dest: str) -> list[str]:
        """`redesign.carried_past`: the stages the deals of `source` standing
        in `dest` are carried past by the new order."""
        return redesign.carried_past(
            self.order_before, self.spec.stage_keys(), source, dest
        )

    def _carried(self) -> list[_Carried]:
        """The stages whose open deals the new order carries past gates
        without moving them: a kept stage (renamed or not) put after a stage
        that stood after it, or a removed stage whose deals `moves` sends to
        a stage that counts as theirs (`_free`) but stands after one that
        stood after it. Only stages with open deals and gates to pass."""
        found = []
        for key in self.order_before:
            if key in self.spec.stage_keys():
                row, dest = self.rows[key], key
            elif key in self.moves and self.moves[key] in self._free(key):
                row, dest = self.rows[key], self.moves[key]
            else:
                continue
            passed = self._passed(key, dest)
            gates = redesign.carried_gates(self.spec, passed) if passed else []
            if gates and self._open_count(row):
                found.append(_Carried(row, key, dest, passed, gates))
        return found

    def _carried_notes(self, found: list[_Carried], *, page: bool = False) -> list[str]:
        """The plan's notes of the deals the new order carries past gates:
        stages by key (and a rename's old key), or (`page`) by name."""
        notes = []
        for carried in found:
            held = self._open_count(carried.row)
            deals = f"its {counted(held, 'open deal')}"
            key, dest = carried.key, carried.dest
            if page:
                named = {k: _page_stage(k, self._stage_name(k)) for k in (key, dest)}
                said = ", ".join(
                    _page_stage(k, self._stage_name(k)) for k in carried.passed
                )
            else:
                named = {k: f"stage {k!r}" for k in (key, dest)}
                said = ", ".join(map(repr, carried.passed))
            if key != dest:
                to = named[dest] if page else repr(dest)
                notes.append(
                    f"removed {named[key]} sends {deals} to {to}, which now "
                    f"stands after {said}: each needs their exit criteria, or an "
                    "override"
                )
                continue
            renamed = (
                f" (renamed from {self.renamed[key]!r})"
                if key in self.renamed and not page
                else ""
            )
            notes.append(
                f"{named[key]} now stands after {said}{renamed}: {deals} would "
                f"be carried past the gates of {said} without moving; each needs "
                "their exit criteria, or an override"
            )
        return notes

    def _judge(
        self, now: dt.datetime, by: User | None, reason: str
    ) -> redesign.Verdict:
        """`redesign.judge` of the open deals `moves` sends beyond where
        their removed stage's deals may go with no gate (`_free`), and of
        those the new order carries past gates (`_carried`)."""
        keys = self.spec.stage_keys()
        forward = [
            (
                row,
                "",
                redesign.forward_gates(
                    self.spec,
                    row,
                    self.moves[row.key],
                    redesign.place(self.order_before, keys, row.key),
                    also=self._passed(row.key, self.moves[row.key]),
                ),
            )
            for row in self.removed
            if row.key in self.moves and self.moves[row.key] not in self._free(row.key)
        ]
        forward += [(c.row, c.where(), c.gates) for c in self._carried()]
        return redesign.judge(forward, now, by, reason)

    def _refusal(self, verdict: redesign.Verdict) -> redesign.GatesRefused:
        free = {
            row.key: self._free(row.key)
            for row in self.removed
            if row.key in self.moves and self.moves[row.key] not in self._free(row.key)
        }
        carried = {c.dest: c.passed for c in self._carried()}
        return redesign.GatesRefused(verdict, free, carried)

    def _gates_refused(
        self, now: dt.datetime, by: User | None, reason: str
    ) -> redesign.GatesRefused | None:
        verdict = self._judge(now, by, reason.strip())
        return self._refusal(verdict) if verdict.refusals else None

    def _write_carried(
        self, pipeline: Pipeline, by: User | None, now: dt.datetime
    ) -> None:
        """Write in the activities of each open deal that the new order
        carries past gates, still in its stage, a system record saying so
        (`Activity.Kind.SYSTEM`: no criterion or page counts it as logged by
        a person): who applied the redesign, the stages passed and, for deals
        that did not meet their criteria, the override. Runs before removed
        stages' deals move, so it reads the kept stages' deals (the moved
        ones' stage events say it, `_move_deals`)."""
        who = by.username if by is not None else "system"
        notes = []
        for carried in self._carried():
            row, key, passed = carried.row, carried.key, carried.passed
            if key != carried.dest:
                continue
            said = ", ".join(map(repr, passed))
            base = (
                f"Pipeline {pipeline.key!r} redesigned by {who}: stage {key!r} "
                f"now stands after {said}, so this deal was carried past their gates"
            )
            ids = list(
                Deal.objects.filter(stage=row, status=Deal.Status.OPEN)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            for deal_id in ids:
                unmet = self.overridden.get(deal_id)
                subject = (
                    f"{base} by override: {self.override_reason} "
                    f"(unmet: {'; '.join(unmet)})"
                    if unmet is not None
                    else f"{base}; it met their exit criteria"
                )
                notes.append(
                    Activity(
                        deal_id=deal_id,
                        kind=Activity.Kind.SYSTEM,
                        subject=cut(subject, _SUBJECT_LIMIT),
                        done=True,
                        at=now,
                        by=by,
                        done_at=now,
                        done_by=by,
                    )
                )
            logger.info(
                "pipeline %s: stage %s now stands after %s; its open %s %s %s "
                "carried past their gates, applied by %s%s",
                pipeline.key,
                key,
                ", ".join(passed),
                agreeing(len(ids), "deal"),
                ", ".join(map(str, ids)),
                agreeing(len(ids), "was", "were"),
                who,
                " with an override" if any(i in self.overridden for i in ids) else "",
            )
        Activity.objects.bulk_create(notes, batch_size=1000)

    def _replacement(self, row: Stage, stages: dict[str, Stage]) -> Stage:
        """The stage of the file that takes a removed stage's place: where
        --move sent its deals, else the nearest stage before it (in the order
        before this apply) that the file keeps, else the file's first stage."""
        if row.key in self.moves:
            return stages[self.moves[row.key]]
        before = self.order_before[: self.order_before.index(row.key)]
        kept = [key for key in before if key in stages]
        return stages[kept[-1]] if kept else stages[self.spec.stages[0].key]


@dataclass(frozen=True)
class _Carried:
    """A stage whose open deals a new order carries past gates (`_Sync._carried`):
    its row, its key as the file names it (a renamed stage's new key), the
    stage its deals stand in after the redesign (`key` itself, or where
    `moves` sends the deals of a removed one), the stages passed and their
    gates."""

    row: Stage
    key: str
    dest: str
    passed: list[str]
    gates: list[redesign.Gate]

    def where(self) -> str:
        """Where its deals stand, as their refusals say it."""
        said = ", ".join(map(repr, self.passed))
        if self.key == self.dest:
            return f"in {self.key!r}, now after {said}"
        return f"of removed {self.key!r}, sent to {self.dest!r}, now after {said}"


@dataclass(frozen=True)
class _Why:
    """Who applied a redesign, and the override reason with the deals it
    moved past unmet gates (id -> the criteria unmet); for the deals of one
    removed stage, the stages of the new order their move puts them past
    (`redesign.passed_by_move`) and whether their open deals were judged
    at gates on the way (sent forward, or carried past a stage's exit
    criteria by the new order)."""

    by: User | None
    override_reason: str = ""
    overridden: Mapping[int, list[str]] = field(default_factory=dict)
    passed: Sequence[str] = ()
    judged: bool = False

    def reason(self, base: str, deal_id: int, status: str) -> str:
        """What the event of a deal of `status`, moved as `base` says, says
        of why it moved and what it passed: every deal the stages now before
        it that were not, an open one judged at gates whether it met them
        or an override lifted them."""
        if self.passed:
            base = f"{base}, now after {', '.join(map(repr, self.passed))}"
        unmet = self.overridden.get(deal_id)
        if unmet is not None:
            return (
                f"{base}; moved past unmet criteria ({'; '.join(unmet)}) "
                f"by override: {self.override_reason}"
            )
        if self.judged and status == Deal.Status.OPEN:
            return f"{base}; it met every criterion on the way"
        return base


def _move_deals(
    pipeline: Pipeline, old: Stage, new: Stage, why: _Why, now: dt.datetime
) -> int:
    """Move every deal of `old` into `new` at `now`, recording one StageEvent
    each, by `why.by` (who applied the pipeline), saying why it moved
    (`_Why.reason`). The caller holds the deals' rows and has checked that
    none has a stage event after `now`, nor goes past gates unlifted.

    Open deals enter `new` now (their age in it starts again, as for any
    stage change); closed deals keep their status and times, and their event
    starts its span at the close, since time after a close is not time in a
    stage. An open deal's stay in `old` ends here, so its event carries the
    stay's business minutes, as a move's does (time in stage reads them).
    However many deals there are: one read, the routing of the open ones
    (`_assign_responsible`), one UPDATE and batched inserts.
    """
    calendar = calendar_for(pipeline)
    deals = Deal.objects.filter(stage=old)
    rows = [
        (deal_id, status, entered_at if status == Deal.Status.OPEN else closed_at)
        for deal_id, status, entered_at, closed_at in deals.values_list(
            "id", "status", "stage_entered_at", "closed_at"
        )
    ]
    by = why.by
    reason = (
        f"pipeline {pipeline.key!r} redesigned by {by.username if by else 'system'}:"
        f" stage {old.key!r} ({old.name}) was removed and its deals moved to "
        f"{new.key!r} ({new.name})"
    )
    # Routed while still in `old`, so no list of ids is needed to find them.
    open_deals = deals.filter(status=Deal.Status.OPEN)
    responsible = _assign_responsible(new, open_deals)
    clocks.stays_ended(open_deals, now, f"stage {old.key!r} removed")
    deals.update(
        stage=new,
        version=F("version") + 1,
        stage_entered_at=Case(
            When(status=Deal.Status.OPEN, then=V(now)),
            default=F("stage_entered_at"),
        ),
    )
    StageEvent.objects.bulk_create(
        [
            StageEvent(
                deal_id=deal_id,
                from_stage=old,
                to_stage=new,
                from_status=status,
                to_status=status,
                at=now,
                from_entered_at=entered_at,
                from_business_minutes=_stay_minutes(calendar, status, entered_at, now),
                override_reason=why.reason(reason, deal_id, status),
                by=by,
                responsible_id=responsible.get(deal_id),
                source="pipeline",
            )
            for deal_id, status, entered_at in rows
        ],
        batch_size=1000,
    )
    logger.info(
        "pipeline %s: moved %s from stage %s to %s, applied by %s",
        pipeline.key,
        counted(len(rows), "deal"),
        old.key,
        new.key,
        by.username if by is not None else "system",
    )
    overridden = [deal_id for deal_id, _, _ in rows if deal_id in why.overridden]
    if overridden:
        # Said once kept: a later refusal in this apply undoes the moves.
        transaction.on_commit(
            partial(
                logger.info,
                "pipeline %s: %s %s moved from stage %s to %s past unmet "
                "criteria by %s's override",
                pipeline.key,
                agreeing(len(overridden), "deal"),
                ", ".join(map(str, overridden)),
                old.key,
                new.key,
                by.username if by is not None else "system",
            )
        )
    return len(rows)


def _last_event(
    status: str,
    entered: dt.datetime | None,
    closed: dt.datetime | None,
    newest: dt.datetime | None,
) -> dt.datetime:
    """A deal's last stage event, as `_late_moves` reads it: the latest of its
    history and of its stage entry (open) or close (won, lost)."""
    own = entered if status == Deal.Status.OPEN else closed
    return max(at for at in (own, newest) if at is not None)


def _stay_minutes(
    calendar: Calendar, status: str, entered_at: dt.datetime | None, now: dt.datetime
) -> float | None:
    """Business minutes of an open deal's stay that a move ends now; None for
    a closed deal (its span starts at the close: not a stay) or an unknown
    entry."""
    if status != Deal.Status.OPEN or entered_at is None or entered_at > now:
        return None
    return business_time.between(calendar, entered_at, now)


def _assign_responsible(stage: Stage, open_deals: Any) -> dict[int, int | None]:
    """Make whoever `Responsible` names for `stage` responsible for
    `open_deals` (a QuerySet); return deal id -> responsible user id.

    Deals are routed in id order, as moves would route them one by one (each
    leaving the load of whoever had it). Writes are set-based: one UPDATE
    when everyone goes to the deal's owner or to one person, else one per
    chosen member, in batches. Queries: the deals, a team's loads, the
    UPDATEs; none per deal.
    """
    route = Responsible([stage])
    rows = open_deals.order_by("pk").values_list("pk", "owner_id", "responsible_id")
    chosen: dict[int, int | None] = {}
    by_member: dict[int | None, list[int]] = {}
    to_owner = True
    for deal_id, owner_id, previous in rows:
        member = route(stage.pk, owner_id, Deal.Status.OPEN, previous=previous)
        chosen[deal_id] = member
        by_member.setdefault(member, []).append(deal_id)
        to_owner = to_owner and member == owner_id
    if not chosen:
        return chosen
    if to_owner:
        open_deals.update(responsible=F("owner"))
    elif len(by_member) == 1:
        open_deals.update(responsible_id=next(iter(by_member)))
    else:
        for member, deal_ids in by_member.items():
            for start in range(0, len(deal_ids), _ID_BATCH):
                batch = deal_ids[start : start + _ID_BATCH]
                Deal.objects.filter(pk__in=batch).update(responsible_id=member)
    return chosen


# --- wording ------------------------------------------------------------------


def _q(key: str) -> str:
    return f"'{key}'"


def _owner_said(owner: str) -> str:
    """An owner as the stage and handoff forms offer it: "the stage's owner",
    "the deal's owner", a person by the name shown, "team NAME"; "none" for
    no owner."""
    kind, _, name = owner.partition(":")
    if owner == STAGE_OWNER:
        return "the stage's owner"
    if owner == DEAL_OWNER:
        return "the deal's owner"
    if kind == "user" and name:
        person = User.objects.filter(username=name).first()
        return person.display_name if person is not None else name
    if kind == "team" and name:
        return f"team {name}"
    return owner or "none"


def _page_stage(key: str, name: str) -> str:
    """A stage as the builder's pages name it: 'stage "Proposal sent"', by
    its key only where it has no name."""
    return f'stage "{name or key}"'


def _word(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 50 else value[:47] + "..."
        return f'"{text}"'
    if isinstance(value, list):
        return "[" + ", ".join(_word(item) for item in value) + "]"
    return str(value)


def _arrow(label: str, old: Any, new: Any) -> str:
    return f"{label} {_word(old)} -> {_word(new)}"


def _said_arrow(label: str, old: Any, new: Any) -> str:
    """`_arrow` for a page: a tick box's value as "yes" or "no"."""
    return f"{label} {_said_word(old)} -> {_said_word(new)}"


def _said_word(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _word(value)


def _is_scalar(*values: Any) -> bool:
    return all(not isinstance(v, Mapping | list) for v in values)


def _deals_text(open_deals: int, closed_deals: int) -> str:
    """The deals a stage holds in words: "1 open deal and 2 closed deals"."""
    if open_deals and closed_deals:
        both = (counted(open_deals, "open deal"), counted(closed_deals, "closed deal"))
        return " and ".join(both)
    count, kind = (open_deals, "open") if open_deals else (closed_deals, "closed")
    return counted(count, f"{kind} deal")


def _criteria_diff(
    old: tuple[CriterionSpec, ...], new: tuple[CriterionSpec, ...]
) -> str:
    """E.g. 'add "Budget named"; new rule for "Call booked"'; "" if equal."""
    if old == new:
        return ""
    old_rules = {c.label: c.rule for c in old}
    new_rules = {c.label: c.rule for c in new}
    parts = [f"add {_word(c.label)}" for c in new if c.label not in old_rules]
    parts += [f"remove {_word(c.label)}" for c in old if c.label not in new_rules]
    parts += [
        f"new rule for {_word(c.label)}"
        for c in new
        if c.label in old_rules and old_rules[c.label] != c.rule
    ]
    return "; ".join(parts) or "reorder"


def _keyed_changes(
    noun: str,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    fields: tuple[tuple[str, str, str], ...],
) -> list[PlannedChange]:
    """Changes to a list of items that have keys (loss reasons, custom
    fields). `fields` gives each compared field with its label in a file and
    on a page; a file names an item by key and label, a page by its label
    alone (as the deal page offers it), the one it has before the change."""
    old_by_key = {item.get("key"): item for item in old or []}
    new_by_key = {item["key"]: item for item in new}
    changes = []
    for key, item in new_by_key.items():
        before = old_by_key.get(key)
        if before is None:
            changes.append(
                PlannedChange(
                    f"add {noun} {_q(key)} ({item['label']})",
                    page_text=f"add {noun} {_item_said(item)}",
                )
            )
            continue
        changed = [f for f in fields if before.get(f[0]) != item[f[0]]]
        if changed:
            parts = [
                _arrow(label, before.get(name), item[name])
                for name, label, _ in changed
            ]
            said = [
                _said_arrow(label, *_item_values(name, before.get(name), item[name]))
                for name, _, label in changed
            ]
            changes.append(
                PlannedChange(
                    f"change {noun} {_q(key)}: {', '.join(parts)}",
                    page_text=f"change {noun} {_item_said(before)}: {', '.join(said)}",
                )
            )
    for key, item in old_by_key.items():
        if key not in new_by_key:
            changes.append(
                PlannedChange(
                    f"remove {noun} {_q(key)} ({item.get('label', '')})",
                    page_text=f"remove {noun} {_item_said(item)}",
                )
            )
    kept_new = [key for key in new_by_key if key in old_by_key]
    kept_old = [key for key in old_by_key if key in new_by_key]
    if kept_new != kept_old:
        order = ", ".join(_item_said(item) for item in new_by_key.values())
        changes.append(
            PlannedChange(
                f"reorder {noun}s: {', '.join(new_by_key)}",
                page_text=f"reorder the {noun}s: {order}",
            )
        )
    return changes


def _item_said(item: Mapping[str, Any]) -> str:
    """A loss reason or custom field as a page names it: its label, its key
    only where it has none."""
    return _word(item.get("label") or item.get("key") or "")


def _item_values(name: str, old: Any, new: Any) -> tuple[Any, Any]:
    if name == "type":
        return _FIELD_TYPE_WORDS.get(old, old), _FIELD_TYPE_WORDS.get(new, new)
    return old, new


class _BreachOrder:
    """How a plan compares two breach tables and in which order it names
    their parts, the same on either database: PostgreSQL hands a JSON
    table's keys back in its own order (jsonb sorts them), SQLite as written.

    Rules go as the pipeline's stages do (`stages`, its keys in order; a
    handoff by its two stages, a new lead's first), stages it no longer has
    after them by key; a rule's settings in the file's order. A value is
    compared by what it means: a span by its business minutes in a working
    day of `day` minutes ("1d" is "8h" in a day of 09:00-17:00), and the
    pipeline's default actions left out by the ones the clocks then take."""

    def __init__(self, stages: Sequence[str], day: int) -> None:
        self.place = {key: n for n, key in enumerate(stages)}
        self.day = day

    def stages(self, *tables: Mapping[str, Any]) -> list[str]:
        return sorted({k for t in tables for k in t}, key=self._stage_place)

    def handoffs(self, *tables: Mapping[str, Any]) -> list[str]:
        def place(name: str) -> tuple:
            start, _, end = name.partition("->")
            first = (-1, "") if start == LEAD else self._stage_place(start)
            return (first, self._stage_place(end), name)

        return sorted({k for t in tables for k in t}, key=place)

    def _stage_place(self, key: str) -> tuple[int, str]:
        return (self.place.get(key, len(self.place)), key)

    def changed(
        self, old: Mapping[str, Any], new: Mapping[str, Any], *, top: bool = False
    ) -> list[tuple[str, Any, Any]]:
        """(setting, before, after) of each setting of one rule whose meaning
        changes, in the file's order; `top` for the pipeline's default rule."""
        place = {key: n for n, key in enumerate(BREACH_TOP_KEYS)}
        keys = sorted({*old, *new}, key=lambda k: (place.get(k, len(place)), k))
        found = []
        for key in keys:
            before, after = old.get(key), new.get(key)
            if top and key == "on_breach":
                before, after = _or_default(before), _or_default(after)
            if not same_breach({key: before}, {key: after}, self.day):
                found.append((key, old.get(key), new.get(key)))
        return found


def _or_default(actions: Any) -> Any:
    return list(DEFAULT_ACTIONS) if actions is None else actions


def _breach_diff(
    old: Mapping[str, Any], new: Mapping[str, Any], order: _BreachOrder
) -> str:
    """E.g. 'on_breach default -> ["notify"]; stage 'proposal' task "a" ->
    "b"'; "" when nothing changes in meaning. Keys a table leaves out read as
    "default"."""
    if old == new:
        return ""
    if not new:
        return "remove all (the clocks use their defaults)"
    old_parts, new_parts = split_breach(old), split_breach(new)
    parts = [_rule_diff("", order.changed(old_parts[0], new_parts[0], top=True))]
    for index, noun in ((1, "stage"), (2, "handoff")):
        names = (order.stages if noun == "stage" else order.handoffs)(
            old_parts[index], new_parts[index]
        )
        for name in names:
            label = f"{noun} {_q(name) if noun == 'stage' else name} "
            changed = order.changed(
                old_parts[index].get(name, {}), new_parts[index].get(name, {})
            )
            parts.append(_rule_diff(label, changed))
    return "; ".join(part for part in parts if part)


def _breach_said(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    names: Mapping[str, str],
    order: _BreachOrder,
) -> str:
    """`_breach_diff` in the builder's words: 'stage "Proposal sent": do
    nothing (was: the pipeline's default)'; the actions by their labels."""
    if not new:
        return "every rule removed (the clocks use their defaults)"
    old_parts, new_parts = split_breach(old), split_breach(new)
    default = "the pipeline's default"
    top = order.changed(old_parts[0], new_parts[0], top=True)
    parts = [_rule_said(default, top)]
    for index, noun in ((1, "stage"), (2, "handoff")):
        keys = (order.stages if noun == "stage" else order.handoffs)(
            old_parts[index], new_parts[index]
        )
        for name in keys:
            label = (
                f'stage "{names.get(name) or name}"'
                if noun == "stage"
                else _handoff_rule_said(name, names)
            )
            changed = order.changed(
                old_parts[index].get(name, {}), new_parts[index].get(name, {})
            )
            parts.append(_rule_said(label, changed))
    return "; ".join(part for part in parts if part)


def _handoff_rule_said(name: str, names: Mapping[str, str]) -> str:
    """A handoff's breach rule, keyed "inquiry->discovery" in the file, as a
    page names the handoff: by its stages' names."""
    start, _, end = name.partition("->")
    if not end:
        return f"handoff {name}"
    said = "a new lead" if start == LEAD else _page_stage(start, names.get(start, ""))
    return f"the handoff from {said} to {_page_stage(end, names.get(end, ''))}"


def _rule_said(label: str, changed: list[tuple[str, Any, Any]]) -> str:
    parts = []
    for key, before, after in changed:
        if key == "on_breach":
            parts.append(
                f"{_actions_said(after, label)} (was: {_actions_said(before, label)})"
            )
        else:
            parts.append(f"its {key.replace('_', ' ')} setting changed")
    return f"{label}: {', '.join(parts)}" if parts else ""


def _actions_said(actions: list[str] | None, label: str) -> str:
    """A stage without actions of its own takes the pipeline's default; a
    pipeline without a default the clocks' own."""
    if actions is None and label == "the pipeline's default":
        actions = list(DEFAULT_ACTIONS)
    return actions_said(actions)


def _rule_diff(label: str, changed: list[tuple[str, Any, Any]]) -> str:
    parts = []
    for key, before, after in changed:
        if _is_plain(before) and _is_plain(after):
            parts.append(f"{key} {_rule_word(before)} -> {_rule_word(after)}")
        else:
            parts.append(f"{key} changed")
    return f"{label}{', '.join(parts)}" if parts else ""


def _is_plain(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return all(not isinstance(item, Mapping | list) for item in items)


def _rule_word(value: Any) -> str:
    return "default" if value is None else _word(value)


def _routing_diff(old: list[Any], new: list[Any], *, page: bool = False) -> str:
    """E.g. 'add "DACH"; change "everyone else"'; "" when equal. For a page
    (`page`) each is named as a rule and a new order said in words."""
    if old == new:
        return ""
    rule = "rule " if page else ""

    def by_name(items: list[Any]) -> dict[str, Any]:
        return {
            str(item.get("name")): item for item in items if isinstance(item, Mapping)
        }

    before, after = by_name(old), by_name(new)
    parts = [f"add {rule}{_word(name)}" for name in after if name not in before]
    parts += [f"remove {rule}{_word(name)}" for name in before if name not in after]
    parts += [
        f"change {rule}{_word(name)}"
        for name in after
        if name in before and before[name] != after[name]
    ]
    kept = [name for name in after if name in before]
    if kept != [name for name in before if name in after]:
        order = "tried in the order" if page else "order"
        parts.append(f"{order} {', '.join(map(_word, after))}")
    return "; ".join(parts) or "rewritten"


class StagesHoldDeals(ValidationError):
    """Applying would remove stages that still hold deals, and was told no
    place for them. The message says how on the command line (`--move`);
    another door words its own from `keys` (`blocked_message`)."""

    def __init__(self, plan: PipelinePlan) -> None:
        self.keys = [change.needs_move or "" for change in plan.blocked]
        flags = " ".join(f"--move {key}=NEW" for key in self.keys)
        super().__init__(
            self.blocked_message(f"say where they go with {flags}"), field="moves"
        )

    def blocked_message(self, how: str) -> str:
        """The refusal, ending with `how` the person says where deals go."""
        count = len(self.keys)
        stages = agreeing(count, "removed stage")
        return (
            f"nothing applied: {stages} {', '.join(map(_q, self.keys))} still "
            f"{agreeing(count, 'holds', 'hold')} deals; {how}"
        )


class MovesOutOfOrder(MoveOutOfOrder):
    """Applying would move deals (`--move`, or the builder's choice of where
    a removed stage's deals go) at a date before their last stage event.
    `count` deals would; `named` holds the first few (id, last event), and
    `latest` the last event of them all: the earliest date applying may
    carry. The message says what is wrong; each door adds how to act on it
    (`message_with`)."""

    def __init__(
        self,
        now: dt.datetime,
        count: int,
        named: list[tuple[int, dt.datetime]],
        latest: dt.datetime,
        zone: str = "UTC",
    ) -> None:
        self.now, self.count, self.named, self.latest = now, count, named, latest
        # Dates in the pipeline's zone (named), as its pages show them.
        self.zone = zone
        deals = ", ".join(f"deal {pk} on {local_time(at, zone)}" for pk, at in named)
        more = count - len(named)
        if more:
            deals += f", and {more} more"
        self.problem = (
            f"{counted(count, 'deal')} it would move "
            f"{agreeing(count, 'has', 'have')} a stage event after "
            f"{local_time(now, zone)}, the date the move would carry ({deals}); "
            "a deal's history only runs forward"
        )
        super().__init__(
            self.message_with(f"apply at {self.earliest} or later"), field="moves"
        )

    @property
    def earliest(self) -> str:
        """The earliest date applying may carry, in words, in the pipeline's
        zone: its first ten characters are the day to give --as-of, which
        ends that day in the same zone (dealgate.timesource)."""
        return local_time(self.latest, self.zone)

    def message_with(self, how: str) -> str:
        """The refusal, ending with `how` the person goes on."""
        return f"nothing applied: {self.problem}; {how}"
