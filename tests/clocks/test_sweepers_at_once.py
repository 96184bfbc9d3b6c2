"""Several sweepers at once, and a sweeper killed in the middle of a batch:
each due clock is still acted on exactly once.

The sweepers are real `dealgate sweep` processes against a real database:
on PostgreSQL the test database itself (they take rows with SKIP LOCKED), on
SQLite a database file of the test's own (they take turns through BEGIN
IMMEDIATE). On PostgreSQL, threads released by one barrier race as well.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, connections

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from tests.conftest import NOW

from .conftest import berlin, place_deal

SCRIPT = Path(__file__).with_name("sweepers.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(request, tmp_path) -> str:
    """The test database itself on PostgreSQL (tests commit, so the processes
    see their rows); a copy of a migrated file on SQLite."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        return (
            f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    path = tmp_path / "sweepers.sqlite3"
    shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
    return f"sqlite:///{path}"


def environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEALGATE_AS_OF": NOW.isoformat(),
        "DEALGATE_SMTP_HOST": "",
        "DEALGATE_WEBHOOK_URL": "",
        "DEALGATE_LOG_LEVEL": "WARNING",
        # The sweepers take turns at SQLite's write lock; on a loaded machine
        # a turn may outlast the 3 s a tick waits before it gives up as busy,
        # which is not what these tests are about.
        "DEALGATE_SWEEP_DB_WAIT": "60",
    }


def run_dealgate(url: str, *args: str) -> str:
    """`dealgate ARGS` in a process of its own, at NOW, on the database `url`."""
    done = subprocess.run(
        [sys.executable, "-m", "dealgate", *args],
        env=environment(url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_script(url: str, *args: str, expect: int = 0) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=environment(url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == expect, done.stderr
    return done.stdout


def report(url: str) -> dict[str, int]:
    return json.loads(run_script(url, "report"))


@pytest.mark.django_db(transaction=True)
def test_three_sweeper_processes_act_on_each_clock_once(database_url):
    run_script(database_url, "seed", "300")
    command = [sys.executable, "-m", "dealgate", "sweep", "--no-send"]
    sweepers = [
        subprocess.Popen(
            [*command, "--batch-size", "25"],
            env=environment(database_url),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in sweepers]

    assert [process.returncode for process in sweepers] == [0, 0, 0], outputs
    claimed = [int(re.search(r"swept (\d+) due", out)[1]) for out, _ in outputs]
    assert sum(claimed) == 300
    # Owners of ten deals each get digests short enough to name every clock:
    # each breached clock is named, once, and none is told twice.
    assert report(database_url) == {
        "breached": 300,
        "running": 0,
        "clocks_told": 300,
        "only_counted": 0,
        "most_notices_per_clock": 1,
        "named_as_breached": True,
        "second_windows": 300,
    }


@pytest.mark.django_db(transaction=True)
def test_a_sweeper_killed_mid_batch_loses_nothing_and_repeats_nothing(database_url):
    run_script(database_url, "seed", "50")

    run_script(database_url, "crash", "20", expect=3)
    assert report(database_url)["breached"] == 0
    assert report(database_url)["clocks_told"] == 0

    run_dealgate(database_url, "sweep", "--no-send")
    after = report(database_url)
    assert (after["breached"], after["clocks_told"], after["second_windows"]) == (
        50,
        50,
        50,
    )
    assert after["most_notices_per_clock"] == 1
    assert after["only_counted"] == 0 and after["named_as_breached"]


@pytest.mark.django_db(transaction=True)
def test_racing_sweeper_threads_share_the_clocks_without_overlap(pipeline, alice):
    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite database is private to one thread")
    # Owners of ten deals each: every digest names all its clocks.
    owners = [alice] + [
        User.objects.create(username=f"rep{n}", team=alice.team) for n in range(19)
    ]
    with timesource.frozen_at(NOW):
        for n in range(200):
            place_deal(
                pipeline,
                "inquiry",
                owner=owners[n % 20],
                entered=berlin(8, 9),
                title=f"{n}",
            )
    barrier = threading.Barrier(4)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(sweep(now=NOW, batch_size=10))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result.breached for result in results) == 200
    assert sum(1 for result in results if result.breached) > 1
    # Each of the 200 clocks is named, once.
    notices = list(Notice.objects.all())
    named = [clock for notice in notices for clock in notice.clock_ids]
    assert sum(notice.more_items for notice in notices) == 0
    assert len(named) == len(set(named)) == 200
    assert set(named) == set(
        Clock.objects.filter(kind="age").values_list("pk", flat=True)
    )
    assert sum(notice.told for notice in notices) == 200
    assert Clock.objects.exclude(escalate_at=None).count() == 200
