"""Insights read from the database: each function runs one or two aggregate
queries (see `dealgate.insights.sql`) and returns a small result.

Definitions, in words (the pages and docs/insights.md say the same):

Conversion (`funnel`)
    Population: deals that entered the pipeline in the period (created then,
    or for imports without a creation date, entered their first known stage
    then). A deal reached stage k if it ever stood in k or in a later stage,
    or was won: a skipped stage counts as passed. Conversion of k is the share
    of the deals that reached k which also reached a later stage or were won.
    Each deal counts once per stage, however often it moved back and forth. A
    deal counts as won only if it is won now (a win that was reopened does not
    count; a loss that was reopened and then won does). A deal whose history
    records no entry (imported) reached the stage it stands in, or closed
    from. Stages are the live ones: a deal that stood in a retired stage
    reached the live stage that replaced it (`filters.live_ranks`), so every
    deal counts once as passed, lost or still open at a live stage.
Time in stage (`time_in_stage`)
    Every stay that ended in the period, by the stage left, whether the deal
    moved on, back, or closed. A deal that visits a stage twice gives two
    stays. Measured in business days when every stay of that stage with an
    entry time carries business minutes, else in calendar days (24-hour
    periods) for the whole stage; the unit is reported with the figure. A
    stay with no entry time has no duration in either unit: it is counted,
    as without a duration, and does not change the unit. Stays in a retired stage
    stay its own, under its name, listed when some ended in the period.
Open deal age (`open_ages`)
    Business days since each open deal entered its current stage, now.
Win rate, average won value, sales cycle (`outcomes`)
    Over deals closed (won or lost) in the period, as they stand now. Win rate
    is won / (won + lost). Average won value is over won deals with a value in
    the pipeline's currency. The cycle is days of 24 hours from creation to win.
Sales velocity
    open deals now x win rate x average won value / mean cycle (per day), a
    mean cycle under one day counted as one day (`metrics.velocity_cycle_days`).
    With deals closed and none won (a win rate of 0) it is 0 a day; unknown
    when another factor is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Value,
    When,
)

from dealgate.clocks.models import Clock
from dealgate.core import metrics as m
from dealgate.core.rounding import rounded
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.queries import owned_by, stage_age
from dealgate.imports.bulk import EVENT_SOURCE as IMPORT_SOURCE
from dealgate.pipelines.models import Stage
from dealgate.web.head import answering_head

from . import rollups, sql
from .filters import Filters, PipelineFacts

QUANTILES = (0.5, 0.8)
RECLAIM_AFTER = 50_000  # folded changes after which the log is vacuumed
log = logging.getLogger("dealgate.insights")
SORT_MEMORY = "64MB"
BUSINESS_DAYS = "business days"
CALENDAR_DAYS = "calendar days"
DAYS = CALENDAR_DAYS  # the sales cycle: dates in the pipeline's zone


def dialect() -> sql.Dialect:
    return sql.Dialect(connection.vendor)


def fold() -> int:
    """Fold the rollups' change log into the daily rows; returns how many
    changes were folded. Reads are exact without it (they add the log not yet
    folded); folding keeps that part small. Runs in its own short transaction
    so that a page never holds a write lock while it reads, takes no write
    lock at all when the log is empty, and on SQLite gives up at once rather
    than wait while another writer (an import, the sweeper) holds the lock.
    A HEAD request folds nothing: it changes nothing stored
    (dealgate.web.head), and its answer is exact without folding."""
    if answering_head():
        return 0
    if not fetch(sql.Query(f"SELECT EXISTS (SELECT 1 FROM {rollups.CHANGE})"))[0][0]:
        return 0
    if connection.vendor == "sqlite":
        try:
            with _sqlite_without_waiting():
                return _fold()
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            log.info("rollups not folded: another writer holds the database")
            return 0
    return _fold()


@contextlib.contextmanager
def _sqlite_without_waiting() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (waited,) = cursor.fetchone()
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(waited)}")


def _fold() -> int:
    vendor = connection.vendor
    with transaction.atomic():
        if vendor == "postgresql":
            folded, removals = fetch(rollups.fold_postgresql())[0]
        else:
            last = fetch(sql.Query(f"SELECT MAX(id) FROM {rollups.CHANGE}"))[0][0]
            if last is None:
                return 0
            folded = fetch(
                sql.Query(
                    f"SELECT COUNT(*), COUNT(CASE WHEN sign < 0 THEN 1 END) "
                    f"FROM {rollups.CHANGE} WHERE id <= %s",
                    (last,),
                )
            )[0]
            folded, removals = folded
            with connection.cursor() as cursor:
                for query in rollups.fold_sqlite(last):
                    cursor.execute(query.sql, query.params)
        if removals:
            with connection.cursor() as cursor:
                for query in rollups.drop_empty():
                    cursor.execute(query.sql, query.params)
    if (
        vendor == "postgresql"
        and folded >= RECLAIM_AFTER
        and not connection.in_atomic_block
    ):
        # The deleted log rows stay in the table until a vacuum; a big fold
        # (after an import) would leave every later fold and read scanning
        # them. VACUUM cannot run inside a transaction, so only here.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {rollups.CHANGE}")
    return int(folded)


# Statements a page may run beside its own connection on PostgreSQL, each on
# a connection of its own that shares the page's snapshot.
BESIDE = 3
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")


@dataclass
class _Beside:
    """The page's exported snapshot and the statements sent ahead of it."""

    snapshot: str
    pool: ThreadPoolExecutor
    pending: dict[tuple[str, tuple[Any, ...]], Future[list[tuple[Any, ...]]]]


