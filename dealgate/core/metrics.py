"""The arithmetic of pipeline insights, free of Django and of SQL.

The database does the counting (see `dealgate.insights.sql`); what is left is
small: turning a handful of aggregated rows into rates, percentiles, funnel
steps and weekly buckets. Everything here works on a few numbers per stage or
per week, never on one value per deal.

Percentiles follow one definition everywhere, PostgreSQL's `percentile_cont`:
for `n` sorted values and a fraction `q`, the value at 0-based position
`q * (n - 1)`, interpolated linearly between its two neighbours.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dealgate.core import business_time
from dealgate.core.calendar import Calendar

__all__ = [
    "FunnelStep",
    "PercentileRanks",
    "average",
    "entered_before_for_age",
    "funnel",
    "hundredths",
    "percentile",
    "percentile_from_ranks",
    "percentile_ranks",
    "rate",
    "rotate",
    "sales_velocity",
    "share_flags",
    "week_start",
    "weeks_ending",
]


@dataclass(frozen=True)
class PercentileRanks:
    """Where the `q` percentile of `n` sorted values lies: between the values of
    1-based ranks `low` and `high`, `fraction` of the way from low to high."""

    low: int
    high: int
    fraction: float


def hundredths(q: float) -> int:
    """A percentile fraction as whole hundredths (0.8 -> 80).

    Percentiles are asked for in whole percent, so the rank arithmetic can be
    done in integers, identically here and in SQL, with no float rounding to
    disagree about which two values to read.
    """
    whole = round(q * 100)
    if not 0 <= whole <= 100 or abs(whole - q * 100) > 1e-9:
        raise ValueError(f"a percentile is a whole percent from 0 to 1; got {q}")
    return whole


def percentile_ranks(n: int, q: float) -> PercentileRanks:
    """The ranks a `percentile_cont(q)` over `n` values reads. Needs n >= 1."""
    if n < 1:
        raise ValueError("a percentile needs at least one value")
    scaled = hundredths(q) * (n - 1)
    low = scaled // 100
    return PercentileRanks(
        low=low + 1, high=min(low + 2, n), fraction=(scaled % 100) / 100
    )


def percentile_from_ranks(
    n: int, q: float, values_by_rank: Mapping[int, float]
) -> float:
    """The `q` percentile of `n` values, given the values at (at least) the
    ranks `percentile_ranks(n, q)` names. Ranks are 1-based, ascending."""
    ranks = percentile_ranks(n, q)
    low = values_by_rank[ranks.low]
    if ranks.fraction == 0 or ranks.high == ranks.low:
        return low
    return low + (values_by_rank[ranks.high] - low) * ranks.fraction


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q` percentile of `values` (any order); None when there are none.

    The reference the SQL is checked against, for tests and small inputs.
    """
    if not values:
        return None
    ordered = sorted(values)
    ranks = percentile_ranks(len(ordered), q)
    return percentile_from_ranks(
        len(ordered),
        q,
        {ranks.low: ordered[ranks.low - 1], ranks.high: ordered[ranks.high - 1]},
    )


def rate(part: float, whole: float) -> float | None:
    """part / whole, or None when nothing was counted (never a made-up 0%)."""
    if not whole:
        return None
    return part / whole


def average(total: float | None, count: int) -> float | None:
    if not count or total is None:
        return None
    return total / count


# The shortest cycle velocity divides by. Deals won the day they were created
# give a mean cycle of minutes, and dividing by it promised each open deal's
# value many times a day (547 million EUR a day on a small pipeline): an open
# deal closes at most once, and velocity is a figure per day, so no cycle
# counts as shorter than one day.
SHORTEST_CYCLE_DAYS = 1.0


def velocity_cycle_days(cycle_days: float | None) -> float | None:
    """The mean cycle velocity divides by: `cycle_days`, at least one day;
    None when it is unknown or negative (a win dated before its deal)."""
    if cycle_days is None or cycle_days < 0:
        return None
    return max(cycle_days, SHORTEST_CYCLE_DAYS)


def sales_velocity(
    open_deals: int,
    win_rate: float | None,
    average_won_value: float | None,
    cycle_days: float | None,
) -> float | None:
    """Money the pipeline is expected to bring in per day.

    open deals x win rate x average won value / mean sales cycle (days), the
    cycle counted as at least one day (`velocity_cycle_days`). None when a
    factor is unknown.
    """
    divisor = velocity_cycle_days(cycle_days)
    if win_rate is None or average_won_value is None or divisor is None:
        return None
    return open_deals * win_rate * average_won_value / divisor


