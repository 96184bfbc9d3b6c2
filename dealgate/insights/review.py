"""The weekly one-metric review: one figure, this week against the eight before.

Each week the team looks at a single metric. The product proposes one by
rotation (the metric after the one reviewed last), the team may choose
another, and the decision it writes is kept with the value it was based on
(`WeeklyReview`). Weeks run Monday to Sunday in the pipeline's calendar zone;
the current week counts what happened so far.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from dealgate.core import metrics as m
from dealgate.deals.models import Deal
from dealgate.leads.models import Lead

from . import queries as q
from . import rollups, sql
from .filters import Filters, PipelineFacts, period_end
from .models import WeeklyReview

WEEKS = 9  # the week reviewed and the eight before it
BEHIND_LIMIT = 50


@dataclass(frozen=True)
class ReviewMetric:
    key: str
    label: str
    kind: str  # a tables.Column kind: percent, money, int, days
    unit: str  # for the chart's axis
    definition: str  # what one week's value means, in words
    # What a week's count (`WeekValue.count`) holds, as a column heading.
    counted: str = "Deals counted"


METRICS = (
    ReviewMetric(
        "win_rate",
        "Win rate",
        "percent",
        "% of closed deals",
        "Of the deals closed in the week, the share that were won.",
        counted="Deals closed",
    ),
    ReviewMetric(
        "won_value",
        "Won value",
        "money",
        "pipeline currency",
        "The total value of the deals won in the week, in the pipeline's currency.",
        counted="Won deals in the value",
    ),
    ReviewMetric(
        "new_deals",
        "New deals",
        "int",
        "deals",
        "Deals that entered the pipeline in the week.",
        counted="Deals entered",
    ),
    ReviewMetric(
        "lost_deals",
        "Deals lost",
        "int",
        "deals",
        "Deals lost in the week, from any stage.",
        # The value is itself a count, so the column of what it is computed
        # over (the deals listed below) needs words of its own.
        counted="Lost deals counted",
    ),
    ReviewMetric(
        "median_cycle",
        "Median sales cycle",
        "days",
        "calendar days",
        "Median calendar days (the dates in the pipeline's zone) from creation to "
        "win, over deals won in the week.",
        counted="Deals won",
    ),
    ReviewMetric(
        "lead_response",
        "Leads answered within a business day",
        "percent",
        "% of assigned leads",
        "Of the leads assigned in the week, the share answered within one "
        "business day (unanswered leads count as not answered).",
        counted="Leads assigned",
    ),
)
BY_KEY = {metric.key: metric for metric in METRICS}


@dataclass(frozen=True)
class WeekValue:
    week: dt.date  # its Monday
    value: float | None  # None when unknown, or for a week not started yet
    count: int  # the deals (or leads) the value is computed over
    started: bool = True  # False for a week after the as-of instant's
    # Won value only: won deals in other currencies, left out of the value.
    left_out: int = 0


def metric_keys() -> list[str]:
    return [metric.key for metric in METRICS]


def metric_label(key: str) -> str:
    """A metric's label as pages show it; the key itself for a metric no
    longer offered (a review kept from before it was dropped)."""
    metric = BY_KEY.get(key)
    return metric.label if metric is not None else key


def this_week(facts: PipelineFacts, now: dt.datetime) -> dt.date:
    return m.week_start(now.astimezone(facts.calendar.zone).date())


def chosen_metric(
    facts: PipelineFacts, week: dt.date, requested: str | None = None
) -> tuple[ReviewMetric, str]:
    """The metric to review in `week`, and how it was picked: "chosen" (asked
    for), "recorded" (the week's review names it) or "rotated" (the one after
    the latest earlier review's metric; the first metric when there is none)."""
    if requested:
        if requested not in BY_KEY:
            from dealgate.errors import ValidationError

            known = ", ".join(BY_KEY)
            raise ValidationError(
                f"metric must be one of {known}; got {requested!r}", field="metric"
            )
        return BY_KEY[requested], "chosen"
    reviews = WeeklyReview.objects.filter(pipeline=facts.pipeline, week__lte=week)
    latest = reviews.order_by("-week").first()
    if latest is not None and latest.week == week and latest.metric in BY_KEY:
        return BY_KEY[latest.metric], "recorded"
    last = latest.metric if latest is not None else None
    return BY_KEY[m.rotate(metric_keys(), last)], "rotated"


def week_bounds(
    facts: PipelineFacts, weeks: list[dt.date], now: dt.datetime | None = None
) -> list[dt.datetime]:
    """Local midnights starting each week, then the one ending the last; none
    later than `now` (as every period's end, `period_end`), so the current
    week counts what happened so far and a week to come counts nothing."""
    mondays = [*weeks, weeks[-1] + dt.timedelta(weeks=1)]
    bounds = [
        period_end(day - dt.timedelta(days=1), facts.calendar, now) for day in mondays
    ]
    return [bound for bound in bounds if bound is not None]


def weekly_series(
    filters: Filters, metric: ReviewMetric, last_week: dt.date, weeks: int = WEEKS
) -> list[WeekValue]:
    """The metric for `weeks` weeks ending with `last_week`, oldest first.

    One or two queries whatever the number of weeks: each row is placed in
    its week by a CASE over the week boundaries, then grouped. Counts and
    sums of closed and new deals come from the daily rollups. A week that
    has not started at the as-of instant has no value (not a zero); the
    won value also counts, per week, the won deals in other currencies it
    leaves out (one more GROUP BY).
    """
    mondays = m.weeks_ending(last_week, weeks)
    bounds = week_bounds(filters.facts, mondays, filters.now)
    dialect = q.dialect()
    scope = filters.scope(start=bounds[0], end=bounds[-1])
    adapted = [dialect.instant(bound) for bound in bounds]
    values: dict[int, tuple[float | None, int]] = {}
    left_out: dict[int, int] = {}
    if metric.key == "won_value":
        left_out = q.won_in_other_currencies_by_span(filters, bounds)
    if metric.key in ("win_rate", "won_value", "lost_deals"):
        query = rollups.closed(dialect, scope, bounds=bounds) or sql.closed(
            dialect, scope, sql.buckets("d.closed_at", adapted)
        )
        for week, won_, lost_, valued_, total, _, _ in q.fetch(query):
            won, lost, valued = int(won_), int(lost_), int(valued_)
            if metric.key == "win_rate":
                values[week] = (m.rate(won, won + lost), won + lost)
            elif metric.key == "won_value":
                values[week] = (float(total) if total is not None else 0.0, valued)
            else:
                values[week] = (float(lost), lost)
    elif metric.key == "new_deals":
        query = rollups.entered(dialect, scope, bounds=bounds) or sql.entered(
            dialect, scope, sql.buckets(sql.ENTRY, adapted)
        )
        for week, count in q.fetch(query):
            values[week] = (float(count), int(count))
    elif metric.key == "median_cycle":
        grouping = sql.buckets("d.closed_at", adapted)
        found = q.spreads(sql.cycle_days(dialect, scope, grouping), dialect_=dialect)
        for week, (n, (median, _)) in found.items():
            values[week] = (median, n)
    else:
        grouping = sql.buckets("l.assigned_at", adapted)
        for week, leads, _, _, _, within_day in q.fetch(
            sql.lead_responses(dialect, scope, grouping)
        ):
            values[week] = (m.rate(within_day, leads), leads)
    current = this_week(filters.facts, filters.now) if filters.now else None
    return [
        _week_value(metric, monday, values.get(index), left_out.get(index, 0))
        if current is None or monday <= current
        else WeekValue(monday, None, 0, started=False)
        for index, monday in enumerate(mondays)
    ]


def _week_value(
    metric: ReviewMetric,
    monday: dt.date,
    found: tuple[float | None, int] | None,
    left_out: int,
) -> WeekValue:
    if found is None:
        # A week with nothing in it: counts are zero, rates and medians unknown.
        empty = 0.0 if metric.kind in ("int", "money") else None
        return WeekValue(monday, empty, 0, left_out=left_out)
    value, count = found
    return WeekValue(monday, value, int(count or 0), left_out=left_out)


# The stage a deal behind a week's value is listed at: an open deal's own, a
# closed deal's the one it closed from (`sql.closed_from`), not where a
# redesign moved it after.
SHOWN_STAGE = (
    f"CASE WHEN {sql.DEAL}.status = 'open' THEN {sql.DEAL}.stage_id "
    f"ELSE {sql.closed_from(sql.DEAL)} END"
)


def deals_behind(
    filters: Filters,
    metric: ReviewMetric,
    week: dt.date,
    *,
    limit: int | None = BEHIND_LIMIT,
) -> tuple[QuerySet, int]:
    """The deals (or leads) one week's value is computed over, newest first,
    at most `limit` of them (all when None), and how many there are in all.
    Deals carry `shown_stage_id` (`SHOWN_STAGE`)."""
    start, end = week_bounds(filters.facts, [week], filters.now)
    if metric.key == "lead_response":
        items = Lead.objects.filter(
            pipeline=filters.pipeline,
            historic=False,
            assigned_at__gte=start,
            assigned_at__lt=end,
        ).select_related("owner")
        order = "-assigned_at"
    elif metric.key == "new_deals":
        # A deal entered the pipeline when it was created (sql.ENTRY).
        items = q.filtered_deals(filters).filter(
            created_at__gte=start, created_at__lt=end
        )
        order = "-created_at"
    else:
        statuses = {
            "win_rate": ["won", "lost"],
            "won_value": ["won"],
            "median_cycle": ["won"],
            "lost_deals": ["lost"],
        }[metric.key]
        items = q.filtered_deals(filters).filter(
            status__in=statuses, closed_at__gte=start, closed_at__lt=end
        )
        if metric.key == "median_cycle":
            items = items.filter(created_at__isnull=False)
        order = "-closed_at"
    if items.model is Deal:
        items = items.select_related("owner", "organization").annotate(
            shown_stage_id=RawSQL(SHOWN_STAGE, ())
        )
    ordered = items.order_by(order, "-id")
    return (ordered if limit is None else ordered[:limit]), items.count()
