"""What checking a stage's criteria costs a move.

Five rules of the kinds a pipeline uses, on a deal with 30 activities and
custom fields. Prints the cost of one evaluation of the whole set (median and
p99), split into building the context and evaluating it, the same set with
the `held` helper in place of `activities.exists`, and the cost of compiling
a rule the first time and from the cache; asserts nothing.

    python benchmarks/criteria.py
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dealgate.core import criteria  # noqa: E402

ROUNDS = 5000
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
EXIT_CRITERIA = criteria.CriteriaSet(
    "all",
    [
        criteria.Criterion(
            "buyer named a decision date", "deal.custom.decision_date != null"
        ),
        criteria.Criterion(
            "discovery meeting held",
            'activities.exists(a, a.kind == "meeting" '
            '&& a.tag == "discovery" && a.done)',
        ),
        criteria.Criterion(
            "deal is worth it", "deal.value != null && deal.value > 5000"
        ),
        criteria.Criterion(
            "NDA signed and pricing approved",
            "checklist.nda_signed && checklist.pricing_approved",
        ),
        criteria.Criterion(
            "close date ahead and stage fresh",
            "deal.expected_close_date >= today "
            "&& now - deal.stage_entered_at < days(30)",
        ),
    ],
)


# The same set with the discovery rule written with the `held` helper, which
# reads the activities without copying them into CEL's form.
WITH_HELD = criteria.CriteriaSet(
    "all",
    [
        criteria.Criterion("discovery meeting held", 'held("meeting", "discovery")')
        if "activities" in item.rule
        else item
        for item in EXIT_CRITERIA.items
    ],
)


def build_context() -> dict[str, Any]:
    kinds = [
        ("call", "intro"),
        ("email", ""),
        ("meeting", "discovery"),
        ("meeting", "demo"),
        ("task", "follow-up"),
    ]
    activities = [
        {
            "kind": kind,
            "tag": tag,
            "done": index % 3 != 0,
            "at": NOW - dt.timedelta(days=index),
        }
        for index, (kind, tag) in enumerate(kinds * 6)
    ]
    return criteria.deal_context(
        title="Acme ERP rollout, phase 2",
        value=Decimal("48500.00"),
        currency="EUR",
        status="open",
        stage="proposal",
        owner="alice",
        organization="Acme GmbH",
        expected_close_date=dt.date(2026, 7, 31),
        created_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
        stage_entered_at=dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC),
        now=NOW,
        timezone=ZoneInfo("Europe/Berlin"),
        custom={"decision_date": dt.date(2026, 7, 15), "seats": 40, "region": "DACH"},
        custom_fields={
            "decision_date": "date",
            "seats": "number",
            "region": "choice",
            "competitor": "text",
        },
        activities=activities,
        checklist={"nda_signed": True, "pricing_approved": True, "legal": False},
    )


def measure(action: Callable[[], object]) -> tuple[float, float]:
    """Median and p99 in microseconds over ROUNDS runs, after a warm-up."""
    for _ in range(ROUNDS // 10):
        action()
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6


def compile_costs() -> tuple[float, float]:
    """Median microseconds of a first compile (a cache miss) and of a hit."""
    misses = []
    for number in range(500):
        rule = f"deal.value > {number} && checklist.nda_signed"
        start = time.perf_counter()
        criteria.compile_rule(rule)
        misses.append(time.perf_counter() - start)
    hit = measure(
        lambda: criteria.compile_rule("deal.value > 1 && checklist.nda_signed")
    )
    return statistics.median(misses) * 1e6, hit[0]


def main() -> None:
    context = build_context()
    assert criteria.evaluate(EXIT_CRITERIA, context).passed
    assert criteria.evaluate(WITH_HELD, context).passed
    miss, hit = compile_costs()

    rows = [
        ("deal_context (30 activities)", measure(build_context)),
        (
            "evaluate 5 rules",
            measure(lambda: criteria.evaluate(EXIT_CRITERIA, context)),
        ),
        (
            "evaluate 5 rules, held()",
            measure(lambda: criteria.evaluate(WITH_HELD, context)),
        ),
        (
            "deal_context + evaluate",
            measure(lambda: criteria.evaluate(EXIT_CRITERIA, build_context())),
        ),
    ]
    print(f"criteria: {ROUNDS} rounds, microseconds per call")
    print(f"  {'what':<32} {'median':>8} {'p99':>8}")
    for name, (median, p99) in rows:
        print(f"  {name:<32} {median:8.1f} {p99:8.1f}")
    print(f"  {'compile one rule, first time':<32} {miss:8.1f}")
    print(f"  {'compile one rule, cached':<32} {hit:8.1f}")


if __name__ == "__main__":
    main()
