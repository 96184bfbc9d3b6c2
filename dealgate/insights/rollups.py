"""The SQL of the daily rollups: folding the change log, and reading counts
and sums of closed and entered deals from the rollups instead of the deals.

What is kept (`dealgate.insights.models`): `insights_closedday` and
`insights_enteredday` hold, per pipeline and UTC day, the deals closed (or
entered) that day as they stand now, summed once per `dim`: TOTAL (by stage
and loss reason), OWNER, PRODUCT or SOURCE. Triggers on deals_deal (migration
insights/0002) append each change of a deal's contribution to
`insights_dealchange` in the writer's own transaction; `fold` moves the log
into the daily rows.

Reading is exact at any moment: a read sums three parts in one statement,
so in one snapshot:

- the rollup's whole UTC days inside the period;
- the log rows not folded yet, over the same days;
- the deals themselves over the UTC days a period bound cuts (a local
  midnight that is not a UTC midnight), through the builders of
  `dealgate.insights.sql` restricted to those days.

A question the rollup is not keyed for (a segment filter, or filters and a
breakdown over two different fields) gets None here and is asked of the deals.
Like `sql`, this module imports nothing from Django.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import sql

CLOSED_DAY = "insights_closedday"
ENTERED_DAY = "insights_enteredday"
CHANGE = "insights_dealchange"
USER = sql.USER

TOTAL, OWNER, PRODUCT, SOURCE = 0, 1, 2, 3
# Breakdown -> the dim that serves it (team through the owner's team now).
GROUP_DIMS = {None: None, "owner": OWNER, "team": OWNER, "product": PRODUCT}
GROUP_DIMS["source"] = SOURCE


# -- folding --------------------------------------------------------------------

_CLOSED_KEY = (
    "pipeline_id, day, dim, status, stage_id, loss_reason, currency, "
    "owner_id, product_id, source"
)
_ENTERED_KEY = "pipeline_id, day, dim, owner_id, product_id, source"
# Per dim: what the fields it is not keyed by hold.
_CLOSED_DIMS = {
    TOTAL: ("stage_id", "loss_reason", "0", "0", "''"),
    OWNER: ("0", "''", "COALESCE(owner_id, 0)", "0", "''"),
    PRODUCT: ("0", "''", "0", "COALESCE(product_id, 0)", "''"),
    SOURCE: ("0", "''", "0", "0", "source"),
}
_ENTERED_DIMS = {
    TOTAL: ("0", "0", "''"),
    OWNER: ("COALESCE(owner_id, 0)", "0", "''"),
    PRODUCT: ("0", "COALESCE(product_id, 0)", "''"),
    SOURCE: ("0", "0", "source"),
}


def _grouped(keys: list[str]) -> str:
    """The key expressions that are columns (a constant in GROUP BY would be
    read as a column's position)."""
    return ", ".join(key for key in keys if not key.isdigit() and key != "''")


def _fold_closed(dim: int, source: str, where: str) -> str:
    stage, reason, owner, product, src = _CLOSED_DIMS[dim]
    columns = ["pipeline_id", "day", str(dim), "status", stage, reason, "currency"]
    columns += [owner, product, src]
    keys, group = ", ".join(columns), _grouped(columns)
    sums = (
        "SUM(sign), SUM(CASE WHEN value IS NOT NULL THEN sign ELSE 0 END), "
        "COALESCE(SUM(sign * value), 0), SUM(sign * dated), "
        "COALESCE(SUM(sign * cycle_days), 0)"
    )
    update = ", ".join(
        f"{column} = {CLOSED_DAY}.{column} + excluded.{column}"
        for column in ("deals", "valued", "value", "dated", "cycle_days")
    )
    return (
        f"INSERT INTO {CLOSED_DAY} ({_CLOSED_KEY}, deals, valued, value, dated, "
        f"cycle_days) SELECT {keys}, {sums} FROM {source} "
        f"WHERE kind = 'c' AND {where} GROUP BY {group} "
        f"ON CONFLICT ({_CLOSED_KEY}) DO UPDATE SET {update}"
    )


def _fold_entered(dim: int, source: str, where: str) -> str:
    owner, product, src = _ENTERED_DIMS[dim]
    columns = ["pipeline_id", "day", str(dim), owner, product, src]
    keys, group = ", ".join(columns), _grouped(columns)
    return (
        f"INSERT INTO {ENTERED_DAY} ({_ENTERED_KEY}, deals) "
        f"SELECT {keys}, SUM(sign) FROM {source} "
        f"WHERE kind = 'e' AND {where} GROUP BY {group} "
        f"ON CONFLICT ({_ENTERED_KEY}) DO UPDATE SET "
        f"deals = {ENTERED_DAY}.deals + excluded.deals"
    )


def fold_postgresql() -> sql.Query:
    """One statement that deletes the whole visible log and adds it to the
    rollups, so rows are folded exactly once even with folds running side
    by side (a second fold waits on the rows the first deleted, then skips
    them). Returns one row: (changes folded, of which removals)."""
    parts = ["gone AS (DELETE FROM insights_dealchange RETURNING *)"]
    for dim in (TOTAL, OWNER, PRODUCT, SOURCE):
        parts.append(f"c{dim} AS ({_fold_closed(dim, 'gone', '1 = 1')})")
        parts.append(f"e{dim} AS ({_fold_entered(dim, 'gone', '1 = 1')})")
    return sql.Query(
        f"WITH {', '.join(parts)} "
        "SELECT COUNT(*), COUNT(CASE WHEN sign < 0 THEN 1 END) FROM gone"
    )


def fold_sqlite(last_id: int) -> list[sql.Query]:
    """The log up to `last_id`, folded then deleted: to run in one write
    transaction (SQLite has one writer, so ids up to `last_id` are all
    committed and nothing changes between the statements)."""
    where = "id <= %s"
    statements = [
        sql.Query(build(dim, CHANGE, where), (last_id,))
        for dim in (TOTAL, OWNER, PRODUCT, SOURCE)
        for build in (_fold_closed, _fold_entered)
    ]
    return [*statements, sql.Query(f"DELETE FROM {CHANGE} WHERE {where}", (last_id,))]


def drop_empty() -> list[sql.Query]:
    """Rows whose deals all left them (after reopenings or edits)."""
    return [
        sql.Query(f"DELETE FROM {table} WHERE deals = 0")
        for table in (CLOSED_DAY, ENTERED_DAY)
    ]


# -- reading ----------------------------------------------------------------------


@dataclass(frozen=True)
class Days:
    """How a period splits: UTC days `first` <= day < `stop` (None: open)
    except `cut` come from the rollup; the `cut` days from the deals."""

    first: dt.date | None
    stop: dt.date | None
    cut: tuple[dt.date, ...]

    def edges(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The cut days as half-open UTC ranges of instants."""
        return [
            (
                dt.datetime.combine(day, dt.time(), dt.UTC),
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC),
            )
            for day in self.cut
        ]


def _midnight_of(day: dt.date | None) -> dt.datetime | None:
    """The UTC instant `day` starts at (None stays None: an open end)."""
    return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC)


def _utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC)


def _midnight(instant: dt.datetime) -> bool:
    return _utc(instant).time() == dt.time()


def split(points: Sequence[dt.datetime | None]) -> Days:
    """Split the span from points[0] to points[-1] (None: open) at every
    point: a UTC day holding a point that is not a UTC midnight is cut."""
    start, end = points[0], points[-1]
    first = stop = None
    if start is not None:
        first = _utc(start).date() + dt.timedelta(days=0 if _midnight(start) else 1)
    if end is not None:
        stop = _utc(end).date()
    cut = sorted(
        {_utc(point).date() for point in points if point and not _midnight(point)}
    )
    return Days(first, stop, tuple(cut))


def serving_dim(scope: sql.Scope, group: str | None) -> int | None:
    """The dim whose rows answer for these filters and this breakdown, or
    None when no single dim does."""
    if scope.segment is not None or group not in GROUP_DIMS:
        return None
    used = set()
    if scope.owner_id is not None or scope.team_id is not None:
        used.add(OWNER)
    if scope.product_id is not None:
        used.add(PRODUCT)
    if scope.source is not None:
        used.add(SOURCE)
    if GROUP_DIMS[group] is not None:
        used.add(GROUP_DIMS[group])
    if len(used) > 1:
        return None
    return used.pop() if used else TOTAL


def _day(dialect: sql.Dialect, day: dt.date) -> Any:
    # Django keeps dates on SQLite as ISO text.
    return day.isoformat() if dialect.vendor == "sqlite" else day


def _days_where(
    where: sql._Where, alias: str, days: Days, dialect: sql.Dialect
) -> None:
    if days.first is not None:
        where.add(f"{alias}.day >= %s", _day(dialect, days.first))
    if days.stop is not None:
        where.add(f"{alias}.day < %s", _day(dialect, days.stop))
    if days.cut:
        marks = ", ".join("%s" for _ in days.cut)
        where.add(
            f"{alias}.day NOT IN ({marks})", *[_day(dialect, d) for d in days.cut]
        )


def _key_filters(where: sql._Where, alias: str, scope: sql.Scope) -> None:
    """The filters on a rollup or log row; only those of the serving dim are
    set (0 for "none" in a rollup row never equals an id)."""
    if scope.owner_id == sql.NO_OWNER_ID:
        # A log row (DealChange) keeps no owner as NULL, a rollup row as 0.
        where.add(f"COALESCE({alias}.owner_id, 0) = 0")
    elif scope.owner_id is not None:
        where.add(f"{alias}.owner_id = %s", scope.owner_id)
    if scope.team_id is not None:
        where.add(
            f"{alias}.owner_id IN (SELECT id FROM {USER} WHERE team_id = %s)",
            scope.team_id,
        )
    if scope.product_id is not None:
        where.add(f"{alias}.product_id = %s", scope.product_id)
    if scope.source is not None:
        where.add(f"{alias}.source = %s", scope.source)


def _group(
    alias: str,
    group: str | None,
    logged: bool,
    bounds: Sequence[Any] | None,
) -> sql.Grouping:
    """The breakdown over rollup (or log) rows, as `sql.GROUPINGS` gives it
    over deals: the same keys, NULL for no owner or product."""
    if bounds is not None:
        return sql.buckets(f"{alias}.day", bounds)
    if group is None:
        return sql.ALL
    if group in ("owner", "product"):
        column = f"{alias}.{group}_id"
        return sql.Grouping(column if logged else f"NULLIF({column}, 0)")
    if group == "team":
        owner = f"{alias}.owner_id"
        return sql.Grouping("u.team_id", join=f"LEFT JOIN {USER} u ON u.id = {owner}")
    return sql.Grouping(f"{alias}.source")


def _bucket_days(dialect: sql.Dialect, bounds: Sequence[dt.datetime]) -> list[Any]:
    """Week (or other) bounds as the first whole UTC day of each span: a whole
    day lies in span i exactly when it is on or after day i and before day
    i + 1 (the days a bound cuts are read from the deals instead)."""
    return [_day(dialect, split([bound, None]).first) for bound in bounds]


def closed(
    dialect: sql.Dialect,
    scope: sql.Scope,
    group: str | None = None,
    bounds: Sequence[dt.datetime] | None = None,
) -> sql.Query | None:
    """`sql.closed` without percentiles, from the rollup: per group (a
    breakdown, or with `bounds` the span of bounds holding the close),
    (group, won, lost, valued, won value, dated, cycle days). None when the
    rollup cannot answer."""
    dim = serving_dim(scope, group)
    if dim is None:
        return None
    points = bounds if bounds is not None else [scope.start, scope.end]
    days = split(points)
    rollup_bounds = _bucket_days(dialect, bounds) if bounds is not None else None
    won = "{a}.status = 'won'"
    parts, params = [], []
    for alias, table, logged in (("r", CLOSED_DAY, False), ("l", CHANGE, True)):
        where = sql._Where()
        where.add(f"{alias}.pipeline_id = %s", scope.pipeline_id)
        if logged:
            where.add(f"{alias}.kind = 'c'")
        else:
            where.add(f"{alias}.dim = %s", dim)
        _days_where(where, alias, days, dialect)
        _key_filters(where, alias, scope)
        grouping = _group(alias, group, logged, rollup_bounds)
        is_won = won.format(a=alias)
        valued_if = f"{is_won} AND {alias}.currency = %s"
        if logged:
            deals, valued = f"{alias}.sign", f"{alias}.sign"
            valued_if += f" AND {alias}.value IS NOT NULL"
            value = f"{alias}.sign * {alias}.value"
            dated = f"{alias}.sign * {alias}.dated"
            cycle = f"{alias}.sign * {alias}.cycle_days"
        else:
            deals, valued = f"{alias}.deals", f"{alias}.valued"
            value = f"{alias}.value"
            dated, cycle = f"{alias}.dated", f"{alias}.cycle_days"
        parts.append(
            f"SELECT {grouping.expr} AS grp, "
            f"SUM(CASE WHEN {is_won} THEN {deals} ELSE 0 END) AS won, "
            f"SUM(CASE WHEN {alias}.status = 'lost' THEN {deals} ELSE 0 END) AS lost, "
            f"SUM(CASE WHEN {valued_if} THEN {valued} ELSE 0 END) AS valued, "
            f"SUM(CASE WHEN {valued_if} THEN {value} END) AS value, "
            f"SUM(CASE WHEN {is_won} THEN {dated} ELSE 0 END) AS dated, "
            f"SUM(CASE WHEN {is_won} THEN {cycle} END) AS days "
            f"FROM {table} {alias} {grouping.join} WHERE {where.sql} GROUP BY 1"
        )
        params += [*grouping.params, scope.currency, scope.currency, *where.params]
    edges = days.edges()
    if edges:
        if bounds is not None:
            grouping = sql.buckets("d.closed_at", [dialect.instant(b) for b in bounds])
        else:
            grouping = sql.GROUPINGS[group] if group else sql.ALL
        direct = sql.closed(dialect, scope, grouping, within=edges)
        parts.append(direct.sql)
        params += direct.params
    text = (
        "SELECT t.grp, SUM(t.won), SUM(t.lost), SUM(t.valued), "
        "CASE WHEN SUM(t.valued) > 0 THEN SUM(t.value) END, SUM(t.dated), "
        "CASE WHEN SUM(t.dated) > 0 THEN SUM(t.days) END "
        f"FROM ({' UNION ALL '.join(parts)}) t GROUP BY t.grp "
        "HAVING SUM(t.won) + SUM(t.lost) > 0"
    )
    return sql.Query(text, tuple(params))


def lost_by_stage(dialect: sql.Dialect, scope: sql.Scope) -> sql.Query | None:
    """`sql.lost_by_stage` from the rollup (whole pipeline only).

    The rollup keys a lost deal by the stage it stands in, which is the
    stage it was lost from until a redesign removes that stage and moves its
    closed deals on (`--move OLD=NEW`). Those few deals are put back where
    they were lost (`sql.lost_moved`, over the rollup's whole days), so the
    answer is the scan's whatever the redesigns, and the rollup's rows stay
    as the triggers keep them."""
    if serving_dim(scope, None) != TOTAL:
        return None
    days = split([scope.start, scope.end])
    moved = sql.lost_moved(
        dialect, _midnight_of(days.first), _midnight_of(days.stop), scope
    )
    parts, params = [moved.sql], list(moved.params)
    for alias, table, logged in (("r", CLOSED_DAY, False), ("l", CHANGE, True)):
        where = sql._Where()
        where.add(f"{alias}.pipeline_id = %s", scope.pipeline_id)
        where.add(f"{alias}.status = 'lost'")
        where.add(f"{alias}.kind = 'c'" if logged else f"{alias}.dim = {TOTAL}")
        _days_where(where, alias, days, dialect)
        deals = f"{alias}.sign" if logged else f"{alias}.deals"
        parts.append(
            f"SELECT {alias}.stage_id AS stage, {alias}.loss_reason AS reason, "
            f"SUM({deals}) AS n FROM {table} {alias} WHERE {where.sql} "
            f"GROUP BY {alias}.stage_id, {alias}.loss_reason"
        )
        params += where.params
    edges = days.edges()
    if edges:
        direct = sql.lost_by_stage(dialect, scope, within=edges)
        parts.append(direct.sql)
        params += direct.params
    text = (
        f"SELECT t.stage, t.reason, SUM(t.n) FROM ({' UNION ALL '.join(parts)}) t "
        "GROUP BY t.stage, t.reason HAVING SUM(t.n) > 0"
    )
    return sql.Query(text, tuple(params))


def entered(
    dialect: sql.Dialect,
    scope: sql.Scope,
    group: str | None = None,
    bounds: Sequence[dt.datetime] | None = None,
) -> sql.Query | None:
    """`sql.entered` from the rollup: (group, deals) per breakdown or span.
    Undated deals, which count over all time, are counted from the deals."""
    dim = serving_dim(scope, group)
    if dim is None:
        return None
    points = bounds if bounds is not None else [scope.start, scope.end]
    days = split(points)
    rollup_bounds = _bucket_days(dialect, bounds) if bounds is not None else None
    parts, params = [], []
    for alias, table, logged in (("r", ENTERED_DAY, False), ("l", CHANGE, True)):
        where = sql._Where()
        where.add(f"{alias}.pipeline_id = %s", scope.pipeline_id)
        where.add(f"{alias}.kind = 'e'" if logged else f"{alias}.dim = {dim}")
        _days_where(where, alias, days, dialect)
        _key_filters(where, alias, scope)
        grouping = _group(alias, group, logged, rollup_bounds)
        deals = f"{alias}.sign" if logged else f"{alias}.deals"
        parts.append(
            f"SELECT {grouping.expr} AS grp, SUM({deals}) AS n "
            f"FROM {table} {alias} {grouping.join} WHERE {where.sql} GROUP BY 1"
        )
        params += [*grouping.params, *where.params]
    edges = days.edges()
    if edges:
        if bounds is not None:
            grouping = sql.buckets(sql.ENTRY, [dialect.instant(b) for b in bounds])
        else:
            grouping = sql.GROUPINGS[group] if group else sql.ALL
        direct = sql.entered(dialect, scope, grouping, within=edges)
        parts.append(direct.sql)
        params += direct.params
    if all(point is None for point in points):
        # Over all time the deals with no date at all count too: the rollup
        # has no day for them (an index range on the entry expression).
        grouping = sql.GROUPINGS[group] if group else sql.ALL
        direct = sql.entered(dialect, scope, grouping, undated=True)
        parts.append(direct.sql)
        params += direct.params
    text = (
        f"SELECT t.grp, SUM(t.n) FROM ({' UNION ALL '.join(parts)}) t "
        "GROUP BY t.grp HAVING SUM(t.n) > 0"
    )
    return sql.Query(text, tuple(params))
