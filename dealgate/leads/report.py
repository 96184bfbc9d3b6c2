"""Response and win figures for a pipeline's leads, and what they cannot say.

Counts are SQL aggregations; medians are taken over one column fetched as a
flat list (SQLite has no percentile function). Months are the pipeline's
calendar months: a lead counts in the month of its local creation day, by
the local boundaries insights group periods by (`period_end`). `limits` are
computed from the data itself (no response recorded, no loss recorded ...)
plus the notes of any built-in import mapping the leads came from.

The report stands at one instant, the clock's (`timesource.now`: now, or the
`--as-of` instant): it counts the leads that had arrived by then, the answers
given and the deals closed by then, and each lead's status as it stood then
(`_status_then`), so a report of an earlier day never counts what came
after it.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.expressions import RawSQL

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.core.calendar import Calendar
from dealgate.core.rounding import fixed, percent
from dealgate.deals.models import Deal
from dealgate.insights import sql
from dealgate.insights.filters import period_end
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline

from .models import Lead, LeadAssignment


def _closed_by(status: str, at: dt.datetime) -> Q:
    """Leads whose deal was closed with `status` by `at`: a deal won later
    was still open then."""
    return Q(deal__status=status, deal__closed_at__lte=at)


@dataclass
class SourceRow:
    source: str
    leads: int
    won: int

    @property
    def win_rate(self) -> float:
        return self.won / self.leads if self.leads else 0.0

    @property
    def win_percent(self) -> str:
        return percent(self.win_rate)


@dataclass
class LeadReport:
    pipeline: str
    channel: str | None
    leads: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    sources: list[SourceRow] = field(default_factory=list)
    months: list[tuple[str, int, int]] = field(default_factory=list)
    zone: str = ""  # the calendar zone the months are counted in
    answered: int = 0
    # Answered within the pipeline's window for a new lead (`window_minutes`,
    # business minutes) of the inquiry's arrival.
    answered_in_window: int = 0
    window_minutes: int = 0
    # Answered leads without a stored response time (answered by SQL, or an
    # old row): left out of the medians, and counted so the figure says so.
    answered_unmeasured: int = 0
    response_business_median: float | None = None
    response_wall_median_minutes: float | None = None
    overdue_now: int = 0
    won: int = 0
    lost: int = 0
    days_to_win_median: float | None = None
    days_to_win_p80: float | None = None
    won_before_contact: int = 0
    limits: list[str] = field(default_factory=list)

    @property
    def win_rate(self) -> float:
        return self.won / self.leads if self.leads else 0.0

    @property
    def win_percent(self) -> str:
        return percent(self.win_rate)

    @property
    def response_summary(self) -> str:
        """The answered leads and their median response, as the page says it."""
        text = (
            f"{self.answered:,} answered, {self.answered_in_window:,} within "
            f"{self.window_minutes:,} business minutes of arriving."
        )
        if self.response_business_median is None:
            return f"{text} No median wait: {self._unmeasured_text()}."
        text += (
            f" Buyers waited a median {fixed(self.response_business_median)} "
            f"business minutes ({fixed(self.response_wall_median_minutes)} minutes of "
            "wall time) from their inquiry's arrival to its first answer"
        )
        if self.answered_unmeasured:
            return f"{text}, leaving out {self._unmeasured_text()}."
        return f"{text}."

    def _unmeasured_text(self) -> str:
        n = self.answered_unmeasured
        whom = "none of them has" if n == self.answered else f"{n:,} without"
        return (
            f"{whom} a stored response time (answered outside Dealgate: by SQL, "
            "or in an old row)"
        )

    def lines(self) -> list[str]:
        """The report as text, for the command line."""
        where = f"pipeline {self.pipeline}"
        if self.channel:
            where += f", channel {self.channel}"
        out = [f"Leads of {where}: {self.leads:,}"]
        if not self.leads:
            return out
        out.append(
            "  by status: "
            + ", ".join(f"{status} {n:,}" for status, n in self.by_status.items())
        )
        out.append("Response")
        if self.answered:
            out.append(
                f"  answered: {self.answered:,}, {self.answered_in_window:,} within "
                f"{self.window_minutes:,} business min of arriving"
                + (
                    f"; buyers waited a median {fixed(self.response_business_median)} "
                    f"business min ({fixed(self.response_wall_median_minutes)} min "
                    "wall) from arrival to first answer"
                    if self.response_business_median is not None
                    else "; no median"
                )
            )
            if self.answered_unmeasured:
                out.append(
                    f"  left out of the median: {self.answered_unmeasured:,} "
                    "answered without a stored response time (answered outside "
                    "Dealgate: by SQL, or in an old row)"
                )
        else:
            out.append("  no lead has a recorded first response")
        out.append(f"  open and past their window now: {self.overdue_now:,}")
        out.append("Wins")
        out.append(
            f"  won: {self.won:,} of {self.leads:,} ({percent(self.win_rate)}); "
            f"lost deals: {self.lost:,}"
        )
        if self.days_to_win_median is not None:
            out.append(
                f"  first contact to win: median {fixed(self.days_to_win_median)} "
                f"days, 80% within {fixed(self.days_to_win_p80)} days"
            )
        if self.won_before_contact:
            out.append(
                f"  left out: {self.won_before_contact:,} won before their "
                "first contact date"
            )
        out.append("By source (leads, won, win rate)")
        for row in self.sources:
            label = row.source or "(empty)"
            out.append(
                f"  {label:<22}{row.leads:>7,}{row.won:>7,}{percent(row.win_rate):>8}"
            )
        out.append(f"By month of first contact, {self.zone} time (leads, won)")
        out += [f"  {month}{leads:>8,}{won:>7,}" for month, leads, won in self.months]
        if self.limits:
            out.append("What these figures cannot tell")
            out += [f"  - {limit}" for limit in self.limits]
        return out


def lead_report(pipeline: Pipeline, *, channel: str | None = None) -> LeadReport:
    """Response and win figures for `pipeline`'s leads (one channel, or all),
    as they stood at the clock's instant (the module's docstring)."""
    at = timesource.now()
    leads = Lead.objects.filter(pipeline=pipeline, created_at__lte=at)
    if channel:
        leads = leads.filter(channel=channel)
    leads = leads.annotate(status_then=_status_then(at))
    report = LeadReport(pipeline=pipeline.key, channel=channel)
    report.by_status = dict(
        leads.values_list("status_then").annotate(n=Count("id")).order_by("status_then")
    )
    report.leads = sum(report.by_status.values())
    if not report.leads:
        return report
    won = _closed_by(Deal.Status.WON, at)
    _sources(report, leads, won)
    _months(report, leads, won, calendar_for(pipeline))
    _response(report, leads, pipeline, at)
    _wins(report, leads, won, at)
    report.limits = _limits(report, leads)
    return report


def _status_then(at: dt.datetime) -> Case:
    """A lead's status at `at`, in SQL: a lead closed by then (converted,
    disqualified, merged) in the status it closed in, an imported archive
    record archived; else answered once its first answer was given by then,
    assigned once an assignment was made by then, new before. A lead closed
    or answered later was open and waiting then."""
    assigned = LeadAssignment.objects.filter(lead=OuterRef("pk"), at__lte=at)
    return Case(
        When(
            ~Q(status__in=Lead.OPEN) & Q(closed_at__lte=at),
            then=F("status"),
        ),
        When(
            status=Lead.Status.ARCHIVED,
            closed_at__isnull=True,
            then=Value(Lead.Status.ARCHIVED.value),
        ),
        When(first_response_at__lte=at, then=Value(Lead.Status.ANSWERED.value)),
        When(Exists(assigned), then=Value(Lead.Status.ASSIGNED.value)),
        default=Value(Lead.Status.NEW.value),
        output_field=CharField(),
    )


def _sources(report: LeadReport, leads: Any, won: Q) -> None:
    rows = (
        leads.values("source")
        .annotate(n=Count("id"), won=Count("id", filter=won))
        .order_by("-n", "source")
    )
    report.sources = [SourceRow(r["source"], r["n"], r["won"]) for r in rows]


def _months(report: LeadReport, leads: Any, won: Q, calendar: Calendar) -> None:
    """Leads and won leads per local calendar month: one query for the first
    and last creation instants, one that places each lead in its month by a
    CASE over the local month boundaries (`sql.buckets`) and counts."""
    report.zone = calendar.timezone
    span = leads.aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is None:
        return
    firsts = _month_firsts(
        span["first"].astimezone(calendar.zone).date(),
        span["last"].astimezone(calendar.zone).date(),
    )
    # Local midnight starting each month, then the one ending the last.
    bounds = [period_end(day - dt.timedelta(days=1), calendar, None) for day in firsts]
    dialect = sql.Dialect(connection.vendor)
    quote = connection.ops.quote_name
    column = f"{quote(Lead._meta.db_table)}.{quote('created_at')}"
    grouping = sql.buckets(column, [dialect.instant(bound) for bound in bounds])
    rows = (
        leads.annotate(month=RawSQL(grouping.expr, grouping.params))
        .values("month")
        .annotate(n=Count("id"), won=Count("id", filter=won))
        .order_by("month")
    )
    report.months = [(f"{firsts[r['month']]:%Y-%m}", r["n"], r["won"]) for r in rows]


def _month_firsts(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first day of each month from `first`'s to `last`'s, and of the
    month after."""
    day = first.replace(day=1)
    firsts = [day]
    while day <= last:
        day = (day + dt.timedelta(days=32)).replace(day=1)
        firsts.append(day)
    return firsts


