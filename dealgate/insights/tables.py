"""One table, three faces: the page's HTML, a CSV download and the terminal.

Every figure an insights page shows lives in a `Table`, so the chart, the
table under it, the CSV and `dealgate report` can never disagree. Values stay
raw (fractions, floats, Decimals, None) until a face formats them: CSV keeps
full precision with the unit in the header, the page and the terminal round.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dealgate.core.csvcells import inert
from dealgate.core.rounding import fixed, hundredfold, percent, rounded
from dealgate.web.templatetags.dealgate_format import money

# Column kinds and what a cell of each holds:
#   text     a string                      int      a whole number
#   percent  a fraction, 0..1              days     a float number of days
#   money    an amount, in `currency`      number   an int (a count), a float, or
#                                                   a Decimal (money, `cents`)
#   deal     (deal id, title): a link on the page, the title elsewhere
KINDS = frozenset({"text", "int", "percent", "days", "money", "number", "deal"})
CENT = Decimal("0.01")


def cents(value: float | Decimal | None) -> Decimal | None:
    """An amount of money to the cent: how a figure that is money is kept in
    a `number` column among others, so a CSV writes it as it writes amounts
    (two decimals), not as a float to four."""
    return None if value is None else rounded(value, 2)


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"
    unit: str = ""  # said once, in the header: "Median (business days)"
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    @property
    def header(self) -> str:
        unit = self.unit or {"percent": "%", "money": self.currency}.get(self.kind)
        return f"{self.label} ({unit})" if unit else self.label


@dataclass(frozen=True)
class Cell:
    text: str
    href: str = ""
    numeric: bool = False


@dataclass
class Table:
    key: str  # names the CSV download: ?format=csv&table=KEY
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""  # a sentence under the table: what is left out, and why
    empty: str = "Nothing in this period."  # shown instead of rows when none

    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def cells(self) -> list[list[Cell]]:
        """The rows as the page shows them: rounded, with links to deals."""
        return [
            [
                _cell(column, value)
                for column, value in zip(self.columns, row, strict=True)
            ]
            for row in self.rows
        ]

    def csv(self) -> str:
        """The table as CSV: a header row with units, then full-precision values."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.headers())
        for row in self.rows:
            writer.writerow(
                [
                    _raw(column, value)
                    for column, value in zip(self.columns, row, strict=True)
                ]
            )
        return out.getvalue()

    def text(self) -> str:
        """The table for a terminal: title, aligned columns, then its note."""
        header = self.headers()
        body = [[cell.text for cell in row] for row in self.cells()]
        numeric = [column.kind not in ("text", "deal") for column in self.columns]
        widths = [
            max([len(header[i])] + [len(row[i]) for row in body])
            for i in range(len(header))
        ]

        def line(values: Sequence[str]) -> str:
            parts = [
                value.rjust(width) if right else value.ljust(width)
                for value, width, right in zip(values, widths, numeric, strict=True)
            ]
            return "  ".join(parts).rstrip()

        lines = [self.title, line(header), line(["-" * width for width in widths])]
        lines += [line(row) for row in body] or [self.empty]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def format_value(column: Column, value: Any) -> str:
    """A value as people read it, in the column's kind; "–" when unknown."""
    if value is None:
        return "–"
    kind = column.kind
    if kind == "percent":
        return percent(value)
    if kind == "int":
        return f"{int(value):,}"
    if kind == "days":
        return fixed(value, 1, grouped=True)
    if kind == "money":
        return money(rounded(value, 2), column.currency)
    if kind == "number":
        if float(value) == int(value):
            return f"{int(value):,}"
        return fixed(value, 2, grouped=True)
    if kind == "deal":
        return str(value[1])
    return str(value)


def _cell(column: Column, value: Any) -> Cell:
    text = format_value(column, value)
    if column.kind == "deal" and value is not None:
        return Cell(text=text, href=f"/deals/{int(value[0])}/")
    return Cell(text=text, numeric=column.kind not in ("text", "deal"))


def _raw(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    if column.kind == "percent":
        return float(rounded(hundredfold(value), 4))
    if column.kind == "int":
        return int(value)
    if column.kind == "number" and isinstance(value, int):
        return value  # a count among figures, as a spreadsheet sums it
    if column.kind == "number" and isinstance(value, Decimal):
        return format(value, "f")  # an amount among figures, to its cent
    if column.kind in ("days", "number"):
        return float(rounded(value, 4))
    if column.kind == "money":
        return fixed(value, 2)
    if column.kind == "deal":
        return inert(value[1])
    return inert(value) if isinstance(value, str) else value
