"""Run as its own process by test_sweepers_at_once: seed due clocks, sweep and
crash in the middle of a batch, or report what the sweeps did.

    python tests/clocks/sweepers.py seed COUNT
    python tests/clocks/sweepers.py crash BATCH_SIZE
    python tests/clocks/sweepers.py report

DATABASE_URL and DEALGATE_AS_OF come from the environment.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402

from dealgate.accounts.models import Team, User  # noqa: E402
from dealgate.clocks import sweep  # noqa: E402
from dealgate.clocks.models import Clock, Notice  # noqa: E402
from dealgate.deals.models import Deal  # noqa: E402
from dealgate.pipelines.models import Pipeline, Stage  # noqa: E402

# Due on 9 June at noon; its second window ends on 11 June, after NOW.
ENTERED = dt.datetime(2026, 6, 7, 12, 0, tzinfo=dt.UTC)


def seed(count: int) -> None:
    """`count` deals in a stage with a 2-day limit, entered long ago: each has
    a due age clock (started by the deal's creation). They are shared by
    owners ten each, so that every digest is short enough to name all its
    clocks and the report can tell each clock's notices apart."""
    with transaction.atomic():
        _seed(count)


def _seed(count: int) -> None:
    team = Team.objects.create(name="Central")
    manager = User.objects.create(username="max", role="manager", team=team)
    team.manager = manager
    team.save()
    owners = [
        User.objects.create(username=f"rep{n}", team=team, email=f"rep{n}@example.com")
        for n in range(max(1, -(-count // 10)))
    ]
    pipeline = Pipeline.objects.create(
        key="p", name="P", calendar={"timezone": "Europe/Berlin", "always_open": True}
    )
    stage = Stage.objects.create(
        pipeline=pipeline, key="inquiry", name="Inquiry", position=0, age_limit_days=2
    )
    for n in range(count):
        Deal.objects.create(
            pipeline=pipeline,
            stage=stage,
            title=f"Deal {n}",
            owner=owners[n % len(owners)],
            responsible=owners[n % len(owners)],
            created_at=ENTERED,
            stage_entered_at=ENTERED,
        )


def crash(batch_size: int) -> None:
    """Sweep, and die like a killed process once the first batch has written
    everything but before it commits."""
    written = sweep._Batch._write_notices

    def write_then_die(self: sweep._Batch) -> None:
        written(self)
        os._exit(3)

    sweep._Batch._write_notices = write_then_die
    sweep.sweep(batch_size=batch_size)


def report() -> None:
    """Counts of what the sweeps did; a digest notice tells about each of its
    clocks, so clocks told are counted, not notice rows. A digest names its
    first entries and counts the rest: `only_counted` says how many clocks
    were told without their names, and `named_as_breached` whether the
    clocks named are exactly the breached ones, each named once."""
    notices = list(Notice.objects.all())
    named = Counter(clock_id for notice in notices for clock_id in notice.clock_ids)
    breached = set(
        Clock.objects.filter(kind="age", state="breached").values_list("pk", flat=True)
    )
    print(
        json.dumps(
            {
                "breached": len(breached),
                "running": Clock.objects.filter(kind="age", state="running").count(),
                "clocks_told": sum(notice.told for notice in notices),
                "only_counted": sum(notice.more_items for notice in notices),
                "most_notices_per_clock": max(named.values(), default=0),
                "named_as_breached": set(named) == breached,
                "second_windows": Clock.objects.exclude(escalate_at=None).count(),
            }
        )
    )


if __name__ == "__main__":
    action = sys.argv[1]
    if action == "seed":
        seed(int(sys.argv[2]))
    elif action == "crash":
        crash(int(sys.argv[2]))
    else:
        report()
