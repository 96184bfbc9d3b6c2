"""The blueprint: the pipeline a team's closed deals actually travelled.

Pure Python, in four steps. Steps 1 and 2 define the blueprint on paths
traced here; the Django side (`dealgate.builder.blueprints`) has the
database group and measure the same stays, hands over what `summarise`
takes (`PathGroup`s and `StayFigures`), and is checked against these steps:

1. `trace` turns each closed deal's stage events into a `DealPath`: the stays
   it made, in order, each with its business minutes (written on the event,
   else counted in the pipeline's calendar), the handoff that started it and
   the first response after it started.
2. `find_blueprint` summarises the paths: the path variants and their shares,
   the transitions with counts, the median and 80th percentile business days
   per stage for won and for lost deals, where lost deals stopped, how often
   each stage was skipped, the observed first responses per handoff, and, in
   words, what the data cannot tell.
3. `propose` turns a blueprint and the current pipeline into a proposed
   `PipelineSpec`: the stages deals travel (five to seven when the data has
   them), each with an age limit from the time won deals spent there, a
   probability from the share of deals that passed it and were won, and
   response windows from the first responses observed.
4. `proposal_text` writes the proposal as a pipeline file whose comments
   give the figures behind each value, so a person can judge and edit it.

Percentiles follow `dealgate.core.metrics.percentile` (PostgreSQL's
`percentile_cont`), like every other figure in Dealgate.

A path is the sequence of stages a deal stayed in, consecutive repeats
merged. A stay is recorded by the event that ends it (a move or a close), so
a path is known even when the source gave no entry dates. A deal skipped a
stage when its path holds a stage placed before it and one placed after it,
but not the stage itself.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from dealgate.core import business_time, metrics
from dealgate.core.calendar import Calendar
from dealgate.core.pipeline_file import (
    LEAD,
    MAX_AGE_LIMIT_DAYS,
    STAGE_OWNER,
    HandoffSpec,
    PipelineSpec,
    StageSpec,
    dump_pipeline,
    format_window,
)
from dealgate.core.rounding import figure, fixed, hundredfold, percent, quotient, whole
from dealgate.core.text import agreeing, counted

__all__ = [
    "Blueprint",
    "ClosedDeal",
    "DealPath",
    "Event",
    "PathGroup",
    "Proposal",
    "StayFigures",
    "find_blueprint",
    "propose",
    "proposal_text",
    "round_window",
    "stay_figures",
    "summarise",
    "trace",
]

START = "start"
WON = "won"
LOST = "lost"
OUTCOMES = (WON, LOST)
# The activity kinds that answer a buyer, as the clocks count them.
RESPONSE_KINDS = ("call", "email", "meeting")
# The source a lead's conversion writes on its deal's entry event: only such
# an entry is a handoff from a new lead. An imported deal, or one made by
# hand, starts in its stage with no handoff before it.
LEAD_SOURCE = "lead"
# Fewer measurements than this and a figure is shown but not used to propose.
MIN_SAMPLES = 3
# A retired stage comes back into a proposal when this share of deals used it.
RETURN_SHARE = 0.2
# "Most deals skip it": more than this share of the deals that could have.
MOST = 0.5
MIN_STAGES, MAX_STAGES = 5, 7
DEFAULT_AGE_LIMIT_DAYS = 10
# Response windows are proposed on this ladder, so a file says "4h", not "217m".
_MINUTE_STEPS = (15, 30, 60, 120, 240)
_DAY_STEPS = (1, 2, 3, 5, 10, 15, 20, 30, 60, 90, 180, MAX_AGE_LIMIT_DAYS)
_WIDTH = 88


# --- input -------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One stage event, its stages given by key (None: outside the pipeline);
    `source` is the door that wrote it ("lead" for a lead's conversion)."""

    deal_id: int
    from_stage: str | None
    to_stage: str | None
    from_status: str
    to_status: str
    at: dt.datetime
    from_entered_at: dt.datetime | None = None
    business_minutes: float | None = None
    source: str = ""


@dataclass(frozen=True)
class ClosedDeal:
    """A won or lost deal as it stands now; `closed_from` is its stage key."""

    id: int
    outcome: str
    closed_from: str
    closed_at: dt.datetime | None = None
    loss_reason: str = ""


# --- step 1: paths -----------------------------------------------------------


@dataclass(frozen=True)
class Stay:
    """A deal's time in one stage. `handoff` is (came from, stage), where came
    from is a stage key or "lead"; None when the history does not say."""

    stage: str
    entered_at: dt.datetime | None
    left_at: dt.datetime | None
    minutes: float | None
    handoff: tuple[str, str] | None = None
    response_minutes: float | None = None