def _response(
    report: LeadReport, leads: Any, pipeline: Pipeline, at: dt.datetime
) -> None:
    """How fast buyers were answered by `at`: each lead answered by then,
    its wait from its arrival to its first answer (`services.buyer_wait`,
    stored when it was answered), against the pipeline's window for a new
    lead as it is now; and the leads open and past their window at `at`."""
    from .assign import intake_window

    answered = leads.filter(first_response_at__lte=at)
    report.answered = answered.count()
    report.window_minutes = intake_window(pipeline)
    report.answered_in_window = answered.filter(
        response_business_minutes__lte=report.window_minutes
    ).count()
    # A lead answered behind Dealgate's back (SQL, an old row) has a first
    # response but no stored time: it is left out of the medians, and counted.
    measured = answered.filter(
        response_business_minutes__isnull=False, response_wall_seconds__isnull=False
    )
    times = list(
        measured.values_list("response_business_minutes", "response_wall_seconds")
    )
    report.answered_unmeasured = report.answered - len(times)
    if times:
        business, wall = zip(*times, strict=True)
        report.response_business_median = statistics.median(business)
        report.response_wall_median_minutes = statistics.median(wall) / 60
    # Late only once business time has passed beyond the due time: a window
    # whose clock, running at `at`, had not passed its `late_after` is not
    # overdue (at that instant itself it is not yet late, as for the sweep).
    # One met or breached since was running then; a cancelled one was
    # replaced (a new owner's window).
    not_late = Clock.objects.filter(
        lead=OuterRef("pk"),
        kind=Clock.Kind.RESPONSE,
        started_at__lte=at,
        late_after__gte=at,
    ).exclude(state=Clock.State.CANCELLED)
    report.overdue_now = (
        leads.filter(status_then=Lead.Status.ASSIGNED, response_due_at__lt=at)
        .exclude(Exists(not_late))
        .count()
    )


