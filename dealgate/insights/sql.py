"""The SQL behind every insight, as text and parameters.

Builders here return a `Query`; `dealgate.insights.queries` runs them through
Django's connection and the benchmark runs the same text on DuckDB, so this
module imports nothing from Django. The text is portable across PostgreSQL,
SQLite and DuckDB except for the few spellings a `Dialect` supplies
(durations, GREATEST, percentiles). Placeholders are `%s`.

Conventions every builder shares:

- `d` is a deal row, `e` a stage event. A `Scope` restricts deals to one
  pipeline and to the page's filters (owner, team, source, segment, product);
  team and segment are `IN (subquery)` tests, so no query joins users or
  organizations just to filter.
- Stages are referred to by rank, their 0-based place among the pipeline's
  live stages, spelled inline as `CASE stage_id WHEN ... END`: the stage table
  is never joined and ranks stay dense even when positions have gaps. A
  retired stage takes the rank of the live stage that replaced it
  (`Scope.ranks`), so history in it is judged against the stages now live.
- Periods are half-open, `start <= instant < end`; either end may be open.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from dealgate.core.metrics import hundredths

DEAL = "deals_deal"
EVENT = "deals_stageevent"
USER = "accounts_user"
ORGANIZATION = "deals_organization"

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Query:
    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Dialect:
    """The spellings that differ between the databases insights run on."""

    vendor: str  # "postgresql", "sqlite" or "duckdb"

    def __post_init__(self) -> None:
        if self.vendor not in ("postgresql", "sqlite", "duckdb"):
            raise ValueError(f"insights do not speak {self.vendor!r}")

    @property
    def native_percentiles(self) -> bool:
        """Whether `percentile_cont ... WITHIN GROUP` exists (not on SQLite)."""
        return self.vendor != "sqlite"

    def days_between(self, start: str, end: str) -> str:
        """Elapsed wall-clock days (24-hour periods, fractional) from start to end."""
        if self.vendor == "postgresql":
            # date_part gives a double; EXTRACT gives numeric, several times slower.
            seconds = f"(date_part('epoch', {end}) - date_part('epoch', {start}))"
            return f"({seconds} / {SECONDS_PER_DAY})"
        if self.vendor == "duckdb":
            return f"((epoch({end}) - epoch({start})) / {SECONDS_PER_DAY})"
        return f"(julianday({end}) - julianday({start}))"

    def local_days_between(self, start: str, end: str, zone: str) -> str:
        """Whole calendar days from start's date to end's date, both dates read
        in `zone`: 23:30 to 00:30 the next day is one day, and a span across a
        change of the clocks counts its dates, not its hours.

        PostgreSQL converts natively; SQLite and DuckDB, which keep naive UTC,
        add the zone's offset found by a search over its changes written into
        the text (`zone_changes`), a few comparisons per instant."""
        if self.vendor == "postgresql":
            name = _zone_literal(zone)
            return (
                f"(({end} AT TIME ZONE {name})::date "
                f"- ({start} AT TIME ZONE {name})::date)"
            )
        if self.vendor == "duckdb":
            return (
                f"(CAST({end} + to_seconds({self._offset(end, zone)}) AS DATE) "
                f"- CAST({start} + to_seconds({self._offset(start, zone)}) AS DATE))"
            )
        return (
            f"CAST(julianday(date({end}, {self._offset(end, zone)} || ' seconds')) "
            f"- julianday(date({start}, {self._offset(start, zone)} || ' seconds')) "
            "AS INTEGER)"
        )

    def _offset(self, column: str, zone: str) -> str:
        """The UTC offset in seconds of `zone` at the naive UTC instant `column`:
        a balanced CASE over the zone's changes."""

        def literal(instant: dt.datetime) -> str:
            text = instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            return f"TIMESTAMP '{text}'" if self.vendor == "duckdb" else f"'{text}'"

        def search(changes: Sequence[tuple[dt.datetime, int]]) -> str:
            if len(changes) == 1:
                return str(changes[0][1])
            middle = len(changes) // 2
            below, above = search(changes[:middle]), search(changes[middle:])
            return (
                f"(CASE WHEN {column} < {literal(changes[middle][0])} "
                f"THEN {below} ELSE {above} END)"
            )

        return search(zone_changes(zone))

    def int_div(self, dividend: str, divisor: str) -> str:
        """Integer division of non-negative integers, truncating."""
        operator = "//" if self.vendor == "duckdb" else "/"
        return f"({dividend} {operator} {divisor})"

    def greatest(self, first: str, second: str) -> str:
        if self.vendor == "sqlite":
            return f"MAX({first}, {second})"
        return f"GREATEST({first}, {second})"

    def instant(self, value: dt.datetime) -> Any:
        """An aware instant as this database compares it to stored instants.

        Django keeps instants on SQLite as naive UTC text; the benchmark's
        DuckDB tables hold naive UTC timestamps.
        """
        utc = value.astimezone(dt.UTC)
        if self.vendor == "sqlite":
            return str(utc.replace(tzinfo=None))
        if self.vendor == "duckdb":
            return utc.replace(tzinfo=None)
        return utc


# The span whose changes of the clocks `zone_changes` lists; an instant
# outside it takes the offset in force at its nearer end.
ZONE_YEARS = (1970, 2100)
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")


