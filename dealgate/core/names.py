"""How a name a person typed (an organization's, say) is kept and compared.

One rule for every door that finds a record by name: "Acme", "acme",
" Acme  " and "Ac\u200bme" (with a zero-width space) are one name. What a
reader cannot see is not part of a name: format characters, Unicode's
default-ignorable code points (variation selectors, Hangul fillers, the
combining grapheme joiner) and blank-looking characters such as the blank
Braille pattern. The
import's looser `csvsource.spelling_key` and lead capture's
`leads.normalize.company_key` are built so that two spellings this rule takes
as one, they take as one too.

Pure Python: no Django.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

# The longest key stored beside a name: NFKC and case folding can lengthen
# what was typed ("ß" is "ss", a ligature several letters). Two names whose
# keys agree up to here are taken as one.
NAME_KEY_LENGTH = 400


# Unicode's Default_Ignorable_Code_Point set, as listed in
# DerivedCoreProperties.txt (Unicode 15): code points a renderer shows as
# nothing unless it supports them, assigned or reserved for the purpose.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space, joiners, direction marks
    (0x202A, 0x202E),  # direction embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, isolates
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors 1-16
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte-order mark)
    (0xFFA0, 0xFFA0),  # half-width Hangul filler
    (0xFFF0, 0xFFF8),  # reserved
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical beam and phrase controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors 17-256, reserved
)
# Not default-ignorable, yet drawn as an empty space no wider than a letter:
# a name made of them looks blank, or identical to the name without them.
BLANK_LOOKING = (
    (0x2800, 0x2800),  # Braille pattern blank
    (0x1D159, 0x1D159),  # musical symbol null notehead
)
# For str.translate: every invisible code point mapped to nothing.
_INVISIBLE = {
    point: None
    for first, last in DEFAULT_IGNORABLE + BLANK_LOOKING
    for point in range(first, last + 1)
}


def is_format(ch: str) -> bool:
    """Whether `ch` is a format character (Unicode category Cf): a zero-width
    space or joiner, a soft hyphen, a byte-order mark."""
    return unicodedata.category(ch) == "Cf"


def is_invisible(ch: str) -> bool:
    """Whether `ch` is nothing a reader sees in a name: a format character,
    a default-ignorable code point or a blank-looking one (`BLANK_LOOKING`)."""
    return ord(ch) in _INVISIBLE or is_format(ch)


def tidy_name(text: str) -> str:
    """`text` as a name is stored: invisible characters (`is_invisible`)
    removed, each run of whitespace one space, none at either end. Letters
    and their case stay as typed, so the first spelling of a name is the
    one kept. "" for a name that holds nothing visible."""
    if not text.isascii():
        text = text.translate(_INVISIBLE)
        text = "".join(ch for ch in text if not is_format(ch))
    return " ".join(text.split())


def name_key(text: str) -> str:
    """What every spelling of one name shares: `tidy_name`, in Unicode NFKC
    (full-width "Ａｃｍｅ" is "Acme"), case-folded, cut to
    `NAME_KEY_LENGTH`. "" for a name that holds nothing visible."""
    text = tidy_name(text)
    if text.isascii():
        return text.lower()[:NAME_KEY_LENGTH]
    # Folding case can undo NFKC ("ΐ" folds into a letter and two combining
    # marks), so the folded text is composed again; NFKC makes spaces of
    # other characters (a no-break space), so they are collapsed last.
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = unicodedata.normalize("NFKC", folded)
    return tidy_name(folded)[:NAME_KEY_LENGTH]


class SharedName(ValueError):
    """Several records' names share the key of the name asked for."""

    def __init__(self, spellings: list[str]) -> None:
        super().__init__(", ".join(repr(spelling) for spelling in spellings))
        self.spellings = spellings


def one_named(text: str, named: Iterable[tuple[T, str]]) -> T | None:
    """Of `named` (each item with its name), the one whose name shares
    `text`'s `name_key`; None when none does. Raises SharedName when several
    do, rather than pick one: each is then found only by its own spelling,
    which a caller tries first."""
    key = name_key(text)
    if not key:
        return None
    matches = [(item, name) for item, name in named if name_key(name) == key]
    if len(matches) > 1:
        raise SharedName([name for _, name in matches])
    return matches[0][0] if matches else None


def code_points(text: str, limit: int = 6) -> str:
    """The code points of `text` as a message names them ("U+3164, U+200B"),
    the first `limit` of them: a name that looks empty shows what it holds,
    which its quote alone does not where a filler prints as a space."""
    points = [f"U+{ord(ch):04X}" for ch in text[:limit]]
    return ", ".join(points) + (", …" if len(text) > limit else "")
