"""The examples the docs show are files a reader can copy and use as they are."""

from __future__ import annotations

import re

from dealgate.core.pipeline_file import parse_pipeline
from tests.conftest import REPO_ROOT


def _toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_short_example_of_the_pipeline_file_doc_parses_as_written() -> None:
    doc = (REPO_ROOT / "docs" / "pipeline-file.md").read_text(encoding="utf-8")
    section = doc.split("## A short example", 1)[1].split("\n## ", 1)[0]
    blocks = _toml_blocks(section)
    assert blocks, "docs/pipeline-file.md lost its short example"
    # Its rules name custom fields (call_date, signed) that it must declare.
    spec = parse_pipeline(blocks[0], "docs/pipeline-file.md")
    assert spec.key == "new-business"
