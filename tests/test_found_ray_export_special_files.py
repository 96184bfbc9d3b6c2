"""Found by ray: `dealgate export deals|leads OUTPUT` writes a temporary file
beside OUTPUT and renames it over OUTPUT, whatever OUTPUT is. Named a FIFO, a
device or /dev/stdout, the export replaces that special file with a regular
one instead of writing into it: run as root, `dealgate export deals
/dev/null` (a natural way to count rows from the message) turned the
machine's /dev/null into a plain file, breaking every program that writes
to it. A path that is not a regular file should be written into as it is
(or refused, naming it), never replaced.
"""

from __future__ import annotations

import os
import stat

import pytest

from dealgate.cli import main
from tests.web.helpers import make_deal


@pytest.mark.xfail(
    strict=True,
    reason="the export renames its temporary file over a FIFO or device",
)
@pytest.mark.parametrize("what", ["deals", "leads"])
def test_an_export_to_a_fifo_writes_into_it_and_keeps_it_a_fifo(
    pipeline, alice, tmp_path, what
):
    make_deal(pipeline, "inquiry", owner=alice, title="Backup for Acme")
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    # Opened for reading first and without blocking, so that the export's
    # open for writing finds a reader; the small file fits the pipe's buffer.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        main(["export", what, str(fifo)])
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        assert os.read(reader, 65536).startswith(b"id,")
    finally:
        os.close(reader)
