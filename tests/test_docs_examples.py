"""The examples the docs show are files a reader can copy and use as they are.

Every TOML block in README.md and docs/ is checked as what its first line says
it is: no marker, a whole pipeline file; `# routing rules`, [[routing]]
tables, checked inside the pipeline file doc's short example; `# deals import
mapping` or `# leads import mapping`, a whole mapping; `# fragment ...`, part
of a file with other keys left out, which must still read as TOML.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from dealgate.core.pipeline_file import parse_pipeline
from tests.conftest import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
KINDS = (
    "# fragment",
    "# routing rules",
    "# deals import mapping",
    "# leads import mapping",
)


def _toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.DOTALL)


def _short_example() -> str:
    doc = (REPO_ROOT / "docs" / "pipeline-file.md").read_text(encoding="utf-8")
    section = doc.split("## A short example", 1)[1].split("\n## ", 1)[0]
    blocks = _toml_blocks(section)
    assert blocks, "docs/pipeline-file.md lost its short example"
    return blocks[0]


def _every_block() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"```toml\n(.*?)```", text, flags=re.DOTALL):
            line = text.count("\n", 0, match.start()) + 2
            found.append((f"{path.relative_to(REPO_ROOT)}:{line}", match.group(1)))
    return found


def _kind(block: str) -> str:
    first = block.split("\n", 1)[0]
    return next((kind for kind in KINDS if first.startswith(kind)), "pipeline file")


def test_the_short_example_of_the_pipeline_file_doc_parses_as_written() -> None:
    # Its rules name custom fields (call_date, signed) that it must declare.
    spec = parse_pipeline(_short_example(), "docs/pipeline-file.md")
    assert spec.key == "new-business"


def test_the_docs_show_toml_blocks_of_each_kind() -> None:
    kinds = {_kind(block) for _, block in _every_block()}
    assert kinds == {"pipeline file", *KINDS}


@pytest.mark.parametrize(("where", "block"), _every_block(), ids=lambda v: v[:40])
def test_every_toml_block_in_the_docs_is_what_its_first_line_says(
    where: str, block: str
) -> None:
    kind = _kind(block)
    if kind == "pipeline file":
        parse_pipeline(block, where)
    elif kind == "# routing rules":
        spec = parse_pipeline(_short_example() + "\n" + block, where)
        assert len(spec.routing) == len(tomllib.loads(block)["routing"])
    elif kind == "# deals import mapping":
        from dealgate.imports.mappings import mapping_from_dict

        mapping_from_dict(tomllib.loads(block), name=Path(where).stem)
    elif kind == "# leads import mapping":
        from dealgate.leads.imports import mapping_from_dict as leads_mapping

        leads_mapping(tomllib.loads(block), Path(where).stem)
    else:
        assert tomllib.loads(block), f"{where}: an empty fragment"
