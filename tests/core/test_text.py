"""Free text rules shared by every door (dealgate.core.text)."""

from __future__ import annotations

from dealgate.core.text import (
    CONTROL,
    CONTROL_OR_BREAK,
    agreeing,
    counted,
    cut,
    holds_nul,
)


def test_a_cut_text_says_so_and_keeps_its_limit():
    assert cut("Acme rollout", 300) == "Acme rollout"
    assert cut("x" * 300, 300) == "x" * 300
    long = cut("x" * 301, 300)
    assert len(long) == 300 and long.endswith("…")


def test_one_line_text_refuses_breaks_and_multi_line_text_keeps_them():
    assert CONTROL_OR_BREAK.search("two\nlines")
    assert not CONTROL.search("two\nlines\twith a tab\r\n")
    assert CONTROL.search("bell\x07") and CONTROL.search("nul\x00")


def test_a_nul_is_found_anywhere_in_json_shaped_values():
    assert holds_nul({"need": ["a", "b\x00"]})
    assert holds_nul({"ke\x00y": 1})
    assert not holds_nul({"need": ["a", 3, None, {"b": True}]})


def test_unicode_line_breaks_and_reordering_marks_are_not_one_line_text():
    for text in ("a\u2028b", "a\u2029b", "a\x85b", "invoice\u202efdp.exe"):
        assert CONTROL_OR_BREAK.search(text), repr(text)
    assert CONTROL.search("a\u202eb") and not CONTROL.search("Grüße, 東京 ✓")
    assert not CONTROL_OR_BREAK.search("Müller GmbH — Köln")


def test_a_count_phrase_agrees_with_its_number():
    assert counted(1, "row") == "1 row"
    assert counted(0, "row") == "0 rows"
    assert counted(1200, "bad row") == "1,200 bad rows"
    assert counted(1, "delivery") == "1 delivery"
    assert counted(2, "delivery") == "2 deliveries"
    assert counted(2, "batch") == "2 batches"
    assert counted(3, "day") == "3 days"
    assert counted(2, "criterion", "criteria") == "2 criteria"
    assert counted(1, "criterion", "criteria") == "1 criterion"


def test_a_word_without_its_number_agrees_with_the_count():
    assert agreeing(1, "is", "are") == "is"
    assert agreeing(0, "is", "are") == "are"
    assert agreeing(2, "its", "their") == "their"
    assert agreeing(1, "stage") == "stage"
    assert agreeing(3, "stage") == "stages"
    assert agreeing(2, "address") == "addresses"


def test_the_import_report_still_offers_the_count_phrase():
    from dealgate.imports import report

    assert report.counted is counted
