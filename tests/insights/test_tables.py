"""Insights tables as CSV downloads."""

import csv
import io
from decimal import Decimal

from dealgate.insights.tables import Column, Table, cents


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text():
    table = Table(
        key="oldest",
        title="Oldest open deals",
        columns=[Column("Deal", "deal"), Column("Organization"), Column("Age", "days")],
        rows=[
            [(1, '=HYPERLINK("http://evil.test","Cloud")'), "@SUM(1+1)", -2.5],
            [(2, "Plain title"), "+49 Labs", 3.0],
            [(3, "- dash first"), "Acme", 4.0],
        ],
    )

    rows = list(csv.reader(io.StringIO(table.csv())))

    assert rows[1] == ['\'=HYPERLINK("http://evil.test","Cloud")', "'@SUM(1+1)", "-2.5"]
    assert rows[2] == ["Plain title", "'+49 Labs", "3.0"]
    assert rows[3][0] == "'- dash first"


def test_csv_counts_are_whole_numbers_and_amounts_keep_their_decimals():
    table = Table(
        key="headline",
        title="Headline figures",
        columns=[
            Column("Figure"),
            Column("Value", "number"),
            Column("Deals", "int"),
            Column("Value won", "money", currency="EUR"),
        ],
        rows=[
            ["Open deals", 6716, 6716.0, Decimal("1200")],
            ["Sales velocity", 1234.56789, 3, Decimal("99.5")],
        ],
    )

    rows = list(csv.reader(io.StringIO(table.csv())))

    assert rows[1] == ["Open deals", "6716", "6716", "1200.00"]
    assert rows[2] == ["Sales velocity", "1234.5679", "3", "99.50"]


def test_a_csv_writes_money_among_figures_to_the_cent_as_the_page_shows_it():
    table = Table(
        key="headline",
        title="Headline figures",
        columns=[Column("Figure"), Column("Value", "number")],
        rows=[
            ["Sales velocity", cents(1234.5678901)],
            ["Average won value", cents(1200)],
        ],
    )

    rows = list(csv.reader(io.StringIO(table.csv())))

    assert rows[1:] == [["Sales velocity", "1234.57"], ["Average won value", "1200.00"]]
    assert [[cell.text for cell in row] for row in table.cells()] == [
        ["Sales velocity", "1,234.57"],
        ["Average won value", "1,200"],
    ]
