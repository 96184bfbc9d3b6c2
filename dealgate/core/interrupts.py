"""Ctrl-C that stops work, but never halfway through putting it away.

Python raises KeyboardInterrupt in the main thread between any two of its
steps. Most code is fine with that. The end of a transaction is not: an
interrupt that lands as Django's `atomic()` starts its rollback, or while
an import waits for the batch its writing thread is storing, leaves the
database to whatever happened to run last.

`held_interrupts()` lets Ctrl-C stop only the part of a job that is safe
to stop, the `allowed()` part. A Ctrl-C there raises KeyboardInterrupt as
usual, once; any Ctrl-C after it, or outside that part, is recorded, and
raised when the `held_interrupts()` block ends, after the transaction has
been committed or rolled back. It takes over SIGINT only in the main
thread, and only from Python's own handler: elsewhere, or where a program
handles SIGINT itself, it changes nothing. Within the allowed part,
`uninterrupted()` holds Ctrl-C for a step that must not be cut in two.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class InterruptedAfterwards(KeyboardInterrupt):
    """A Ctrl-C held until the work it arrived during had ended, as that
    work would have ended without it (committed, or rolled back as
    planned). `result` may carry what the work came to, for the caller to
    show."""

    result: Any = None


class Interrupts:
    """What `held_interrupts` yields: see `allowed`."""

    def __init__(self) -> None:
        self.pending = False  # a Ctrl-C arrived while held
        self._allowed = False

    @contextmanager
    def allowed(self) -> Iterator[None]:
        """Let Ctrl-C raise KeyboardInterrupt within the block (once)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
        self._allowed = True
        try:
            yield
        finally:
            self._allowed = False

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._allowed:
            # From here on the job is putting its work away: held.
            self._allowed = False
            raise KeyboardInterrupt
        self.pending = True


# The `held_interrupts` blocks that have taken SIGINT over, innermost last
# (main thread only).
_holding: list[Interrupts] = []


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C for a step that must not be cut in two, such as handing
    work to another thread: cut in two, the work goes ahead with nobody
    knowing to wait for it. Within `held_interrupts`, a Ctrl-C held is
    raised once the step is done; elsewhere this changes nothing."""
    if not _holding or threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupts = _holding[-1]
    allowed = interrupts._allowed
    interrupts._allowed = False
    try:
        yield
    finally:
        interrupts._allowed = allowed
    if allowed and interrupts.pending:
        interrupts.pending = False
        interrupts._allowed = False
        raise KeyboardInterrupt


def _takes_over() -> bool:
    """Whether SIGINT may be handled here: in the main thread, and only in
    place of Python's own handler."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


@contextmanager
def ignored_interrupts() -> Iterator[None]:
    """Ignore Ctrl-C within the block: for the last words of a program
    already stopping because of one."""
    if not _takes_over():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def held_interrupts() -> Iterator[Interrupts]:
    """Hold Ctrl-C until the block ends, except within its `allowed()` part.

    A Ctrl-C held is raised as InterruptedAfterwards when the block ends
    well; if it ends with an exception, that exception goes on instead.
    """
    interrupts = Interrupts()
    if not _takes_over():
        yield interrupts
        return
    previous = signal.signal(signal.SIGINT, interrupts._on_sigint)
    _holding.append(interrupts)
    try:
        yield interrupts
    finally:
        _holding.pop()
        signal.signal(signal.SIGINT, previous)
    if interrupts.pending:
        raise InterruptedAfterwards
