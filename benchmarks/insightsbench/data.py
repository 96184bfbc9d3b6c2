"""Synthetic pipeline history for the insights benchmark: deals and stage events.

Writes two CSV files (deals, events) once per shape and reuses them, so every
database is loaded from the very same rows. Histories are walked stage by
stage like real ones: most deals enter at the first stage, some skip ahead,
some step back, a few closed deals are reopened, and every event carries the
business minutes of the stay it ends (as writers record them).

    cd benchmarks && ../.venv/bin/python -m insightsbench.data [DEALS]
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from dataclasses import dataclass
from pathlib import Path

NOW = dt.datetime(2026, 6, 10, 12, 0)  # naive UTC, as stored
YEARS = 3
STAGES = 6
USERS = 30
TEAMS = 3
ORGANIZATIONS = 300
SECTORS = ("retail", "software", "medical", "finance", "energy", "marketing")
PRODUCTS = 7
SOURCES = ("web", "referral", "event", "outbound")
LOSS_REASONS = ("price", "competitor", "no-decision", "other")
NULL = r"\N"

DEAL_COLUMNS = (
    "id",
    "pipeline_id",
    "stage_id",
    "status",
    "title",
    "organization_id",
    "product_id",
    "owner_id",
    "value",
    "currency",
    "loss_reason",
    "loss_note",
    "notes",
    "custom",
    "checklist",
    "created_at",
    "stage_entered_at",
    "closed_at",
    "source",
    "external_id",
    "version",
    "updated_at",
)
EVENT_COLUMNS = (
    "deal_id",
    "from_stage_id",
    "to_stage_id",
    "from_status",
    "to_status",
    "at",
    "from_entered_at",
    "from_business_minutes",
    "override_reason",
    "loss_reason",
    "source",
)


@dataclass(frozen=True)
class Shape:
    deals: int
    seed: int = 11

    @property
    def folder(self) -> Path:
        return Path(f"/tmp/dealgate-bench-ins/data-{self.deals}-{self.seed}-v2")

    @property
    def deals_file(self) -> Path:
        return self.folder / "deals.csv"

    @property
    def events_file(self) -> Path:
        return self.folder / "events.csv"


def stage_ids() -> list[int]:
    """Stage ids 1..STAGES in pipeline order: the loader creates them so."""
    return list(range(1, STAGES + 1))


def ensure(shape: Shape) -> tuple[int, int]:
    """Write the files unless present; returns (deals, events)."""
    done = shape.folder / "counts.txt"
    if done.exists():
        deals, events = done.read_text().split()
        return int(deals), int(events)
    shape.folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(shape.seed)
    events_written = 0
    with (
        shape.deals_file.open("w", newline="") as deals_out,
        shape.events_file.open("w", newline="") as events_out,
    ):
        deals = csv.writer(deals_out)
        events = csv.writer(events_out)
        for deal_id in range(1, shape.deals + 1):
            deal, history = _walk(rng, deal_id)
            deals.writerow(deal)
            events.writerows(history)
            events_written += len(history)
    done.write_text(f"{shape.deals} {events_written}")
    return shape.deals, events_written


def _text(instant: dt.datetime | None) -> str:
    return NULL if instant is None else instant.strftime("%Y-%m-%d %H:%M:%S")


def _walk(rng: random.Random, deal_id: int) -> tuple[list, list[list]]:
    """One deal's history from creation to now, and the deal row it leaves."""
    span = YEARS * 365 * 86_400
    created = NOW - dt.timedelta(seconds=rng.randrange(span))
    rank = 0 if rng.random() < 0.85 else rng.choice((1, 1, 2))
    status, entered, at = "open", created, created
    history = [
        [deal_id, NULL, rank + 1, "", "open", _text(at), NULL, NULL, "", "", "web"]
    ]
    reason, reopened = "", False
    while True:
        stay = rng.lognormvariate(math.log(4 * 86_400), 1.0)
        at = entered + dt.timedelta(seconds=stay)
        # Some deals stall where they are: the open deals a board is full of.
        if at >= NOW or rng.random() < 0.025:
            break
        # About a third of a wall-clock stay is working time (40 of 168 hours).
        business = round(stay / 60 * rng.uniform(0.2, 0.28), 1)
        roll = rng.random()
        last = rank == STAGES - 1
        if roll < 0.12:
            to_rank, to_status = rank, "lost"
        elif last and roll < 0.7 or roll < 0.14:
            to_rank, to_status = rank, "won"
        elif roll < 0.20 and rank > 0:
            to_rank, to_status = rank - 1, "open"
        elif roll < 0.24 and rank < STAGES - 2:
            to_rank, to_status = rank + 2, "open"
        else:
            to_rank, to_status = min(rank + 1, STAGES - 1), "open"
        reason = rng.choice(LOSS_REASONS) if to_status == "lost" else ""
        history.append(
            [
                deal_id,
                rank + 1,
                to_rank + 1,
                "open",
                to_status,
                _text(at),
                _text(entered),
                business,
                "",
                reason,
                "web",
            ]
        )
        rank, status, entered = to_rank, to_status, at
        if status == "open":
            continue
        if reopened or rng.random() > 0.03:
            break
        # Reopened: back to the stage it closed from, or one before.
        reopened = True
        back_to = max(0, rank - rng.choice((0, 1)))
        at = at + dt.timedelta(days=rng.uniform(1, 30))
        if at >= NOW:
            break
        history.append(
            [deal_id, rank + 1, back_to + 1, status, "open", _text(at), _text(entered)]
            + [NULL, "", "", "web"]
        )
        rank, status, entered, reason = back_to, "open", at, ""
    closed_at = entered if status != "open" else None
    deal = [
        deal_id,
        1,
        rank + 1,
        status,
        f"Deal {deal_id}",
        rng.randrange(1, ORGANIZATIONS + 1),
        rng.randrange(1, PRODUCTS + 1),
        rng.randrange(1, USERS + 1),
        rng.randrange(500, 60_000) if status != "lost" else NULL,
        "USD",
        reason,
        "",
        "",
        "{}",
        "{}",
        _text(created),
        _text(entered),
        _text(closed_at),
        rng.choice(SOURCES),
        "",
        1,
        # Its last change: entering its stage, or closing.
        _text(entered),
    ]
    return deal, history


if __name__ == "__main__":
    import sys
    import time

    started = time.perf_counter()
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    deals, events = ensure(Shape(size))
    print(
        f"{deals:,} deals, {events:,} events in {time.perf_counter() - started:.1f} s"
    )
