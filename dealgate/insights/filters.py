"""What an insights page or report looks at: a pipeline, a period and filters.

`read_filters` turns a query string (or the report command's options) into
`Filters`, naming the field in a `ValidationError` when a value is wrong.
Periods are whole days of the pipeline's calendar zone: "from 2017-03-01 to
2017-03-31" runs from local midnight on the 1st to local midnight after the
31st, so figures match the team's own days rather than UTC's. Every period
ends at "now" at the latest (`period_end`): all time, an open-ended "from",
and a period whose last day is today stop at the as-of instant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.db.models import Model, QuerySet

from dealgate.accounts.models import Team, User
from dealgate.core.calendar import Calendar
from dealgate.core.dates import FIRST_YEAR, LAST_YEAR, years_problem
from dealgate.core.names import SharedName, one_named
from dealgate.core.numbers import as_id
from dealgate.deals.models import Product
from dealgate.deals.queries import NO_OWNER, NoOwner
from dealgate.errors import NotFound, ValidationError
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Handoff, Pipeline, Stage

from . import sql

T = TypeVar("T", bound=Model)

# The periods a page offers, in days back from today; "all" has no bounds.
PERIODS = {"30d": 30, "90d": 90, "365d": 365}
DEFAULT_PERIOD = "365d"
DEFAULT_BOTTLENECK_SHARE = 0.4
# A period that runs to "now" ends this long after it, so it includes `now`.
JUST_AFTER = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class PipelineFacts:
    """The pipeline's shape as insights read it, loaded once per request
    (two small queries: stages and handoffs)."""

    pipeline: Pipeline
    stages: list[Stage]  # every stage, retired included, in order
    active: list[Stage]  # the ones a page shows
    # stage id (retired included) -> the rank among `active` it counts at in
    # the funnel (see `live_ranks`)
    ranks: dict[int, int]
    calendar: Calendar
    windows: dict[int, int]  # stage id -> response window (business minutes)
    # rank -> when a redesign added that place to the pipeline (see
    # `places_added`); ranks there from the start are left out
    added: dict[int, dt.datetime] = field(default_factory=dict)

    @property
    def day_minutes(self) -> float:
        return float(self.calendar.day_minutes)

    @property
    def bottleneck_share(self) -> float:
        settings = self.pipeline.settings or {}
        return float(settings.get("bottleneck_share", DEFAULT_BOTTLENECK_SHARE))

    @cached_property
    def by_id(self) -> dict[int, Stage]:
        return {stage.pk: stage for stage in self.stages}


def facts_for(pipeline: Pipeline) -> PipelineFacts:
    # Every stage, retired ones too: history still refers to them (see
    # dealgate.pipelines.services.active_stages).
    stages = list(pipeline.stages.order_by("position", "id"))
    windows = {
        handoff.to_stage_id: handoff.response_window_minutes
        for handoff in Handoff.objects.filter(
            pipeline=pipeline, response_window_minutes__isnull=False
        )
    }
    ranks = live_ranks(stages)
    return PipelineFacts(
        pipeline=pipeline,
        stages=stages,
        active=[stage for stage in stages if stage.retired_at is None],
        ranks=ranks,
        calendar=calendar_for(pipeline),
        windows=windows,
        added=places_added(stages, ranks),
    )


def places_added(stages: list[Stage], ranks: dict[int, int]) -> dict[int, dt.datetime]:
    """Rank -> when its place in the pipeline came to be, for the places a
    redesign added: the earliest `added_at` of the stages counting at that
    rank (the live one and those it replaced), when every one of them has
    one. A stage that replaced one there from the start (a rename, a stage
    taking a dropped one's deals) is no new place: deals reached it before."""
    added: dict[int, dt.datetime] = {}
    unknown: set[int] = set()
    for stage in stages:
        rank = ranks[stage.pk]
        if stage.added_at is None:
            unknown.add(rank)
        elif rank not in added or stage.added_at < added[rank]:
            added[rank] = stage.added_at
    return {rank: at for rank, at in added.items() if rank not in unknown}


def live_ranks(stages: list[Stage]) -> dict[int, int]:
    """Each stage's rank among the live (not retired) `stages`, given in
    pipeline order: what the funnel judges reach against.

    A retired stage counts as the live stage that replaced it, following
    `replaced_by` through stages retired in turn; where that names none (a
    stage retired before the field was kept, or whose replacement was
    deleted), as the last live stage at or before its position, else the
    first live stage. So a deal that stood in a retired stage reached the
    stage that took its place, and never passed one it now stands in.
    """
    live = [stage for stage in stages if stage.retired_at is None]
    rank = {stage.pk: index for index, stage in enumerate(live)}
    by_id = {stage.pk: stage for stage in stages}
    ranks = {}
    for stage in stages:
        found, seen = stage, set()
        while found.retired_at is not None and found.pk not in seen:
            seen.add(found.pk)
            if found.replaced_by_id not in by_id:
                break
            found = by_id[found.replaced_by_id]
        if found.pk in rank:
            ranks[stage.pk] = rank[found.pk]
            continue
        before = [s for s in live if s.position <= found.position]
        ranks[stage.pk] = rank[before[-1].pk] if before else 0
    return ranks


@dataclass(frozen=True)
class Filters:
    """A pipeline, a period of local days (`first` to `last`, both included;
    None for an open end) and optional filters on the deals."""

    facts: PipelineFacts
    period: str  # a key of PERIODS, "all" or "custom"
    first: dt.date | None
    last: dt.date | None
    # A person, or NO_OWNER for the deals no one owns (as on the board).
    owner: User | NoOwner | None = None
    team: Team | None = None
    source: str | None = None
    segment: str | None = None
    product: Product | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # "Now" (`timesource.now()`, the as-of instant): every period ends there
    # at the latest. None only for callers that read no period's figures.
    now: dt.datetime | None = None

    @property
    def pipeline(self) -> Pipeline:
        return self.facts.pipeline

    @property
    def start(self) -> dt.datetime | None:
        return _local_midnight(self.first, self.facts.calendar)

    @property
    def end(self) -> dt.datetime | None:
        return period_end(self.last, self.facts.calendar, self.now)

    @property
    def filters_deals(self) -> bool:
        return self.scope().filters_deals

    def scope(
        self, *, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> sql.Scope:
        """The SQL scope of these filters; `start`/`end` replace the period's."""
        return sql.Scope(
            pipeline_id=self.pipeline.pk,
            stage_ids=tuple(stage.pk for stage in self.facts.stages),
            ranks=tuple(self.facts.ranks[stage.pk] for stage in self.facts.stages),
            start=start if start is not None else self.start,
            end=end if end is not None else self.end,
            owner_id=_owner_id(self.owner),
            team_id=self.team.pk if self.team else None,
            source=self.source,
            segment=self.segment,
            product_id=self.product.pk if self.product else None,
            currency=self.pipeline.currency,
            day_minutes=self.facts.day_minutes,
            zone=self.facts.calendar.timezone,
        )

    def describe(self) -> str:
        """The period and filters in words, for page headings and reports."""
        if self.first is None and self.last is None:
            words = ["all time"]
        else:
            first = self.first.isoformat() if self.first else "the start"
            last = self.last.isoformat() if self.last else "now"
            words = [f"{first} to {last}"]
        if self.owner is NO_OWNER:
            words.append("no owner")
        elif self.owner:
            words.append(f"owner {self.owner.display_name}")
        if self.team:
            words.append(f"team {self.team.name}")
        if self.source:
            words.append(f"source {self.source}")
        if self.segment:
            words.append(f"segment {self.segment}")
        if self.product:
            words.append(f"product {self.product.name}")
        return ", ".join(words)

    def query(self, **changes: str) -> str:
        """The query string that gives these filters, with `changes` applied."""
        values = {
            "pipeline": self.pipeline.key,
            "period": self.period,
            "from": self.first.isoformat() if self.first else "",
            "to": self.last.isoformat() if self.last else "",
            "owner": self.owner.username if self.owner else "",
            "team": str(self.team.pk) if self.team else "",
            "source": self.source or "",
            "segment": self.segment or "",
            "product": self.product.name if self.product else "",
            **self.extra,
        }
        if self.period != "custom":
            values["from"] = values["to"] = ""
        values.update(changes)
        return urlencode({key: value for key, value in values.items() if value})


def read_filters(
    params: Mapping[str, Any], *, today: dt.date | None = None, now: dt.datetime
) -> Filters:
    """Filters from query-string style values (all optional):

    pipeline (key; default the first), period (30d, 90d, 365d, all; default
    365d), from and to (YYYY-MM-DD, either may be left out: a custom period),
    owner (username, or "(none)" for the deals no one owns), team (id or
    name), source, segment (an organization's sector), product (name or
    id). Names (owner, team, product) are found
    ignoring case and spacing, as `_named` says. `today` defaults to `now`'s
    local date.
    """
    pipeline = _pipeline(_text(params, "pipeline"))
    facts = facts_for(pipeline)
    today = today or now.astimezone(facts.calendar.zone).date()
    period, first, last = _period(params, today)
    return Filters(
        facts=facts,
        period=period,
        first=first,
        last=last,
        owner=_owner(_text(params, "owner")),
        team=_team(_text(params, "team")),
        source=_text(params, "source") or None,
        segment=_text(params, "segment") or None,
        product=_product(_text(params, "product")),
        now=now,
    )


def _text(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    return str(value).strip() if value is not None else ""


def _pipeline(key: str) -> Pipeline:
    if key:
        found = Pipeline.objects.filter(key=key).first()
        if found is None:
            raise NotFound(f"no pipeline {key!r}", field="pipeline")
        return found
    first = Pipeline.objects.order_by("pk").first()
    if first is None:
        raise NotFound("there is no pipeline yet; apply a pipeline file first")
    return first


def _period(
    params: Mapping[str, Any], today: dt.date
) -> tuple[str, dt.date | None, dt.date | None]:
    first_text, last_text = _text(params, "from"), _text(params, "to")
    if first_text or last_text:
        first = parse_day(first_text, "from") if first_text else None
        last = parse_day(last_text, "to") if last_text else None
        if first and last and last < first:
            raise ValidationError(
                f"the period ends ({last}) before it starts ({first})", field="to"
            )
        return "custom", first, last
    period = _text(params, "period") or DEFAULT_PERIOD
    if period == "custom":
        # A custom period whose dates were cleared: back to the default.
        period = DEFAULT_PERIOD
    if period == "all":
        return "all", None, None
    if period not in PERIODS:
        known = ", ".join([*PERIODS, "all"])
        raise ValidationError(
            f"period must be one of {known}, or give from/to; got {period!r}",
            field="period",
        )
    return period, today - dt.timedelta(days=PERIODS[period] - 1), today


def parse_day(text: str, name: str) -> dt.date:
    """A day given in a query (`from`, `to`, `week`), in the years every door
    keeps to (`core.dates`): business time, which the figures count in, is
    kept for those years."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{name} must be a date like 2017-03-31; got {text!r}", field=name
        ) from None
    if years_problem(day) is not None:
        raise ValidationError(
            f"{name} must be a date between {FIRST_YEAR} and {LAST_YEAR}; got {text!r}",
            field=name,
        )
    return day


def _owner_id(owner: User | NoOwner | None) -> int | None:
    if owner is NO_OWNER:
        return sql.NO_OWNER_ID
    return owner.pk if owner else None


def _owner(username: str) -> User | NoOwner | None:
    """The person `username` names, or NO_OWNER for "(none)", which no
    username can be, as the board's filter takes it."""
    if not username:
        return None
    if username == NO_OWNER.username:
        return NO_OWNER
    found = _named(User.objects.all(), "username", username, "owner")
    if found is None:
        raise NotFound(f"no user {username!r}", field="owner")
    return found


def _team(text: str) -> Team | None:
    if not text:
        return None
    pk = as_id(text)
    found = (
        Team.objects.filter(pk=pk).first()
        if pk is not None
        else _named(Team.objects.all(), "name", text, "team")
    )
    if found is None:
        raise NotFound(f"no team {text!r}", field="team")
    return found


def _product(text: str) -> Product | None:
    if not text:
        return None
    found = _named(Product.objects.all(), "name", text, "product")
    pk = as_id(text)
    if found is None and pk is not None:
        found = Product.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"no product {text!r}", field="product")
    return found


def _named(rows: QuerySet[T], column: str, text: str, name: str) -> T | None:
    """The row whose `column` is `text` exactly, else the one it names as
    every door finds a record by name (`names.name_key`: case, spacing and
    invisible characters aside). Two rows under one key are refused, naming
    both, rather than one picked. Compares the names in Python: people,
    teams and products are a firm's few (one query for the names, one for
    the row found)."""
    found = rows.filter(**{column: text}).first()
    if found is not None:
        return found
    try:
        pk = one_named(text, rows.order_by("pk").values_list("pk", column))
    except SharedName as shared:
        raise ValidationError(
            f"{name} {text!r} could be any of {shared}; give it as spelled",
            field=name,
        ) from None
    return None if pk is None else rows.filter(pk=pk).first()


def period_end(
    last: dt.date | None, calendar: Calendar, now: dt.datetime | None
) -> dt.datetime | None:
    """Where a period whose last local day is `last` (None: open) ends: at
    local midnight after that day, or at `now` if that comes first. So all
    time, an open-ended period and the current day or week so far count
    nothing after the as-of instant. The one rule for every period's end.

    Periods are half-open (they end before their end), and what happened at
    the instant `now` itself has happened: so the end is the smallest step
    after `now` that the databases keep (a microsecond), as the pipeline
    rebuilt as of `now` counts the events at or before it."""
    day_end = (
        _local_midnight(last + dt.timedelta(days=1), calendar)
        if last is not None
        else None
    )
    if now is None:
        return day_end
    after_now = now + JUST_AFTER
    return after_now if day_end is None else min(day_end, after_now)


def _local_midnight(day: dt.date | None, calendar: Calendar) -> dt.datetime | None:
    if day is None:
        return None
    # fold=0 picks the first of two midnights, and zoneinfo moves a skipped
    # midnight forward: either way the day starts at its first local instant.
    local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=calendar.zone)
    return local.astimezone(dt.UTC)
