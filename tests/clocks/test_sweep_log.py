"""What a sweep logs: a line at INFO when it acted on clocks, at DEBUG when
nothing was due (`serve` sweeps every 30 s, so an idle sweep is no news)."""

from __future__ import annotations

import logging

import pytest

from dealgate.clocks.sweep import sweep

from .conftest import berlin, place_deal

pytestmark = pytest.mark.django_db


def sweep_lines(caplog) -> list[tuple[int, str]]:
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == "dealgate.clocks" and "sweep at" in record.getMessage()
    ]


def test_a_sweep_that_found_nothing_due_logs_at_debug(pipeline, clock, caplog):
    with caplog.at_level(logging.DEBUG, logger="dealgate.clocks"):
        sweep()

    [(level, line)] = sweep_lines(caplog)
    assert level == logging.DEBUG
    assert "0 due clocks" in line


def test_a_sweep_that_acted_logs_at_info(pipeline, alice, clock, caplog):
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    with caplog.at_level(logging.DEBUG, logger="dealgate.clocks"):
        sweep()

    [(level, line)] = sweep_lines(caplog)
    assert level == logging.INFO
    assert "1 due clocks: 1 breached" in line
