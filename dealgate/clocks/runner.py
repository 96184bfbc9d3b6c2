"""Running the sweeper: once, in a loop, or beside `dealgate serve`.

Each tick takes in the leads kept while SQLite was busy (dealgate.leads.
spool), sweeps due clocks, then delivers due notices. The loop survives a
failing tick (a database restart, say): it logs the error and tries again
after the interval.

On SQLite an import holds the whole database for minutes. A tick finds that
out within SWEEP_DB_WAIT seconds (it asks for the write lock first, and its
writes wait no longer than that), does nothing more, and says so once at
INFO until a tick gets through again; the next tick tries again. Nothing is
lost or done twice meanwhile: every batch of the drain, the sweep and the
routing is its own transaction, rolled back whole when refused, and picked
up again by a later tick.

In `dealgate serve` the loop runs as its own process, not as a thread of
gunicorn's master, whose forked workers must not share its database
connection.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import (
    OperationalError,
    close_old_connections,
    connection,
    connections,
    transaction,
)

from dealgate import timesource
from dealgate.web.busy import is_busy, waiting_at_most

from .outbox import DeliveryResult, deliver_all_due
from .sweep import BATCH_SIZE, SweepResult, sweep

if TYPE_CHECKING:
    from dealgate.leads.spool import Drained

log = logging.getLogger("dealgate.clocks")


@dataclass
class Tick:
    sweep: SweepResult
    delivery: DeliveryResult | None
    placed: int = 0  # leads that were waiting for an owner and found one
    drained: Drained | None = None  # the lead spool: what was taken in
    # Skipped (from where it stopped on) because another writer, such as an
    # import, holds SQLite: a later tick does it.
    busy: bool = False


# Whether the last tick in this process was skipped for a busy database, and
# how many in a row: the first says so at INFO, the one that gets through
# again too, and those between only at DEBUG.
_skipped_ticks = 0


def run_once(
    *,
    now: dt.datetime | None = None,
    send: bool = True,
    batch_size: int = BATCH_SIZE,
    wait: float | None = None,
) -> Tick:
    """Take in the leads the spool kept, sweep every due clock, route again
    the leads still waiting for an owner, then (with `send`) deliver every
    due notice. Spooled leads come first: a response window that ran out
    while one waited is swept in the same tick.

    On SQLite, when another writer (an import) holds the database for
    longer than `wait` seconds (SWEEP_DB_WAIT), the tick stops there and
    returns with `busy` set (see the module's doc)."""
    from dealgate.leads.services import route_waiting_leads
    from dealgate.leads.spool import drain_spool

    wait = float(settings.SWEEP_DB_WAIT) if wait is None else wait
    drained = None
    with waiting_at_most(wait):
        try:
            _ask_for_the_write_lock()
            drained = drain_spool()
            if drained.busy:
                return _skip(Tick(SweepResult(), None, 0, drained, busy=True))
            swept = sweep(now=now, batch_size=batch_size)
            placed = route_waiting_leads(now=now)
        except OperationalError as exc:
            if not is_busy(exc):
                raise
            return _skip(Tick(SweepResult(), None, 0, drained, busy=True))
    _resume()
    delivered = deliver_all_due(now=now) if send else None
    return Tick(swept, delivered, placed, drained)


def _ask_for_the_write_lock() -> None:
    """Raise the busy error at once if another writer holds SQLite, rather
    than first in the middle of the tick; a no-op on other databases."""
    if connection.vendor != "sqlite":
        return
    with transaction.atomic():  # BEGIN IMMEDIATE: takes the write lock
        pass


def _skip(tick: Tick) -> Tick:
    global _skipped_ticks
    _skipped_ticks += 1
    level = logging.INFO if _skipped_ticks == 1 else logging.DEBUG
    waiting = tick.drained.waiting if tick.drained is not None else 0
    spooled = f"; {waiting} spooled leads wait" if waiting else ""
    log.log(
        level,
        "sweep skipped: the database is busy with another writer (an import "
        "is running, say)%s; the next tick tries again",
        spooled,
    )
    return tick


def _resume() -> None:
    global _skipped_ticks
    if _skipped_ticks:
        log.info(
            "the database is free again: sweeping after %d skipped ticks",
            _skipped_ticks,
        )
    _skipped_ticks = 0


def run_forever(
    interval: float,
    *,
    stop: threading.Event | None = None,
    send: bool = True,
    exit_with_parent: bool = False,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Tick every `interval` seconds until `stop` is set (or SIGTERM/SIGINT).

    With `exit_with_parent`, the loop ends when the process that started it
    is gone, so a sweeper beside `dealgate serve` never outlives the server.
    """
    stop = stop or threading.Event()
    parent = os.getppid()
    log.info("sweeper running every %s s (pid %s)", interval, os.getpid())
    while not stop.is_set():
        if exit_with_parent and os.getppid() != parent:
            log.info("sweeper stops: the server that started it is gone")
            return
        try:
            close_old_connections()
            # A demo's date recorded or let go meanwhile holds from this tick.
            timesource.refresh_recorded_as_of()
            run_once(send=send, batch_size=batch_size)
        except Exception:
            log.exception("sweep failed; trying again in %s s", interval)
            connections.close_all()
        stop.wait(interval)


@dataclass
class BackgroundSweeper:
    """A `dealgate sweep --loop` process; `stop()` ends it."""

    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 10.0) -> int | None:
        """Ask the sweeper to stop (SIGTERM), and kill it if it will not."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_background_sweeper(interval: float | None = None) -> BackgroundSweeper:
    """Start `dealgate sweep --loop` beside this process and stop it at exit.

    The child inherits the environment (DATABASE_URL, DEALGATE_AS_OF, the
    notice settings). It ends with this process: at exit it is sent SIGTERM,
    and if this process is killed outright it notices within one interval.
    """
    from django.conf import settings

    interval = settings.SWEEP_INTERVAL if interval is None else interval
    command = [
        sys.executable,
        "-m",
        "dealgate",
        "sweep",
        "--loop",
        "--interval",
        str(interval),
        "--exit-with-parent",
    ]
    process = subprocess.Popen(command, env=os.environ.copy())
    sweeper = BackgroundSweeper(process)
    atexit.register(sweeper.stop)
    log.info("background sweeper started (pid %s)", process.pid)
    return sweeper