@dataclass(frozen=True)
class DealPath:
    deal_id: int
    outcome: str
    closed_at: dt.datetime | None
    stays: tuple[Stay, ...]

    @cached_property
    def path(self) -> tuple[str, ...]:
        """The stages stayed in, in order, consecutive repeats merged (worked
        out once: every summary reads it)."""
        keys: list[str] = []
        for stay in self.stays:
            if not keys or keys[-1] != stay.stage:
                keys.append(stay.stage)
        return tuple(keys)


def trace(
    deals: Iterable[ClosedDeal],
    events: Iterable[Event],
    calendar: Calendar,
    *,
    responses: Mapping[int, Sequence[dt.datetime]] | None = None,
    lead_responses: Mapping[int, float] | None = None,
) -> list[DealPath]:
    """The path of every deal in `deals`, from its events.

    `events` may come in any order; a deal's are read by time (ties in the
    order given). `responses` maps a deal id to the instants of its done
    calls, emails and meetings, sorted; a stay's first response is the first
    of them at or after it started and before it ended. A deal's first stay
    follows a handoff from "lead" only when a lead's conversion wrote its
    entry (source "lead"); an imported or hand-made deal's first stay
    follows no handoff. `lead_responses` maps a deal id to the business
    minutes its lead waited for an answer, which stands for the response to
    the handoff from "lead". A deal with no event at all gets one stay, in
    the stage it closed from, with no times.
    """
    by_deal: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        by_deal[event.deal_id].append(event)
    tracer = _Tracer(calendar, responses or {}, lead_responses or {})
    paths = []
    for deal in deals:
        stays = tracer.stays(deal.id, sorted(by_deal.get(deal.id, ()), key=_at))
        if not stays:
            stays = [Stay(deal.closed_from, None, deal.closed_at, None)]
        paths.append(DealPath(deal.id, deal.outcome, deal.closed_at, tuple(stays)))
    return paths


def _at(event: Event) -> dt.datetime:
    return event.at


class _Tracer:
    def __init__(
        self,
        calendar: Calendar,
        responses: Mapping[int, Sequence[dt.datetime]],
        lead_responses: Mapping[int, float],
    ) -> None:
        self.calendar = calendar
        self.responses = responses
        self.lead_responses = lead_responses

    def stays(self, deal_id: int, events: list[Event]) -> list[Stay]:
        stays = []
        came_from: str | None = None
        for event in events:
            if event.from_status == "open" and event.from_stage is not None:
                stays.append(self.stay(deal_id, event, came_from))
                came_from = event.from_stage
            elif event.from_stage is None and event.to_status == "open":
                # An entry: from a new lead only when a lead's conversion
                # made the deal; an imported or hand-made one had no handoff.
                came_from = LEAD if event.source == LEAD_SOURCE else None
            elif event.to_status == "open":
                # Reopened: the deal comes back from the stage it closed from,
                # a handoff only into another stage (see `stay`).
                came_from = event.from_stage
        return stays

    def stay(self, deal_id: int, event: Event, came_from: str | None) -> Stay:
        stage = event.from_stage
        assert stage is not None
        entered = event.from_entered_at
        minutes = event.business_minutes
        if minutes is None and entered is not None and entered <= event.at:
            minutes = business_time.between(self.calendar, entered, event.at)
        # Back in the stage it came from (lost in it and reopened into it):
        # no one handed the deal over, so no handoff and no first response.
        if came_from == stage:
            came_from = None
        handoff = (came_from, stage) if came_from is not None else None
        return Stay(
            stage=stage,
            entered_at=entered,
            left_at=event.at,
            minutes=minutes,
            handoff=handoff,
            response_minutes=self.response(deal_id, entered, event.at, came_from),
        )

    def response(
        self,
        deal_id: int,
        entered: dt.datetime | None,
        left: dt.datetime,
        came_from: str | None,
    ) -> float | None:
        if came_from == LEAD and deal_id in self.lead_responses:
            return self.lead_responses[deal_id]
        instants = self.responses.get(deal_id)
        if entered is None or not instants:
            return None
        index = bisect_left(instants, entered)
        if index == len(instants) or instants[index] >= left:
            return None
        return business_time.between(self.calendar, entered, instants[index])


# --- step 2: the blueprint ---------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """How many values, their median and 80th percentile (None when n is 0)."""

    n: int
    median: float | None
    p80: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(
            len(values),
            metrics.percentile(values, 0.5),
            metrics.percentile(values, 0.8),
        )


