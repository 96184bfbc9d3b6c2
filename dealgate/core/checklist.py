"""Checklist items: the limits on a deal's checklist, and the items a
pipeline's rules name.

A checklist item is named as a person names a step ("nda_signed"), and a
deal holds few: the deal page lists them all and every move's rules read
the whole checklist, so 50,000 items made the page 8 MB and a move seconds.
Every door that adds items keeps to these limits: a deal's edit (the deal
page, the API) and a pipeline file, whose rules' items the deal page shows
and saves with every deal of the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dealgate.core.text import blank_problem, check_text, cut, looks_blank
from dealgate.errors import ValidationError

CHECKLIST_KEY_LIMIT = 100
MOST_CHECKLIST_ITEMS = 200

# `checklist.key` or `checklist["key"]` in a rule; a checklist item is only
# ever named this way, so these are the items a person may need to tick.
_ITEM = re.compile(
    r"""\bchecklist\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*(?:"([^"]+)"|'([^']+)')\s*\])"""
)


def items_in_rule(rule: str) -> list[str]:
    """The checklist items `rule` names, in order of first use."""
    found: dict[str, None] = {}
    for match in _ITEM.finditer(rule):
        found.setdefault(next(name for name in match.groups() if name))
    return list(found)


def items_in_rules(rules: Iterable[str]) -> list[str]:
    """The checklist items any of `rules` names, in order of first use."""
    found: dict[str, None] = {}
    for rule in rules:
        found.update(dict.fromkeys(items_in_rule(rule)))
    return list(found)


def check_key(key: str) -> None:
    """Refuse a checklist key that is blank, longer than CHECKLIST_KEY_LIMIT
    or not one line of text; the ValidationError names the key (cut to 40
    characters) and the limit, with field "checklist"."""
    if looks_blank(key):
        missing = "checklist: an item needs a key, such as nda_signed"
        problem = blank_problem(key, "checklist key", missing=missing)
        raise ValidationError(problem or missing, field="checklist")
    name = f"checklist key {cut(key, 40)!r}"
    try:
        check_text(key, name, limit=CHECKLIST_KEY_LIMIT, one_line=True)
    except ValidationError as exc:
        raise ValidationError(exc.message, field="checklist") from None