def _zone_literal(zone: str) -> str:
    # A calendar's zone is an IANA name (checked when the calendar is read);
    # spelled inline so that every statement's text stays self-contained.
    if not _ZONE_NAME.match(zone):
        raise ValueError(f"not a time zone name: {zone!r}")
    return f"'{zone}'"


@functools.lru_cache(maxsize=32)
def zone_changes(zone: str) -> tuple[tuple[dt.datetime, int], ...]:
    """(from instant, UTC offset in seconds) for each offset `zone` has had
    in `ZONE_YEARS`, earliest first; the first from the span's start. Found
    a week at a time, then to the second, once per zone and process: no zone
    of the time zone database changes its offset twice within a week in the
    span (weekly and daily steps found the same changes for every zone), and
    a day at a time took 0.05-0.6 s of a worker's first page."""
    place = ZoneInfo(zone)

    def offset(instant: dt.datetime) -> int:
        found = instant.astimezone(place).utcoffset()
        return int(found.total_seconds()) if found is not None else 0

    first, last = (dt.datetime(year, 1, 1, tzinfo=dt.UTC) for year in ZONE_YEARS)
    changes = [(first, offset(first))]
    step = dt.timedelta(days=7)
    instant = first
    while instant < last:
        following = instant + step
        if offset(following) != changes[-1][1]:
            # offset(low) is still the last one; search whole seconds.
            low, high = 0, int(step.total_seconds())
            while high - low > 1:
                middle = (low + high) // 2
                at = instant + dt.timedelta(seconds=middle)
                if offset(at) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            start = instant + dt.timedelta(seconds=high)
            changes.append((start, offset(start)))
        instant = following
    return tuple(changes)


# Scope.owner_id for "no owner": no user has id 0, and a rollup row keys the
# deals no one owns 0 too (rollups.py).
NO_OWNER_ID = 0


@dataclass(frozen=True)
class Scope:
    """Which deals a query looks at, and the pipeline facts it needs.

    `stage_ids` lists every stage of the pipeline, retired ones included, in
    pipeline order; `ranks` gives, index for index, the rank each counts at
    in the funnel (retired stages share their replacement's). Without
    `ranks` a stage's rank is its index in `stage_ids`.
    """

    pipeline_id: int
    stage_ids: tuple[int, ...]
    ranks: tuple[int, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    # An owner's id, or NO_OWNER_ID for the deals (and leads) no one owns.
    owner_id: int | None = None
    team_id: int | None = None
    source: str | None = None
    segment: str | None = None
    product_id: int | None = None
    currency: str = "USD"
    day_minutes: float = 480.0
    # The pipeline's calendar zone: calendar days are its dates.
    zone: str = "UTC"

    @property
    def stage_ranks(self) -> dict[int, int]:
        """Stage id -> the rank it counts at."""
        ranks = self.ranks or range(len(self.stage_ids))
        return dict(zip(self.stage_ids, ranks, strict=True))

    @property
    def filters_deals(self) -> bool:
        """Whether any filter beyond the pipeline applies to the deals."""
        return any(
            value is not None
            for value in (
                self.owner_id,
                self.team_id,
                self.source,
                self.segment,
                self.product_id,
            )
        )


@dataclass(frozen=True)
class Grouping:
    """What to group deals by: an expression over `d`, and any join it needs."""

    expr: str = "0"
    params: tuple[Any, ...] = ()
    join: str = ""


ALL = Grouping()
# "+ 0" hides the column from the planner's index matching: otherwise
# PostgreSQL walks the owner (or product) index to get rows in group order,
# one random heap read per deal, measured 2x slower than a scan and a sort
# over a million deals. The value, NULLs included, is unchanged.
BY_OWNER = Grouping("d.owner_id + 0")
BY_PRODUCT = Grouping("d.product_id + 0")
BY_SOURCE = Grouping("d.source")
BY_TEAM = Grouping("u.team_id", join=f"LEFT JOIN {USER} u ON u.id = d.owner_id")
BY_SEGMENT = Grouping(
    "o.sector", join=f"LEFT JOIN {ORGANIZATION} o ON o.id = d.organization_id"
)
GROUPINGS = {
    "owner": BY_OWNER,
    "team": BY_TEAM,
    "product": BY_PRODUCT,
    "source": BY_SOURCE,
    "segment": BY_SEGMENT,
}


def buckets(column: str, bounds: Sequence[Any]) -> Grouping:
    """Group by which of the spans between consecutive `bounds` holds `column`:
    0 for [bounds[0], bounds[1]), and so on. Rows outside give NULL."""
    cases = " ".join(f"WHEN {column} < %s THEN {i - 1}" for i in range(1, len(bounds)))
    expr = f"(CASE WHEN {column} < %s THEN NULL {cases} ELSE NULL END)"
    return Grouping(expr, tuple(bounds))


@dataclass
class _Where:
    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts) or "1 = 1"


def owner_filter(where: _Where, column: str, owner_id: int) -> None:
    """Keep the rows of the owner `owner_id`, or (NO_OWNER_ID) of no one."""
    if owner_id == NO_OWNER_ID:
        where.add(f"{column} IS NULL")
    else:
        where.add(f"{column} = %s", owner_id)


