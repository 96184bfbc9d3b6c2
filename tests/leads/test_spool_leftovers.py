"""A temporary file a crash left in the lead spool (a write stopped before
its rename) is cleared by the drain once it is older than a safe age: an
empty one removed, one with content set aside with its reason, each logged
naming the file. A file a process is still writing (it holds its lock), or
a young one, is never touched."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
from pathlib import Path

import pytest

from dealgate.leads import spool
from dealgate.leads.models import Lead

from .conftest import inquiry

pytestmark = pytest.mark.django_db

NAME = "20260610T115000000000Z-form-visitor-" + "0" * 31 + "7.json"


@pytest.fixture
def folder(routed, settings, tmp_path) -> Path:
    settings.LEADS_SPOOL_DIR = str(tmp_path / "spool")
    path = tmp_path / "spool"
    path.mkdir()
    return path


def _entry(routed, now: dt.datetime) -> spool._Entry:
    return spool._Entry(
        receipt="0" * 31 + "7",
        channel="form",
        pipeline=routed.key,
        by=None,
        received_at=now,
        data=inquiry(),
        sender="visitor",
        kept_at=now,
    )


def _leftover(
    folder: Path, content: bytes, written: dt.datetime, name: str = NAME
) -> Path:
    """A temporary file as a crashed `_write` leaves it, last written then."""
    path = folder / f".{name}.tmp"
    path.write_bytes(content)
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


def test_a_whole_inquiry_left_by_a_crash_is_set_aside_with_its_reason(
    folder, routed, now, caplog
):
    content = spool._encode(_entry(routed, now))
    left = _leftover(folder, content, now - dt.timedelta(minutes=11))

    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        drained = spool.drain_spool()

    assert drained.leftovers == 1 and not left.exists()
    aside = folder / spool.SET_ASIDE
    # Under the name it was meant to have: put right, it can be moved back.
    assert (aside / NAME).read_bytes() == content
    why = (aside / f"{NAME}.reason.txt").read_text()
    assert "crashed before it was renamed into place" in why
    assert "never told it was received" in why
    # Not taken in: its sender was never answered and may have sent it again.
    assert not Lead.objects.exists()
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert left.name in error.getMessage() and str(aside / NAME) in error.getMessage()
    assert "1 left by crashed writes" in caplog.text

    (aside / NAME).rename(folder / NAME)
    assert spool.drain_spool().taken == 1


def test_an_empty_leftover_is_removed_and_logged_naming_it(folder, now, caplog):
    left = _leftover(folder, b"", now - dt.timedelta(hours=3))

    with caplog.at_level(logging.WARNING, logger="dealgate.leads"):
        drained = spool.drain_spool()

    assert drained.leftovers == 1 and not left.exists()
    assert not (folder / spool.SET_ASIDE).exists()
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING
    assert str(left) in warning.getMessage() and "0 bytes" in warning.getMessage()


def test_a_leftover_reason_file_in_set_aside_is_removed(folder, now):
    aside = folder / spool.SET_ASIDE
    aside.mkdir()
    left = _leftover(aside, b"refused: pip", now - dt.timedelta(minutes=30), "x.json")

    assert spool.drain_spool().leftovers == 1
    assert list(aside.iterdir()) == []
    assert not left.exists()


def test_a_young_temporary_file_is_left_alone(folder, now):
    left = _leftover(folder, b"{", now - dt.timedelta(minutes=9))

    assert spool.drain_spool() == spool.Drained()
    assert left.read_bytes() == b"{"


def test_a_file_its_writer_still_holds_is_never_touched_however_old(
    folder, now, caplog
):
    left = _leftover(folder, b'{"version": 1', now - dt.timedelta(days=2))
    with open(left, "rb") as writer:  # as a stalled writing process holds it
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)

        drained = spool.drain_spool()

        assert drained.leftovers == 0 and left.exists()
    assert not caplog.records
    assert spool.drain_spool().leftovers == 1  # its writer gone: cleared


def test_a_write_in_progress_holds_its_lock_until_it_is_renamed(
    folder, routed, now, monkeypatch
):
    """A drain whose clock is far ahead, run at the moment a write renames
    its file into place, finds the file locked and leaves it."""
    seen = []
    rename = os.replace

    def drain_meanwhile(source, target) -> None:
        with monkeypatch.context() as later:
            later.setattr(spool.timesource, "wall_now", lambda: now + dt.timedelta(1))
            seen.append(spool._clear_leftovers(folder))
        rename(source, target)

    monkeypatch.setattr(spool.os, "replace", drain_meanwhile)
    assert spool._keep(_entry(routed, now))

    assert seen == [0]
    assert [path.name for path in folder.iterdir()] == [
        f"{now:%Y%m%dT%H%M%S%f}Z-form-visitor-{'0' * 31}7.json"
    ]
    assert json.loads(next(folder.iterdir()).read_text())["receipt"] == "0" * 31 + "7"