_local = threading.local()


def _tune(cursor: Any) -> None:
    """Settings for a transaction that reads insights on PostgreSQL.

    Room to sort in memory: the percentiles sort up to a million values per
    stage, and the default 4 MB of work_mem would spill them to disk. No JIT:
    compiling the expressions of a statement cost 70-100 ms per big statement
    (EXPLAIN ANALYZE), more than it saved over a few million rows.
    """
    cursor.execute(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
    cursor.execute("SET LOCAL jit = off")


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Fold the rollups, then run a page's queries in one transaction.

    On PostgreSQL, when the page's transaction is the outermost one, it
    reads at REPEATABLE READ and exports its snapshot, so that statements
    sent `ahead` run on other connections side by side with the page and
    see exactly what the page sees. Nested in another transaction (whose
    writes other connections cannot see) every statement stays on the page's
    connection.
    """
    fold()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            if outermost:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            _tune(cursor)
            if not outermost:
                snapshot = None
            else:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
        if snapshot is None or BESIDE < 1:
            yield
            return
        state = _Beside(snapshot, ThreadPoolExecutor(BESIDE), {})
        _local.state = state
        try:
            yield
        finally:
            _local.state = None
            # The snapshot lives as long as this transaction: let every
            # statement still running finish before the transaction ends.
            state.pool.shutdown(wait=True, cancel_futures=True)


def ahead(queries: Sequence[sql.Query]) -> None:
    """Start `queries` on other connections now; `fetch` of the same query
    later in the page takes the result. Does nothing outside a session that
    can run statements beside it (SQLite, a nested transaction)."""
    state = getattr(_local, "state", None)
    if state is None:
        return
    for query in queries:
        key = (query.sql, tuple(query.params))
        if key not in state.pending:
            state.pending[key] = state.pool.submit(_run_beside, state.snapshot, query)


def _run_beside(snapshot: str, query: sql.Query) -> list[tuple[Any, ...]]:
    """Run one statement on this thread's own connection, in the snapshot
    the page exported."""
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            _tune(cursor)
            cursor.execute(query.sql, query.params)
            return cursor.fetchall()
    finally:
        connection.close()


def fetch(query: sql.Query) -> list[tuple[Any, ...]]:
    state = getattr(_local, "state", None)
    if state is not None:
        future = state.pending.pop((query.sql, tuple(query.params)), None)
        # One not started yet runs here rather than wait for a free worker.
        if future is not None and not future.cancel():
            return future.result()
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        return cursor.fetchall()


@dataclass(frozen=True)
class Spread:
    """A distribution in brief: how many values, their median and 80th
    percentile, and the unit they are in."""

    n: int
    median: float | None
    p80: float | None
    unit: str


def spreads(
    rows: sql.Query,
    *,
    quantiles: Sequence[float] = QUANTILES,
    dialect_: sql.Dialect | None = None,
) -> dict[Any, tuple[int, list[float]]]:
    """Run `sql.percentiles` over `rows`; returns group -> (n, percentiles)."""
    dialect_ = dialect_ or dialect()
    result = fetch(sql.percentiles(dialect_, rows, quantiles))
    if dialect_.native_percentiles:
        return {row[0]: (row[1], [float(v) for v in row[2:]]) for row in result}
    return _from_ranks(result, quantiles, float)


def _from_ranks(
    result: list[tuple[Any, ...]],
    quantiles: Sequence[float],
    value: Callable[[Any], float],
) -> dict[Any, tuple[int, list[float]]]:
    """Finish `sql.ranked` output: a few rows per group, never one per deal."""
    ranks: dict[Any, dict[int, Any]] = defaultdict(dict)
    sizes: dict[Any, int] = {}
    for group, n, rank, v in result:
        ranks[group][rank] = v
        sizes[group] = n
    out = {}
    for group, by_rank in ranks.items():
        values = {rank: value(v) for rank, v in by_rank.items()}
        n = sizes[group]
        out[group] = (n, [m.percentile_from_ranks(n, q, values) for q in quantiles])
    return out


# -- the pipeline now -----------------------------------------------------------


@dataclass(frozen=True)
class StageNow:
    """Open deals in one stage now: the pipeline view and the stage's width."""

    stage: Stage
    count: int
    share: float | None  # of all open deals (in the filters), 0 to 1
    wide: bool  # share over the pipeline's bottleneck share
    unknown_entry: int  # open deals whose stage entry date is unknown
    past_limit: int  # open deals that have reached the stage's age limit
    age: Spread | None  # business days in the stage, of deals with a known entry

    @property
    def over_limit(self) -> bool:
        """Whether the stage's median age is over its age limit."""
        limit = self.stage.age_limit_days
        return (
            limit is not None
            and self.age is not None
            and self.age.median is not None
            and self.age.median >= limit
        )


def pipeline_now(filters: Filters, now: dt.datetime) -> list[StageNow]:
    """Deals open at `now` per active stage with widths, ages and limits (two
    queries: a GROUP BY of the open deals, and the ranked entry dates for
    median ages).

    The pipeline is read as it stood at `now` (`sql.standing`): with an
    as-of date in the past, deals created later are left out, deals closed
    later are open, and each stands in the stage it stood in then, aged from
    when it entered it. A deal that stood in a stage since retired counts in
    the stage that replaced it.
    """
    facts = filters.facts
    scope = filters.scope()
    late = {
        rank: latest_late_entry(facts, stage.age_limit_days, now)
        for rank, stage in enumerate(facts.active)
        if stage.age_limit_days is not None
    }
    counts = {
        row[0]: row[1:] for row in fetch(sql.open_by_stage(dialect(), scope, now, late))
    }
    ages = open_ages(filters, now)
    flags = m.share_flags(
        [counts.get(rank, (0,))[0] for rank in range(len(facts.active))],
        facts.bottleneck_share,
    )
    result = []
    for rank, (stage, (share, wide)) in enumerate(
        zip(facts.active, flags, strict=True)
    ):
        count, known, past = counts.get(rank, (0, 0, 0))
        result.append(
            StageNow(
                stage=stage,
                count=count,
                share=share,
                wide=wide,
                unknown_entry=count - known,
                past_limit=int(past or 0),
                age=ages.get(rank),
            )
        )
    return result


def latest_late_entry(
    facts: PipelineFacts, limit_days: float, now: dt.datetime
) -> dt.datetime:
    """The instant before which an entry makes a deal older than `limit_days`
    business days at `now` (ages as the board counts them)."""
    return m.entered_before_for_age(facts.calendar, now, limit_days)


def open_ages(filters: Filters, now: dt.datetime) -> dict[int, Spread]:
    """Median and 80th percentile age (business days) at `now` of the deals
    open then, per stage rank (its place among the active stages).

    Age falls as the entry date rises, so the percentiles of ages are the ages
    of the entry dates at the matching ranks, newest first: the database ranks
    the dates and returns four per stage; only those are turned into business
    days here.
    """
    dialect_ = dialect()
    query = sql.ranked(
        dialect_,
        sql.open_entries(dialect_, filters.scope(), now),
        QUANTILES,
        descending=True,
    )
    calendar = filters.facts.calendar

    def age(value: Any) -> float:
        return stage_age(_instant(value), now, limit=None, calendar=calendar).elapsed

    found = _from_ranks(fetch(query), QUANTILES, age)
    return {
        rank: Spread(n, median, p80, BUSINESS_DAYS)
        for rank, (n, (median, p80)) in found.items()
    }


def _instant(value: Any) -> dt.datetime:
    """An instant as a raw cursor returns it: aware on PostgreSQL, naive UTC
    text on SQLite."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


@dataclass(frozen=True)
class OldDeal:
    """An open deal in a stage at an instant, and when it had entered it."""

    deal: Deal
    entered_at: dt.datetime


def oldest_open(
    filters: Filters, stage: Stage, now: dt.datetime, limit: int = 5
) -> list[OldDeal]:
    """The deals open at `now` that had sat longest in `stage` then (known
    entries only), oldest first: one query for the ids, one for the deals."""
    rank = filters.facts.active.index(stage)
    rows = fetch(sql.oldest_open(dialect(), filters.scope(), now, rank, limit))
    deals = Deal.objects.select_related("owner", "organization").in_bulk(
        [deal_id for deal_id, _ in rows]
    )
    return [OldDeal(deals[deal_id], _instant(entered)) for deal_id, entered in rows]


def _filtered(deals: QuerySet[Deal], filters: Filters) -> QuerySet[Deal]:
    """Apply the deal filters of `filters` to an ORM queryset of deals."""
    deals = deals.filter(owned_by(filters.owner))
    if filters.team:
        deals = deals.filter(owner__team=filters.team)
    if filters.source:
        deals = deals.filter(source=filters.source)
    if filters.segment:
        deals = deals.filter(organization__sector=filters.segment)
    if filters.product:
        deals = deals.filter(product=filters.product)
    return deals


def filtered_deals(filters: Filters) -> QuerySet[Deal]:
    """Deals of the pipeline under the filters (no period), as a queryset."""
    return _filtered(Deal.objects.filter(pipeline=filters.pipeline), filters)


# -- conversion -------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelRow:
    stage: Stage
    step: m.FunnelStep
    # A stage a redesign added: when its place came to be, and the deals of
    # the population already past it then, left out of its step.
    added_at: dt.datetime | None = None
    past_before: int = 0


@dataclass(frozen=True)
class Funnel:
    rows: list[FunnelRow]
    population: int  # deals that entered the pipeline in the period
    won: int
    undated: int  # deals left out because their entry date is unknown

    @property
    def win_share(self) -> float | None:
        return m.rate(self.won, self.population)


def funnel(filters: Filters, at: dt.datetime | None = None) -> Funnel:
    """Stage-to-stage conversion over the deals that entered in the period
    (one query over the deals and the few backward events, and with a bounded
    period one count of the deals that have no date at all). With `at`, as
    things stood then (`sql.reach`): outcomes and stages later than `at` do
    not count."""
    dialect_ = dialect()
    scope = _funnel_scope(filters, at)
    counts = {
        (rank, status): number
        for rank, status, number in fetch(sql.reach(dialect_, scope, at))
    }
    undated = 0
    if scope.start is not None or scope.end is not None:
        undated = fetch(sql.undated(dialect_, scope))[0][0]
    added = _added_in_scope(filters, scope)
    # Only a pipeline a redesign added to, within the period, asks more.
    past = (
        {
            int(rank): int(number)
            for rank, number in fetch(sql.passed_before(dialect_, scope, at, added))
        }
        if added
        else {}
    )
    # Ranks are of the live stages only (retired ones count as their
    # replacement's), so every rank has its row.
    active = filters.facts.active
    steps = m.funnel(counts, len(active))
    rows = [
        FunnelRow(
            stage=stage,
            step=replace(
                step,
                entered=step.entered - past.get(rank, 0),
                passed=step.passed - past.get(rank, 0),
            ),
            added_at=added.get(rank),
            past_before=past.get(rank, 0),
        )
        for rank, (stage, step) in enumerate(zip(active, steps, strict=True))
    ]
    won = sum(n for (_, status), n in counts.items() if status == "won")
    return Funnel(rows=rows, population=sum(counts.values()), won=won, undated=undated)


def _added_in_scope(filters: Filters, scope: sql.Scope) -> dict[int, dt.datetime]:
    """The places a redesign added (`PipelineFacts.added`) that some deal of
    the funnel's population could have gone past before: those added after
    the period began (or over all time, any)."""
    return {
        rank: instant
        for rank, instant in filters.facts.added.items()
        if scope.start is None or instant > scope.start
    }


def _funnel_scope(filters: Filters, at: dt.datetime | None) -> sql.Scope:
    """The funnel's scope. A period with no last day ends at "now" like any
    other (`period_end`), but the funnel reads the deals as they stood at
    `at` (or as they stand), which leaves out those entered later already:
    its end stays open, so over all time the deals with no date at all
    still count."""
    scope = filters.scope()
    if filters.last is None:
        return replace(scope, end=None)
    return scope


# -- time in stage ------------------------------------------------------------------


@dataclass(frozen=True)
class StageTime:
    stage: Stage
    exits: int  # stays that ended in the period
    unmeasured: int  # of those, stays with neither business minutes nor entry time
    spread: Spread | None


def time_in_stage(filters: Filters) -> list[StageTime]:
    """Median and 80th percentile time spent per stage, over stays that ended
    in the period: every live stage, and each retired stage (its own stays,
    under its own name) that has a stay ending in the period.

    On PostgreSQL one pass gives the counts and the business-time percentiles;
    stages where some stay with an entry time lacks business minutes take a
    second query in wall-clock days. SQLite, without percentile_cont, counts
    first and then ranks the values (two queries).
    """
    dialect_ = dialect()
    scope = filters.scope()
    if dialect_.native_percentiles:
        rows = fetch(sql.exit_spreads(dialect_, scope, QUANTILES))
        counts = {row[0]: row[1:4] for row in rows}
        found = {
            row[0]: (row[2], [v / scope.day_minutes for v in row[4:]])
            for row in rows
            if _in_business_days(*row[1:4])
        }
        business = list(found)
        mixed = [stage_id for stage_id in counts if stage_id not in found]
        if mixed:
            query = sql.stage_durations(dialect_, scope, [], only_stage_ids=mixed)
            found.update(spreads(query, dialect_=dialect_))
    else:
        counts = {row[0]: row[1:] for row in fetch(sql.exit_counts(dialect_, scope))}
        business = [
            stage_id
            for stage_id, (total, with_minutes, with_entry) in counts.items()
            if _in_business_days(total, with_minutes, with_entry)
        ]
        query = sql.stage_durations(dialect_, scope, business)
        found = spreads(query, dialect_=dialect_)
    result = []
    for stage in filters.facts.stages:
        if stage.retired_at is not None and not counts.get(stage.pk, (0,))[0]:
            continue
        total, with_minutes, with_entry = counts.get(stage.pk, (0, 0, 0))
        measured = with_minutes if stage.pk in business else with_entry
        spread = None
        if stage.pk in found:
            n, (median, p80) = found[stage.pk]
            unit = BUSINESS_DAYS if stage.pk in business else CALENDAR_DAYS
            spread = Spread(n, median, p80, unit)
        result.append(
            StageTime(
                stage=stage, exits=total, unmeasured=total - measured, spread=spread
            )
        )
    return result


def _in_business_days(total: int, with_minutes: int, with_entry: int) -> bool:
    """Whether a stage's stays are measured in business days: some stay has
    business minutes, and every stay with an entry time has them. Minutes
    are only ever written from an entry time, so the counts tell. A stay
    with neither (an import with no stage-entry date) is counted as without
    a duration and leaves the unit alone; only one with an entry time but
    no minutes (an older import) turns the stage to calendar days."""
    return bool(total and with_minutes and with_minutes == with_entry)


# -- outcomes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outcomes:
    """Deals closed in the period (in a group, for breakdowns)."""

    key: Any
    won: int
    lost: int
    valued: int  # won deals with a value in the pipeline's currency
    won_value: Decimal | None  # their total
    cycle: Spread | None  # calendar days from creation to win
    cycle_mean: float | None

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def win_rate(self) -> float | None:
        return m.rate(self.won, self.closed)

    @property
    def average_won_value(self) -> float | None:
        total = float(self.won_value) if self.won_value is not None else None
        return m.average(total, self.valued)


def outcomes(filters: Filters, by: str | None = None) -> list[Outcomes]:
    """Win rate, won value and cycle length of deals closed in the period,
    for all deals (`by` None: one row) or per owner, team, product, source or
    segment (two queries: sums per group, then cycle percentiles per group)."""
    grouping = sql.GROUPINGS[by] if by else sql.ALL
    dialect_ = dialect()
    scope = filters.scope()
    from_rollup = rollups.closed(dialect_, scope, by)
    if from_rollup is not None:
        # Counts and sums from the daily rollup; the percentiles still sort
        # the won deals' cycles.
        rows = fetch(from_rollup)
        cycles = spreads(sql.cycle_days(dialect_, scope, grouping), dialect_=dialect_)
    elif dialect_.native_percentiles:
        rows = fetch(_outcome_statement(dialect_, scope, by))
        cycles = {row[0]: (row[5], row[7:]) for row in rows}
        rows = [row[:7] for row in rows]
    else:
        rows = fetch(sql.closed(dialect_, scope, grouping))
        cycles = spreads(sql.cycle_days(dialect_, scope, grouping), dialect_=dialect_)
    totals = _cycle_totals(dialect_, scope, grouping)
    return _outcome_rows(rows, cycles, totals, total=by is None)


def _cycle_totals(
    dialect_: sql.Dialect, scope: sql.Scope, grouping: sql.Grouping
) -> dict[Any, tuple[int, float]]:
    """Group -> (won deals with a creation date, their total calendar days):
    the mean cycle, which the sums of `sql.closed` and the rollup (elapsed
    days) do not give."""
    rows = fetch(sql.cycle_totals(dialect_, scope, grouping))
    return {key: (int(n), float(days)) for key, n, days in rows if n}


def won_in_other_currencies(filters: Filters) -> int:
    """Won deals closed in the period with a value in a currency other than
    the pipeline's: left out of the won value and its average (one count)."""
    deals = _won_in_other_currencies(filters)
    if filters.start is not None:
        deals = deals.filter(closed_at__gte=filters.start)
    if filters.end is not None:
        deals = deals.filter(closed_at__lt=filters.end)
    return deals.count()


def won_in_other_currencies_by_span(
    filters: Filters, bounds: Sequence[dt.datetime]
) -> dict[int, int]:
    """`won_in_other_currencies` per span between consecutive `bounds` (0 for
    the first), placed as `sql.buckets` places the won value; spans with none
    are left out. One GROUP BY."""
    if len(bounds) < 2:
        return {}
    span = Case(
        *[
            When(closed_at__lt=bound, then=Value(i))
            for i, bound in enumerate(bounds[1:])
        ],
        output_field=IntegerField(),
    )
    rows = (
        _won_in_other_currencies(filters)
        .filter(closed_at__gte=bounds[0], closed_at__lt=bounds[-1])
        .annotate(span=span)
        .values_list("span")
        .annotate(n=Count("pk"))
    )
    return {int(index): int(n) for index, n in rows if index is not None}


def _won_in_other_currencies(filters: Filters) -> QuerySet[Deal]:
    return (
        filtered_deals(filters)
        .filter(status=Deal.Status.WON, value__isnull=False)
        .exclude(currency=filters.pipeline.currency)
        .order_by()
    )


def outcomes_and_total(filters: Filters, by: str) -> tuple[Outcomes, list[Outcomes]]:
    """`outcomes(filters)[0]` and `outcomes(filters, by)`, the same figures.

    Where the rollup holds the sums of both and the database has
    percentile_cont, the cycle percentiles overall and per group come from
    one pass over the won deals (GROUPING SETS) instead of two, measured
    30% less time over a million deals."""
    dialect_ = dialect()
    scope = filters.scope()
    combined = _combined_cycles(dialect_, scope, by)
    if combined is None:
        return outcomes(filters)[0], outcomes(filters, by)
    total_rows = fetch(rollups.closed(dialect_, scope, None))
    group_rows = fetch(rollups.closed(dialect_, scope, by))
    total_cycles: dict[Any, tuple[int, list[float]]] = {}
    group_cycles: dict[Any, tuple[int, list[float]]] = {}
    for is_total, key, n, *values in fetch(combined):
        if not n:
            continue  # the row over all groups when no deal was won
        found = (n, [float(v) for v in values])
        if is_total:
            # The key `sql.ALL` gives the one row over all deals.
            total_cycles[0] = found
        else:
            group_cycles[key] = found
    return (
        _outcome_rows(
            total_rows,
            total_cycles,
            _cycle_totals(dialect_, scope, sql.ALL),
            total=True,
        )[0],
        _outcome_rows(
            group_rows,
            group_cycles,
            _cycle_totals(dialect_, scope, sql.GROUPINGS[by]),
            total=False,
        ),
    )


def _combined_cycles(
    dialect_: sql.Dialect, scope: sql.Scope, by: str
) -> sql.Query | None:
    """The one statement of cycle percentiles overall and per `by` that
    `outcomes_and_total` runs, or None where it asks `outcomes` twice."""
    if not dialect_.native_percentiles:
        return None
    if rollups.serving_dim(scope, None) is None:
        return None
    if rollups.serving_dim(scope, by) is None:
        return None
    rows = sql.cycle_days(dialect_, scope, sql.GROUPINGS[by])
    return sql.percentiles_with_total(dialect_, rows, QUANTILES)


def _outcome_rows(
    rows: Sequence[Sequence[Any]],
    cycles: dict[Any, tuple[int, list[float]]],
    totals: dict[Any, tuple[int, float]],
    *,
    total: bool,
) -> list[Outcomes]:
    """Outcomes from rows (group, won, lost, valued, value, and the rollup's
    dated and elapsed days, not read), the cycle percentiles per group and
    the cycle's totals in calendar days per group (`_cycle_totals`); with
    `total`, one row even when no deal closed."""
    result = []
    for key, won, lost, valued, value, _dated, _elapsed in rows:
        dated, days = totals.get(key, (0, None))
        cycle = None
        n, (median, p80) = cycles.get(key, (0, (None, None)))
        if n and median is not None:
            cycle = Spread(int(n), float(median), float(p80), DAYS)
        result.append(
            Outcomes(
                key=key,
                won=int(won or 0),
                lost=int(lost or 0),
                valued=int(valued or 0),
                won_value=_decimal(value),
                cycle=cycle,
                cycle_mean=m.average(
                    float(days) if days is not None else None, int(dated or 0)
                ),
            )
        )
    if total and not result:
        result.append(Outcomes(None, 0, 0, 0, None, None, None))
    return result


def _outcome_statement(
    dialect_: sql.Dialect, scope: sql.Scope, by: str | None
) -> sql.Query:
    """The statement of `outcomes` that sorts won deals (native percentiles):
    the cycle percentiles beside the rollup's sums, or with no rollup for
    these filters the sums and percentiles in one pass over the deals."""
    grouping = sql.GROUPINGS[by] if by else sql.ALL
    if rollups.serving_dim(scope, by) is not None:
        return sql.percentiles(
            dialect_, sql.cycle_days(dialect_, scope, grouping), QUANTILES
        )
    return sql.closed(dialect_, scope, grouping, QUANTILES)


def overview_ahead(filters: Filters, by: str, now: dt.datetime) -> None:
    """Start the overview's slowest statements on other connections (see
    `ahead`): time in stage, the cycle percentiles and the funnel, in the
    order the page needs them last. Each is built as the function that reads
    it builds it, so `fetch` finds it."""
    dialect_ = dialect()
    if not dialect_.native_percentiles:
        return
    scope = filters.scope()
    combined = _combined_cycles(dialect_, scope, by)
    cycles = (
        [combined]
        if combined is not None
        else [
            _outcome_statement(dialect_, scope, None),
            _outcome_statement(dialect_, scope, by),
        ]
    )
    ahead(
        [
            sql.exit_spreads(dialect_, scope, QUANTILES),
            *cycles,
            sql.reach(dialect_, _funnel_scope(filters, now), now),
        ]
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    # SQLite sums decimals as floats: round back to cents.
    return rounded(value, 2)


@dataclass(frozen=True)
class Velocity:
    open_deals: int
    win_rate: float | None
    average_won_value: float | None
    cycle_days: float | None
    currency: str

    @property
    def per_day(self) -> float | None:
        """None when a factor is unknown, except that with deals closed and
        none won (a win rate of 0) the pipeline brings in nothing a day,
        whatever a won deal would have been worth or taken."""
        if self.win_rate == 0:
            return 0.0
        return m.sales_velocity(
            self.open_deals, self.win_rate, self.average_won_value, self.cycle_days
        )

    @property
    def cycle_floored(self) -> bool:
        """Whether the mean cycle was under a day and counts as one."""
        return self.cycle_days is not None and 0 <= self.cycle_days < 1


# -- losses -----------------------------------------------------------------------


@dataclass(frozen=True)
class LossRow:
    stage: Stage
    reason: str
    deals: int


def losses(filters: Filters) -> list[LossRow]:
    """Deals lost in the period by the stage they were lost from, as their
    history records it (`sql.closed_from`: a stage removed since is listed,
    retired), and reason, most first. One GROUP BY over the daily rollup,
    with the few losses a redesign moved put back; over the deals when
    filters apply."""
    by_id = filters.facts.by_id
    dialect_, scope = dialect(), filters.scope()
    query = rollups.lost_by_stage(dialect_, scope) or sql.lost_by_stage(dialect_, scope)
    rows = [
        LossRow(stage=by_id[stage_id], reason=reason or "", deals=int(number))
        for stage_id, reason, number in fetch(query)
        if stage_id in by_id
    ]
    return sorted(rows, key=lambda row: (row.stage.position, -row.deals, row.reason))


# -- lead response ----------------------------------------------------------------


@dataclass(frozen=True)
class ResponseTimes:
    """How fast assigned leads were answered (business time unless said)."""

    leads: int  # assigned in the period
    answered: int
    within_5_minutes: int
    within_1_hour: int
    within_1_day: int  # one business day of the pipeline's calendar
    business_minutes: Spread | None  # of answered leads
    wall_minutes: Spread | None

    def share(self, count: int) -> float | None:
        return m.rate(count, self.leads)


def response_times(filters: Filters) -> ResponseTimes:
    """Lead response over leads assigned in the period (three small queries
    on the leads table)."""
    dialect_ = dialect()
    scope = filters.scope()
    rows = fetch(sql.lead_responses(dialect_, scope))
    _, leads, answered, five, hour, day = rows[0] if rows else (0, 0, 0, 0, 0, 0)
    spreads_ = {}
    for column, unit in (("business", "business minutes"), ("wall", "minutes")):
        found = spreads(
            sql.lead_response_times(dialect_, scope, column), dialect_=dialect_
        )
        if found:
            n, (median, p80) = next(iter(found.values()))
            spreads_[column] = Spread(n, median, p80, unit)
    return ResponseTimes(
        leads=int(leads or 0),
        answered=int(answered or 0),
        within_5_minutes=int(five or 0),
        within_1_hour=int(hour or 0),
        within_1_day=int(day or 0),
        business_minutes=spreads_.get("business"),
        wall_minutes=spreads_.get("wall"),
    )


# -- the pipeline's design ------------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    """A stage missing one of the rules that keep deals moving."""

    stage: Stage
    missing: list[str]


def design_leaks(facts: PipelineFacts) -> list[Leak]:
    """Active stages with no owner, no exit criteria, no response window on
    the handoff into them, or no age limit. Reads nothing beyond `facts`."""
    from dealgate.deals.services import criteria_set

    leaks = []
    for stage in facts.active:
        missing = []
        if _ownerless(stage):
            missing.append("owner")
        if not criteria_set(stage.exit_criteria).items:
            missing.append("exit criteria")
        if facts.windows.get(stage.pk) is None:
            missing.append("response window")
        if stage.age_limit_days is None:
            missing.append("age limit")
        if missing:
            leaks.append(Leak(stage=stage, missing=missing))
    return leaks


def _ownerless(stage: Stage) -> bool:
    kinds = Stage.OwnerKind
    if stage.owner_kind == kinds.DEAL_OWNER:
        return False
    if stage.owner_kind == kinds.PERSON:
        return stage.owner_user_id is None
    if stage.owner_kind == kinds.TEAM:
        return stage.owner_team_id is None
    return True


# -- clocks ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockTally:
    """Obligations on deals in one stage that fell due in the period.

    `kept` and `missed` count the clocks of stays that began in Dealgate: the
    team had the whole window or limit to act in. `imported_kept` and
    `imported_missed` count those of stays that began before the deal was
    imported (the clock counts from the entry date the file gave): Dealgate
    held the deal for only part of the stay, and the missed ones include the
    deals that arrived already past their limit."""

    stage: Stage
    kind: str  # "response" (a handoff's window) or "age" (the stage's limit)
    kept: int
    missed: int
    imported_kept: int = 0
    imported_missed: int = 0

    @property
    def missed_share(self) -> float | None:
        """Of the clocks of stays begun in Dealgate, the share missed."""
        return m.rate(self.missed, self.kept + self.missed)


def closed_without_clocks(filters: Filters) -> int:
    """Deals closed in the period that never had a response or age clock:
    those imported already closed (Dealgate ran no clock for them), so the
    clock tallies say nothing of them."""
    deals = filtered_deals(filters).filter(status__in=("won", "lost"))
    if filters.start is not None:
        deals = deals.filter(closed_at__gte=filters.start)
    if filters.end is not None:
        deals = deals.filter(closed_at__lt=filters.end)
    clocks = Clock.objects.filter(
        deal=OuterRef("pk"), kind__in=(Clock.Kind.RESPONSE, Clock.Kind.AGE)
    )
    return deals.exclude(Exists(clocks)).count()


def clock_tallies(filters: Filters) -> list[ClockTally]:
    """Response windows and age limits kept or missed per stage, over the deal
    clocks due in the period that have been decided (met or breached), with
    the clocks of imported stays apart. One GROUP BY over the clocks.

    An import writes no time of its own, but it writes the entry into each
    open deal's stage as a stage event of source "import" at the entry date
    the file gave, and starts the age clock from that same instant
    (`clocks.services.start_missing_clocks`). A clock whose start is such an
    entry into its stage times a stay that began before Dealgate had the
    deal; any other clock was started by something done in Dealgate."""
    kinds = (Clock.Kind.RESPONSE, Clock.Kind.AGE)
    clocks = Clock.objects.filter(
        pipeline=filters.pipeline,
        deal__isnull=False,
        stage__isnull=False,
        kind__in=kinds,
        state__in=(Clock.State.MET, Clock.State.BREACHED),
    )
    if filters.start is not None:
        clocks = clocks.filter(due_at__gte=filters.start)
    if filters.end is not None:
        clocks = clocks.filter(due_at__lt=filters.end)
    if filters.filters_deals:
        clocks = clocks.filter(deal__in=filtered_deals(filters).values("pk"))
    imported_entry = StageEvent.objects.filter(
        deal=OuterRef("deal"),
        to_stage=OuterRef("stage"),
        at=OuterRef("started_at"),
        source=IMPORT_SOURCE,
    )
    clocks = clocks.annotate(imported=Exists(imported_entry))
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    rows = clocks.values_list("stage_id", "kind", "state", "imported").annotate(
        n=Count("id")
    )
    for stage_id, kind, state, imported, number in rows.order_by():
        column = 2 * bool(imported) + (state == Clock.State.BREACHED)
        counts[(stage_id, kind)][column] += number
    by_id = filters.facts.by_id
    return [
        ClockTally(by_id[stage_id], kind, *tally)
        for (stage_id, kind), tally in sorted(
            counts.items(), key=lambda item: (by_id[item[0][0]].position, item[0][1])
        )
        if stage_id in by_id
    ]