def _deal_filters(where: _Where, scope: Scope, dialect: Dialect) -> None:
    where.add("d.pipeline_id = %s", scope.pipeline_id)
    if scope.owner_id is not None:
        owner_filter(where, "d.owner_id", scope.owner_id)
    if scope.team_id is not None:
        where.add(
            f"d.owner_id IN (SELECT id FROM {USER} WHERE team_id = %s)", scope.team_id
        )
    if scope.source is not None:
        where.add("d.source = %s", scope.source)
    if scope.segment is not None:
        where.add(
            f"d.organization_id IN (SELECT id FROM {ORGANIZATION} WHERE sector = %s)",
            scope.segment,
        )
    if scope.product_id is not None:
        where.add("d.product_id = %s", scope.product_id)


def _period(where: _Where, column: str, scope: Scope, dialect: Dialect) -> None:
    if scope.start is not None:
        where.add(f"{column} >= %s", dialect.instant(scope.start))
    if scope.end is not None:
        where.add(f"{column} < %s", dialect.instant(scope.end))


def _within(
    where: _Where,
    column: str,
    ranges: Sequence[tuple[dt.datetime, dt.datetime]],
    dialect: Dialect,
) -> None:
    """Keep rows whose `column` lies in one of the half-open `ranges` (none:
    no restriction): the days a rollup leaves to the deals."""
    if not ranges:
        return
    tests = " OR ".join(f"({column} >= %s AND {column} < %s)" for _ in ranges)
    values = [dialect.instant(bound) for pair in ranges for bound in pair]
    where.add(f"({tests})", *values)


def _rank(column: str, ranks: dict[int, int]) -> str:
    whens = " ".join(
        f"WHEN {int(stage_id)} THEN {int(rank)}" for stage_id, rank in ranks.items()
    )
    return f"(CASE {column} {whens} END)"


def _ids(values: Sequence[int]) -> str:
    # Stage ids come from our own rows, never from a request: inlining them keeps
    # the text identical for every database and lets planners see the list.
    return ", ".join(str(int(value)) for value in values) or "NULL"


# -- the pipeline at an instant ----------------------------------------------

# When a deal entered the pipeline: its creation. An import that gave only a
# stage-entry date is created then (dealgate.imports.rows), so that date is
# its entry; a later move's stage entry never is (deals/0014 filled it in for
# the deals imported before). Deals with no creation date are undated.
ENTRY = "d.created_at"


def standing(
    dialect: Dialect, scope: Scope, at: dt.datetime, *, entered_in_period: bool = False
) -> Query:
    """Rows (id, stage_id, status, entered) of the deals in the scope as they
    stood at `at`: the stage and status of each deal's last stage event at or
    before `at`, and when it entered that stage (NULL when unknown or closed).
    Deals that did not exist yet are left out.

    A deal's row is what its last event made it, so a deal with no event
    after `at` stood then as its row says now; only the deals with an event
    after `at` (none when `at` is now) are rebuilt from their events:

    - with an event at or before `at`, from the last of them: its `to_stage`
      and `to_status`, entered at its instant if that left the deal open;
    - else from the first event after `at`, which says where the deal stood
      before it (`from_stage`, `from_status`, `from_entered_at`), when the
      deal was created by then;
    - else (that first event is the deal's recorded entry, an import whose
      creation date comes earlier) in the stage it was recorded entering,
      entry unknown, when it was created by then.

    Every event names the stage it leads to, so the events after `at` are
    found through the index on (to_stage, at); a deal is created no later
    than its first event. Deals with no date at all, and no event, stand as
    their row says whatever `at` is. With `entered_in_period`, only the
    deals that entered the pipeline in the scope's period (`ENTRY`).
    """
    when = dialect.instant(at)
    stages = _ids(scope.stage_ids)
    later = f"e.to_stage_id IN ({stages}) AND e.at > %s"
    changed = f"SELECT e.deal_id FROM {EVENT} e WHERE {later}"

    unchanged = _Where()
    _deal_filters(unchanged, scope, dialect)
    if entered_in_period:
        _period(unchanged, ENTRY, scope, dialect)
    unchanged.add("(d.created_at IS NULL OR d.created_at <= %s)", when)
    unchanged.add(f"d.id NOT IN ({changed})", when)
    as_now = (
        "SELECT d.id AS id, d.stage_id AS stage_id, d.status AS status, "
        "CASE WHEN d.status = 'open' AND d.stage_entered_at <= %s "
        "THEN d.stage_entered_at END AS entered "
        f"FROM {DEAL} d WHERE {unchanged.sql}"
    )

    # Per deal with a later event, one event: its last at or before `at`,
    # else its first after.
    before = "e.at <= %s"
    picked = (
        "SELECT e.deal_id, e.at, e.from_stage_id, e.from_status, "
        "e.from_entered_at, e.to_stage_id, e.to_status, ROW_NUMBER() OVER ("
        f"PARTITION BY e.deal_id ORDER BY CASE WHEN {before} THEN 0 ELSE 1 END, "
        f"CASE WHEN {before} THEN e.at END DESC, "
        f"CASE WHEN {before} THEN e.id END DESC, e.at, e.id) AS rn "
        f"FROM {EVENT} e WHERE e.deal_id IN ({changed})"
    )
    rebuilt = _Where()
    rebuilt.add("p.rn = 1")
    _deal_filters(rebuilt, scope, dialect)
    if entered_in_period:
        _period(rebuilt, ENTRY, scope, dialect)
    created = "d.created_at <= %s"
    rebuilt.add(
        "(p.at <= %s "
        f"OR (p.from_stage_id IS NOT NULL AND (d.created_at IS NULL OR {created})) "
        f"OR {created})",
        when,
        when,
        when,
    )
    from_events = (
        "SELECT d.id AS id, "
        "CASE WHEN p.at <= %s THEN p.to_stage_id "
        "WHEN p.from_stage_id IS NOT NULL THEN p.from_stage_id "
        "ELSE p.to_stage_id END AS stage_id, "
        "CASE WHEN p.at <= %s THEN p.to_status "
        "WHEN p.from_stage_id IS NOT NULL THEN p.from_status "
        "ELSE 'open' END AS status, "
        "CASE WHEN p.at <= %s THEN (CASE WHEN p.to_status = 'open' THEN p.at END) "
        "WHEN p.from_stage_id IS NOT NULL AND p.from_entered_at <= %s "
        "THEN p.from_entered_at END AS entered "
        f"FROM ({picked}) p JOIN {DEAL} d ON d.id = p.deal_id "
        f"WHERE {rebuilt.sql}"
    )
    sql = f"{as_now} UNION ALL {from_events}"
    params = (
        *(when, *unchanged.params),
        *(when,) * 4,  # the columns of from_events
        *(when,) * 4,  # picked: three sort keys and `changed`
        *rebuilt.params,
    )
    return Query(sql, params)


