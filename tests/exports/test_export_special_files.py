"""Where an export's OUTPUT is not a plain file: a FIFO or device is written
into as it is, never replaced by a renamed file (run as root, `dealgate
export deals /dev/null` once turned the machine's /dev/null into a plain
file; found by helper ray); a link is followed to the file it names; a
folder, or a folder that does not exist, is refused naming what was given."""

from __future__ import annotations

import os
import stat

import pytest

from dealgate.cli import main
from tests.web.helpers import make_deal


@pytest.fixture
def a_deal(pipeline, alice):
    return make_deal(pipeline, "inquiry", owner=alice, title="Backup for Acme")


@pytest.mark.parametrize("what", ["deals", "leads"])
def test_an_export_to_a_fifo_writes_into_it_and_keeps_it_a_fifo(a_deal, tmp_path, what):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    # Opened for reading first and without blocking, so that the export's
    # open for writing finds a reader; the small file fits the pipe's buffer.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert main(["export", what, str(fifo)]) == 0
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        assert os.read(reader, 65536).startswith(b"id,")
    finally:
        os.close(reader)


def test_an_export_to_a_link_replaces_the_file_it_names_and_keeps_the_link(
    a_deal, tmp_path
):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)

    assert main(["export", "deals", str(link)]) == 0

    assert link.is_symlink()
    assert "Backup for Acme" in real.read_text(encoding="utf-8")


def test_an_export_to_a_folder_is_refused_naming_it(a_deal, tmp_path, capsys):
    assert main(["export", "deals", str(tmp_path)]) == 2

    assert capsys.readouterr().err.strip() == f"dealgate: {tmp_path}: Is a directory"
    assert list(tmp_path.iterdir()) == []


def test_an_export_into_a_missing_folder_names_the_folder(a_deal, tmp_path, capsys):
    missing = tmp_path / "reports"

    assert main(["export", "deals", str(missing / "deals.csv")]) == 2

    assert capsys.readouterr().err.strip() == f"dealgate: {missing}: no such folder"