@dataclass(frozen=True)
class Variant:
    path: tuple[str, ...]
    outcome: str
    deals: int
    share: float

    @property
    def text(self) -> str:
        return " -> ".join([*self.path, self.outcome])


@dataclass(frozen=True)
class Transition:
    """`deals` passages from `start` (a stage or "start") to `end` (a stage,
    "won" or "lost"); a deal that loops counts once per passage."""

    start: str
    end: str
    deals: int


@dataclass(frozen=True)
class StageFlow:
    """One stage as the closed deals used it; times are in business days."""

    stage: str
    visited: int  # deals whose path holds the stage
    won: int  # of those, won
    could_skip: int  # deals with a stage before it and it or one after it
    skipped: int  # of those, the ones that went around it
    won_days: Spread
    lost_days: Spread
    unmeasured: int  # stays without a duration (no entry time)

    @property
    def skip_share(self) -> float | None:
        return metrics.rate(self.skipped, self.could_skip)

    @property
    def win_share(self) -> float | None:
        return metrics.rate(self.won, self.visited)


@dataclass(frozen=True)
class Stop:
    """Where lost deals stopped: the stage they were lost from."""

    stage: str
    deals: int
    share: float


@dataclass(frozen=True)
class Response:
    """First responses after a handoff, in business minutes; `unrecorded`
    stays had a known start but no response recorded before they ended."""

    start: str
    end: str
    minutes: Spread
    unrecorded: int


@dataclass(frozen=True)
class Blueprint:
    scope: str
    deals: int
    won: int
    lost: int
    order: tuple[str, ...]
    variants: tuple[Variant, ...]
    transitions: tuple[Transition, ...]
    stages: tuple[StageFlow, ...]
    stops: tuple[Stop, ...]
    responses: tuple[Response, ...]
    dates_only: bool  # most stays record dates without times
    first_closed: dt.datetime | None
    last_closed: dt.datetime | None
    day_minutes: float
    notes: tuple[str, ...] = ()
    date_only_stays: int = 0  # stays whose every known instant is a midnight

    def flow(self, stage: str) -> StageFlow | None:
        return next((flow for flow in self.stages if flow.stage == stage), None)

    def response(self, start: str, end: str) -> Response | None:
        return next(
            (r for r in self.responses if (r.start, r.end) == (start, end)), None
        )


@dataclass(frozen=True)
class PathGroup:
    """The closed deals that travelled one path to one outcome."""

    path: tuple[str, ...]
    outcome: str
    deals: int


@dataclass(frozen=True)
class StayFigures:
    """What the stays tell beyond the paths: business days per stage and
    outcome, stays without a duration per stage, first responses per
    handoff (their spread and the stays with none recorded), how many stays
    there are and how many of them record dates only, and the close dates."""

    days: Mapping[tuple[str, str], Spread]
    unmeasured: Mapping[str, int]
    responses: Mapping[tuple[str, str], tuple[Spread, int]]
    stays: int
    date_only_stays: int
    first_closed: dt.datetime | None
    last_closed: dt.datetime | None
    # Stage -> deals whose path runs across it without a stay there only
    # because they were past its place before a redesign added it: no skip.
    # Known from the database's stage dates (`builder.blueprints`).
    past_before: Mapping[str, int] = field(default_factory=dict)

    @property
    def dates_only(self) -> bool:
        """Whether most stays record dates without times: one live event
        with a time in a history of dates does not make it timed."""
        return self.date_only_stays * 2 > self.stays


