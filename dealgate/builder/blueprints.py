"""The blueprint of an applied pipeline, read from its closed deals' history.

The database does the work per deal and per stay, in a few aggregate
statements over the closed deals' stage events (see `_Stays`): the
deals grouped by path and outcome, the stays counted per stage and outcome,
the percentiles of their business days, the stays after each handoff and
those with a first response, and the instants that tell whether the history
holds dates only. Python receives a few rows per path variant, stage or
handoff (and one per stay that had a response, to count its business
minutes), and `dealgate.core.blueprint.summarise` does the rest, as
`find_blueprint` does for paths traced in Python (the reference the tests
check this against).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection

from dealgate.core import blueprint as bp
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.core.pipeline_file import LEAD as NEW_LEAD
from dealgate.core.text import counted
from dealgate.deals.models import Deal
from dealgate.errors import ValidationError
from dealgate.insights import queries, sql
from dealgate.leads.models import Lead
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline, Stage
from dealgate.pipelines.services import export_pipeline, stage_spec

CLOSED = (Deal.Status.WON, Deal.Status.LOST)
MAX_LAST = 1_000_000
LEAD = -1  # a stay's `came_from` when the deal came in as a new lead
ACTIVITY = "deals_activity"


@dataclass(frozen=True)
class _Stages:
    """Every stage of a pipeline, retired included, in board order."""

    by_id: dict[int, Stage]

    @property
    def order(self) -> list[str]:
        return [stage.key for stage in self.by_id.values()]

    @property
    def active(self) -> list[str]:
        return [s.key for s in self.by_id.values() if s.retired_at is None]

    def key(self, stage_id: int | None) -> str:
        stage = self.by_id.get(stage_id) if stage_id is not None else None
        return stage.key if stage is not None else ""

    def came_from(self, value: int | None) -> str | None:
        """A stay's `came_from` as the blueprint names it."""
        if value is None:
            return None
        return NEW_LEAD if value == LEAD else self.key(value)


def blueprint_for(pipeline: Pipeline, *, last: int | None = None) -> bp.Blueprint:
    """The blueprint of `pipeline`'s closed deals, or of the `last` closed
    most recently (by close time, then id). Seven statements, whatever the
    number of deals, over a temporary table of the stays (see `_Stays`)."""
    if last is not None and not 1 <= last <= MAX_LAST:
        raise ValidationError(f"last must be from 1 to {MAX_LAST:,}", field="last")
    stages = _Stages({s.pk: s for s in pipeline.stages.order_by("position", "id")})
    calendar = calendar_for(pipeline)
    with _Stays(pipeline.pk, last, sql.Dialect(connection.vendor)) as statements:
        groups = _groups(statements, stages)
        figures = _figures(statements, stages, calendar)
    scope = "all closed deals"
    if last is not None:
        scope = f"the last {counted(last, 'closed deal')}"
    return bp.summarise(
        groups,
        figures,
        stages.order,
        calendar.day_minutes,
        scope=scope,
        active=stages.active,
        names={stage.key: stage.name for stage in stages.by_id.values()},
    )


def proposal_for(pipeline: Pipeline, *, last: int | None = None) -> bp.Proposal:
    """A pipeline shaped by the blueprint, starting from the applied one."""
    retired = {
        stage.key: stage_spec(stage)
        for stage in pipeline.stages.exclude(retired_at=None).select_related(
            "owner_user", "owner_team"
        )
    }
    return bp.propose(
        blueprint_for(pipeline, last=last), export_pipeline(pipeline), retired=retired
    )


