"""The shipped example pipelines apply as they are to a demo database."""

from __future__ import annotations

import pytest

from dealgate.cli import main
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.demo.loader import PIPELINE_FILE
from dealgate.pipelines.services import apply_pipeline, export_pipeline, get_pipeline
from tests.conftest import REPO_ROOT

EXAMPLES = sorted((REPO_ROOT / "examples" / "pipelines").glob("*.toml"))


@pytest.fixture
def demo_database(demo_people):
    """Set up as `make demo` leaves it: its people and its pipeline (the
    demo's deals change nothing an example refers to, so they are left out)."""
    apply_pipeline(load_pipeline_file(PIPELINE_FILE))


def test_examples_are_shipped():
    assert [path.name for path in EXAMPLES] == ["it-services.toml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_an_example_validates_and_applies_to_a_demo_database(
    demo_database, path, capsys
):
    validated = main(["pipeline", "validate", str(path)])
    applied = main(["pipeline", "apply", str(path)])

    captured = capsys.readouterr()
    assert (validated, applied) == (0, 0), captured.err
    assert captured.out.startswith(f"{path}: ok (")
    assert "note:" not in captured.err
    spec = load_pipeline_file(path)
    assert export_pipeline(get_pipeline(spec.key)) == spec
    assert not apply_pipeline(spec).has_changes
