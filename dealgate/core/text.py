"""What free text may hold, for every door that takes it (API, forms, files).

A one-line field (a name, a title) holds no line break or other control
character: mail subjects and chat messages are built from them, and a mail
header cannot hold a line break. Multi-line text (a message, notes) may hold
line breaks and tabs, never other control characters.
"""

from __future__ import annotations

import re
from typing import Any

from dealgate.errors import ValidationError

# C0 and C1 controls (tab, line feed and carriage return allowed in CONTROL),
# and the marks that reorder how text displays (bidirectional overrides and
# isolates), which can make a title read other than it is.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same, and every line break: Unicode's line and paragraph separators too.
CONTROL_OR_BREAK = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, with "…" where it was cut, so a
    reader can tell a shortened title from a whole one."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def holds_nul(value: Any) -> bool:
    """Whether JSON-shaped `value` (text, lists, objects; keys included)
    holds a NUL character anywhere, which PostgreSQL's jsonb cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


def check_text(text: str, name: str, *, limit: int, one_line: bool = False) -> None:
    """Refuse `text` for the field `name` when it is longer than `limit`
    characters or holds control characters (line breaks and tabs are allowed
    unless `one_line`); the ValidationError names the field and the limit."""
    if len(text) > limit:
        raise ValidationError(
            f"{name} is {len(text):,} characters long; the limit is {limit:,}",
            field=name,
        )
    if one_line and CONTROL_OR_BREAK.search(text):
        raise ValidationError(
            f"{name} must be one line, without line breaks or control characters",
            field=name,
        )
    if CONTROL.search(text):
        raise ValidationError(
            f"{name} must not hold control characters other than line breaks and tabs",
            field=name,
        )
