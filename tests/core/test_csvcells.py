"""CSV cells: text a spreadsheet would run is made inert, numbers are exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.core.csvcells import csv_lines, exact, inert


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 123456", "'+49 30 123456"),
        ("-Acme", "'-Acme"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("'=already", "''=already"),
        ("''+twice", "'''+twice"),
        ("'tis plain", "'tis plain"),
        ("Acme = good", "Acme = good"),
        ("", ""),
    ],
)
def test_text_that_starts_like_a_formula_gets_one_apostrophe(text, written):
    assert inert(text) == written


@pytest.mark.parametrize(
    ("number", "written"),
    [
        (Decimal("-250.00"), "-250.00"),
        (Decimal("0E-2"), "0.00"),
        (Decimal("1E+3"), "1000"),
        (40, "40"),
        (None, ""),
    ],
)
def test_numbers_are_written_as_their_digits_and_never_prefixed(number, written):
    assert exact(number) == written


def test_lines_are_quoted_where_needed_and_end_in_crlf():
    lines = list(csv_lines(["a", "b"], [["x, y", 'say "hi"'], ["two\nlines", ""]]))
    assert lines == ["a,b\r\n", '"x, y","say ""hi"""\r\n', '"two\nlines",\r\n']