def _open_at(dialect: Dialect, scope: Scope, at: dt.datetime) -> tuple[str, tuple]:
    """The deals open at `at` as rows (r, id, entered), r the rank of the
    stage they stood in (a retired stage's is its replacement's)."""
    rows = standing(dialect, scope, at)
    rank = _rank("s.stage_id", scope.stage_ranks)
    sql = (
        f"SELECT {rank} AS r, s.id AS id, s.entered AS entered "
        f"FROM ({rows.sql}) s WHERE s.status = 'open'"
    )
    return sql, rows.params


def open_by_stage(
    dialect: Dialect,
    scope: Scope,
    at: dt.datetime,
    late_before: dict[int, dt.datetime],
) -> Query:
    """Deals open at `at`, per stage rank: (rank, deals, deals with a known
    entry, deals that entered before the rank's `late_before` instant, i.e.
    past its age limit). See `standing` for how the past is read."""
    rows, params = _open_at(dialect, scope, at)
    late = "0"
    late_params: list[Any] = []
    if late_before:
        whens = " ".join("WHEN %s THEN %s" for _ in late_before)
        late = f"SUM(CASE WHEN x.entered < (CASE x.r {whens} END) THEN 1 ELSE 0 END)"
        for rank, instant in late_before.items():
            late_params += [rank, dialect.instant(instant)]
    sql = f"SELECT x.r, COUNT(*), COUNT(x.entered), {late} FROM ({rows}) x GROUP BY x.r"
    return Query(sql, (*late_params, *params))


def open_entries(dialect: Dialect, scope: Scope, at: dt.datetime) -> Query:
    """Rows (stage rank, entered at) of the deals open at `at` with a known
    stage entry: the input of `ranked` for ages, which are percentiles of
    these instants."""
    rows, params = _open_at(dialect, scope, at)
    sql = (
        f"SELECT x.r AS grp, x.entered AS v FROM ({rows}) x WHERE x.entered IS NOT NULL"
    )
    return Query(sql, params)


def oldest_open(
    dialect: Dialect, scope: Scope, at: dt.datetime, rank: int, limit: int
) -> Query:
    """Rows (deal id, entered at) of the `limit` deals open at `at` that had
    sat longest in the stage of `rank` (known entries only), oldest first."""
    rows, params = _open_at(dialect, scope, at)
    sql = (
        f"SELECT x.id, x.entered FROM ({rows}) x "
        f"WHERE x.r = {int(rank)} AND x.entered IS NOT NULL "
        f"ORDER BY x.entered, x.id LIMIT {int(limit)}"
    )
    return Query(sql, params)


# -- deals closed in the period ----------------------------------------------


def closed(
    dialect: Dialect,
    scope: Scope,
    grouping: Grouping = ALL,
    quantiles: Sequence[float] = (),
    *,
    within: Sequence[tuple[dt.datetime, dt.datetime]] = (),
) -> Query:
    """Deals closed in the period, per group: (group, won, lost, won deals with
    a value in the pipeline's currency, their total value, won deals with a
    known creation date, their total days from creation to close), then, with
    `quantiles` (native percentiles only), the percentiles of those days:
    the sales cycle in the same pass over the deals. `within` restricts
    the closes to those instant ranges."""
    where = _Where()
    where.add("d.status IN ('won', 'lost')")
    _period(where, "d.closed_at", scope, dialect)
    _within(where, "d.closed_at", within, dialect)
    _deal_filters(where, scope, dialect)
    won = "d.status = 'won'"
    valued = f"{won} AND d.currency = %s AND d.value IS NOT NULL"
    dated = f"{won} AND d.created_at IS NOT NULL"
    # The total is the daily rollup's measure (elapsed days: its triggers
    # keep it), so the two stay comparable; the figures' cycle is in
    # calendar days (`cycle_days`, `cycle_totals`), as are its percentiles.
    elapsed = dialect.days_between("d.created_at", "d.closed_at")
    cycle = dialect.local_days_between("d.created_at", "d.closed_at", scope.zone)
    spreads = "".join(
        f", percentile_cont({float(q)}) WITHIN GROUP "
        f"(ORDER BY CASE WHEN {dated} THEN {cycle} END)"
        for q in quantiles
    )
    if quantiles and not dialect.native_percentiles:
        raise ValueError(f"{dialect.vendor} has no percentile_cont")
    sql = (
        f"SELECT {grouping.expr} AS grp, "
        f"SUM(CASE WHEN {won} THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN d.status = 'lost' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {valued} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {valued} THEN d.value END), "
        f"SUM(CASE WHEN {dated} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {dated} THEN {elapsed} END){spreads} "
        f"FROM {DEAL} d {grouping.join} WHERE {where.sql} GROUP BY 1"
    )
    params = (*grouping.params, scope.currency, scope.currency, *where.params)
    return Query(sql, params)


