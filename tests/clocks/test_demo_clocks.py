"""The clocks the demo started stay at the date its database records.

`dealgate demo` records its date, 2017-12-31. A pipeline of one's own applied
beside the demo's makes the database run at the real time, at which every
window of the demo's sample deals ran out years ago: the sweep judges the
clocks the demo started at its date, whatever its own time, so nothing is
breached, escalated or mailed about them, while the new pipeline's clocks
(and those a demo deal starts from then on) run at the real time.
`dealgate demo --as-of DATE` moves the demo on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import pytest
from django.db.models import Value
from django.db.models.functions import Concat

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.cli import main
from dealgate.clocks import runner
from dealgate.clocks import sweep as sweep_module
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.demo.loader import PIPELINE_KEY
from dealgate.pipelines.models import Pipeline
from tests.conftest import REPO_ROOT
from tests.importing import make_import_pipeline

from .conftest import berlin, place_deal
from .test_outbox import Receiver

# The end of 31 December 2017 in Berlin, the zone of the demo fixture's pipeline.
DEMO_END = dt.datetime(2017, 12, 31, 22, 59, 59, tzinfo=dt.UTC)
EXAMPLE = REPO_ROOT / "examples/pipelines/it-services.toml"
RUNNING, BREACHED = Clock.State.RUNNING, Clock.State.BREACHED


def winter(day: int, hour: int) -> dt.datetime:
    """An instant in December 2017 on Berlin's wall clock (UTC+1)."""
    return dt.datetime(2017, 12, day, hour, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@dataclass
class Demo:
    running: Clock  # still running at the demo's date
    breached: Clock  # ran out before it, escalates after it

    def unchanged(self) -> bool:
        running = Clock.objects.get(pk=self.running.pk)
        breached = Clock.objects.get(pk=self.breached.pk)
        return (running.state, breached.state, breached.escalated_at) == (
            RUNNING,
            BREACHED,
            None,
        )


@pytest.fixture(autouse=True)
def _hold_not_yet_logged(monkeypatch):
    monkeypatch.setattr(sweep_module, "_hold_told", None)


@pytest.fixture
def demo(pipeline, alice, max_manager, settings, monkeypatch) -> Demo:
    """A database as `dealgate demo` leaves it: the demo's pipeline its only
    one, its date recorded, its clocks swept at that date; no DEALGATE_AS_OF.
    Its 2-day limits: one deal entered on Friday 29 December (due Monday 1
    January), one on Wednesday 27 (breached, escalating after the date)."""
    settings.AS_OF = ""
    monkeypatch.delenv("DEALGATE_AS_OF", raising=False)
    pipeline.key = PIPELINE_KEY
    pipeline.save()
    running = place_deal(
        pipeline, "inquiry", owner=alice, entered=winter(29, 9), title="Still in time"
    )
    late = place_deal(
        pipeline, "inquiry", owner=alice, entered=winter(27, 9), title="Ran out"
    )
    timesource.record_as_of("2017-12-31")
    with timesource.frozen_at(DEMO_END):
        sweep()
    made = Demo(
        running=Clock.objects.get(deal=running, kind=Clock.Kind.AGE),
        breached=Clock.objects.get(deal=late, kind=Clock.Kind.AGE),
    )
    assert made.running.due_at > DEMO_END and made.breached.escalate_at > DEMO_END
    assert made.unchanged()
    return made


def test_a_pipeline_of_ones_own_applied_to_the_demo_mails_nothing_about_its_deals(
    demo, demo_people, settings, tmp_path
):
    smtp = Receiver("smtp", tmp_path / "smtp.log").start()
    settings.SMTP_HOST, settings.SMTP_PORT = "127.0.0.1", smtp.port
    settings.SMTP_SECURITY, settings.SMTP_USER = "none", ""
    User.objects.update(email=Concat("username", Value("@example.com")))
    try:
        assert main(["pipeline", "apply", str(EXAMPLE)]) == 0
        # A deal of the new pipeline, past its 2-day limit at the real time,
        # of someone outside the demo deals' team.
        own = Pipeline.objects.get(key="it-services")
        rep = User.objects.get(username="darcel.schlecht")
        entered = timesource.wall_now() - dt.timedelta(days=10)
        place_deal(own, "inquiry", owner=rep, entered=entered, title="Our own")

        assert main(["sweep"]) == 0
    finally:
        smtp.kill()

    mailed = {line.split("\t")[1] for line in smtp.log.read_text().splitlines()}
    assert "darcel.schlecht@example.com" in mailed
    assert not mailed & {"alice@example.com", "max@example.com"}
    assert not Notice.objects.filter(
        user__username__in=["alice", "max"], created_at__gt=DEMO_END
    ).exists()
    assert demo.unchanged()


def test_a_clock_a_demo_deal_starts_after_the_demos_date_runs_out_as_any(
    demo, alice, clock
):
    make_import_pipeline(key="it-services")
    moved_since = place_deal(
        demo.running.pipeline, "inquiry", owner=alice, entered=berlin(3, 9)
    )

    result = sweep()

    assert Clock.objects.get(deal=moved_since, kind=Clock.Kind.AGE).state == BREACHED
    assert result.breached == 1
    assert demo.unchanged()


def test_a_sweep_asked_for_a_later_date_leaves_the_demos_clocks_at_its_own(demo):
    sweep(now=dt.datetime(2018, 2, 1, tzinfo=dt.UTC))

    assert demo.unchanged()


def test_the_demo_loaded_again_at_a_later_date_moves_its_clocks_on(demo):
    later = dt.datetime(2018, 2, 1, 23, 59, 59, tzinfo=dt.UTC)
    timesource.record_as_of("2018-02-01")  # as `dealgate demo --as-of` does

    sweep(now=later)

    assert Clock.objects.get(pk=demo.running.pk).state == BREACHED
    assert Clock.objects.get(pk=demo.breached.pk).escalated_at is not None
    assert Notice.objects.filter(created_at=later).exists()


def test_the_demo_records_its_date_before_its_deals_come_in(db, monkeypatch):
    """A server's sweeper may run while `dealgate demo` loads in another
    terminal: it must never find the demo's clocks without the date that
    keeps them at it."""
    from dealgate.clocks.models import AsOf
    from dealgate.demo import loader
    from dealgate.imports import services

    seen = []

    def import_deals(*args: object, **kwargs: object) -> str:
        seen.append(AsOf.objects.values_list("value", flat=True).first())
        return "imported"

    monkeypatch.setattr(services, "import_deals", import_deals)
    monkeypatch.setattr(services, "refresh_statistics", lambda report: None)
    monkeypatch.setattr(sweep_module, "sweep", lambda: sweep_module.SweepResult())

    loader.load_demo("2018-02-15")

    assert seen == ["2018-02-15"]


def test_the_sweep_says_once_why_it_keeps_the_demos_clocks_at_its_date(
    demo, clock, caplog
):
    make_import_pipeline(key="it-services")

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()
        sweep()

    said = [r for r in caplog.records if "stay at its date" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in said] == [
        (
            logging.INFO,
            "sweep at 2026-06-10T12:00:00+00:00: the clocks the demo started in "
            "pipeline maven-crm stay at its date 2017-12-31, so its sample deals "
            "are not breached or escalated: this database also holds pipeline "
            "it-services, so it runs at the real time (dealgate demo --as-of DATE "
            "moves the demo on)",
        )
    ]


def test_the_sweeper_loop_follows_the_date_the_database_records_tick_by_tick(
    demo, monkeypatch
):
    # As `dealgate sweep --loop` runs when no DEALGATE_AS_OF is given.
    timesource.use_recorded_as_of()
    elapsed = [0.0]
    monkeypatch.setattr(timesource, "_monotonic", lambda: elapsed[0])
    # The test's transaction must outlive the loop's connection upkeep.
    monkeypatch.setattr(runner, "close_old_connections", lambda: None)
    stop = threading.Event()
    ticks: list[dt.datetime] = []

    def tick(**kwargs: object) -> None:
        ticks.append(timesource.now())
        if len(ticks) == 1:
            make_import_pipeline(key="it-services")  # in another terminal
        else:
            stop.set()
        elapsed[0] += timesource.RECORDED_MAX_AGE

    monkeypatch.setattr(runner, "run_once", tick)
    before = dt.datetime.now(dt.UTC)

    runner.run_forever(0, stop=stop)

    assert ticks[0] == DEMO_END
    assert ticks[1] >= before  # the real time
