"""The three insights reports as sections of tables: what the pages render
(with a chart per table), what `?format=csv` downloads, and what
`dealgate report` prints. Building a report runs its queries; nothing here
touches the database otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.template.defaultfilters import pluralize
from django.utils.safestring import SafeString

from dealgate.accounts.models import Team, User
from dealgate.core import metrics as m
from dealgate.core.rounding import figure, fixed, hundredfold, percent, rounded, whole
from dealgate.core.text import counted
from dealgate.deals.models import Product
from dealgate.errors import NotFound
from dealgate.pipelines.models import Stage

from . import charts
from . import queries as q
from . import review as rv
from .filters import Filters
from .models import WeeklyReview
from .tables import Column, Table, cents, format_value

DEFINITIONS = [
    (
        "Conversion",
        "Of the deals that entered the pipeline in the period and reached a "
        "stage, the share that later reached a later stage or were won. A "
        "skipped stage counts as passed; a deal that moved back and forward "
        "again counts once; a deal counts as won only if it is won now. An "
        "imported deal whose history records no entry reached the stage it "
        "stands in or closed from. A deal that stood in a retired stage "
        "reached the stage that replaced it.",
    ),
    (
        "Time in stage",
        "For every stay in a stage that ended in the period (moving on, back, "
        "or closing), the time spent there: median and 80th percentile, in "
        "business days of the pipeline's calendar. A stage where some stay "
        "has an entry time but no business time recorded is measured in "
        "calendar days instead, and the table says so; a stay with no entry "
        "time counts as without a duration. Stays in a retired stage are "
        "listed under its own name, marked retired.",
    ),
    (
        "Age of open deals",
        "Business days since each open deal entered its current stage, now.",
    ),
    (
        "Win rate",
        "Of the deals closed in the period, the share won: won / (won + lost).",
    ),
    (
        "Average won value",
        "The mean value of the deals won in the period, in the pipeline's "
        "currency (deals in other currencies are left out, and counted).",
    ),
    (
        "Sales cycle",
        "Calendar days from a deal's creation to its win, for deals won in the "
        "period: the dates in the pipeline's zone, so a deal created at 23:30 and "
        "won at 00:30 took one day.",
    ),
    (
        "Sales velocity",
        "What the pipeline brings in per day: open deals now x win rate x "
        "average won value / mean sales cycle (calendar days). A mean cycle under one "
        "day counts as one day: an open deal closes once, not many times a day. "
        "With deals closed and none won it is 0; with nothing closed, unknown.",
    ),
    (
        "Lead response",
        "Of the leads assigned in the period, the share whose owner answered "
        "within 5 minutes, 1 hour and 1 business day (business time); "
        "unanswered leads count as not answered.",
    ),
]

FUNNEL_VS_PIPELINE = (
    "The funnel follows a population (the deals that entered in the period) "
    "from stage to stage to say where deals are lost; the pipeline view counts "
    "where the open deals stand right now, whatever their age, to say what to "
    "act on today."
)

BREAKDOWNS = ("owner", "team", "product", "source", "segment")


@dataclass
class Section:
    table: Table
    intro: str = ""
    chart: SafeString | None = None


@dataclass
class Report:
    title: str
    filters: Filters
    sections: list[Section] = field(default_factory=list)
    # What the figures cover, said under the title; the filters' period
    # when empty (the weekly review names its week instead).
    scope: str = ""

    def table(self, key: str) -> Table:
        for section in self.sections:
            if section.table.key == key:
                return section.table
        known = ", ".join(section.table.key for section in self.sections)
        raise NotFound(f"no table {key!r}; tables: {known}", field="table")

    def text(self) -> str:
        lines = [self.title, self.scope or self.filters.describe(), ""]
        for section in self.sections:
            lines += [section.table.text(), ""]
        return "\n".join(lines).rstrip() + "\n"


# -- overview -------------------------------------------------------------------


def overview(filters: Filters, now: dt.datetime, *, by: str = "owner") -> Report:
    """Conversion beside the pipeline view, time in stage, outcomes (and one
    breakdown of them), lead response and loss reasons."""
    if by not in BREAKDOWNS:
        from dealgate.errors import ValidationError

        known = ", ".join(BREAKDOWNS)
        raise ValidationError(f"by must be one of {known}; got {by!r}", field="by")
    report = Report(f"Insights: {filters.pipeline.name}", filters)
    q.overview_ahead(filters, by, now)
    stages_now = q.pipeline_now(filters, now)
    totals, by_group = q.outcomes_and_total(filters, by)
    report.sections += [
        _headline(
            filters,
            totals,
            sum(s.count for s in stages_now),
            sum(s.past_limit for s in stages_now),
        ),
        _funnel(filters, now),
        _pipeline_view(filters, stages_now),
        _time_in_stage(filters),
        _breakdown(filters, by, by_group),
        _responses(filters),
        _losses(filters),
    ]
    return report


def _stale_share(velocity: q.Velocity, past_limit: int) -> str:
    """What velocity takes on trust: open deals past their stage's age limit
    count as fully alive in it, and a pipeline of old deals promises money
    it will not bring. Said beside a figure above zero once they are a
    fifth (a figure not shown, or nothing, cannot be too high)."""
    open_deals = velocity.open_deals
    if not velocity.per_day or not open_deals or past_limit * 5 < open_deals:
        return ""
    return (
        f"; {past_limit:,} of the {counted(open_deals, 'open deal')} "
        f"{pluralize(past_limit, 'is,are')} past {pluralize(past_limit, 'its,their')}"
        " stage's age limit, so this is likely high"
    )


def _short_cycle(velocity: q.Velocity) -> str:
    """Said beside velocity when its mean cycle, under a day, counts as one
    day (`metrics.velocity_cycle_days`)."""
    if not velocity.cycle_floored:
        return ""
    return "; the mean cycle is under a day, so it counts as one day"


def _in_other_currencies(count: int) -> str:
    """Won deals whose value is in another currency than the pipeline's,
    counted in words: what a won value or its average leaves out."""
    where = pluralize(count, "another currency,other currencies")
    return f"{counted(count, 'won deal')} in {where}"


def _velocity_unknown(velocity: q.Velocity, totals: q.Outcomes) -> str:
    """Why velocity has no figure, said in its place: the factor missing."""
    if velocity.per_day is not None:
        return ""
    if not totals.closed:
        return "; no deal closed in the period, so there is no win rate"
    if velocity.average_won_value is None:
        return f"; no won deal has a value in {velocity.currency}"
    return "; no won deal has a creation date to measure the cycle"


def _velocity_note(velocity: q.Velocity, totals: q.Outcomes, past_limit: int) -> str:
    note = "open deals x win rate x average won value / mean cycle"
    if velocity.win_rate == 0:
        return note + "; no deal closed in the period was won"
    return (
        note
        + _velocity_unknown(velocity, totals)
        + _short_cycle(velocity)
        + _stale_share(velocity, past_limit)
    )


def _headline(
    filters: Filters, totals: q.Outcomes, open_deals: int, past_limit: int = 0
) -> Section:
    currency = filters.pipeline.currency
    other_currencies = q.won_in_other_currencies(filters)
    cycle = totals.cycle
    velocity = q.Velocity(
        open_deals=open_deals,
        win_rate=totals.win_rate,
        average_won_value=totals.average_won_value,
        cycle_days=totals.cycle_mean,
        currency=currency,
    )
    percent = None if totals.win_rate is None else totals.win_rate * 100
    rows = [
        ["Deals closed", totals.closed, "deals", "won or lost in the period"],
        ["Win rate", percent, "%", f"{totals.won:,} won of {totals.closed:,}"],
        [
            "Average won value",
            cents(totals.average_won_value),
            currency,
            f"over {counted(totals.valued, 'won deal')} with a value in {currency}"
            + (
                f"; left out: {_in_other_currencies(other_currencies)}"
                if other_currencies
                else ""
            ),
        ],
        [
            "Sales cycle, median",
            cycle.median if cycle else None,
            q.CALENDAR_DAYS,
            f"over {counted(cycle.n if cycle else 0, 'won deal')} with a creation date",
        ],
        ["Sales cycle, mean", totals.cycle_mean, q.CALENDAR_DAYS, ""],
        ["Open deals", open_deals, "deals", "now, in the filters"],
        [
            "Sales velocity",
            cents(velocity.per_day),
            f"{currency} per day",
            _velocity_note(velocity, totals, past_limit),
        ],
    ]
    table = Table(
        "headline",
        "Headline figures",
        [
            Column("Figure"),
            Column("Value", "number"),
            Column("Unit"),
            Column("Over"),
        ],
        rows,
    )
    return Section(table)


def stage_label(stage: Stage) -> str:
    """A stage's name as tables show it: a retired stage (history only, gone
    from the pipeline) is marked, since its name may live on in a new one."""
    return f"{stage.name} (retired)" if stage.retired_at is not None else stage.name


def _funnel(filters: Filters, now: dt.datetime) -> Section:
    found = q.funnel(filters, now)
    rows = [
        [
            row.stage.name,
            row.step.entered,
            row.step.passed,
            row.step.conversion,
            row.step.lost_here,
            row.step.open_here,
        ]
        for row in found.rows
    ]
    note = (
        f"Won: {found.won:,} of the {counted(found.population, 'deal')} that entered "
        f"({format_value(Column('', 'percent'), found.win_share)})."
    )
    if found.undated:
        note += (
            f" Left out: {counted(found.undated, 'deal')} with no date to place "
            f"{pluralize(found.undated, 'its,their')} entry in a period (choose all "
            f"time to include {pluralize(found.undated, 'it,them')})."
        )
    note += _added_stages(found, filters)
    table = Table(
        "funnel",
        "Conversion: the funnel",
        [
            Column("Stage"),
            Column("Reached", "int", "deals"),
            Column("Passed", "int", "deals"),
            Column("Conversion", "percent"),
            Column("Lost here", "int", "deals"),
            Column("Still open here", "int", "deals"),
        ],
        rows,
        note,
    )
    chart = charts.bars(
        "Deals that reached and passed each stage",
        [row[0] for row in rows],
        [
            charts.Series("Reached", [row[1] for row in rows]),
            charts.Series("Passed", [row[2] for row in rows]),
        ],
        axis="Deals that entered in the period (count)",
        fmt=_count,
    )
    return Section(table, FUNNEL_VS_PIPELINE, chart)


def _added_stages(found: q.Funnel, filters: Filters) -> str:
    """What the funnel's note says of each stage a redesign added within the
    period: its figures count only the deals that came to its place since,
    since those already past it then never could pass through it."""
    zone = filters.facts.calendar.zone
    words = ""
    for row in found.rows:
        if row.added_at is None:
            continue
        day = row.added_at.astimezone(zone).date().isoformat()
        words += (
            f" {row.stage.name} was added to the pipeline on {day}: it counts "
            "only the deals that came to its place since, leaving out "
            f"{counted(row.past_before, 'deal')} already past it then."
        )
    return words


def _pipeline_view(filters: Filters, stages_now: list[q.StageNow]) -> Section:
    rows = []
    for one in stages_now:
        age = one.age
        rows.append(
            [
                one.stage.name,
                one.count,
                one.share,
                age.median if age else None,
                age.p80 if age else None,
                one.stage.age_limit_days,
                one.past_limit,
                one.unknown_entry,
            ]
        )
    table = Table(
        "pipeline",
        "The pipeline now: open deals by stage",
        [
            Column("Stage"),
            Column("Open deals", "int", "deals"),
            Column("Share of open deals", "percent"),
            Column("Median age", "days", "business days"),
            Column("80th percentile age", "days", "business days"),
            Column("Age limit", "int", "business days"),
            Column("Past the limit", "int", "deals"),
            Column("Entry unknown", "int", "deals"),
        ],
        rows,
        "Ages count business days since the deal entered its stage; deals "
        "whose entry date is unknown have no age.",
    )
    chart = charts.bars(
        "Open deals by stage, now",
        [row[0] for row in rows],
        [charts.Series("Open deals", [row[1] for row in rows])],
        axis="Open deals now (count)",
        fmt=_count,
        highlight=[one.wide for one in stages_now],
    )
    return Section(table, "", chart)


def _time_in_stage(filters: Filters) -> Section:
    found = q.time_in_stage(filters)
    rows = [
        [
            stage_label(one.stage),
            one.exits,
            one.spread.median if one.spread else None,
            one.spread.p80 if one.spread else None,
            one.spread.unit if one.spread else "",
            one.unmeasured,
        ]
        for one in found
    ]
    units = {row[4] for row in rows if row[4]}
    axis_unit = units.pop() if len(units) == 1 else "days; the unit differs by stage"
    table = Table(
        "time_in_stage",
        "Time in stage, for stays that ended in the period",
        [
            Column("Stage"),
            Column("Stays ended", "int", "stays"),
            Column("Median", "days", "days"),
            Column("80th percentile", "days", "days"),
            Column("Unit"),
            Column("Without a duration", "int", "stays"),
        ],
        rows,
        "Each stay counts: a deal that came back to a stage gives two.",
    )
    chart = charts.bars(
        "Time spent in each stage",
        [row[0] for row in rows],
        [
            charts.Series("Median", [row[2] for row in rows]),
            charts.Series("80th percentile", [row[3] for row in rows]),
        ],
        axis=f"Time in stage ({axis_unit})",
        fmt=_days,
    )
    return Section(table, "", chart)


def _breakdown(filters: Filters, by: str, found: list[q.Outcomes]) -> Section:
    names = _names(by, [row.key for row in found])
    rows = sorted(
        (
            [
                names(row.key),
                row.closed,
                row.won,
                row.win_rate,
                row.average_won_value,
                row.cycle.median if row.cycle else None,
            ]
            for row in found
        ),
        key=lambda row: (-row[1], row[0]),
    )
    currency = filters.pipeline.currency
    table = Table(
        f"by_{by}",
        f"Outcomes by {by}, deals closed in the period",
        [
            Column(by.title()),
            Column("Closed", "int", "deals"),
            Column("Won", "int", "deals"),
            Column("Win rate", "percent"),
            Column("Average won value", "money", currency=currency),
            Column("Median sales cycle", "days", q.CALENDAR_DAYS),
        ],
        rows,
    )
    chart = charts.bars(
        f"Win rate by {by}",
        [row[0] for row in rows],
        [charts.Series("Win rate", [_percent_value(row[3]) for row in rows])],
        axis="Win rate (% of deals closed in the period)",
        fmt=_percent_tick,
    )
    return Section(table, "", chart)


def _responses(filters: Filters) -> Section:
    found = q.response_times(filters)
    columns = [
        Column("Answered"),
        Column("Leads", "int", "leads"),
        Column("Share of assigned leads", "percent"),
    ]
    rows = [
        [
            "within 5 minutes",
            found.within_5_minutes,
            found.share(found.within_5_minutes),
        ],
        ["within 1 hour", found.within_1_hour, found.share(found.within_1_hour)],
        ["within 1 business day", found.within_1_day, found.share(found.within_1_day)],
        ["at all", found.answered, found.share(found.answered)],
    ]
    note = (
        f"{counted(found.leads, 'lead')} assigned in the period; "
        "windows in business time."
    )
    if found.business_minutes:
        median = whole(found.business_minutes.median)
        note += f" Median response: {counted(median, 'business minute')}"
        if found.wall_minutes:
            wall = whole(found.wall_minutes.median)
            note += f" ({counted(wall, 'minute')} of wall-clock time)"
        note += "."
    if not found.leads:
        note = "No leads were assigned in the period."
    table = Table("responses", "Lead response", columns, rows, note)
    chart = charts.bars(
        "Leads answered in time",
        [row[0] for row in rows],
        [charts.Series("Share", [_percent_value(row[2]) for row in rows])],
        axis="Share of leads assigned in the period (%)",
        fmt=_percent_tick,
    )
    return Section(table, "", chart if found.leads else None)


def _losses(filters: Filters) -> Section:
    found = q.losses(filters)
    total = sum(row.deals for row in found)
    reasons = _loss_labels(filters)
    rows = [
        [
            stage_label(row.stage),
            reasons.get(row.reason, row.reason or "(none given)"),
            row.deals,
            m.rate(row.deals, total),
        ]
        for row in found
    ]
    table = Table(
        "losses",
        "Loss reasons by stage, deals lost in the period",
        [
            Column("Stage lost from"),
            Column("Reason"),
            Column("Lost deals", "int", "deals"),
            Column("Share of losses", "percent"),
        ],
        rows,
    )
    chart = charts.bars(
        "Deals lost, by stage and reason",
        [f"{row[0]} · {row[1]}" for row in rows],
        [charts.Series("Lost deals", [row[2] for row in rows])],
        axis="Deals lost in the period (count)",
        fmt=_count,
    )
    return Section(table, "", chart if rows else None)


# -- bottlenecks ----------------------------------------------------------------


def bottlenecks(filters: Filters, now: dt.datetime) -> Report:
    """Widths and the oldest deals of wide stages, stages over their age
    limit, where lost deals leave, and stages missing their rules."""
    report = Report(f"Bottlenecks and leaks: {filters.pipeline.name}", filters)
    stages_now = q.pipeline_now(filters, now)
    report.sections += [
        _width(filters, stages_now),
        _oldest(filters, stages_now, now),
        _over_limit(stages_now),
        _exits(filters),
        _clocks(filters),
        _leaks(filters),
    ]
    return report


def _width(filters: Filters, stages_now: list[q.StageNow]) -> Section:
    share = filters.facts.bottleneck_share
    rows = [
        [one.stage.name, one.count, one.share, "bottleneck" if one.wide else ""]
        for one in stages_now
    ]
    table = Table(
        "width",
        "Width: each stage's share of the open deals",
        [
            Column("Stage"),
            Column("Open deals", "int", "deals"),
            Column("Share", "percent"),
            Column("Flag"),
        ],
        rows,
        f"A stage holding more than {percent(share, 0)} of the open deals is a "
        "bottleneck (the pipeline's bottleneck_share).",
    )
    chart = charts.bars(
        "Share of open deals by stage",
        [row[0] for row in rows],
        [charts.Series("Share", [_percent_value(row[2]) for row in rows])],
        axis="Share of open deals now (%)",
        fmt=_percent_tick,
        highlight=[one.wide for one in stages_now],
    )
    return Section(table, "", chart)


def _oldest(
    filters: Filters, stages_now: list[q.StageNow], now: dt.datetime
) -> Section:
    from dealgate.deals.queries import stage_age

    rows = []
    for one in stages_now:
        if not one.wide:
            continue
        for old in q.oldest_open(filters, one.stage, now):
            deal = old.deal
            age = stage_age(
                old.entered_at,
                now,
                limit=one.stage.age_limit_days,
                calendar=filters.facts.calendar,
            )
            rows.append(
                [
                    one.stage.name,
                    (deal.pk, deal.title),
                    owner_name(deal.owner),
                    old.entered_at.astimezone(filters.facts.calendar.zone)
                    .date()
                    .isoformat(),
                    age.elapsed,
                ]
            )
    table = Table(
        "oldest",
        "The oldest deals in bottleneck stages",
        [
            Column("Stage"),
            Column("Deal", "deal"),
            Column("Owner"),
            Column("Entered the stage"),
            Column("Age", "days", "business days"),
        ],
        rows,
        empty="No stage is a bottleneck.",
    )
    return Section(table)


def _over_limit(stages_now: list[q.StageNow]) -> Section:
    rows = [
        [
            one.stage.name,
            one.age.median if one.age else None,
            one.stage.age_limit_days,
            one.past_limit,
            "over the limit" if one.over_limit else "",
        ]
        for one in stages_now
        if one.stage.age_limit_days is not None
    ]
    table = Table(
        "age_limits",
        "Median age of open deals against each stage's limit",
        [
            Column("Stage"),
            Column("Median age", "days", "business days"),
            Column("Age limit", "int", "business days"),
            Column("Deals past the limit", "int", "deals"),
            Column("Flag"),
        ],
        rows,
        "Stages without an age limit are listed under leaks.",
    )
    limited = [one for one in stages_now if one.stage.age_limit_days is not None]
    chart = charts.bars(
        "Median age of open deals and the age limit",
        [row[0] for row in rows],
        [
            charts.Series("Median age", [row[1] for row in rows]),
            charts.Series("Age limit", [row[2] for row in rows]),
        ],
        axis="Age of open deals in the stage (business days)",
        fmt=_days,
        highlight=[one.over_limit for one in limited],
    )
    return Section(table, "", chart if rows else None)


def _exits(filters: Filters) -> Section:
    by_stage: dict[int, list[q.LossRow]] = {}
    for row in q.losses(filters):
        by_stage.setdefault(row.stage.pk, []).append(row)
    total = sum(row.deals for rows in by_stage.values() for row in rows)
    reasons = _loss_labels(filters)
    rows = []
    for stage in filters.facts.stages:
        lost = by_stage.get(stage.pk, [])
        if not lost and stage not in filters.facts.active:
            continue
        count = sum(row.deals for row in lost)
        rows.append(
            [
                stage_label(stage),
                count,
                m.rate(count, total),
                _most_given(lost, reasons),
            ]
        )
    table = Table(
        "lost_from",
        "Where lost deals leave the pipeline",
        [
            Column("Stage lost from"),
            Column("Lost deals", "int", "deals"),
            Column("Share of losses", "percent"),
            Column("Most given reason"),
        ],
        rows,
        "Deals lost in the period, by the stage they were in when lost, as "
        "their history records it: a stage removed since is listed as retired.",
    )
    chart = charts.bars(
        "Deals lost from each stage",
        [row[0] for row in rows],
        [charts.Series("Lost deals", [row[1] for row in rows])],
        axis="Deals lost in the period (count)",
        fmt=_count,
    )
    return Section(table, "", chart)


def _most_given(lost: list[q.LossRow], labels: dict[str, str]) -> str:
    """The reason given for most of `lost`, by its label; reasons tied for
    the most are all named, in the order of their labels, and said to be
    tied, so the page never picks one of them by chance. A loss recorded
    without a reason counts as "no reason"."""
    if not lost:
        return ""
    most = max(row.deals for row in lost)
    tied = sorted(
        {
            labels.get(row.reason, row.reason) or "no reason"
            for row in lost
            if row.deals == most
        },
        key=lambda label: (label.casefold(), label),
    )
    if len(tied) == 1:
        return tied[0]
    return f"tied: {', '.join(tied)} ({most:,} each)"


def _clocks(filters: Filters) -> Section:
    found = q.clock_tallies(filters)
    columns = [
        Column("Stage"),
        Column("Obligation"),
        Column("Kept", "int", "clocks"),
        Column("Missed", "int", "clocks"),
        Column("Missed", "percent"),
        Column("Imported stays kept", "int", "clocks"),
        Column("Imported stays missed", "int", "clocks"),
    ]
    names = {"response": "response window", "age": "age limit"}
    rows = [
        [
            stage_label(one.stage),
            names[one.kind],
            one.kept,
            one.missed,
            one.missed_share,
            one.imported_kept,
            one.imported_missed,
        ]
        for one in found
    ]
    unclocked = q.closed_without_clocks(filters)
    table = Table(
        "clocks",
        "Windows and limits kept, by stage",
        columns,
        rows,
        "The clocks Dealgate ran on deals (a response window into a stage, or "
        "its age limit) that fell due in the period and were met or breached: "
        "a count of clocks, not of deals. Kept, missed and the share missed "
        "are of stays that began in Dealgate, where the team had the whole "
        "window or limit. Imported stays began before the deal was imported: "
        "their age limit counts from the stage entry the file gave, so many "
        "arrived already past it and were missed before Dealgate had them; "
        "they are counted apart and not in the share (the import records no "
        "time of its own, so one that arrived with time left and then ran out "
        "is among them too)"
        + (
            f". {counted(unclocked, 'deal')} closed in the period without any "
            f"clock (imported already closed) {pluralize(unclocked, 'counts,count')}"
            " in no column."
            if unclocked
            else "."
        ),
    )
    chart = charts.bars(
        "Share of windows and limits missed",
        [f"{row[0]} · {row[1]}" for row in rows],
        [charts.Series("Missed", [_percent_value(row[4]) for row in rows])],
        axis="Missed (% of clocks of stays begun in Dealgate due in the period)",
        fmt=_percent_tick,
    )
    return Section(table, "", chart if rows else None)


def _leaks(filters: Filters) -> Section:
    rows = [
        [leak.stage.name, ", ".join(leak.missing)]
        for leak in q.design_leaks(filters.facts)
    ]
    table = Table(
        "leaks",
        "Stages missing a rule",
        [Column("Stage"), Column("Missing")],
        rows,
        "Every stage needs an owner, exit criteria, a response window on the "
        "handoff into it and an age limit.",
        empty="Every stage has them.",
    )
    return Section(table)


# -- weekly review --------------------------------------------------------------


@dataclass
class ReviewPage:
    report: Report
    metric: rv.ReviewMetric
    how: str  # chosen, recorded or rotated
    week: dt.date
    current: WeeklyReview | None
    behind_total: int


def weekly_review(
    filters: Filters,
    now: dt.datetime,
    *,
    week: dt.date | None = None,
    metric: str | None = None,
    all_behind: bool = False,
) -> ReviewPage:
    """This week's metric against the eight weeks before, the deals behind
    it, and the reviews kept so far. The deals behind are the latest
    `rv.BEHIND_LIMIT` unless `all_behind` (a download) asks for every one."""
    week = m.week_start(week) if week else rv.this_week(filters.facts, now)
    chosen, how = rv.chosen_metric(filters.facts, week, metric)
    report = Report(f"Weekly review: {filters.pipeline.name}", filters)
    last_day = week + dt.timedelta(days=6)
    now_week = rv.this_week(filters.facts, now)
    so_far = (
        " (this week, so far)"
        if now_week == week
        else " (not started yet)"
        if week > now_week
        else ""
    )
    report.scope = (
        f"Week starting Monday {week.day} {week:%B %Y}{so_far}: "
        f"{week.isoformat()} to {last_day.isoformat()}"
    )
    series = rv.weekly_series(filters, chosen, week)
    limit = None if all_behind else rv.BEHIND_LIMIT
    behind, total = rv.deals_behind(filters, chosen, week, limit=limit)
    report.sections += [
        _series(filters, chosen, series, now),
        _behind(filters, chosen, behind, total, series[-1].left_out, series[-1].count),
        _history(filters),
    ]
    current = WeeklyReview.objects.filter(pipeline=filters.pipeline, week=week).first()
    return ReviewPage(report, chosen, how, week, current, total)


def _series(
    filters: Filters,
    metric: rv.ReviewMetric,
    series: list[rv.WeekValue],
    now: dt.datetime,
) -> Section:
    currency = filters.pipeline.currency
    value_column = Column(metric.label, metric.kind, currency=currency)
    if metric.kind == "days":
        value_column = Column(metric.label, "days", metric.unit)
    columns = [
        Column("Week starting"),
        value_column,
        Column(metric.counted, "int"),
    ]
    rows = [
        [one.week.isoformat(), one.value, one.count if one.started else None]
        for one in series
    ]
    if metric.key == "won_value":
        columns.append(Column("In other currencies, left out", "int", "deals"))
        for row, one in zip(rows, series, strict=True):
            row.append(one.left_out if one.started else None)
    table = Table(
        "series",
        f"{metric.label}, week by week",
        columns,
        rows,
        " ".join([metric.definition, *_series_notes(filters, series, now)]),
    )
    if metric.kind == "percent":
        values, fmt = [_percent_value(row[1]) for row in rows], _percent_tick
    elif metric.kind == "money":
        values, fmt = [row[1] for row in rows], _money_tick(currency)
    elif metric.kind == "days":
        values, fmt = [row[1] for row in rows], _days
    else:
        values, fmt = [row[1] for row in rows], _count
    axis_unit = currency if metric.kind == "money" else metric.unit
    chart = charts.columns(
        f"{metric.label}: the week reviewed against the eight before",
        [one.week.strftime("%d %b") for one in series],
        values,
        axis=f"{metric.label} ({axis_unit})",
        category_axis="Week starting (Monday)",
        fmt=fmt,
    )
    return Section(table, "", chart)


def _series_notes(
    filters: Filters, series: list[rv.WeekValue], now: dt.datetime
) -> list[str]:
    """What the week-by-week table leaves out or counts only in part: deals
    won in other currencies, the current week (so far) and weeks to come."""
    notes = []
    reviewed = series[-1]
    if reviewed.left_out:
        notes.append(
            f"Left out of the week reviewed: {_in_other_currencies(reviewed.left_out)}"
            " (the deals behind it show them in their own)."
        )
    current = rv.this_week(filters.facts, now)
    if any(one.week == current for one in series):
        which = (
            "The last week"
            if reviewed.week == current
            else (f"The week starting {current.isoformat()}")
        )
        notes.append(f"{which} is the current one, so far.")
    if not reviewed.started:
        notes.append("Weeks that have not started yet have no value.")
    return notes


def _behind(
    filters: Filters,
    metric: rv.ReviewMetric,
    items: Sequence,
    total: int,
    left_out: int = 0,
    in_value: int | None = None,
) -> Section:
    """The deals (or leads) behind the week's value. For the won value, of
    the `total` won, `in_value` are in it (`WeekValue.count`, the week
    row's `ReviewMetric.counted` column), `left_out` were won in other
    currencies, and the rest had no value: the note says each, so the list
    and the row agree."""
    zone, by_id = filters.facts.calendar.zone, filters.facts.by_id
    if metric.key == "lead_response":
        columns = [
            Column("Lead"),
            Column("Owner"),
            Column("Assigned"),
            Column("Response", "number", "business minutes"),
        ]
        rows = [
            [
                lead.label,
                owner_name(lead.owner),
                # Marked with the zone, as `dealgate deal show` marks its times.
                f"{lead.assigned_at.astimezone(zone):%Y-%m-%d %H:%M %Z}",
                lead.response_business_minutes,
            ]
            for lead in items
        ]
    else:
        columns = [
            Column("Deal", "deal"),
            Column("Owner"),
            # A closed deal is listed at the stage it closed from, not at
            # the one a redesign moved it to after (`rv.SHOWN_STAGE`).
            Column("Stage" if metric.key == "new_deals" else "Closed from"),
            Column("Status"),
            # Each deal's value in its own currency, named beside it: the
            # list holds deals in other currencies too, whose value the
            # week's won value leaves out.
            Column("Value", "number"),
            Column("Currency"),
            Column("Closed", unit=f"date in {zone.key}"),
        ]
        rows = [
            [
                (deal.pk, deal.title),
                owner_name(deal.owner),
                stage_label(by_id[deal.shown_stage_id]),
                deal.status,
                cents(deal.value),
                deal.currency if deal.value is not None else "",
                deal.closed_at.astimezone(zone).date().isoformat()
                if deal.closed_at
                else "",
            ]
            for deal in items
        ]
    note = f"{total:,} in all"
    if metric.key == "won_value" and in_value is not None and total != in_value:
        currency = filters.pipeline.currency
        parts = [f"{in_value:,} in the won value"]
        if left_out:
            parts.append(f"{left_out:,} in other currencies (left out of {currency})")
        if unvalued := total - in_value - left_out:
            parts.append(f"{unvalued:,} without a value")
        note += ": " + ", ".join(parts)
    note += (
        f"; the latest {len(rows)} shown here, every one in the CSV download."
        if total > len(rows)
        else "."
    )
    return Section(Table("behind", "Behind this week's value", columns, rows, note))


def _history(filters: Filters) -> Section:
    reviews = WeeklyReview.objects.filter(pipeline=filters.pipeline).select_related(
        "recorded_by"
    )[:52]
    labels = {metric.key: metric.label for metric in rv.METRICS}
    rows = [
        [
            review.week.isoformat(),
            labels.get(review.metric, review.metric),
            _review_value(review),
            review.unit,
            review.decision,
            review.recorded_by.display_name if review.recorded_by else "the system",
        ]
        for review in reviews
    ]
    table = Table(
        "history",
        "Past reviews",
        [
            Column("Week starting"),
            Column("Metric"),
            Column("Value", "number"),
            Column("Unit"),
            Column("Decision"),
            Column("Written by"),
        ],
        rows,
        empty="No review has been written yet.",
    )
    return Section(table)


# -- helpers ---------------------------------------------------------------------


def _review_value(review: WeeklyReview) -> float | int | Decimal | None:
    """A review's kept value in the unit its row names: a whole number for a
    metric that counts deals, an amount to the cent for one that is money,
    and a percentage for a rate, kept as a fraction (the column stores every
    value as a float)."""
    metric = rv.BY_KEY.get(review.metric)
    if review.value is None or metric is None:
        return review.value
    if metric.kind == "int":
        return whole(review.value)
    if metric.kind == "percent":
        return float(rounded(hundredfold(review.value), 4))
    if metric.kind == "money":
        return cents(review.value)
    return review.value


# What a table says where a deal or lead has no owner, as the board's cards
# and the deal page say it: an empty cell reads as a name not loaded.
NO_OWNER_WORDS = "no owner"


def owner_name(owner: User | None) -> str:
    """An owner's name for a table's cell, or that there is none."""
    return owner.display_name if owner is not None else NO_OWNER_WORDS


def _names(by: str, keys: list) -> Callable[[object], str]:
    """Labels for breakdown keys: people, teams and products by name, and
    the row of the deals without one saying so ("no owner")."""
    ids = [key for key in keys if key is not None]
    if by == "owner":
        found = {u.pk: u.display_name for u in User.objects.filter(pk__in=ids)}
    elif by == "team":
        found = dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif by == "product":
        found = dict(Product.objects.filter(pk__in=ids).values_list("pk", "name"))
    else:
        found = {key: key for key in ids if key}
    return lambda key: found.get(key, f"no {by}")


def _loss_labels(filters: Filters) -> dict[str, str]:
    return {
        reason["key"]: reason.get("label", reason["key"])
        for reason in filters.pipeline.loss_reasons
        if isinstance(reason, dict) and "key" in reason
    }


def _count(value: float) -> str:
    return fixed(value, grouped=True)


def _days(value: float) -> str:
    return figure(value, 1, grouped=True)


def _percent_value(share: float | None) -> float | None:
    return None if share is None else share * 100


def _percent_tick(value: float) -> str:
    return f"{fixed(value)}%" if value == int(value) else f"{fixed(value, 1)}%"


def _money_tick(currency: str) -> Callable[[float], str]:
    return lambda value: format_value(Column("", "money", currency=currency), value)
