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


def _swapped(text: str) -> str:
    """`text` with reason "price" labelled "Other" and the "other" reason
    labelled "Price": each label is the other's key."""
    return text.replace('label = "Price too high"', 'label = "Other"').replace(
        'key = "other"\nlabel = "Other"', 'key = "other"\nlabel = "Price"'
    )


def test_a_label_that_is_another_reasons_key_is_a_problem_on_its_line():
    text = _swapped(IT_SERVICES.read_text(encoding="utf-8"))

    _, problems = check_pipeline(text, "p.toml")

    other, price = _line(text, 'label = "Other"'), _line(text, 'label = "Price"')
    assert [str(problem) for problem in problems] == [
        f"p.toml:{other}: loss_reasons[0].label: loss "
        'reason "price" is labelled "Other", which is the key of loss reason '
        '"other": a loss chosen by "Other" would be recorded as "other"; give it '
        "a label no other reason has as its key",
        f"p.toml:{price}: loss_reasons[5].label: loss "
        'reason "other" is labelled "Price", which is the key of loss reason '
        '"price": a loss chosen by "Price" would be recorded as "price"; give it '
        "a label no other reason has as its key",
    ]


def test_apply_refuses_labels_that_are_other_keys_and_creates_no_pipeline(
    tmp_path, capsys, db
):
    path = tmp_path / "swapped.toml"
    path.write_text(_swapped(IT_SERVICES.read_text(encoding="utf-8")), "utf-8")

    status = main(["pipeline", "apply", str(path)])

    assert status == 1
    assert "which is the key of loss reason" in capsys.readouterr().err
    assert not Pipeline.objects.exists()
