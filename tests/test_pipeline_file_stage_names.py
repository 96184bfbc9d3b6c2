"""Two stages of one pipeline file may not share a name once case and
spacing are set aside: the board and the reports tell stages apart by name."""

from __future__ import annotations

import pytest

from dealgate.cli import main
from dealgate.core.names import name_key
from dealgate.core.pipeline_file import check_pipeline, load_pipeline_file
from tests.conftest import REPO_ROOT

IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"
SHIPPED = sorted((REPO_ROOT / "examples" / "pipelines").glob("*.toml")) + [
    REPO_ROOT / "dealgate" / "demo" / "pipeline.toml"
]


def _renamed(name: str) -> str:
    """The example file with its "review" stage named `name`."""
    text = IT_SERVICES.read_text(encoding="utf-8")
    return text.replace('name = "Proposal reviewed by the buyer"', f'name = "{name}"')


def _line(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    "name", ["Proposal requested", "proposal  REQUESTED", " Proposal requested "]
)
def test_a_stage_named_like_an_earlier_one_is_a_problem_naming_both(name):
    text = _renamed(name)

    _, problems = check_pipeline(text, "p.toml")

    [problem] = problems
    first = _line(text, 'name = "Proposal requested"')
    assert problem.line == _line(text, 'key = "review"') + 1
    assert str(problem) == (
        f'p.toml:{problem.line}: stages[3].name: stage "review" is named '
        f'"{name}", as stage "proposal" is ("Proposal requested", line '
        f"{first}): names must tell "
        "stages apart on the board and in reports; rename one"
    )


def test_names_that_differ_in_more_than_case_and_spacing_are_kept():
    _, problems = check_pipeline(_renamed("Proposal requested again"), "p.toml")

    assert problems == []


def test_validate_refuses_the_file_and_exits_1(tmp_path, capsys, db):
    path = tmp_path / "twice.toml"
    path.write_text(_renamed("INQUIRY received"), encoding="utf-8")

    status = main(["pipeline", "validate", str(path)])

    assert status == 1
    err = capsys.readouterr().err
    assert 'stages[3].name: stage "review" is named "INQUIRY received"' in err
    assert 'as stage "inquiry" is ("Inquiry received", line' in err


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_pipelines_name_each_stage_apart(path):
    keys = [name_key(stage.name) for stage in load_pipeline_file(path).stages]

    assert len(set(keys)) == len(keys)