class _Stays:
    """The stays of one pipeline's closed deals (or of the `last` closed), in
    a temporary table while the blueprint's statements read it (a context
    manager: the table is dropped on the way out). Built once from these
    definitions, since every statement needs them and building them is most
    of the work:

    - `closed`: the deals, with their outcome and close time;
    - the stays, one row each, as `dealgate.core.blueprint.trace` finds
      them: an event that took a deal out of a stage while open ends a stay
      there (it entered at `from_entered_at`, for `from_business_minutes`);
      a closed deal with no such event stayed only in the stage it closed
      from, times unknown. Each stay also says where the deal came from:
      the previous event that left it open or took it out of a stage names
      it, a new lead (`LEAD`) when that is the deal's entry written by a
      lead's conversion (source "lead"), none when it is the entry of an
      imported or hand-made deal. Stays are in the order of the instant
      they ended (`ended`), then event id.
    """

    TABLE = "dealgate_blueprint_stays"

    def __init__(self, pipeline_id: int, last: int | None, dialect: sql.Dialect):
        self.dialect = dialect
        closed = "d.pipeline_id = %s AND d.status IN ('won', 'lost')"
        self.params: tuple[Any, ...] = (pipeline_id,)
        if last is not None:
            closed += (
                f" AND d.id IN (SELECT x.id FROM {sql.DEAL} x WHERE x.pipeline_id "
                "= %s AND x.status IN ('won', 'lost') ORDER BY x.closed_at DESC, "
                f"x.id DESC LIMIT {int(last)})"
            )
            self.params += (pipeline_id,)
        self.closed = (
            "SELECT d.id, d.status, d.stage_id, d.closed_at "
            f"FROM {sql.DEAL} d WHERE {closed}"
        )

    def _select(self) -> str:
        """The statement of the stays: columns deal_id, ended, eid, stage_id,
        entered, minutes, came_from, outcome."""
        left_open = "e.from_status = 'open' AND e.from_stage_id IS NOT NULL"
        # Only events that set where a deal comes from: a stay's end, or one
        # that leaves the deal open (its entry, a reopening). Each joins its
        # deal by primary key for the outcome: a join of two derived tables
        # would find no index to probe.
        previous = "OVER (PARTITION BY e.deal_id ORDER BY e.at, e.id)"
        setting = (
            "SELECT e.deal_id, e.at, e.id, e.from_stage_id, e.from_status, "
            "e.from_entered_at, e.from_business_minutes, d.status, "
            f"LAG(e.id) {previous} AS p_id, "
            f"LAG(e.from_stage_id) {previous} AS p_from, "
            f"LAG(e.source) {previous} AS p_source "
            f"FROM {sql.EVENT} e JOIN {sql.DEAL} d ON d.id = e.deal_id "
            "WHERE e.deal_id IN (SELECT id FROM closed) "
            f"AND (({left_open}) OR e.to_status = 'open')"
        )
        # An entry (no stage before it) is a handoff from a new lead only
        # when a lead's conversion wrote it; imported and hand-made deals
        # start with none. A deal back in the stage it came from (lost in
        # it, reopened into it) was handed over by no one: none either.
        came_from = (
            "CASE WHEN s.p_id IS NULL THEN NULL "
            "WHEN s.p_from = s.from_stage_id THEN NULL WHEN s.p_from IS NOT NULL "
            f"THEN s.p_from WHEN s.p_source = '{bp.LEAD_SOURCE}' THEN {LEAD} END"
        )
        from_events = (
            "SELECT s.deal_id, s.at AS ended, s.id AS eid, "
            "s.from_stage_id AS stage_id, s.from_entered_at AS entered, "
            f"s.from_business_minutes AS minutes, {came_from} AS came_from, "
            f"s.status AS outcome FROM ({setting}) s "
            "WHERE s.from_status = 'open' AND s.from_stage_id IS NOT NULL"
        )
        return (
            f"WITH closed AS ({self.closed}), ev AS ({from_events}) "
            "SELECT ev.deal_id, ev.ended, ev.eid, ev.stage_id, ev.entered, "
            "ev.minutes, ev.came_from, ev.outcome FROM ev "
            "UNION ALL SELECT c.id, c.closed_at, NULL, c.stage_id, NULL, NULL, "
            "NULL, c.status FROM closed c WHERE c.id NOT IN (SELECT deal_id FROM ev)"
        )

    def __enter__(self) -> _Stays:
        """Write the stays (with where each came from) into a temporary
        table once, for the statements that follow to read, and note the
        first and last close."""
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.TABLE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.TABLE} AS {self._select()}",
                self.params,
            )
            cursor.execute(
                f"SELECT MIN(c.closed_at), MAX(c.closed_at) FROM ({self.closed}) c",
                self.params,
            )
            self.first_closed, self.last_closed = cursor.fetchone()
        return self

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.TABLE}")

    def run(self, body: str, params: tuple[Any, ...] = ()) -> list:
        """Rows of `body`, a statement that reads the table as `stays`."""
        with connection.cursor() as cursor:
            cursor.execute(self.query(body).sql, params)
            return cursor.fetchall()

    def query(self, body: str) -> sql.Query:
        return sql.Query(f"WITH stays AS (SELECT * FROM {self.TABLE}) {body}")

    def concat(self, column: str, window: str) -> str:
        """The values of `column` over `window`, in its order, joined by
        commas."""
        name = "group_concat" if self.dialect.vendor == "sqlite" else "string_agg"
        return f"{name}(CAST({column} AS TEXT), ',') OVER ({window})"


