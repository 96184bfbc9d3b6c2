"""Business time: Dealgate's index against businesstimedelta on the same inputs.

Prints figures and asserts nothing. The calendar is Berlin, Monday to Friday
09:00-12:30 and 13:30-17:00, with Berlin's public holidays (ten in 2026).
`--quick` makes a tenth of the calls.

    python benchmarks/business_time.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import businesstimedelta as btd
import holidays
import pytz

from dealgate.core import business_time as bt
from dealgate.core.calendar import Calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
TABLE = {
    "timezone": "Europe/Berlin",
    "hours": {day: ["09:00-12:30", "13:30-17:00"] for day in WEEKDAYS},
    "holidays": {"country": "DE", "subdivision": "BE"},
}
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
SEED = 20261204


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the calls")
    scale = 10 if parser.parse_args().quick else 1
    ours_n, theirs_n = 1_000_000 // scale, 20_000 // scale

    cal = Calendar.from_dict(TABLE)
    print(f"first use of a year (index build): {first_use_ms():.1f} ms")
    rules = their_rules()
    rng = random.Random(SEED)
    starts, minutes, ends = inputs(rng, ours_n)

    print(
        f"\nper call: {ours_n:,} calls for Dealgate (median of 3 passes), "
        f"{theirs_n:,} for businesstimedelta"
    )
    compare_add(cal, rules, starts, minutes, theirs_n)
    compare_between(cal, rules, starts, ends, theirs_n)

    print("\nper call by span (Dealgate should be flat)")
    by_span(cal, rules, starts, ours_n // 10, theirs_n // 10)

    print("\nbatch ages, median of 3 runs")
    batch(cal, starts)


def inputs(
    rng: random.Random, n: int
) -> tuple[list[datetime], list[int], list[datetime]]:
    """Stored-style UTC starts across 2026, windows of 15 min to 2 working days,
    and ends up to ten days after each start."""
    year = 365 * 86_400
    starts = [YEAR_START + timedelta(seconds=rng.randrange(year)) for _ in range(n)]
    minutes = [rng.randint(15, 960) for _ in range(n)]
    ends = [s + timedelta(seconds=rng.randrange(10 * 86_400)) for s in starts]
    return starts, minutes, ends


def first_use_ms() -> float:
    fresh = Calendar.from_dict(TABLE)
    began = time.perf_counter()
    bt.is_open(fresh, YEAR_START)
    return (time.perf_counter() - began) * 1e3


def their_rules() -> btd.Rules:
    zone = pytz.timezone("Europe/Berlin")
    days = [0, 1, 2, 3, 4]
    # Holidays through 2030: businesstimedelta fails when none lies ahead.
    listed = set(holidays.country_holidays("DE", subdiv="BE", years=range(2025, 2031)))
    return btd.Rules(
        [
            btd.WorkDayRule(clock_time(9), clock_time(17), days, tz=zone),
            btd.LunchTimeRule(clock_time(12, 30), clock_time(13, 30), days, tz=zone),
            btd.HolidayRule(listed, tz=zone),
        ]
    )


def compare_add(
    cal: Calendar,
    rules: btd.Rules,
    starts: list[datetime],
    minutes: list[int],
    theirs_n: int,
) -> None:
    ours = per_call(lambda s, m: bt.add(cal, s, m), zip(starts, minutes, strict=True))
    their_results, theirs, failed = run_theirs(
        lambda s, m: s + btd.BusinessTimeDelta(rules, seconds=m * 60),
        zip(starts[:theirs_n], minutes[:theirs_n], strict=True),
    )
    differ = [
        (s, m, r)
        for s, m, r in zip(starts, minutes, their_results, strict=False)
        if r is not None and r != bt.add(cal, s, m)
    ]
    report("add", ours, theirs, theirs_n, failed, differ)


def compare_between(
    cal: Calendar,
    rules: btd.Rules,
    starts: list[datetime],
    ends: list[datetime],
    theirs_n: int,
) -> None:
    ours = per_call(lambda s, e: bt.between(cal, s, e), zip(starts, ends, strict=True))
    their_results, theirs, failed = run_theirs(
        lambda s, e: rules.difference(s, e).timedelta.total_seconds() / 60,
        zip(starts[:theirs_n], ends[:theirs_n], strict=True),
    )
    differ = [
        (s, e, r)
        for s, e, r in zip(starts, ends, their_results, strict=False)
        if r is not None and abs(r - bt.between(cal, s, e)) > 1e-9
    ]
    report("between", ours, theirs, theirs_n, failed, differ)


def by_span(
    cal: Calendar,
    rules: btd.Rules,
    starts: list[datetime],
    ours_n: int,
    theirs_n: int,
) -> None:
    # (label, working minutes to add, elapsed span to measure, their calls)
    spans = [
        ("1 hour", 60, timedelta(hours=1), theirs_n),
        ("1 day", 420, timedelta(days=1), theirs_n),
        ("1 month", 21 * 420, timedelta(days=30), max(theirs_n // 10, 20)),
        ("1 year", 250 * 420, timedelta(days=365), max(theirs_n // 100, 5)),
    ]
    print(f"{'span':8} {'add':>9} {'between':>9} {'theirs add':>11}")
    for label, minutes, elapsed, their_calls in spans:
        add_cost = per_call(
            lambda s, m=minutes: bt.add(cal, s, m), args(starts[:ours_n])
        )
        between_cost = per_call(
            lambda s, d=elapsed: bt.between(cal, s, s + d), args(starts[:ours_n])
        )
        _, theirs, _ = run_theirs(
            lambda s, m=minutes: s + btd.BusinessTimeDelta(rules, seconds=m * 60),
            args(starts[:their_calls]),
        )
        print(f"{label:8} {us(add_cost):>9} {us(between_cost):>9} {us(theirs):>11}")


def batch(cal: Calendar, starts: list[datetime]) -> None:
    now = datetime(2027, 1, 15, 12, tzinfo=UTC)
    bt.ages_in_business_days(cal, starts[:10], now)  # build the index first
    runs = []
    for _ in range(3):
        began = time.perf_counter()
        bt.ages_in_business_days(cal, starts, now)
        runs.append((time.perf_counter() - began) / len(starts))
    print(
        f"ages_in_business_days, {len(starts):,} deals: {us(statistics.median(runs))}"
    )


def per_call(call: Callable[..., object], arguments: Iterable[tuple]) -> float:
    """Seconds per call, the median of three passes (the machines are noisy)."""
    arguments = list(arguments)
    passes = []
    for _ in range(3):
        began = time.perf_counter()
        for argument in arguments:
            call(*argument)
        passes.append((time.perf_counter() - began) / len(arguments))
    return statistics.median(passes)


def run_theirs(
    call: Callable[..., object], arguments: Iterable[tuple]
) -> tuple[list[object | None], float, int]:
    """Results (None where it raised), seconds per call, and the failures."""
    arguments = list(arguments)
    results: list[object | None] = []
    failed = 0
    began = time.perf_counter()
    for argument in arguments:
        try:
            results.append(call(*argument))
        except Exception:  # counting its crashes is part of the comparison
            results.append(None)
            failed += 1
    return results, (time.perf_counter() - began) / len(arguments), failed


def report(
    name: str, ours: float, theirs: float, n: int, failed: int, differ: list
) -> None:
    print(
        f"{name:8} Dealgate {us(ours)}, businesstimedelta {us(theirs)}, "
        f"{theirs / ours:.0f}x; theirs failed {failed} of {n:,}, "
        f"results differ in {len(differ)} of {n - failed:,}"
    )
    for example in differ[:3]:
        print(f"         differs: {example}")


def args(starts: list[datetime]) -> list[tuple[datetime]]:
    return [(s,) for s in starts]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} us"


if __name__ == "__main__":
    main()
