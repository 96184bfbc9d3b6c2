"""What free text may hold, for every door that takes it (API, forms, files).

A one-line field (a name, a title) holds no line break or other control
character: mail subjects and chat messages are built from them, and a mail
header cannot hold a line break. Multi-line text (a message, notes) may hold
line breaks and tabs, never other control characters.

A required text (a title, a reason, a decision) must hold something a reader
sees: whitespace alone is refused, and so is text made only of characters
that print as nothing (a zero-width space, a Hangul filler, the blank Braille
pattern), by the rule organization names follow (`core.names`). An optional
name (a deal's organization) may be left empty, but text given for it
follows the same rule: whitespace alone is refused as invisible text is,
never read as "none" (`optional_text`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from dealgate.core.names import code_points, is_invisible
from dealgate.errors import ValidationError

# C0 and C1 controls (tab, line feed and carriage return allowed in CONTROL),
# and the marks that reorder how text displays (bidirectional overrides and
# isolates), which can make a title read other than it is.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same, and every line break: Unicode's line and paragraph separators too.
CONTROL_OR_BREAK = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def counted(count: int, noun: str, plural: str = "") -> str:
    """`count` and `noun` in the form the number asks for, thousands
    grouped: "1 row", "2 rows", "1,200 bad rows", "3 deliveries", "2
    batches". `noun` is singular; its last word takes English's regular
    plural (`plural_of`), or `plural` replaces the whole noun where that rule
    does not fit ("criterion", "criteria"; "minute of wall time", "minutes of
    wall time")."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {plural or plural_of(noun)}"


def agreeing(count: int, one: str, other: str = "") -> str:
    """The word that agrees with `count` where no number is written before
    it: `one` for exactly one, else `other` ("is" or "are", "its" or "their",
    "has" or "have"). `other` defaults to the regular plural of `one`, for a
    noun named without its count ("stage" or "stages")."""
    if count == 1:
        return one
    return other or plural_of(one)


def plural_of(noun: str) -> str:
    """The regular English plural of `noun`: "y" after a consonant becomes
    "ies" (delivery), a noun ending in s, x, z, ch or sh takes "es" (batch),
    any other an "s" (day, row)."""
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


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


def looks_blank(text: str) -> bool:
    """Whether `text` holds nothing a reader sees: it is empty, or made only
    of whitespace and invisible characters (`names.is_invisible`). Plain
    ASCII text pays two looks and no copy; other text stops at its first
    visible character."""
    if text.isascii():
        return not text or text.isspace()
    return all(ch.isspace() or is_invisible(ch) for ch in text)


def blank_problem(text: str, name: str, *, missing: str = "") -> str | None:
    """Why `text` cannot be the required field `name`, or None when it holds
    something visible. Empty or whitespace-only text gets `missing` (by
    default "NAME must not be blank"); text of invisible characters only is
    named by its code points, not quoted, since a quote reads as empty. A
    form that labels the input itself passes `name` "" to leave it out."""
    stripped = text.strip()
    if not stripped:
        return missing or f"{name} must not be blank".lstrip()
    if not looks_blank(stripped):
        return None
    return _nothing_visible(stripped, name)


def _nothing_visible(text: str, name: str) -> str:
    # Not quoted: a quote of such text reads as empty, or prints some of it
    # raw (repr escapes U+200B but not U+2800); its code points say it all.
    return f"{name}: " * bool(name) + (
        f"holds no visible characters ({code_points(text)})"
    )


def optional_problem(
    text: str, name: str, *, empty: str = "leave it empty for none"
) -> str | None:
    """Why `text` cannot be the optional field `name`, or None when it may:
    empty text is nothing given, and text with something visible is a
    value. Text of whitespace alone, or of characters that print as nothing,
    is neither: it is named by its code points, as `blank_problem` names
    a required text's, and `empty` says how to give nothing instead."""
    if text == "" or not looks_blank(text):
        return None
    return f"{_nothing_visible(text.strip() or text, name)}; {empty}"


def optional_text(
    text: str | None, name: str, *, empty: str = "leave it empty for none"
) -> str | None:
    """`text` without whitespace at either end, for the optional field
    `name`; None when nothing was given (None or ""). ValidationError naming
    the field when text was given that holds nothing visible
    (`optional_problem`): "   " is refused as "\u200b" is, so that a blank
    typed over a value never clears it unseen."""
    if text is None or text == "":
        return None
    problem = optional_problem(text, name, empty=empty)
    if problem is not None:
        raise ValidationError(problem, field=name)
    return text.strip()


def required_text(text: str, name: str, *, missing: str = "") -> str:
    """`text` without whitespace at either end, for the required field
    `name`; ValidationError naming the field when it holds nothing visible
    (`blank_problem`). The characters kept are those typed."""
    problem = blank_problem(text, name, missing=missing)
    if problem is not None:
        raise ValidationError(problem, field=name)
    return text.strip()


def shown_json(value: Any) -> str:
    """`value` as JSON writes it, cut to 40 characters: how a refusal quotes
    a value of the wrong JSON type."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
