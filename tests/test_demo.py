"""`dealgate demo` as someone trying it runs it, in processes of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_commands_on_the_demo_database_run_at_its_date_without_as_of(tmp_path: Path):
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        DEALGATE_VAR_DIR=str(tmp_path),
    )
    env.pop("DEALGATE_AS_OF", None)

    def dealgate(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "dealgate", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    dealgate("demo", "--no-serve")
    dealgate("deal", "move", "8380", "engaging", "--as", "darcel.schlecht")

    # The data set's last day, not the day the command ran.
    assert "2017-12-31 23:59 prospecting -> engaging" in dealgate(
        "deal", "show", "8380"
    )
