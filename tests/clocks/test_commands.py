"""`dealgate sweep` (once, with --backfill, or as the sweeper beside `serve`)
and `dealgate notices`."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess

import pytest

from dealgate.cli import main
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.runner import start_background_sweeper
from dealgate.clocks.sweep import SweepResult
from dealgate.deals.models import Deal
from dealgate.demo import loader

from .conftest import berlin, place_deal


def test_sweep_once_prints_what_it_did(pipeline, alice, clock, capsys):
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    assert main(["sweep", "--no-send"]) == 0

    out = capsys.readouterr().out
    assert "swept 1 due clock: 1 breached" in out
    assert Notice.objects.count() == 1


def test_sweep_once_logs_warnings_but_not_what_it_did(pipeline, alice, clock, capsys):
    place_deal(pipeline, "inquiry", owner=None, entered=berlin(8, 9))

    assert main(["sweep", "--no-send"]) == 0

    out, err = capsys.readouterr()
    assert "1 breached (1 with nobody to notify)" in out
    assert "WARNING dealgate.clocks: sweep at" in err
    assert "1 breached clocks had nobody to notify (no owner)" in err
    assert " INFO " not in err


def test_sweep_refuses_a_nonsense_interval(db, capsys):
    assert main(["sweep", "--loop", "--interval", "0"]) == 2
    assert "--interval must be above 0" in capsys.readouterr().err


def test_backfill_counts_first_and_starts_clocks_only_with_apply(
    pipeline, alice, clock, capsys
):
    # Imports write deals without signals: these have no clocks.
    stage = pipeline.stages.get(key="inquiry")
    Deal.objects.bulk_create(
        Deal(
            pipeline=pipeline,
            stage=stage,
            title=f"Imported {n}",
            owner=alice,
            stage_entered_at=berlin(8 - n, 9),
        )
        for n in range(3)
    )

    assert main(["sweep", "--backfill"]) == 0
    assert "3 open deals without an age clock (already past the limit: 3)" in (
        capsys.readouterr().out
    )
    assert Clock.objects.count() == 0

    assert main(["sweep", "--backfill", "--apply", "--no-send"]) == 0
    out = capsys.readouterr().out
    assert "started 3 age clocks" in out
    assert "swept 3 due clocks: 3 breached" in out

    assert main(["sweep", "--backfill"]) == 0
    assert "every open deal with an age limit has its age clock" in (
        capsys.readouterr().out
    )


def test_backfill_counts_open_deals_whose_stage_entry_is_unknown_and_says_why(
    pipeline, alice, clock, capsys
):
    stage = pipeline.stages.get(key="inquiry")
    Deal.objects.bulk_create(
        Deal(pipeline=pipeline, stage=stage, title=f"Imported {n}", owner=alice)
        for n in range(2)
    )

    assert main(["sweep", "--backfill"]) == 0
    out = capsys.readouterr().out
    assert "nothing to start" not in out
    assert (
        "2 open deals in a stage with an age limit have no age clock and cannot "
        "be given one: when they entered their stage is unknown (imported "
        "without stage_entered_at)"
    ) in out
    assert "Each starts its clock when it next moves" in out

    assert main(["sweep", "--backfill", "--apply", "--no-send"]) == 0
    out = capsys.readouterr().out
    assert "started 0 age clocks" in out
    assert "2 open deals in a stage with an age limit have no age clock" in out
    assert Clock.objects.count() == 0


def test_backfill_puts_right_the_breached_clock_of_a_stay_moved_without_hooks(
    pipeline, alice, clock, capsys
):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    main(["sweep", "--no-send"])  # its age clock ran out and stays open
    # A pipeline's --move or an edit of the stage: no hooks, no clocks.
    Deal.objects.filter(pk=deal.pk).update(stage_entered_at=berlin(9, 9))

    assert main(["sweep", "--backfill", "--apply", "--no-send"]) == 0

    assert "started 1 age clock;" in capsys.readouterr().out
    old, new = Clock.objects.filter(deal=deal, kind="age").order_by("id")
    assert (old.state, old.is_open, old.at_risk) == ("breached", False, False)
    assert (new.state, new.is_open, new.started_at) == ("running", True, berlin(9, 9))


def test_notices_status_counts_by_channel(pipeline, alice, clock, settings, capsys):
    settings.WEBHOOK_URL = "http://127.0.0.1:9/hook"
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    main(["sweep", "--no-send"])
    capsys.readouterr()

    assert main(["notices", "status"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "1 notice written (1 unread), each shown to its person on /notices/",
        "deliveries by channel and state:",
        "  webhook  pending  1",
    ]


def test_the_background_sweeper_runs_the_loop_and_stops_when_asked(
    migrated_sqlite, tmp_path, monkeypatch
):
    database = tmp_path / "serve.sqlite3"
    shutil.copy(migrated_sqlite, database)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setattr("dealgate.clocks.runner.atexit.register", lambda fn: None)
    monkeypatch.setattr(
        "dealgate.clocks.runner.subprocess.Popen",
        functools.partial(subprocess.Popen, stderr=subprocess.PIPE, text=True),
    )

    sweeper = start_background_sweeper(5)

    # The loop's first words (blocks until the child has started).
    assert "sweeper running every 5.0 s" in sweeper.process.stderr.readline()
    assert sweeper.process.args[3:] == ["sweep", "--loop", "--interval", "5"] + [
        "--exit-with-parent"
    ]
    assert sweeper.stop() == 0


@pytest.mark.parametrize(("flags", "sweepers"), [([], 1), (["--no-sweeper"], 0)])
def test_serve_runs_a_sweeper_beside_itself_unless_told_not_to(
    monkeypatch, flags, sweepers
):
    started, served = [], []
    monkeypatch.setattr(
        "dealgate.clocks.runner.start_background_sweeper",
        lambda interval=None: started.append(interval),
    )
    monkeypatch.setattr(
        "dealgate.commands.serve.serve", lambda *args, **kwargs: served.append(args)
    )
    monkeypatch.setattr(
        "dealgate.commands.serve.check_port_free", lambda *args, **kwargs: None
    )

    assert main(["serve", "--port", "8123", *flags]) == 0

    assert (len(started), len(served)) == (sweepers, 1)


@pytest.mark.parametrize(
    ("given", "swept_at"),
    [
        # The sweeper, as the server, runs at the date the database records
        # (the demo's own, until a pipeline of one's own comes beside it).
        ([], ""),
        # A date asked for holds for both, through the environment.
        (["--as-of", "2018-02-15"], "2018-02-15"),
    ],
)
def test_the_demo_serves_with_the_sweeper_beside_it_at_the_same_time(
    db, monkeypatch, capsys, given, swept_at
):
    monkeypatch.setenv("DEALGATE_AS_OF", "")
    loaded, started, served, stopped = [], [], [], []

    def load_demo(as_of: str, **options: bool) -> loader.DemoSummary:
        loaded.append(as_of)
        return loader.DemoSummary([], "imported", SweepResult(), loader.LOGINS)

    monkeypatch.setattr(loader, "load_demo", load_demo)

    class Sweeper:
        def stop(self) -> None:
            stopped.append(True)

    def start(interval=None):
        started.append(os.environ["DEALGATE_AS_OF"])
        return Sweeper()

    def serve(host="127.0.0.1", port=8000, workers=None, threads=1):
        served.append((host, port, workers))
        raise SystemExit(0)  # as gunicorn ends on Ctrl-C

    monkeypatch.setattr("dealgate.clocks.runner.start_background_sweeper", start)
    monkeypatch.setattr("dealgate.commands.serve.serve", serve)
    monkeypatch.setattr(
        "dealgate.commands.serve.check_port_free", lambda *args, **kwargs: None
    )

    with pytest.raises(SystemExit):
        main(["demo", "--port", "8123", *given])

    assert loaded == [swept_at or loader.AS_OF]
    assert started == [swept_at]
    assert served == [("127.0.0.1", 8123, None)]
    assert stopped == [True]  # and stopped with the server


def test_serve_logs_what_happened_at_info(monkeypatch):
    monkeypatch.delenv("DEALGATE_LOG_LEVEL", raising=False)
    levels = []
    monkeypatch.setattr(
        "dealgate.clocks.runner.start_background_sweeper", lambda interval=None: None
    )
    monkeypatch.setattr(
        "dealgate.commands.serve.serve",
        lambda *args, **kwargs: levels.append(
            logging.getLogger("dealgate").getEffectiveLevel()
        ),
    )

    assert main(["serve", "--port", "8123"]) == 0

    assert levels == [logging.INFO]