def cycle_days(dialect: Dialect, scope: Scope, grouping: Grouping = ALL) -> Query:
    """Rows (group, days from creation to win) of deals won in the period whose
    creation date is known: the input of `percentiles`. Days are calendar
    days of the pipeline's zone (`Dialect.local_days_between`): the dates
    between the two, not 24-hour periods."""
    where = _Where()
    where.add("d.status = 'won'")
    where.add("d.created_at IS NOT NULL")
    _period(where, "d.closed_at", scope, dialect)
    _deal_filters(where, scope, dialect)
    days = dialect.local_days_between("d.created_at", "d.closed_at", scope.zone)
    sql = (
        f"SELECT {grouping.expr} AS grp, {days} AS v "
        f"FROM {DEAL} d {grouping.join} WHERE {where.sql}"
    )
    return Query(sql, (*grouping.params, *where.params))


def cycle_totals(dialect: Dialect, scope: Scope, grouping: Grouping = ALL) -> Query:
    """Rows (group, deals, total days) over `cycle_days`: the mean sales
    cycle in calendar days. The daily rollup's totals are of elapsed days,
    which its triggers keep in any zone; this reads the won deals instead."""
    rows = cycle_days(dialect, scope, grouping)
    sql = f"SELECT x.grp, COUNT(*), SUM(x.v) FROM ({rows.sql}) x GROUP BY x.grp"
    return Query(sql, rows.params)


def closed_from(deal: str = "d") -> str:
    """The stage the closed deal `deal` (an alias of deals_deal) closed from,
    as its history records it: the stage of the event that gave it its
    status (from won or lost to another status never counts), the latest
    when it closed more than once. That is the event's `from_stage`, or for
    an import's first event, which has none, its `to_stage`.

    Not the deal's `stage_id`: removing a stage with `--move OLD=NEW` moves
    its closed deals to NEW (an event from lost to lost, or won to won),
    a stage they never reached. A deal whose history records no close
    (none was kept for it) closed from the stage it stands in. One index
    probe per deal (event_deal_at)."""
    return (
        f"COALESCE((SELECT COALESCE(c.from_stage_id, c.to_stage_id) FROM {EVENT} c "
        f"WHERE c.deal_id = {deal}.id AND c.to_status = {deal}.status "
        f"AND c.from_status <> {deal}.status ORDER BY c.at DESC, c.id DESC "
        f"LIMIT 1), {deal}.stage_id)"
    )


# Events that moved a lost deal from one stage to another: only a redesign's
# `--move` does (`pipelines.services._move_deals`). Served by the partial
# index event_lost_moves (migration insights/0007), whose condition this is.
LOST_MOVES = (
    f"SELECT m.deal_id FROM {EVENT} m "
    "WHERE m.from_status = 'lost' AND m.to_status = 'lost'"
)


def lost_by_stage(
    dialect: Dialect,
    scope: Scope,
    *,
    within: Sequence[tuple[dt.datetime, dt.datetime]] = (),
) -> Query:
    """Deals lost in the period: (stage they were lost from, reason, deals),
    the stage as `closed_from` reads it, retired stages included. `within`
    restricts the losses to those instant ranges."""
    where = _Where()
    where.add("d.status = 'lost'")
    _period(where, "d.closed_at", scope, dialect)
    _within(where, "d.closed_at", within, dialect)
    _deal_filters(where, scope, dialect)
    sql = (
        "SELECT x.stage, x.reason, COUNT(*) FROM ("
        f"SELECT {closed_from('d')} AS stage, d.loss_reason AS reason "
        f"FROM {DEAL} d WHERE {where.sql}) x GROUP BY x.stage, x.reason"
    )
    return Query(sql, tuple(where.params))


def lost_moved(
    dialect: Dialect, start: dt.datetime | None, end: dt.datetime | None, scope: Scope
) -> Query:
    """What turns losses counted by the stage a deal stands in (the daily
    rollup's key) into losses by the stage it was lost from: (stage, reason,
    -1 or +1) for each deal lost between `start` and `end` (None: open) that
    a redesign moved after its loss, taken from where it stands and given
    to where it was lost. Reads only the few deals such moves name."""
    where = _Where()
    where.add("d.pipeline_id = %s", scope.pipeline_id)
    where.add("d.status = 'lost'")
    where.add(f"d.id IN ({LOST_MOVES})")
    _period(where, "d.closed_at", replace(scope, start=start, end=end), dialect)
    sql = (
        f"SELECT d.stage_id AS stage, d.loss_reason AS reason, -1 AS n "
        f"FROM {DEAL} d WHERE {where.sql} UNION ALL "
        f"SELECT {closed_from('d')}, d.loss_reason, 1 FROM {DEAL} d WHERE {where.sql}"
    )
    return Query(sql, (*where.params, *where.params))


