"""What free text may hold, for every door that takes it (API, forms, files).

A one-line field (a name, a title) holds no line break or other control
character: mail subjects and chat messages are built from them, and a mail
header cannot hold a line break. Multi-line text (a message, notes) may hold
line breaks and tabs, never other control characters.
"""

from __future__ import annotations

import re
from typing import Any

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f]")


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