def find_blueprint(
    paths: Sequence[DealPath],
    order: Sequence[str],
    calendar: Calendar,
    *,
    scope: str = "all closed deals",
    active: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> Blueprint:
    """Summarise `paths` (see the module docstring for the definitions).

    `order` is every stage key of the pipeline in board order, retired ones
    included; stages found in paths but not in `order` are placed after it.
    `active` (default: all of `order`) are the stages a note about stages
    no deal recorded may name; `names` (key to stage name) words the notes.

    The reference for small inputs and tests: `dealgate.builder.blueprints`
    has the database group the paths and measure the stays, and hands the
    results to `summarise` as this does.
    """
    groups = Counter((path.path, path.outcome) for path in paths)
    return summarise(
        [PathGroup(keys, outcome, n) for (keys, outcome), n in groups.items()],
        stay_figures(paths, calendar),
        order,
        calendar.day_minutes,
        scope=scope,
        active=active,
        names=names,
    )


def summarise(
    groups: Sequence[PathGroup],
    figures: StayFigures,
    order: Sequence[str],
    day_minutes: float,
    *,
    scope: str = "all closed deals",
    active: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> Blueprint:
    """The blueprint of closed deals given as `groups` (one per path and
    outcome) and the `figures` of their stays; `order`, `active` and
    `names` as for `find_blueprint`."""
    order = _full_order(order, groups)
    position = {key: index for index, key in enumerate(order)}
    deals = sum(group.deals for group in groups)
    won = sum(group.deals for group in groups if group.outcome == WON)
    flows = _flows(order, groups, position, figures)
    blueprint = Blueprint(
        scope=scope,
        deals=deals,
        won=won,
        lost=deals - won,
        order=tuple(order),
        variants=_variants(groups, deals),
        transitions=_transitions(groups, position),
        stages=tuple(flow for flow in flows if flow.visited or flow.could_skip),
        stops=_stops(groups, position),
        responses=_responses(figures.responses, position),
        dates_only=figures.dates_only,
        first_closed=figures.first_closed,
        last_closed=figures.last_closed,
        day_minutes=day_minutes,
        date_only_stays=figures.date_only_stays,
    )
    seen = {key for group in groups for key in group.path}
    notes = _notes(
        blueprint, seen, figures.stays, order if active is None else active, names
    )
    return replace(blueprint, notes=notes)


def stay_figures(paths: Sequence[DealPath], calendar: Calendar) -> StayFigures:
    """The `StayFigures` of `paths`, counted in Python."""
    days: dict[tuple[str, str], list[float]] = defaultdict(list)
    unmeasured: Counter[str] = Counter()
    minutes: dict[tuple[str, str], list[float]] = defaultdict(list)
    unrecorded: Counter[tuple[str, str]] = Counter()
    for path in paths:
        for stay in path.stays:
            if stay.minutes is None:
                unmeasured[stay.stage] += 1
            else:
                days[(stay.stage, path.outcome)].append(
                    stay.minutes / calendar.day_minutes
                )
            if stay.handoff is None:
                continue
            if stay.response_minutes is not None:
                minutes[stay.handoff].append(stay.response_minutes)
            elif stay.entered_at is not None:
                unrecorded[stay.handoff] += 1
    # In the calendar's zone: the proposal's header writes the dates of the
    # first and last close, and a close just after local midnight is that day.
    closed = [
        path.closed_at.astimezone(calendar.zone)
        for path in paths
        if path.closed_at is not None
    ]
    return StayFigures(
        days={key: Spread.of(values) for key, values in days.items()},
        unmeasured=unmeasured,
        responses={
            pair: (Spread.of(minutes[pair]), unrecorded[pair])
            for pair in set(minutes) | set(unrecorded)
        },
        stays=sum(len(path.stays) for path in paths),
        date_only_stays=_date_only_stays(paths, calendar),
        first_closed=min(closed, default=None),
        last_closed=max(closed, default=None),
    )


def _full_order(order: Sequence[str], groups: Sequence[PathGroup]) -> list[str]:
    full = list(dict.fromkeys(order))
    for group in groups:
        full += [key for key in group.path if key not in full]
    return full


def _variants(groups: Sequence[PathGroup], deals: int) -> tuple[Variant, ...]:
    counts = Counter[tuple[tuple[str, ...], str]]()
    for group in groups:
        counts[(group.path, group.outcome)] += group.deals
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(Variant(keys, outcome, n, n / deals) for (keys, outcome), n in ranked)


def _transitions(
    groups: Sequence[PathGroup], position: Mapping[str, int]
) -> tuple[Transition, ...]:
    counts: Counter[tuple[str, str]] = Counter()
    for group in groups:
        steps = [START, *group.path, group.outcome]
        for step in zip(steps, steps[1:], strict=False):
            counts[step] += group.deals

    def rank(key: str) -> float:
        # Start first, then the stages in order, then won before lost.
        if key == START:
            return -1
        return position.get(key, len(position) + (key != WON))

    ordered = sorted(
        counts.items(), key=lambda item: (rank(item[0][0]), rank(item[0][1]))
    )
    return tuple(Transition(start, end, n) for (start, end), n in ordered)


def _flows(
    order: Sequence[str],
    groups: Sequence[PathGroup],
    position: Mapping[str, int],
    figures: StayFigures,
) -> tuple[StageFlow, ...]:
    """Every stage's flow in one pass over the groups: a path counts only at
    the stages it visited and those its span runs across (a stage before
    its first place or after its last is none of its business)."""
    visited, won, could_skip, skipped = (
        Counter[str](),
        Counter[str](),
        Counter[str](),
        Counter[str](),
    )
    for group in groups:
        n = group.deals
        places = {position[key] for key in group.path}
        first, last = min(places, default=0), max(places, default=0)
        for key in set(group.path):
            visited[key] += n
            won[key] += n if group.outcome == WON else 0
            could_skip[key] += n if first < position[key] else 0
        for place in range(first + 1, last):
            if place not in places:
                could_skip[order[place]] += n
                skipped[order[place]] += n
    # Deals past a stage's place before it was added could not pass it.
    for stage, n in figures.past_before.items():
        could_skip[stage] -= n
        skipped[stage] -= n
    none = Spread(0, None, None)
    return tuple(
        StageFlow(
            stage=stage,
            visited=visited[stage],
            won=won[stage],
            could_skip=could_skip[stage],
            skipped=skipped[stage],
            won_days=figures.days.get((stage, WON), none),
            lost_days=figures.days.get((stage, LOST), none),
            unmeasured=figures.unmeasured.get(stage, 0),
        )
        for stage in order
    )


def _stops(
    groups: Sequence[PathGroup], position: Mapping[str, int]
) -> tuple[Stop, ...]:
    counts: Counter[str] = Counter()
    for group in groups:
        if group.outcome == LOST:
            counts[group.path[-1]] += group.deals
    lost = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], position[item[0]]))
    return tuple(Stop(stage, n, n / lost) for stage, n in ordered)


