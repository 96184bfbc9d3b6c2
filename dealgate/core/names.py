"""How a name a person typed (an organization's, say) is kept and compared.

One rule for every door that finds a record by name: "Acme", "acme",
" Acme  " and "Ac\u200bme" (with a zero-width space) are one name. The
import's looser `csvsource.spelling_key` and lead capture's
`leads.normalize.company_key` are built so that two spellings this rule takes
as one, they take as one too.

Pure Python: no Django.
"""

from __future__ import annotations

import unicodedata

# The longest key stored beside a name: NFKC and case folding can lengthen
# what was typed ("ß" is "ss", a ligature several letters). Two names whose
# keys agree up to here are taken as one.
NAME_KEY_LENGTH = 400


def is_format(ch: str) -> bool:
    """Whether `ch` is an invisible format character (Unicode category Cf):
    a zero-width space or joiner, a soft hyphen, a byte-order mark."""
    return unicodedata.category(ch) == "Cf"


def tidy_name(text: str) -> str:
    """`text` as a name is stored: format characters removed, each run of
    whitespace one space, none at either end. Letters and their case stay
    as typed, so the first spelling of a name is the one kept."""
    if not text.isascii():
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
