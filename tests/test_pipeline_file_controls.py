"""A pipeline file may not write, through TOML's escapes, a control character
into any key or string: a NUL broke `pipeline apply` on PostgreSQL (which
refuses it) after the file was checked as good."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealgate.core.pipeline_file import PipelineFileError, parse_pipeline

EXAMPLE = Path(__file__).resolve().parents[1] / "examples/pipelines/it-services.toml"


def _problems(text: str) -> list[str]:
    with pytest.raises(PipelineFileError) as caught:
        parse_pipeline(text, "it.toml")
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    "escape, shown", [("\\u0000", "U+0000"), ("\\u001b", "U+001B")]
)
def test_a_control_character_in_a_stage_name_is_refused_naming_its_line(escape, shown):
    text = EXAMPLE.read_text().replace(
        'name = "Proposal requested"', f'name = "Proposal{escape} requested"', 1
    )

    assert _problems(text) == [
        f"it.toml:69: stages[2].name: holds a control character ({shown})"
    ]


def test_a_nul_in_a_key_is_refused_naming_its_line():
    text = EXAMPLE.read_text().replace('\ndescription = "', '\n"x\\u0000" = "', 1)

    problems = _problems(text)

    assert [p for p in problems if p.startswith('it.toml:13: "x\\u0000": ')]


def test_a_nul_in_a_key_a_table_takes_freely_is_refused():
    text = EXAMPLE.read_text() + '\n[breach.notify]\n"a\\u0000" = "x"\n'

    problems = _problems(text)

    assert any("the key holds a control character (U+0000)" in p for p in problems)


def test_line_breaks_and_tabs_in_a_description_are_kept():
    text = EXAMPLE.read_text().replace(
        '\ndescription = "', '\ndescription = "Line one\\n\\tLine two. ', 1
    )

    assert parse_pipeline(text).description.startswith("Line one\n\tLine two.")