# -- paths ----------------------------------------------------------------------


def _groups(statements: _Stays, stages: _Stages) -> list[bp.PathGroup]:
    """The closed deals per path and outcome (one statement). A path is the
    deal's stays' stages in order, a stage stayed in twice in a row once."""
    order = "PARTITION BY m.deal_id ORDER BY m.ended, m.eid"
    every = f"{order} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    body = (
        "SELECT p.path, p.outcome, COUNT(*) FROM ("
        f"SELECT m.deal_id, MIN(m.outcome) AS outcome, MIN(m.path) AS path FROM ("
        f"SELECT m.deal_id, m.outcome, {statements.concat('m.stage_id', every)} "
        "AS path FROM (SELECT s.deal_id, s.ended, s.eid, s.stage_id, s.outcome, "
        "LAG(s.stage_id) OVER (PARTITION BY s.deal_id ORDER BY s.ended, s.eid) "
        "AS before FROM stays s) m "
        "WHERE m.before IS NULL OR m.before <> m.stage_id) m "
        "GROUP BY m.deal_id) p GROUP BY p.path, p.outcome"
    )
    return [
        bp.PathGroup(
            tuple(stages.key(int(stage)) for stage in path.split(",")),
            outcome,
            int(deals),
        )
        for path, outcome, deals in statements.run(body)
    ]


# -- the stays ------------------------------------------------------------------


def _figures(statements: _Stays, stages: _Stages, calendar: Calendar) -> bp.StayFigures:
    tallies = statements.run(
        "SELECT s.stage_id, s.outcome, COUNT(*), "
        "SUM(CASE WHEN s.minutes IS NULL AND NOT (s.entered IS NOT NULL "
        "AND s.entered <= s.ended) THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN s.minutes IS NULL AND s.entered IS NOT NULL "
        "AND s.entered <= s.ended THEN 1 ELSE 0 END) "
        "FROM stays s GROUP BY s.stage_id, s.outcome"
    )
    unmeasured: Counter[str] = Counter()
    counted = []
    for stage_id, outcome, _, without, counted_here in tallies:
        unmeasured[stages.key(stage_id)] += int(without or 0)
        if counted_here:
            counted.append((stage_id, outcome))
    # Dated where the team works: the proposal's header writes their dates.
    first, last = (
        _instant(value).astimezone(calendar.zone) if value is not None else None
        for value in (statements.first_closed, statements.last_closed)
    )
    return bp.StayFigures(
        days=_days(statements, stages, calendar, counted),
        unmeasured=unmeasured,
        responses=_responses(statements, stages, calendar),
        stays=sum(int(row[2]) for row in tallies),
        date_only_stays=_date_only_stays(statements, calendar),
        first_closed=first,
        last_closed=last,
        past_before=_past_before_added(statements, stages),
    )


