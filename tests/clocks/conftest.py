"""Fixtures for clock tests: the suite's Berlin pipeline with handoff windows,
deals placed in it at known instants, and a frozen "now" to move forward.

NOW (tests/conftest.py) is Wednesday 10 June 2026, 12:00 UTC: 14:00 in
Berlin, three working hours before closing (Mon-Fri 09:00-17:00).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal
from dealgate.pipelines.models import Handoff, Pipeline
from tests.conftest import NOW

BERLIN = dt.timezone(dt.timedelta(hours=2))  # summer time, June 2026


def berlin(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """An instant in June 2026 on Berlin's wall clock."""
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=BERLIN)


class Clockwork:
    """The application's "now", moved by the test (nothing ever sleeps)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start
        timesource.set_now(start)

    def to(self, instant: dt.datetime) -> dt.datetime:
        self.now = instant
        timesource.set_now(instant)
        return instant

    def forward(self, **delta: float) -> dt.datetime:
        return self.to(self.now + dt.timedelta(**delta))


@pytest.fixture
def clock() -> Iterator[Clockwork]:
    work = Clockwork(NOW)
    try:
        yield work
    finally:
        timesource.set_now(None)


@pytest.fixture
def windows(pipeline: Pipeline) -> Pipeline:
    """Handoff windows: a new lead 15m, inquiry->discovery 2h,
    discovery->proposal 2d (16 business hours)."""
    stages = {stage.key: stage for stage in pipeline.stages.all()}
    for start, end, minutes in (
        (None, "inquiry", 15),
        ("inquiry", "discovery", 120),
        ("discovery", "proposal", 960),
    ):
        Handoff.objects.create(
            pipeline=pipeline,
            from_stage=stages[start] if start else None,
            to_stage=stages[end],
            response_window_minutes=minutes,
            responsible="stage-owner",
        )
    return pipeline


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A migrated SQLite file for tests that run `dealgate` processes; copy it
    before use. Made once per session (a migration takes seconds)."""
    path = tmp_path_factory.mktemp("migrated") / "template.sqlite3"
    subprocess.run(
        [sys.executable, "-m", "dealgate", "migrate"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{path}"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    return path


def place_deal(
    pipeline: Pipeline,
    stage: str,
    *,
    owner,
    entered: dt.datetime,
    title: str = "Acme rollout",
    source: str = "web",
) -> Deal:
    """A new open deal that entered `stage` at `entered` (its clocks start)."""
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key=stage),
        title=title,
        owner=owner,
        responsible=owner,
        created_at=entered,
        stage_entered_at=entered,
        source=source,
    )
