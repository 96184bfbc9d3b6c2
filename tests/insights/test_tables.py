"""Insights tables as CSV downloads."""

import csv
import io

from dealgate.insights.tables import Column, Table


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