# -- deals that entered the pipeline in the period ---------------------------


def entered(
    dialect: Dialect,
    scope: Scope,
    grouping: Grouping = ALL,
    *,
    within: Sequence[tuple[dt.datetime, dt.datetime]] = (),
    undated: bool = False,
) -> Query:
    """Deals that entered the pipeline in the period, per group: (group, deals).

    A deal entered when it was created or, for an import that gave no creation
    date, when it entered the stage the file put it in; over all time the
    deals with no date at all count too. `within` restricts the entries to
    those instant ranges; `undated` counts only the deals with no date."""
    where = _Where()
    _period(where, ENTRY, scope, dialect)
    _within(where, ENTRY, within, dialect)
    if undated:
        where.add(f"{ENTRY} IS NULL")
    _deal_filters(where, scope, dialect)
    sql = (
        f"SELECT {grouping.expr} AS grp, COUNT(*) FROM {DEAL} d {grouping.join} "
        f"WHERE {where.sql} GROUP BY 1"
    )
    return Query(sql, (*grouping.params, *where.params))


def reach(dialect: Dialect, scope: Scope, at: dt.datetime | None = None) -> Query:
    """The funnel's input: (furthest rank reached, status, deals) over the deals
    that entered the pipeline in the period.

    The furthest rank is the deal's current (or closing) stage, unless its
    history shows it once stood further: only a backward move or a reopening
    can leave a deal behind its furthest stage, and such an event names that
    stage as its `from_stage`. So only backward events are read, one index
    range per (from stage, lower to stages) with an index on (from_stage,
    to_stage, at), not the whole history; for a bounded period only those
    after its start, since a deal moves only after it entered.

    With `at`, as things stood then: each deal's stage and status are those
    of `standing` at `at`, only backward events until then count, and deals
    not created by then are left out. Without, as the deals' rows stand.

    Ranks are those of `scope.ranks`: a retired stage counts as the live
    stage that replaced it, so a move between two stages of the same rank
    (a --move from a renamed stage) is not backward, and one from a retired
    stage into the stage that replaced it leaves the deal where it stands.
    """
    rows = _furthest(dialect, scope, at)
    sql = f"SELECT x.r, x.status, COUNT(*) FROM ({rows.sql}) x GROUP BY x.r, x.status"
    return Query(sql, rows.params)


def _furthest(dialect: Dialect, scope: Scope, at: dt.datetime | None) -> Query:
    """Rows (id, status, r) of `reach`: each deal of the population with its
    status and the furthest rank it reached, as things stood at `at` (None:
    as the rows stand)."""
    ranks = scope.stage_ranks
    moves = _Where()
    branches = []
    for stage_id, rank in ranks.items():
        lower = [other for other, below in ranks.items() if below < rank]
        if not lower:
            continue
        branch = _Where()
        branch.add(f"e.from_stage_id = {int(stage_id)}")
        branch.add(f"e.to_stage_id IN ({_ids(lower)})")
        if scope.start is not None:
            branch.add("e.at >= %s", dialect.instant(scope.start))
        if at is not None:
            branch.add("e.at <= %s", dialect.instant(at))
        branches.append(
            f"SELECT e.deal_id, {rank} AS r FROM {EVENT} e WHERE {branch.sql}"
        )
        moves.params.extend(branch.params)
    backward = " UNION ALL ".join(branches) or "SELECT NULL AS deal_id, NULL AS r"
    furthest = (
        f"SELECT m.deal_id, MAX(m.r) AS furthest FROM ({backward}) m GROUP BY m.deal_id"
    )
    if at is None:
        where = _Where()
        _deal_filters(where, scope, dialect)
        _period(where, ENTRY, scope, dialect)
        deals = f"(SELECT d.id, d.stage_id, d.status FROM {DEAL} d WHERE {where.sql})"
        params = tuple(where.params)
    else:
        rows = standing(dialect, scope, at, entered_in_period=True)
        deals, params = f"({rows.sql})", rows.params
    current = _rank("s.stage_id", ranks)
    sql = (
        f"SELECT s.id AS id, s.status AS status, "
        f"{dialect.greatest(current, f'COALESCE(b.furthest, {current})')} AS r "
        f"FROM {deals} s LEFT JOIN ({furthest}) b ON b.deal_id = s.id"
    )
    return Query(sql, (*params, *moves.params))


def passed_before(
    dialect: Dialect,
    scope: Scope,
    at: dt.datetime | None,
    added: dict[int, dt.datetime],
) -> Query:
    """Rows (rank, deals): for each rank of `added` (the instant its place
    was added to the pipeline), the deals of `reach`'s population that had
    already gone past that place by then (stood in a later stage, or were
    won) and count past it now. They never could pass through the stage,
    so the funnel leaves them out of its reached and passed alike.

    One `reach`-like statement per rank, read as things stood then
    (`standing`): only the deals with an event since are rebuilt."""
    parts, params = [], []
    now = _furthest(dialect, scope, at)
    for rank, instant in sorted(added.items()):
        then = _furthest(dialect, scope, min(instant, at) if at else instant)
        past = f"(n.status = 'won' OR n.r > {int(rank)})"
        was_past = f"(t.status = 'won' OR t.r > {int(rank)})"
        parts.append(
            f"SELECT {int(rank)} AS r, COUNT(*) AS n FROM ({now.sql}) n "
            f"JOIN ({then.sql}) t ON t.id = n.id WHERE {past} AND {was_past}"
        )
        params += [*now.params, *then.params]
    if not parts:
        raise ValueError("passed_before needs a rank added")
    return Query(" UNION ALL ".join(parts), tuple(params))