def _responses(
    found: Mapping[tuple[str, str], tuple[Spread, int]], position: Mapping[str, int]
) -> tuple[Response, ...]:
    ends = sorted(
        found, key=lambda pair: (position.get(pair[0], -1), position[pair[1]])
    )
    return tuple(Response(start, end, *found[(start, end)]) for start, end in ends)


def _date_only_stays(paths: Sequence[DealPath], calendar: Calendar) -> int:
    """The stays whose known instants (at least one) are all local
    midnights: stays a source of dates recorded."""
    return sum(
        1
        for path in paths
        for stay in path.stays
        if is_date_only((stay.entered_at, stay.left_at), calendar)
    )


def is_date_only(instants: Sequence[dt.datetime | None], calendar: Calendar) -> bool:
    """Whether some of `instants` are known and every known one is a local
    midnight in `calendar`."""
    known = [instant for instant in instants if instant is not None]
    return bool(known) and all(
        instant.astimezone(calendar.zone).time() == dt.time(0, 0) for instant in known
    )


def _notes(
    blueprint: Blueprint,
    seen: set[str],
    stays: int,
    active: Sequence[str],
    names: Mapping[str, str] | None,
) -> tuple[str, ...]:
    """What the data cannot tell, in words a person acts on; `seen` are the
    stages some path holds."""
    if not blueprint.deals:
        return ("There are no closed deals yet, so there is nothing to learn from.",)
    notes = []
    unseen = [key for key in active if key not in seen]
    if unseen:
        listed = _and([f"'{(names or {}).get(key, key)}'" for key in unseen])
        notes.append(
            f"No closed deal's history records {agreeing(len(unseen), 'stage')} "
            f"{listed}: the data cannot tell how deals passed through "
            f"{agreeing(len(unseen), 'it', 'them')} or how long they stayed. "
            "The blueprint counts only the stays closed deals' histories "
            "record; the pipeline's picture also counts a deal that skipped "
            f"{agreeing(len(unseen), 'the stage', 'a stage')} or was imported "
            "past it as having passed it."
        )
    unmeasured = sum(flow.unmeasured for flow in blueprint.stages)
    if unmeasured:
        notes.append(
            f"{unmeasured:,} of {stays:,} stays have no entry time (the source did "
            "not say): they count in paths and shares but not in times."
        )
    if blueprint.dates_only:
        dated = blueprint.date_only_stays
        which = (
            "The history records dates without times (every event is at midnight)"
            if dated == stays
            else f"{dated:,} of {stays:,} stays record dates without times (their "
            "events are at midnight)"
        )
        notes.append(
            f"{which}: times are counted from day to day, so a step within one "
            "day counts as 0 and nothing shorter than a day can be told."
        )
    if active:
        entered = _lead_entries(blueprint, active[0])
        if entered:
            named = _and([f"'{(names or {}).get(r.end, r.end)}'" for r in entered])
            first = (names or {}).get(active[0], active[0])
            some = "Some deals" if blueprint.response(LEAD, active[0]) else "Deals"
            notes.append(
                f"{some} from new leads entered at {named}, not at the first "
                f"stage '{first}': the first responses name the handoff they "
                f"took, while the pipeline hands a new lead to '{first}' (the "
                "proposal times that handoff from these responses when enough "
                "were seen)."
            )
    if not any(response.minutes.n for response in blueprint.responses):
        notes.append(
            "No first responses are recorded (no done call, email or meeting "
            "after a handoff into a stage, and no answered lead): response "
            "windows cannot be told from this data."
        )
    return tuple(notes)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# --- step 3: a proposed pipeline ---------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A proposed pipeline and, in words, why each value is what it is."""

    spec: PipelineSpec
    blueprint: Blueprint
    header: tuple[str, ...]
    stage_notes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    handoff_notes: Mapping[tuple[str, str], tuple[str, ...]] = field(
        default_factory=dict
    )


