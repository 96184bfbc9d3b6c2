"""Ctrl-C stops the allowed part of a job and is held through the rest."""

from __future__ import annotations

import signal
import threading

import pytest

from dealgate.core.interrupts import InterruptedAfterwards, held_interrupts


def ctrl_c() -> None:
    """A real SIGINT to this (the main) thread, handled before returning."""
    signal.raise_signal(signal.SIGINT)


def test_ctrl_c_in_the_allowed_part_raises_and_one_in_the_cleanup_waits():
    steps = []
    with pytest.raises(KeyboardInterrupt) as caught, held_interrupts() as interrupts:
        try:
            with interrupts.allowed():
                steps.append("work")
                ctrl_c()
                steps.append("not reached")
        finally:
            ctrl_c()  # a second Ctrl-C while cleaning up
            steps.append("cleaned up")
    assert steps == ["work", "cleaned up"]
    assert type(caught.value) is KeyboardInterrupt  # the work was cut short
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_outside_the_allowed_part_is_raised_when_the_block_ends():
    steps = []
    with pytest.raises(InterruptedAfterwards), held_interrupts() as interrupts:
        with interrupts.allowed():
            steps.append("work")
        ctrl_c()  # as the work is put away
        steps.append("committed")
    assert steps == ["work", "committed"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_held_before_the_allowed_part_stops_it_at_once():
    with pytest.raises(KeyboardInterrupt), held_interrupts() as interrupts:
        ctrl_c()
        with interrupts.allowed():
            pytest.fail("the allowed part ran after a Ctrl-C")


def test_the_blocks_own_error_goes_on_rather_than_a_held_ctrl_c():
    with pytest.raises(LookupError), held_interrupts():
        ctrl_c()
        raise LookupError("the block's own error")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_with_no_ctrl_c_ends_quietly():
    with held_interrupts() as interrupts, interrupts.allowed():
        pass
    assert not interrupts.pending


def test_a_programs_own_sigint_handler_is_left_alone():
    seen = []

    def own(signum, frame):
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, own)
    try:
        with held_interrupts() as interrupts, interrupts.allowed():
            ctrl_c()
        ctrl_c()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT, signal.SIGINT]


def test_outside_the_main_thread_nothing_changes():
    handlers = []

    def job():
        with held_interrupts() as interrupts, interrupts.allowed():
            handlers.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert handlers == [signal.default_int_handler]


def test_ctrl_c_is_ignored_while_a_stopping_program_says_so():
    from dealgate.core.interrupts import ignored_interrupts

    with ignored_interrupts():
        ctrl_c()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_step_that_must_not_be_cut_raises_its_ctrl_c_when_done():
    from dealgate.core.interrupts import uninterrupted

    steps = []
    with (
        pytest.raises(KeyboardInterrupt),
        held_interrupts() as interrupts,
        interrupts.allowed(),
    ):
        with uninterrupted():
            ctrl_c()
            steps.append("handed over")
        steps.append("not reached")
    assert steps == ["handed over"]


def test_uninterrupted_outside_a_held_block_changes_nothing():
    from dealgate.core.interrupts import uninterrupted

    with pytest.raises(KeyboardInterrupt), uninterrupted():
        ctrl_c()
        pytest.fail("Ctrl-C was held")
