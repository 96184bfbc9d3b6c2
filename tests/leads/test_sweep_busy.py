"""While an import holds SQLite, a sweeper tick finds the database busy
within its own short wait (not 20 s for the drain and 20 s more for the
sweep), says so once at INFO, and leaves everything to a later tick, which
then takes in and sweeps all of it exactly once. On a real SQLite file, the
lock held by a second connection."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pytest

from dealgate import timesource
from dealgate.clocks import runner
from dealgate.clocks.models import Clock
from dealgate.leads import spool
from dealgate.leads.models import Lead

from .conftest import inquiry

pytestmark = pytest.mark.django_db(transaction=True)

FORM = "/leads/form/new-business/"
WAIT = 0.05  # a tick's wait for the lock, shortened for the test


@pytest.fixture(autouse=True)
def _fresh_ticks(settings, monkeypatch) -> None:
    settings.WEB_DB_WAIT = WAIT
    monkeypatch.setattr(runner, "_skipped_ticks", 0)


def _kept(sqlite_file: Path) -> list[Path]:
    return sorted(Path(f"{sqlite_file}-lead-spool").glob("*.json"))


def _tick(at: dt.datetime) -> runner.Tick:
    with timesource.frozen_at(at):
        return runner.run_once(send=False, wait=WAIT)


def _skips(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "sweep skipped" in r.getMessage()]


def test_a_tick_during_an_import_skips_quickly_saying_so_once(
    sqlite_file, routed, client, other_writer, now, caplog
):
    client.post(FORM, inquiry(1))  # captured: its window runs out at 12:15
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(FORM, inquiry(2))  # kept in the spool
    later = now + dt.timedelta(minutes=20)
    caplog.clear()

    started = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="dealgate"):
        ticks = [_tick(later) for _ in range(3)]
    waited = time.monotonic() - started

    assert all(tick.busy for tick in ticks)
    assert waited < 10  # not 40 s a tick
    # One line at INFO for the whole spell, the later ticks only at DEBUG,
    # and no error or traceback.
    levels = [record.levelno for record in _skips(caplog)]
    assert levels == [logging.INFO, logging.DEBUG, logging.DEBUG]
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.getMessage() for r in info] == [_skips(caplog)[0].getMessage()]
    assert "busy with another writer (an import is running" in info[0].getMessage()
    assert len(_kept(sqlite_file)) == 1


def test_the_tick_after_the_import_does_everything_once(
    sqlite_file, routed, client, other_writer, now, caplog
):
    client.post(FORM, inquiry(1))
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(FORM, inquiry(2))
    later = now + dt.timedelta(minutes=20)
    skipped = [_tick(later) for _ in range(2)]
    other_writer.execute("ROLLBACK")

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        resumed = _tick(later)
    again = _tick(later)

    assert [tick.busy for tick in skipped + [resumed, again]] == [1, 1, 0, 0]
    assert (resumed.drained.taken, resumed.sweep.breached) == (1, 2)
    assert (again.drained.taken, again.sweep.breached) == (0, 0)
    assert Lead.objects.count() == 2 and _kept(sqlite_file) == []
    # The spooled lead's window from when it was sent, breached once.
    assert Clock.objects.filter(state=Clock.State.BREACHED).count() == 2
    assert "the database is free again: sweeping after 2 skipped ticks" in (caplog.text)


def test_an_import_starting_mid_tick_stops_the_tick_without_harm(
    sqlite_file, routed, client, other_writer, now, monkeypatch
):
    client.post(FORM, inquiry(1))
    drain = spool.drain_spool

    def import_starts_after_the_drain() -> spool.Drained:
        drained = drain()
        other_writer.execute("BEGIN IMMEDIATE")
        return drained

    later = now + dt.timedelta(minutes=20)
    with monkeypatch.context() as patched:
        patched.setattr(spool, "drain_spool", import_starts_after_the_drain)
        stopped = _tick(later)
    other_writer.execute("ROLLBACK")
    resumed = _tick(later)

    assert stopped.busy and stopped.sweep.breached == 0
    assert Clock.objects.filter(state=Clock.State.BREACHED).count() == 1
    assert (resumed.busy, resumed.sweep.breached) == (False, 1)


def test_the_sweep_command_says_the_database_is_busy(
    sqlite_file, routed, other_writer, now, settings, capsys
):
    from dealgate.cli import main

    settings.SWEEP_DB_WAIT = WAIT
    other_writer.execute("BEGIN IMMEDIATE")

    code = main(["sweep", "--no-send"])

    assert code == 0
    out = capsys.readouterr().out
    assert "the database is busy with another writer" in out
    assert "swept" not in out