def propose(
    blueprint: Blueprint,
    current: PipelineSpec,
    *,
    retired: Mapping[str, StageSpec] | None = None,
) -> Proposal:
    """A pipeline shaped by `blueprint`, starting from `current`.

    Stages: the current ones, plus any retired stage (given in `retired`)
    that at least a fifth of the deals used, minus any stage most deals
    skipped; above seven, the least used are merged away. Fewer than five
    are not padded with made-up stages: the header says so. Each stage keeps
    its name, owner and criteria; its age limit becomes the 80th percentile
    of the business days won deals spent there (rounded up) and its
    probability the share of deals that passed it and were won, when at
    least three were measured. Handoffs: from a new lead into the first
    stage, from each stage to the next, and the current ones that still
    connect kept stages; each window is the 80th percentile of the first
    responses seen, rounded up onto a ladder (15m, 30m, 1h, 2h, 4h, 1d, 2d
    ...). A figure the data does not give keeps the current value, or a
    stated guess.
    """
    known = {stage.key: stage for stage in current.stages}
    for key, stage in (retired or {}).items():
        flow = blueprint.flow(key)
        if flow and flow.visited >= RETURN_SHARE * max(blueprint.deals, 1):
            known.setdefault(key, stage)
    keys, dropped = _choose_stages(blueprint, [*known], current.stage_keys())
    day = blueprint.day_minutes
    stages, stage_notes = [], {}
    for key in keys:
        stage, notes = _propose_stage(known[key], blueprint)
        stages.append(stage)
        stage_notes[key] = notes
    handoffs, handoff_notes = _propose_handoffs(keys, current, blueprint, day)
    spec = replace(current, stages=tuple(stages), handoffs=handoffs, source=None)
    header = _header(blueprint, current, keys, dropped)
    return Proposal(spec, blueprint, header, stage_notes, handoff_notes)


def _choose_stages(
    blueprint: Blueprint, candidates: list[str], current: list[str]
) -> tuple[list[str], list[str]]:
    """The stage keys to propose, in order, and why others were left out."""
    position = {key: index for index, key in enumerate(blueprint.order)}
    fallback = {key: index for index, key in enumerate(current)}
    keys = sorted(
        candidates, key=lambda k: (position.get(k, math.inf), fallback.get(k, 0))
    )
    dropped = []
    for key in list(keys):
        flow = blueprint.flow(key)
        share = flow.skip_share if flow else None
        if flow and flow.could_skip >= MIN_SAMPLES and share and share > MOST:
            keys.remove(key)
            dropped.append(
                f"'{key}' was left out: {flow.skipped:,} of the {flow.could_skip:,} "
                "deals that could have passed it went around it."
            )
    while len(keys) > MAX_STAGES:
        least = min(reversed(keys), key=lambda k: _visits(blueprint, k))
        keys.remove(least)
        dropped.append(
            f"'{least}' was merged away to keep seven stages: the fewest closed "
            f"deals passed it ({_visits(blueprint, least):,})."
        )
    return keys, dropped


def _visits(blueprint: Blueprint, key: str) -> int:
    flow = blueprint.flow(key)
    return flow.visited if flow else 0


def _propose_stage(
    stage: StageSpec, blueprint: Blueprint
) -> tuple[StageSpec, tuple[str, ...]]:
    flow = blueprint.flow(stage.key)
    if flow is None or not flow.visited:
        limit = stage.age_limit_days or DEFAULT_AGE_LIMIT_DAYS
        note = "No closed deal's history records this stage: kept as it is."
        if stage.age_limit_days is None:
            note += f" The age limit of {counted(limit, 'business day')} is a guess."
        return replace(stage, age_limit_days=limit), (note,)

    limit, limit_note = _age_limit(stage, flow)
    probability, probability_note = _probability(stage, flow, blueprint.deals)
    notes = [probability_note, limit_note]
    if flow.lost_days.n:
        notes.append(
            "Lost deals stayed a median of "
            f"{_business_days(flow.lost_days.median)}, 80% within "
            f"{_days(flow.lost_days.p80)}."
        )
    return replace(stage, age_limit_days=limit, probability=probability), tuple(notes)


