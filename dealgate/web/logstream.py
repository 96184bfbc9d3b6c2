"""The console log handler: lines go to the standard error stream of the
moment they are written, not of the moment logging was configured.

`django.setup()` configures logging again each time it runs, and a plain
StreamHandler keeps the stream it found then. Where something replaces
sys.stderr for a while (the test runner capturing a command's output, a
command run from another program's thread) a handler made in that while
would go on writing to a stream since closed, and every later line would be
lost to "I/O operation on closed file".
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class StandardError(logging.StreamHandler):
    """A StreamHandler whose stream is always the current sys.stderr."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        # StreamHandler.__init__ and setStream assign it; there is nothing to keep.
        pass