@dataclass(frozen=True)
class FunnelStep:
    """One stage of a funnel over a population of deals.

    `entered` deals reached this stage or a later one (or were won), so a
    skipped stage counts as passed; `passed` deals reached a later stage or
    were won. Of those that entered and did not pass, `lost_here` are lost and
    `open_here` are still open.
    """

    rank: int
    entered: int
    passed: int
    lost_here: int
    open_here: int

    @property
    def conversion(self) -> float | None:
        return rate(self.passed, self.entered)


WON_RANK = math.inf


def funnel(
    counts: Mapping[tuple[float, str], int], stage_count: int
) -> list[FunnelStep]:
    """Funnel steps for ranks 0 .. stage_count-1 from a histogram of deals.

    `counts` maps (furthest rank reached, status) to a number of deals, where
    status is "open", "won" or "lost". A won deal passed every stage whatever
    rank it was won from, so it counts as reaching past the last one.
    """
    by_reach: dict[float, int] = {}
    lost_at: dict[float, int] = {}
    open_at: dict[float, int] = {}
    for (rank, status), number in counts.items():
        reach = WON_RANK if status == "won" else rank
        by_reach[reach] = by_reach.get(reach, 0) + number
        if status == "lost":
            lost_at[rank] = lost_at.get(rank, 0) + number
        elif status == "open":
            open_at[rank] = open_at.get(rank, 0) + number
    steps = []
    for rank in range(stage_count):
        entered = sum(n for reach, n in by_reach.items() if reach >= rank)
        passed = sum(n for reach, n in by_reach.items() if reach > rank)
        steps.append(
            FunnelStep(
                rank=rank,
                entered=entered,
                passed=passed,
                lost_here=lost_at.get(rank, 0),
                open_here=open_at.get(rank, 0),
            )
        )
    return steps


def share_flags(
    counts: Sequence[int], threshold: float
) -> list[tuple[float | None, bool]]:
    """Each count's share of the total, and whether it is over `threshold`.

    A share equal to the threshold is not flagged: "over 40%" means more.
    """
    total = sum(counts)
    result = []
    for count in counts:
        share = rate(count, total)
        result.append((share, share is not None and share > threshold))
    return result


def week_start(day: dt.date) -> dt.date:
    """The Monday of `day`'s week (weeks run Monday to Sunday, as in ISO 8601)."""
    return day - dt.timedelta(days=day.weekday())


def weeks_ending(last_week: dt.date, count: int) -> list[dt.date]:
    """The Mondays of `count` consecutive weeks, oldest first, ending with the
    week of `last_week`."""
    last = week_start(last_week)
    return [last - dt.timedelta(weeks=back) for back in range(count - 1, -1, -1)]


def rotate(keys: Sequence[str], last: str | None) -> str:
    """The key after `last` in `keys`, wrapping round; the first when `last` is
    None or no longer listed. `keys` must not be empty."""
    if not keys:
        raise ValueError("nothing to rotate through")
    if last not in keys:
        return keys[0]
    return keys[(keys.index(last) + 1) % len(keys)]


def entered_before_for_age(
    calendar: Calendar, now: dt.datetime, days: float
) -> dt.datetime:
    """The instant T such that a stage entered before T has reached `days`
    business days at `now` (as a clock runs out at its due time), and one
    entered at or after T has not.

    Business time only grows as the entry moves back, so T is found by
    bisection, to the second, with about forty `business_time.between` calls.
    Lets a database count the deals at or past an age limit with one
    comparison.
    """
    limit = days * calendar.day_minutes
    now = now.astimezone(dt.UTC)
    step = dt.timedelta(days=max(days, 1) * 2 + 14)
    early = now - step
    # Widen until the early end has reached the limit (long holidays).
    while business_time.between(calendar, early, now) < limit:
        step *= 2
        early = now - step
    late = now
    while late - early > dt.timedelta(seconds=1):
        middle = early + (late - early) / 2
        if business_time.between(calendar, middle, now) >= limit:
            early = middle
        else:
            late = middle
    return late