def _age_limit(stage: StageSpec, flow: StageFlow) -> tuple[int, str]:
    won = flow.won_days
    if won.n >= MIN_SAMPLES and won.p80 is not None:
        limit = min(max(math.ceil(won.p80 - 1e-9), 1), MAX_AGE_LIMIT_DAYS)
        return limit, (
            f"Won deals stayed a median of {_business_days(won.median)}, "
            f"80% within {_days(won.p80)}: age_limit_days = {limit}."
        )
    kept = stage.age_limit_days or DEFAULT_AGE_LIMIT_DAYS
    how = "kept" if stage.age_limit_days else "a guess"
    return kept, (
        f"Too few won deals were measured here ({won.n}) to set an age limit: "
        f"{counted(kept, 'business day')} is {how}."
    )


def _probability(stage: StageSpec, flow: StageFlow, deals: int) -> tuple[int, str]:
    passed = (
        f"{flow.visited:,} of {deals:,} closed deals "
        f"({percent(flow.visited / deals)}) passed this stage"
    )
    share = flow.win_share
    if flow.visited >= MIN_SAMPLES and share is not None:
        probability = whole(hundredfold(share))
        return probability, (
            f"{passed}; {flow.won:,} of them were won: probability = {probability}."
        )
    return stage.probability, (
        f"{passed}: too few to measure a probability; {stage.probability}% is kept."
    )


def _propose_handoffs(
    keys: list[str], current: PipelineSpec, blueprint: Blueprint, day: float
) -> tuple[tuple[HandoffSpec, ...], dict[tuple[str, str], tuple[str, ...]]]:
    existing = {(h.from_stage, h.to_stage): h for h in current.handoffs}
    ends = [(LEAD, keys[0])] if keys else []
    ends += list(zip(keys, keys[1:], strict=False))
    ends += [
        pair
        for pair in existing
        if pair[1] in keys and (pair[0] == LEAD or pair[0] in keys)
    ]
    order = {key: index for index, key in enumerate([LEAD, *keys])}
    ends = sorted(dict.fromkeys(ends), key=lambda p: (order[p[0]], order[p[1]]))
    handoffs, notes = [], {}
    for pair in ends:
        before = existing.get(pair)
        minutes, note = _window(pair, before, blueprint, day)
        responsible = before.responsible if before else STAGE_OWNER
        handoffs.append(HandoffSpec(pair[0], pair[1], minutes, responsible))
        notes[pair] = (note,)
    return tuple(handoffs), notes


def _window(
    pair: tuple[str, str],
    before: HandoffSpec | None,
    blueprint: Blueprint,
    day: float,
) -> tuple[int, str]:
    seen = blueprint.response(*pair)
    elsewhere = ""
    if pair[0] == LEAD and (seen is None or seen.minutes.n < MIN_SAMPLES):
        # A lead's first response is the lead's own answer, whatever stage
        # its deal entered: when the deals from new leads entered a later
        # stage, their responses time the handoff into the first one.
        other = _lead_entries(blueprint, pair[1])
        if other and other[0].minutes.n >= MIN_SAMPLES:
            seen = other[0]
            elsewhere = (
                f"Deals from new leads entered at '{seen.end}', not at "
                f"'{pair[1]}': their first responses time this handoff. "
            )
    if seen is not None and seen.minutes.n >= MIN_SAMPLES and seen.minutes.p80:
        minutes = round_window(seen.minutes.p80, day)
        return minutes, elsewhere + (
            f"{seen.minutes.n:,} first responses seen, 80% within "
            f"{_span(seen.minutes.p80, day)}: "
            f'response_window = "{format_window(minutes, whole(day))}".'
        )
    counted = seen.minutes.n if seen else 0
    if before is not None and before.response_window_minutes is not None:
        return before.response_window_minutes, (
            f"Too few first responses seen ({counted}) to measure: the current "
            "window is kept."
        )
    return whole(day), (
        f"Too few first responses seen ({counted}) to measure: one working day "
        "is a guess."
    )


