"""What the builder's pages show of a spec, in words and rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from dealgate.accounts.models import User
from dealgate.core import blueprint as bp
from dealgate.core.breach_words import actions_said
from dealgate.core.numbers import whole_number
from dealgate.core.pipeline_file import (
    DEAL_OWNER,
    LEAD,
    STAGE_OWNER,
    CriterionSpec,
    PipelineSpec,
    StageSpec,
    format_window,
    split_owner,
)
from dealgate.core.rounding import figure, fixed, percent, quotient, whole
from dealgate.errors import ValidationError
from dealgate.web.errors import refused

from . import breach
from .blueprints import MAX_LAST
from .edits import day_of


@dataclass(frozen=True)
class StageRow:
    position: int
    stage: StageSpec
    owner: str
    actions: str
    own_actions: bool

    @property
    def entry(self) -> tuple[CriterionSpec, ...]:
        return self.stage.entry_criteria

    @property
    def exit(self) -> tuple[CriterionSpec, ...]:
        return self.stage.exit_criteria


@dataclass(frozen=True)
class HandoffRow:
    start: str
    end: str
    start_name: str
    end_name: str
    window: str  # "" when there is none
    responsible: str
    missing: bool  # an expected handoff the spec does not list yet


def owner_words(owner: str, people: Mapping[str, str] | None = None) -> str:
    """An owner as people read it: "The deal's owner", "Alice Rep", "Team X"."""
    parts = split_owner(owner) if owner else None
    if owner == STAGE_OWNER:
        return "The stage's owner"
    if parts is None:
        return "No owner"
    kind, name = parts
    if kind == DEAL_OWNER:
        return "The deal's owner"
    if kind == "team":
        return f"Team {name}"
    return (people or {}).get(name, name)


def people_named(spec: PipelineSpec) -> dict[str, str]:
    """Username -> display name for everyone the spec names (one query)."""
    owners = [s.owner for s in spec.stages] + [h.responsible for h in spec.handoffs]
    names = {p[1] for p in map(split_owner, owners) if p and p[0] == "user"}
    return {
        user.username: user.display_name
        for user in User.objects.filter(username__in=names)
    }


def stage_rows(spec: PipelineSpec) -> list[StageRow]:
    people = people_named(spec)
    own = breach.own_actions(spec)
    default = breach.rules_of(spec).default.on_breach
    rows = []
    for position, stage in enumerate(spec.stages, start=1):
        actions = own.get(stage.key)
        rows.append(
            StageRow(
                position=position,
                stage=stage,
                owner=owner_words(stage.owner, people),
                actions=actions_said(actions if actions is not None else default),
                own_actions=actions is not None,
            )
        )
    return rows


def handoff_rows(spec: PipelineSpec, *, with_missing: bool) -> list[HandoffRow]:
    """The spec's handoffs in pipeline order; with `with_missing`, also the
    expected ones it lacks (from a new lead into the first stage, and from
    each stage into the next), to be filled in."""
    day = day_of(spec)
    names = {stage.key: stage.name or stage.key for stage in spec.stages}
    names[LEAD] = "A new lead"
    given = {(h.from_stage, h.to_stage): h for h in spec.handoffs}
    keys = spec.stage_keys()
    wanted = list(zip([LEAD, *keys], keys, strict=False)) if with_missing else []
    order = {key: index for index, key in enumerate([LEAD, *keys])}
    ends = sorted(
        dict.fromkeys([*given, *wanted]),
        key=lambda pair: (order.get(pair[0], -1), order.get(pair[1], -1)),
    )
    people = people_named(spec)
    rows = []
    for start, end in ends:
        handoff = given.get((start, end))
        minutes = handoff.response_window_minutes if handoff else None
        responsible = handoff.responsible if handoff else STAGE_OWNER
        rows.append(
            HandoffRow(
                start=start,
                end=end,
                start_name=names.get(start, start),
                end_name=names.get(end, end),
                window="" if minutes is None else format_window(minutes, whole(day)),
                responsible=owner_words(responsible, people),
                missing=handoff is None,
            )
        )
    return rows


def last_param(request: HttpRequest) -> int | None | HttpResponse:
    """`?last=N` as a number, None when absent, or a 400 response."""
    text = request.GET.get("last", "").strip()
    if not text:
        return None
    try:
        return whole_number(text, "last", least=1, most=MAX_LAST, unit="closed deals")
    except ValidationError as error:
        return refused(request, 400, error.message)


def blueprint_rows(found: bp.Blueprint, names: Mapping[str, str]) -> dict[str, list]:
    """The blueprint's tables with stage names, for the blueprint page."""

    def name(key: str) -> str:
        special = {
            bp.START: "Start",
            bp.WON: "Won",
            bp.LOST: "Lost",
            LEAD: "A new lead",
        }
        return special.get(key) or names.get(key, key)

    day = found.day_minutes
    return {
        "variants": [
            (
                " → ".join(map(name, [*v.path, v.outcome])),
                v.deals,
                percent(v.share),
            )
            for v in found.variants
        ],
        "transitions": [
            (name(t.start), name(t.end), t.deals) for t in found.transitions
        ],
        "stages": [(name(flow.stage), flow) for flow in found.stages],
        "stops": [(name(s.stage), s.deals, percent(s.share)) for s in found.stops],
        "responses": [
            (
                name(r.start),
                name(r.end),
                r,
                _span(r.minutes.median, day),
                _span(r.minutes.p80, day),
            )
            for r in found.responses
        ],
    }


def _span(minutes: float | None, day: float) -> str:
    if minutes is None:
        return "–"
    if minutes < 60:
        return f"{fixed(minutes)} min"
    if minutes < day:
        return f"{figure(quotient(minutes, 60), 1)} h"
    return f"{figure(quotient(minutes, day), 1)} d"