def undated(dialect: Dialect, scope: Scope) -> Query:
    """Deals (in the filters) with no date to place their entry in a period:
    neither a creation date nor a stage entry date. One row, one count."""
    where = _Where()
    _deal_filters(where, scope, dialect)
    where.add(f"{ENTRY} IS NULL")
    return Query(
        f"SELECT COUNT(*) FROM {DEAL} d WHERE {where.sql}", tuple(where.params)
    )


# -- stage events: time spent in stages --------------------------------------


def _exits(
    where: _Where,
    scope: Scope,
    dialect: Dialect,
    *,
    stage_ids: Sequence[int] | None = None,
) -> str:
    """Conditions for "a deal left an open stage of this pipeline (or one of
    `stage_ids`) in the period"; returns the join to deals the deal filters
    need (or "")."""
    where.add(f"e.from_stage_id IN ({_ids(stage_ids or scope.stage_ids)})")
    where.add("e.from_status = 'open'")
    _period(where, "e.at", scope, dialect)
    if not scope.filters_deals:
        return ""
    _deal_filters(where, scope, dialect)
    return f"JOIN {DEAL} d ON d.id = e.deal_id"


def exit_counts(dialect: Dialect, scope: Scope) -> Query:
    """Per stage left in the period: (stage id, exits, exits with business
    minutes, exits with a known entry time)."""
    where = _Where()
    join = _exits(where, scope, dialect)
    sql = (
        "SELECT e.from_stage_id, COUNT(*), COUNT(e.from_business_minutes), "
        f"COUNT(e.from_entered_at) FROM {EVENT} e {join} "
        f"WHERE {where.sql} GROUP BY e.from_stage_id"
    )
    return Query(sql, tuple(where.params))


def exit_spreads(
    dialect: Dialect,
    scope: Scope,
    quantiles: Sequence[float],
    *,
    per_stage: bool = True,
) -> Query:
    """Per stage left in the period, in one statement (native percentiles
    only): (stage id, exits, exits with business minutes, exits with a known
    entry time, then the percentiles of business minutes over the exits that
    have them). percentile_cont skips NULLs, so a stage whose exits all carry
    business minutes needs nothing more.

    `per_stage` writes one aggregate per stage joined by UNION ALL rather than
    one GROUP BY: an ordered-set aggregate cannot be split across workers, but
    separate branches run side by side (PostgreSQL's Parallel Append), 25-40%
    faster on two cores. A column store scanning without indexes prefers the
    single GROUP BY (the benchmark runs both).
    """
    columns = ", ".join(
        f"percentile_cont({float(q)}) WITHIN GROUP (ORDER BY e.from_business_minutes)"
        for q in quantiles
    )
    counts = "COUNT(*), COUNT(e.from_business_minutes), COUNT(e.from_entered_at)"
    if not per_stage:
        where = _Where()
        join = _exits(where, scope, dialect)
        sql = (
            f"SELECT e.from_stage_id AS grp, {counts}, {columns} "
            f"FROM {EVENT} e {join} WHERE {where.sql} GROUP BY e.from_stage_id"
        )
        return Query(sql, tuple(where.params))
    branches, params = [], []
    for stage_id in scope.stage_ids:
        where = _Where()
        join = _exits(where, scope, dialect, stage_ids=(stage_id,))
        branches.append(
            f"SELECT {int(stage_id)} AS grp, {counts}, {columns} "
            f"FROM {EVENT} e {join} WHERE {where.sql}"
        )
        params += where.params
    return Query(" UNION ALL ".join(branches), tuple(params))


def stage_durations(
    dialect: Dialect,
    scope: Scope,
    business_stage_ids: Sequence[int],
    *,
    only_stage_ids: Sequence[int] | None = None,
) -> Query:
    """Rows (stage id, days spent) of exits in the period: the input of
    `percentiles`. Stages in `business_stage_ids` are measured in business days
    (every exit there carries business minutes); the others in calendar days
    of the pipeline's zone from `from_entered_at`, so that no figure mixes
    the two units."""
    where = _Where()
    join = _exits(where, scope, dialect)
    if only_stage_ids is not None:
        where.add(f"e.from_stage_id IN ({_ids(only_stage_ids)})")
    wall = dialect.local_days_between("e.from_entered_at", "e.at", scope.zone)
    business = f"e.from_business_minutes / {float(scope.day_minutes)}"
    if business_stage_ids:
        value = (
            f"CASE WHEN e.from_stage_id IN ({_ids(business_stage_ids)}) "
            f"THEN {business} ELSE {wall} END"
        )
    else:
        value = wall
    where.add(f"({value}) IS NOT NULL")
    sql = (
        f"SELECT e.from_stage_id AS grp, {value} AS v "
        f"FROM {EVENT} e {join} WHERE {where.sql}"
    )
    return Query(sql, tuple(where.params))


# -- percentiles ---------------------------------------------------------------