def _wins(report: LeadReport, leads: Any, won: Q, at: dt.datetime) -> None:
    report.won = leads.filter(won).count()
    report.lost = leads.filter(_closed_by(Deal.Status.LOST, at)).count()
    spans = [
        (closed - created).total_seconds() / 86400
        for created, closed in leads.filter(won).values_list(
            "created_at", "deal__closed_at"
        )
    ]
    report.won_before_contact = sum(1 for days in spans if days < 0)
    kept = sorted(days for days in spans if days >= 0)
    if kept:
        report.days_to_win_median = statistics.median(kept)
        report.days_to_win_p80 = kept[min(len(kept) - 1, int(0.8 * len(kept)))]


def _limits(report: LeadReport, leads: Any) -> list[str]:
    from . import olist

    limits = []
    if not report.answered:
        limits.append(
            "No lead has a recorded first response, so response times cannot "
            "be measured."
        )
    disqualified = report.by_status.get(Lead.Status.DISQUALIFIED, 0)
    if not report.lost and not disqualified:
        limits.append(
            "No lead was recorded as lost or disqualified, so 'not won' mixes "
            "lost, still open and unknown."
        )
    if report.by_status.get(Lead.Status.ARCHIVED):
        limits.append(
            "Archived leads are imported records whose outcome the source did "
            "not give; they were never routed, so routing says nothing of them."
        )
    if leads.filter(custom__mapping=olist.SOURCE).exists():
        limits.extend(olist.LIMITS)
    return limits
