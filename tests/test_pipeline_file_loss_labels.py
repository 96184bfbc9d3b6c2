"""Two loss reasons of one pipeline file may not share a label once case and
spacing are set aside: a reason is chosen by its label that way, so the second
could never be chosen by it. The rule is the one stage names follow."""

from __future__ import annotations

import pytest

from dealgate.cli import main
from dealgate.core.names import name_key
from dealgate.core.pipeline_file import check_pipeline, load_pipeline_file
from dealgate.pipelines.models import Pipeline
from tests.conftest import REPO_ROOT

IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"
SHIPPED = sorted((REPO_ROOT / "examples" / "pipelines").glob("*.toml")) + [
    REPO_ROOT / "dealgate" / "demo" / "pipeline.toml"
]


def _relabelled(label: str) -> str:
    """The example file with its "no-budget" reason labelled `label`."""
    text = IT_SERVICES.read_text(encoding="utf-8")
    return text.replace('label = "No budget this year"', f'label = "{label}"')


def _line(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    "label", ["Price too high", "price  TOO high", " Price too high "]
)
def test_a_reason_labelled_like_an_earlier_one_is_a_problem_naming_both(label):
    text = _relabelled(label)

    _, problems = check_pipeline(text, "p.toml")

    [problem] = problems
    assert problem.line == _line(text, 'key = "no-budget"') + 1
    assert str(problem) == (
        f'p.toml:{problem.line}: loss_reasons[2].label: loss reason "no-budget" '
        f'is labelled "{label}", as loss reason "price" is ("Price too high", '
        f"line {_line(text, 'Price too high')}): a loss reason is chosen by its "
        "label whatever its case and spacing, so labels must tell reasons "
        "apart; rename one"
    )


def test_labels_that_differ_in_more_than_case_and_spacing_are_kept():
    _, problems = check_pipeline(_relabelled("Price too high again"), "p.toml")

    assert problems == []


def test_apply_refuses_the_file_and_creates_no_pipeline(tmp_path, capsys, db):
    path = tmp_path / "twice.toml"
    path.write_text(_relabelled("too  EXPENSIVE"), encoding="utf-8")
    path.write_text(
        path.read_text().replace('"Price too high"', '"Too expensive"'),
        encoding="utf-8",
    )

    status = main(["pipeline", "apply", str(path)])

    assert status == 1
    err = capsys.readouterr().err
    assert 'loss_reasons[2].label: loss reason "no-budget" is labelled' in err
    assert 'as loss reason "price" is ("Too expensive", line' in err
    assert not Pipeline.objects.exists()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_pipelines_label_each_loss_reason_apart(path):
    labels = [
        name_key(reason.label) for reason in load_pipeline_file(path).loss_reasons
    ]

    assert len(set(labels)) == len(labels)