def percentiles(dialect: Dialect, rows: Query, quantiles: Sequence[float]) -> Query:
    """Percentiles of `v` per `grp` over `rows` (a query selecting grp and v).

    With native percentiles the result is (grp, n, one column per quantile);
    on SQLite it is `ranked(...)`'s output, to be finished by
    `dealgate.insights.queries.spreads`.
    """
    if not dialect.native_percentiles:
        return ranked(dialect, rows, quantiles)
    columns = ", ".join(
        f"percentile_cont({float(q)}) WITHIN GROUP (ORDER BY x.v)" for q in quantiles
    )
    sql = f"SELECT x.grp, COUNT(*), {columns} FROM ({rows.sql}) x GROUP BY x.grp"
    return Query(sql, rows.params)


def percentiles_with_total(
    dialect: Dialect, rows: Query, quantiles: Sequence[float]
) -> Query:
    """`percentiles` per `grp` and over all rows, in one pass (GROUPING SETS,
    native percentiles only): (1 for the row over all groups else 0, grp,
    n, one column per quantile). The row over all groups has grp NULL; a
    group whose key is NULL is told from it by the first column."""
    if not dialect.native_percentiles:
        raise ValueError(f"{dialect.vendor} has no percentile_cont")
    columns = ", ".join(
        f"percentile_cont({float(q)}) WITHIN GROUP (ORDER BY x.v)" for q in quantiles
    )
    sql = (
        f"SELECT GROUPING(x.grp), x.grp, COUNT(*), {columns} "
        f"FROM ({rows.sql}) x GROUP BY GROUPING SETS ((x.grp), ())"
    )
    return Query(sql, rows.params)


def ranked(
    dialect: Dialect,
    rows: Query,
    quantiles: Sequence[float],
    *,
    descending: bool = False,
) -> Query:
    """The rows of each group that percentiles of `v` read: (grp, n, rank, v).

    Ranks each group's values with a window and keeps, for every quantile q,
    the two ranks around the 0-based position q * (n - 1); interpolating
    between them (`dealgate.core.metrics.percentile_from_ranks`) gives what
    percentile_cont gives. The position is found in whole hundredths with
    integer arithmetic, exactly as `percentile_ranks` finds it, so both sides
    agree on the ranks. Sorts every group once; returns at most
    2 x len(quantiles) rows per group. `descending` ranks the largest first.
    """
    keep = []
    for q in quantiles:
        low = dialect.int_div(f"{hundredths(q)} * (y.n - 1)", "100")
        keep.append(f"y.rn = {low} + 1 OR y.rn = {low} + 2")
    order = "x.v DESC" if descending else "x.v"
    sql = (
        "SELECT y.grp, y.n, y.rn, y.v FROM ("
        "SELECT x.grp, x.v, "
        f"ROW_NUMBER() OVER (PARTITION BY x.grp ORDER BY {order}) AS rn, "
        f"COUNT(*) OVER (PARTITION BY x.grp) AS n FROM ({rows.sql}) x) y "
        f"WHERE {' OR '.join(keep)}"
    )
    return Query(sql, rows.params)


# -- leads ------------------------------------------------------------------------

LEAD = "leads_lead"


def _lead_filters(where: _Where, scope: Scope, dialect: Dialect) -> None:
    """Leads of the pipeline that routing answered for, assigned in the period.

    Imported historic leads were never routed and have no response window, so
    they are left out. Owner and team filter on the lead's owner; source and
    segment on the lead's own fields (a lead has no organization yet)."""
    where.add("l.pipeline_id = %s", scope.pipeline_id)
    where.add("l.historic = %s", False)
    where.add("l.assigned_at IS NOT NULL")
    _period(where, "l.assigned_at", scope, dialect)
    if scope.owner_id is not None:
        owner_filter(where, "l.owner_id", scope.owner_id)
    if scope.team_id is not None:
        where.add(
            f"l.owner_id IN (SELECT id FROM {USER} WHERE team_id = %s)", scope.team_id
        )
    if scope.source is not None:
        where.add("l.source = %s", scope.source)
    if scope.segment is not None:
        where.add("l.segment = %s", scope.segment)


def lead_responses(dialect: Dialect, scope: Scope, grouping: Grouping = ALL) -> Query:
    """Leads assigned in the period, per group: (group, leads, answered,
    answered within 5 business minutes, within 60, within one business day).

    Unanswered leads count in the total and in no window."""
    where = _Where()
    _lead_filters(where, scope, dialect)
    minutes = "l.response_business_minutes"
    within = [
        f"SUM(CASE WHEN {minutes} <= {limit} THEN 1 ELSE 0 END)"
        for limit in (5.0, 60.0, float(scope.day_minutes))
    ]
    sql = (
        f"SELECT {grouping.expr} AS grp, COUNT(*), COUNT(l.first_response_at), "
        f"{', '.join(within)} FROM {LEAD} l WHERE {where.sql} GROUP BY 1"
    )
    return Query(sql, (*grouping.params, *where.params))


def lead_response_times(
    dialect: Dialect, scope: Scope, column: str, grouping: Grouping = ALL
) -> Query:
    """Rows (group, response time) of answered leads assigned in the period:
    the input of `percentiles`. `column` is "business" (business minutes) or
    "wall" (wall-clock minutes)."""
    value = {
        "business": "l.response_business_minutes",
        "wall": "(l.response_wall_seconds / 60.0)",
    }[column]
    where = _Where()
    _lead_filters(where, scope, dialect)
    where.add(f"{value} IS NOT NULL")
    sql = f"SELECT {grouping.expr} AS grp, {value} AS v FROM {LEAD} l WHERE {where.sql}"
    return Query(sql, (*grouping.params, *where.params))
