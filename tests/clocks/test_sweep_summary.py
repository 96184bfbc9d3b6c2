"""The sweep's summary counts each clock once, and what it did to them
(escalations, notices, tasks, reassignments) apart, as actions."""

from __future__ import annotations

import datetime as dt

from dealgate.cli import main
from dealgate.clocks.sweep import SweepResult, sweep

from .conftest import berlin, place_deal


def test_clocks_breached_and_escalated_in_one_sweep_are_counted_once(
    pipeline, alice, max_manager, clock, capsys
):
    # Entered in May: past the limit and past the second window after it,
    # as when no sweep ran for weeks.
    for n in range(3):
        place_deal(
            pipeline,
            "inquiry",
            owner=alice,
            entered=berlin(1, 9) - dt.timedelta(days=30 + n),
            title=f"Deal {n}",
        )

    assert main(["sweep", "--no-send"]) == 0

    out = capsys.readouterr().out
    assert "swept 3 due clocks: 3 breached, 0 met, 0 cancelled; " in out
    assert "; actions: 3 escalations, " in out


def test_an_earlier_breach_past_its_second_window_is_one_clock_with_one_action(
    pipeline, alice, max_manager, clock
):
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    assert sweep().breached == 1

    clock.to(berlin(30, 12))
    result = sweep()

    assert (result.due, result.breached, result.earlier, result.escalated) == (
        1,
        0,
        1,
        1,
    )
    assert result.summary().startswith(
        "1 due clock: 0 breached, 0 met, 0 cancelled, 1 breached before and past "
        "its second window; actions: 1 escalation, "
    )


def test_the_summary_names_each_count_as_clocks_or_actions():
    result = SweepResult(
        due=5, breached=2, met=1, cancelled=1, earlier=1, escalated=3, notices=4
    )
    result.tasks, result.reassigned, result.batches = 2, 1, 2

    assert result.summary() == (
        "5 due clocks: 2 breached, 1 met, 1 cancelled, 1 breached before and past "
        "its second window; actions: 3 escalations, 4 notices, 2 tasks, "
        "1 reassignment; 2 batches in 0.000 s"
    )


def test_a_summary_of_one_of_each_speaks_of_each_in_the_singular():
    result = SweepResult(due=1, breached=1, escalated=1, notices=1)
    result.tasks, result.reassigned, result.batches = 1, 1, 1

    assert result.summary() == (
        "1 due clock: 1 breached, 0 met, 0 cancelled; actions: 1 escalation, "
        "1 notice, 1 task, 1 reassignment; 1 batch in 0.000 s"
    )


def test_every_count_of_the_summary_groups_its_thousands_alike():
    result = SweepResult(
        due=1560, breached=1560, met=1200, cancelled=3400, earlier=1001, left=2000
    )
    result.unaddressed, result.over, result.taken_over = 1500, 1100, 1300
    result.escalated = result.not_escalated = 1400

    summary = result.summary()

    assert summary.startswith("1,560 due clocks: 1,560 breached (1,500 with nobody")
    assert "(1,100 over already" in summary and "1,200 met, 3,400 cancelled" in summary
    assert ", 1,001 breached before" in summary and "1,300 breached before a" in summary
    assert "2,000 left to the next" in summary and "escalations (1,400 " in summary