def _lead_entries(blueprint: Blueprint, first: str) -> list[Response]:
    """The handoffs from a new lead into stages other than `first`, the most
    seen (then the most stays) first."""
    return sorted(
        (r for r in blueprint.responses if r.start == LEAD and r.end != first),
        key=lambda r: (-r.minutes.n, -r.unrecorded),
    )


def round_window(minutes: float, day_minutes: float) -> int:
    """The first step of the ladder 15m, 30m, 1h, 2h, 4h, 1d, 2d, 3d, 5d, 10d
    ... 365d at or above `minutes` (hour steps only below one working day)."""
    day = whole(day_minutes)
    steps = sorted(
        {m for m in _MINUTE_STEPS if m < day} | {d * day for d in _DAY_STEPS}
    )
    return next((step for step in steps if step >= minutes - 1e-9), steps[-1])


def _header(
    blueprint: Blueprint, current: PipelineSpec, keys: list[str], dropped: list[str]
) -> tuple[str, ...]:
    lines = [
        f"Proposed by `dealgate blueprint` for pipeline '{current.key}' from "
        f"{blueprint.scope} ({blueprint.deals:,}: {blueprint.won:,} won, "
        f"{blueprint.lost:,} lost{_span_of_dates(blueprint)})."
    ]
    if blueprint.variants:
        lines.append("The paths they travelled, most common first:")
        lines += [
            f"  {variant.text}: {variant.deals:,} ({percent(variant.share)})"
            for variant in blueprint.variants[:8]
        ]
        if len(blueprint.variants) > 8:
            lines.append(f"  ... and {len(blueprint.variants) - 8} rarer paths")
    lines += dropped
    if len(keys) < MIN_STAGES:
        lines.append(
            f"Only {counted(len(keys), 'stage')} can be proposed; five "
            "to seven is the usual good size. The data shows no more, so none is "
            "made up: split the stage where deals wait longest by what the buyer "
            "does inside it."
        )
    if blueprint.notes:
        lines.append("What the data cannot tell:")
        lines += [f"- {note}" for note in blueprint.notes]
    return tuple(lines)


def _span_of_dates(blueprint: Blueprint) -> str:
    if blueprint.first_closed is None or blueprint.last_closed is None:
        return ""
    first = blueprint.first_closed.date().isoformat()
    last = blueprint.last_closed.date().isoformat()
    return f", closed {first} to {last}"


# --- step 4: the file --------------------------------------------------------


def proposal_text(proposal: Proposal) -> str:
    """The proposal as a pipeline file: comments with the figures, then the
    canonical TOML of `dump_pipeline`, each stage and handoff preceded by
    the reasons for its values. Parses back to `proposal.spec`."""
    out = _comment(proposal.header)
    out += [
        "#",
        "# Review it, edit it, then apply it:",
        "#   dealgate review FILE",
        "#   dealgate pipeline apply FILE --dry-run",
        "",
    ]
    stages = iter(proposal.spec.stages)
    handoffs = iter(proposal.spec.handoffs)
    for line in dump_pipeline(proposal.spec).splitlines():
        if line == "[[stages]]":
            out += _comment(proposal.stage_notes.get(next(stages).key, ()))
        elif line == "[[handoffs]]":
            handoff = next(handoffs)
            ends = (handoff.from_stage, handoff.to_stage)
            out += _comment(proposal.handoff_notes.get(ends, ()))
        out.append(line)
    return "\n".join(out) + "\n"


def _comment(lines: Iterable[str]) -> list[str]:
    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        # "key = value" stays on one line: NUL is no space to textwrap.
        wrapped = textwrap.wrap(
            line.replace(" = ", "\0=\0"),
            _WIDTH - 2,
            subsequent_indent=indent + ("  " if line.startswith("- ") else ""),
        )
        out += [f"# {part}".replace("\0", " ") for part in wrapped or [""]]
    return out


# --- wording -----------------------------------------------------------------


def _days(value: float | None) -> str:
    return "?" if value is None else figure(value, 1)


def _business_days(value: float | None) -> str:
    """ "1 business day", "2.5 business days": the figure as `_days` writes
    it, and the noun agreeing with it."""
    text = _days(value)
    return f"{text} business {'day' if text == '1' else 'days'}"


def _span(minutes: float, day: float) -> str:
    """Business minutes in words: "45 min", "3.5 h", "2 working days"."""
    if minutes < 60:
        return f"{fixed(minutes)} min"
    if minutes < day:
        return f"{figure(quotient(minutes, 60), 1)} h"
    days = figure(quotient(minutes, day), 1)
    return f"{days} working {'day' if days == '1' else 'days'}"