def _past_before_added(statements: _Stays, stages: _Stages) -> dict[str, int]:
    """Stage key -> deals whose path runs across the stage without a stay in
    it, and that stayed in a later one before a redesign added it (a stay
    there that began, or ended, before): they could not pass through it, so
    they are no skip. One statement, only when a redesign added a stage."""
    places = {pk: index for index, pk in enumerate(stages.by_id)}
    added = [
        (places[pk], stage.key, stage.added_at)
        for pk, stage in stages.by_id.items()
        if stage.added_at is not None
    ]
    if not added:
        return {}
    place = (
        "(CASE s.stage_id "
        + " ".join(f"WHEN {int(pk)} THEN {index}" for pk, index in places.items())
        + " END)"
    )
    parts, params = [], []
    for index, _, instant in added:
        at = statements.dialect.instant(instant)
        parts.append(
            f"SELECT {int(index)}, COUNT(*) FROM (SELECT s.deal_id FROM stays s "
            f"GROUP BY s.deal_id HAVING MIN({place}) < {int(index)} "
            f"AND MAX({place}) > {int(index)} "
            f"AND SUM(CASE WHEN {place} = {int(index)} THEN 1 ELSE 0 END) = 0 "
            f"AND SUM(CASE WHEN {place} > {int(index)} "
            "AND (s.entered < %s OR s.ended < %s) THEN 1 ELSE 0 END) > 0) x"
        )
        params += [at, at]
    keys = {index: key for index, key, _ in added}
    rows = statements.run(" UNION ALL ".join(parts), tuple(params))
    return {keys[int(index)]: int(n) for index, n in rows if n}


