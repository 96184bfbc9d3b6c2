"""Cells of the CSV files Dealgate writes: text made inert for spreadsheets,
numbers written exactly, and rows turned into lines one at a time.

A title, a company name or a note comes from anyone (a website form, an
import, a buyer's email pasted in). Excel and LibreOffice run a cell that
starts with "=", "+", "-" or "@" as a formula (a tab or a carriage return
first is trimmed and the rest run the same), so such a text cell is written
with a leading apostrophe, which makes them read it as text ("CSV
injection", OWASP). Numbers are never touched: an amount of -250.00
is a number to the spreadsheet, and prefixing it would turn it into text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

# What a spreadsheet reads as the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """`text` as a spreadsheet shows it, never runs it: with a leading
    apostrophe when it starts like a formula. Text that already starts with
    apostrophes before such a character gets one more, so the one added can
    always be told from the text (`'=x` is written `''=x`), and a reader
    that takes one off gets the text back."""
    return f"'{text}" if text.lstrip("'").startswith(FORMULA_START) else text


def reverted(text: str) -> str:
    """`text` as it was before `inert`: one leading apostrophe taken off a
    cell that starts with apostrophes before a formula character."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_START):
        return text[1:]
    return text


def exact(number: Decimal | int | None) -> str:
    """A number as its digits, never in exponent form ("0E-2", "1E+3"), so a
    spreadsheet and a re-import read it alike; "" for None."""
    if number is None:
        return ""
    # format(7, "f") is "7.000000": a whole number is written as it is.
    return str(number) if isinstance(number, int) else format(number, "f")


class _Line:
    """A file for csv.writer that hands back what it is given: one line."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    """The header, then each row, as CSV lines (quoted where needed, CRLF
    ended as RFC 4180 writes them), one at a time: a caller streams them to
    a file or a response without holding the rows."""
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)
