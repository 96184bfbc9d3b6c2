"""README's Configuration table lists every DEALGATE_* variable the code
reads, each by its full name, and nothing the code does not read."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "dealgate"


def _read_by_the_code() -> set[str]:
    """Variable names the package spells whole as a string, each secret's
    NAME_FILE too (dealgate.settings.env_secret reads it)."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"[\"'](DEALGATE_[A-Z0-9_]+)[\"']", text))
        secrets = re.findall(r"env_secret\(\s*\"(DEALGATE_[A-Z0-9_]+)\"", text)
        names |= {f"{name}_FILE" for name in secrets}
    return names


def _configuration_table() -> set[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table = re.search(r"\n\| variable \|.*?\n(?:\|.*\n)+", section)
    assert table, "README's Configuration section lost its table"
    first_cells = [row.split("|")[1] for row in table.group(0).strip().splitlines()]
    return {
        name for cell in first_cells for name in re.findall(r"`(DEALGATE_\w+)`", cell)
    }


def test_every_variable_the_code_reads_is_in_readmes_configuration_table() -> None:
    missing = _read_by_the_code() - _configuration_table()
    assert not missing, f"read but not in README's Configuration: {sorted(missing)}"


def test_every_variable_in_readmes_configuration_table_is_read_by_the_code() -> None:
    unread = _configuration_table() - _read_by_the_code()
    assert not unread, f"in README's Configuration but never read: {sorted(unread)}"


def test_the_table_names_each_variable_whole() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    first_cells = [row.split("|")[1] for row in rows]
    shortened = [c for cell in first_cells for c in re.findall(r"`(_[A-Z]\w*)`", cell)]
    assert not shortened, f"write these variables' full names: {shortened}"