def _days(
    statements: _Stays,
    stages: _Stages,
    calendar: Calendar,
    counted: list[tuple[int, str]],
) -> dict[tuple[str, str], bp.Spread]:
    """Business days per stage and outcome: percentiles in the database
    over the minutes each stay's event recorded. Stays of older imports that
    recorded none but an entry time are counted here in the calendar
    (`counted`: the stage and outcome groups that have some), and their
    groups' percentiles taken here too."""
    day = float(calendar.day_minutes)
    won = "CASE WHEN s.outcome = 'won' THEN 1 ELSE 0 END"
    rows = statements.query(
        f"SELECT s.stage_id * 2 + {won} AS grp, s.minutes / {day} AS v "
        "FROM stays s WHERE s.minutes IS NOT NULL"
    )
    found = {}
    for grp, (n, (median, p80)) in queries.spreads(rows).items():
        key = (stages.key(grp // 2), bp.WON if grp % 2 else bp.LOST)
        found[key] = bp.Spread(n, median, p80)
    for stage_id, outcome in counted:
        values = []
        for minutes, entered, ended in statements.run(
            "SELECT s.minutes, s.entered, s.ended FROM stays s "
            "WHERE s.stage_id = %s AND s.outcome = %s",
            (stage_id, outcome),
        ):
            if minutes is None and entered is not None:
                entered, ended = _instant(entered), _instant(ended)
                if entered <= ended:
                    minutes = business_time.between(calendar, entered, ended)
            if minutes is not None:
                values.append(minutes / day)
        found[(stages.key(stage_id), outcome)] = bp.Spread.of(values)
    return found


def _responses(
    statements: _Stays, stages: _Stages, calendar: Calendar
) -> dict[tuple[str, str], tuple[bp.Spread, int]]:
    """First responses per handoff (one statement): the stays after each
    handoff that had a known start, and every stay after a handoff with a
    first response: the deal's answered lead for a stay entered from a new
    lead, else the first done call, email or meeting from the stay's start
    to its end, whose business minutes are counted here."""
    kinds = ", ".join(f"'{kind}'" for kind in bp.RESPONSE_KINDS)
    answering = (
        f"a.deal_id = s.deal_id AND a.done AND a.kind IN ({kinds}) "
        "AND a.at >= s.entered AND a.at < s.ended"
    )
    answered_leads = (
        f"SELECT l.deal_id FROM {Lead._meta.db_table} l WHERE l.deal_id IS NOT NULL "
        "AND l.assigned_at IS NOT NULL AND l.first_response_at IS NOT NULL"
    )
    rows = statements.run(
        "SELECT 'n', s.came_from, s.stage_id, NULL, NULL, NULL, COUNT(*) "
        "FROM stays s WHERE s.came_from IS NOT NULL AND s.entered IS NOT NULL "
        "GROUP BY s.came_from, s.stage_id "
        "UNION ALL SELECT 'r', s.came_from, s.stage_id, s.deal_id, s.entered, "
        f"MIN(a.at), NULL FROM stays s LEFT JOIN {ACTIVITY} a ON {answering} "
        "WHERE s.came_from IS NOT NULL AND (a.id IS NOT NULL OR "
        f"(s.came_from = {LEAD} AND s.deal_id IN ({answered_leads}))) "
        "GROUP BY s.deal_id, s.eid, s.came_from, s.stage_id, s.entered",
    )
    leads = _lead_responses(
        {row[3] for row in rows if row[0] == "r" and row[1] == LEAD}, calendar
    )
    with_entry: Counter[tuple[str, str]] = Counter()
    minutes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for kind, came_from, stage_id, deal_id, entered, answered_at, n in rows:
        pair = (stages.came_from(came_from), stages.key(stage_id))
        if kind == "n":
            with_entry[pair] += int(n)
            continue
        found = None
        if came_from == LEAD and deal_id in leads:
            found = leads[deal_id]
        elif entered is not None and answered_at is not None:
            start = _instant(entered)
            found = business_time.between(calendar, start, _instant(answered_at))
        if found is None:
            continue
        minutes[pair].append(found)
        if entered is not None:
            with_entry[pair] -= 1
    return {
        pair: (bp.Spread.of(minutes[pair]), with_entry[pair])
        for pair in set(minutes) | {p for p, n in with_entry.items() if n}
    }


def _lead_responses(deal_ids: set[int], calendar: Calendar) -> dict[int, float]:
    """Deal id -> business minutes its lead waited for a first answer: as the
    leads app wrote it, else counted in the pipeline's calendar."""
    rows = Lead.objects.filter(
        deal_id__in=deal_ids,
        assigned_at__isnull=False,
        first_response_at__isnull=False,
    ).values_list(
        "deal_id", "assigned_at", "first_response_at", "response_business_minutes"
    )
    return {
        deal_id: (
            minutes
            if minutes is not None
            else business_time.between(calendar, assigned, answered)
        )
        for deal_id, assigned, answered, minutes in rows
        if answered >= assigned
    }


def _date_only_stays(statements: _Stays, calendar: Calendar) -> int:
    """The stays whose known instants (entry and end, at least one) are all
    local midnights: those a source of dates only recorded. Read grouped by
    the pair, which a history of dates folds into few rows, and each
    distinct instant is looked at once."""
    midnight: dict[Any, bool] = {}

    def at_midnight(value: Any) -> bool:
        if value not in midnight:
            local = _instant(value).astimezone(calendar.zone)
            midnight[value] = local.time() == dt.time(0, 0)
        return midnight[value]

    found = 0
    with connection.cursor() as cursor:
        cursor.execute(
            statements.query(
                "SELECT s.entered, s.ended, COUNT(*) FROM stays s "
                "WHERE s.entered IS NOT NULL OR s.ended IS NOT NULL "
                "GROUP BY s.entered, s.ended"
            ).sql
        )
        while rows := cursor.fetchmany(1000):
            for entered, ended, count in rows:
                known = [value for value in (entered, ended) if value is not None]
                if all(at_midnight(value) for value in known):
                    found += int(count)
    return found


def _instant(value: Any) -> dt.datetime:
    """An instant as the cursor gives it: aware on PostgreSQL, naive UTC (as
    text, or parsed) on SQLite."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
