"""The streaming CSV reader and value parsers (pure Python, no database)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from dealgate.core.csvsource import (
    FIELD_LIMIT,
    QUOTE_LIMIT,
    CellError,
    ChoiceParser,
    CsvFile,
    CsvFormatError,
    DateParser,
    DateTimeParser,
    DecimalParser,
    NameMatcher,
    format_problem,
    parse_int,
    quoted,
    requoted,
    spelling_key,
)

DATA = Path(__file__).parent / "data" / "import"


def write(tmp_path: Path, content: bytes | str, name: str = "deals.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def read_all(path: Path) -> tuple[tuple[str, ...], list]:
    with CsvFile(path) as source:
        return source.columns, list(source)


def test_a_byte_order_mark_never_reaches_a_header():
    columns, records = read_all(DATA / "bom_excel.csv")
    assert columns == ("Deal name", "Amount", "Close date")
    assert [r.fields[0] for r in records] == [
        "Northwind hosting renewal",
        "Fabrikam backup pilot",
    ]


def test_crlf_line_endings_leave_no_carriage_return_in_values():
    _, records = read_all(DATA / "bom_excel.csv")
    assert records[0].fields == ["Northwind hosting renewal", "7200", "2026-05-29"]


def test_header_names_are_stripped_and_a_stray_mark_inside_is_dropped(tmp_path):
    path = write(tmp_path, "\ufeff Deal ,\ufeffAmount\n Helix , 3\n")
    columns, records = read_all(path)
    assert columns == ("Deal", "Amount")
    assert records[0].fields == [" Helix ", " 3"]


def test_each_record_carries_the_line_it_starts_on(tmp_path):
    path = write(
        tmp_path,
        'Deal,Notes\r\nA,"one\r\ntwo\r\nthree"\r\nB,plain\r\nC,"x\ny"\r\nD,z\r\n',
    )
    _, records = read_all(path)
    assert [(r.line, r.fields[0]) for r in records] == [
        (2, "A"),
        (5, "B"),
        (6, "C"),
        (8, "D"),
    ]


def test_quoted_line_breaks_and_doubled_quotes_are_kept():
    _, records = read_all(DATA / "quoted_newlines.csv")
    assert records[0].fields[2].count("\n") == 2
    assert records[1].fields[2] == 'Buyer wrote "go ahead" on Monday'
    assert [r.line for r in records] == [2, 5]


def test_a_record_with_the_wrong_number_of_fields_is_reported_with_its_line(
    tmp_path,
):
    path = write(tmp_path, "a,b,c\n1,2,3\n1,2\n1,2,3,4\n")
    _, records = read_all(path)
    assert [(r.line, r.error) for r in records] == [
        (2, None),
        (3, "expected 3 fields as in the header, found 2"),
        (4, "expected 3 fields as in the header, found 4"),
    ]


def test_a_one_column_header_is_named_in_the_singular_when_a_record_is_wider(
    tmp_path,
):
    _, records = read_all(write(tmp_path, "a\n1\n1,2\n"))
    assert [(r.line, r.error) for r in records] == [
        (2, None),
        (3, "expected 1 field as in the header, found 2"),
    ]


def test_a_nul_character_makes_its_record_bad_naming_the_column(tmp_path):
    path = write(tmp_path, 'a,b\n1,2\n3,"x\x00y"\n5,6\n')
    _, records = read_all(path)
    assert [(r.line, r.error) for r in records] == [
        (2, None),
        (3, "column 'b' contains a NUL character (the file may be damaged)"),
        (4, None),
    ]


def test_blank_lines_and_rows_of_empty_fields_are_skipped_and_counted(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n\n,\n  \n3,4\n")
    with CsvFile(path) as source:
        records = list(source)
        assert source.blank_lines == 3
    assert [(r.line, r.fields) for r in records] == [(2, ["1", "2"]), (6, ["3", "4"])]


def test_a_quote_never_closed_is_a_bad_record_not_swallowed_rows(tmp_path):
    path = write(tmp_path, 'a,b\n1,"open\n2,3\n')
    _, records = read_all(path)
    assert len(records) == 1
    assert records[0].line == 2
    assert "not valid CSV" in records[0].error


def test_a_long_cell_is_read_whole_for_its_column_to_judge(tmp_path):
    # The csv module alone stops at 131,072 characters.
    path = write(tmp_path, f"a,b\n1,{'x' * 200_000}\n2,3\n")
    _, records = read_all(path)
    assert [(r.line, len(r.fields[1]), r.error) for r in records] == [
        (2, 200_000, None),
        (3, 1, None),
    ]


def test_a_cell_past_the_readers_limit_is_a_bad_record_saying_so(tmp_path):
    path = write(tmp_path, f"a,b\n1,{'x' * (FIELD_LIMIT + 1)}\n")
    _, records = read_all(path)
    assert records[0].line == 2
    assert records[0].error == (
        "a value is longer than 16,777,216 characters, the most a cell may hold"
    )


@pytest.mark.parametrize("good_rows", [1, 20_000])
def test_text_that_is_not_utf8_names_its_line_and_the_remedy(tmp_path, good_rows):
    path = write(tmp_path, b"a,b\n" + b"1,2\n" * good_rows + b"3,caf\xe9\n")
    with pytest.raises(CsvFormatError) as caught:
        read_all(path)
    assert str(caught.value).startswith(f"line {good_rows + 2}: ")
    assert "save it as UTF-8" in str(caught.value)


def test_a_repeated_header_name_is_refused(tmp_path):
    path = write(tmp_path, "Deal,Amount,Deal\n")
    with pytest.raises(CsvFormatError, match="'Deal' appears more than once"):
        read_all(path)


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(CsvFormatError, match="is empty"):
        read_all(write(tmp_path, ""))


def test_progress_can_be_read_from_the_bytes_consumed(tmp_path):
    path = write(tmp_path, "a\n" + "x\n" * 100_000)
    with CsvFile(path) as source:
        for _ in source:
            pass
        assert source.bytes_read == source.size


# -- dates -------------------------------------------------------------------


def test_iso_dates_parse_and_blank_means_no_date():
    parse = DateParser("YYYY-MM-DD")
    assert parse("close_date", "2017-03-01") == dt.date(2017, 3, 1)
    assert parse("close_date", "") is None
    assert parse("close_date", " ") is None


@pytest.mark.parametrize("text", ["2017-13-01", "20170301", "2017-W01-1", "01/03/2017"])
def test_a_value_not_in_the_format_names_column_value_and_format(text):
    with pytest.raises(CellError) as caught:
        DateParser("YYYY-MM-DD")("close_date", text)
    assert str(caught.value) == f"close_date: {text!r} is not a date in YYYY-MM-DD"


@pytest.mark.parametrize(
    "parse",
    [
        DateParser("YYYY-MM-DD"),
        DateTimeParser("YYYY-MM-DD", "Asia/Tokyo"),
        DateTimeParser("ISO 8601", "America/New_York"),
    ],
)
@pytest.mark.parametrize(
    "text", ["0001-01-01", "1900-01-01", "2199-12-31", "2200-01-01"]
)
def test_a_placeholder_date_far_from_today_is_a_bad_value_not_a_crash(parse, text):
    # Exporters write 0001-01-01 or 1900-01-01 for "no date"; moving year 1
    # to UTC overflowed.
    with pytest.raises(CellError, match=r"outside the years 1901-2198"):
        parse("Entered", text)


def test_day_first_and_strptime_formats():
    assert DateParser("DD/MM/YYYY")("d", "01/03/2017") == dt.date(2017, 3, 1)
    assert DateParser("%d-%b-%Y")("d", "01-Mar-2017") == dt.date(2017, 3, 1)
    with pytest.raises(ValueError, match="'DD-MM' is not a known date format"):
        DateParser("DD-MM")


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("%d.%m.%Q", "'%d.%m.%Q' is not a usable strptime pattern: 'Q' is a bad"),
        ("%d.%m", "'%d.%m' does not hold a whole date: it writes 23 November 2026"),
        ("%m/%Y", "'%m/%Y' does not hold a whole date"),
    ],
)
def test_a_strptime_pattern_that_cannot_read_whole_dates_is_refused_up_front(
    pattern, problem
):
    assert format_problem(pattern).startswith(problem)
    with pytest.raises(ValueError, match="does not hold|not a usable"):
        DateTimeParser(pattern, "UTC")


@pytest.mark.parametrize(
    "pattern", ["%d-%b-%Y", "%m/%d/%y", "%Y-%m-%dT%H:%M:%S%z", "%d/%m/%Y %I:%M %p"]
)
def test_strptime_patterns_that_read_whole_dates_are_taken(pattern):
    assert format_problem(pattern) is None


def test_a_date_becomes_midnight_in_the_calendar_zone_stored_as_utc():
    parse = DateTimeParser("YYYY-MM-DD", "America/New_York")
    assert parse("engage_date", "2016-10-20") == dt.datetime(
        2016, 10, 20, 4, tzinfo=dt.UTC
    )
    assert parse("engage_date", "2017-01-10") == dt.datetime(
        2017, 1, 10, 5, tzinfo=dt.UTC
    )


def test_iso_instants_keep_their_offset_and_naive_ones_use_the_zone():
    parse = DateTimeParser("ISO 8601", "Europe/Berlin")
    assert parse("at", "2026-06-10T09:30:00+02:00") == dt.datetime(
        2026, 6, 10, 7, 30, tzinfo=dt.UTC
    )
    assert parse("at", "2026-01-10 09:30") == dt.datetime(
        2026, 1, 10, 8, 30, tzinfo=dt.UTC
    )
    with pytest.raises(CellError, match="'yesterday' is not a date in ISO 8601"):
        parse("at", "yesterday")


# -- amounts -----------------------------------------------------------------


def test_plain_amounts_parse_and_blank_means_no_amount():
    parse = DecimalParser()
    assert parse("value", "1054") == Decimal("1054")
    assert parse("value", " 1054.5 ") == Decimal("1054.5")
    assert parse("value", "") is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("$1200", "is not a plain amount: leave out the currency"),
        ("1200 EUR", "is not a plain amount: leave out the currency"),
        ("1,200", "has a thousands separator ','"),
        ("-5", "is negative"),
        ("(1200)", "is negative"),
        ("-0.001", "has more than 2 decimal places"),
        ("-$5", "is not a plain amount: leave out the currency"),
        ("--0", "is not a number"),
        ("12.345", "has more than 2 decimal places"),
        ("1e5", "is not a number"),
        ("NaN", "is not a number"),
        ("1" * 13, "is too large"),
    ],
)
def test_amounts_that_are_not_plain_numbers_are_refused_with_the_reason(text, reason):
    with pytest.raises(CellError) as caught:
        DecimalParser()("Amount", text)
    assert caught.value.column == "Amount"
    assert reason in caught.value.reason
    assert repr(text) in caught.value.reason


@pytest.mark.parametrize("text", ["-0", "-0.00", " -000 ", "(0)", "(0.0)"])
def test_a_zero_written_with_a_minus_sign_is_zero(text):
    amount = DecimalParser()("Amount", text)

    assert amount == 0 and not amount.is_signed()


def test_a_european_minus_zero_is_zero_too():
    assert DecimalParser(thousands=".", decimal_point=",")("v", "-0,00") == 0


@pytest.mark.parametrize(
    "parse",
    [
        lambda text: DecimalParser()("Amount", text),
        lambda text: DateParser()("Amount", text),
        lambda text: DateTimeParser("ISO 8601")("Amount", text),
        lambda text: parse_int("Amount", text),
        lambda text: ChoiceParser({"Won": "won"})("Amount", text),
    ],
)
def test_a_long_bad_cell_is_quoted_by_its_first_characters_only(parse):
    text = "7" * 100_000

    with pytest.raises(CellError) as caught:
        parse(text)

    assert caught.value.reason.startswith(repr("7" * (QUOTE_LIMIT - 1) + "…"))
    assert len(caught.value.reason) < QUOTE_LIMIT + 100


def test_a_cell_within_the_limit_is_quoted_whole():
    assert quoted("x" * QUOTE_LIMIT) == repr("x" * QUOTE_LIMIT)
    assert quoted("x" * (QUOTE_LIMIT + 1)) == repr("x" * (QUOTE_LIMIT - 1) + "…")


def test_a_message_that_quotes_a_cell_whole_is_given_the_cut_quote():
    cell = " " + "y" * 100 + " "
    cut_quote = repr("y" * (QUOTE_LIMIT - 1) + "…")

    assert (
        requoted(f"{cell!r} is not yes or no", cell) == f"{cut_quote} is not yes or no"
    )
    assert requoted(f"{cell.strip()!r} is bad", cell) == f"{cut_quote} is bad"
    assert requoted("is too long", cell) == "is too long"


def test_thousands_separators_are_taken_only_when_the_mapping_names_them():
    parse = DecimalParser(thousands=",")
    assert parse("v", "1,200.50") == Decimal("1200.50")
    assert parse("v", "1200") == Decimal("1200")
    with pytest.raises(CellError, match="groups of three digits"):
        parse("v", "12,00")


def test_european_amounts_with_a_decimal_comma():
    parse = DecimalParser(thousands=".", decimal_point=",")
    assert parse("v", "1.200,50") == Decimal("1200.50")
    assert parse("v", "7,5") == Decimal("7.5")


def test_whole_numbers():
    assert parse_int("employees", " 2822 ") == 2822
    assert parse_int("employees", "") is None
    with pytest.raises(CellError, match="'lots' is not a whole number"):
        parse_int("employees", "lots")
    with pytest.raises(CellError, match="…' is too large"):
        parse_int("employees", "1" * 5000)


# -- choices and names -------------------------------------------------------


def test_choices_match_ignoring_case_and_list_the_accepted_values():
    parse = ChoiceParser({"Won": "won", "Lost": "lost"})
    assert parse("deal_stage", "won ") == "won"
    assert parse("deal_stage", "") is None
    with pytest.raises(CellError, match="'Closed' is not one of Lost, Won"):
        parse("deal_stage", "Closed")


def test_names_match_exactly_or_by_spelling_and_say_which():
    products = NameMatcher()
    products.add("GTX Pro", 2)
    products.add("MG Special", 3)
    exact = products.find("MG Special")
    assert (exact.value, exact.spelled_as) == (3, None)
    fuzzy = products.find("GTXPro")
    assert (fuzzy.value, fuzzy.spelled_as) == (2, "GTX Pro")
    assert products.find("gtx-pro ").spelled_as == "GTX Pro"
    assert products.find("GTX Plus") is None


def test_a_spelling_two_names_share_matches_neither():
    names = NameMatcher()
    names.add("Acme Corp", 1)
    names.add("ACME corp.", 2)
    assert names.find("acmecorp") is None
    assert names.ambiguous("acmecorp")
    assert names.find("Acme Corp").value == 1


def test_the_name_key_finds_one_name_where_the_spelling_matches_two():
    names = NameMatcher()
    names.add("Kappa Co", 1)
    names.add("Kappa-Co", 2)
    found = names.find("kappa  co")
    assert (found.value, found.spelled_as) == (1, "Kappa Co")
    assert not names.ambiguous("kappa co")
    # Only the looser spelling key joins "KAPPA.CO" to them, and to both.
    assert names.find("KAPPA.CO") is None
    assert names.ambiguous("KAPPA.CO")


def test_of_values_sharing_a_name_key_the_first_is_found_when_asked():
    first = NameMatcher(first_of_key=True)
    strict = NameMatcher()
    for names in (first, strict):
        names.add("Acme", 1)
        names.add("ACME", 2)
    assert first.find("acme").value == 1
    assert not first.ambiguous("acme")
    assert strict.find("acme") is None
    assert strict.ambiguous("acme")


def test_a_name_with_nothing_visible_is_neither_known_nor_found():
    names = NameMatcher()
    names.add("\u200b", 1)
    names.add("Zeta Widgets", 2)
    assert names.find("\u2060\u2060") is None
    assert names.find("\u200b") is None
    assert not names.ambiguous("\u200b")
    assert names.find("Zeta Widgets\ufe0f").value == 2


def test_a_name_missed_once_is_found_once_added():
    names = NameMatcher()
    assert names.find("Lambda") is None
    names.add("Lambda", 7)
    assert names.find("Lambda").value == 7


def test_spelling_keys_ignore_case_spaces_and_punctuation():
    assert spelling_key("GTX Pro") == spelling_key("gtx-pro") == "gtxpro"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.5e3", "'1.5e3' is not a number: exponents are not read; write the digits"),
        ("1.250", "'1.250' uses '.', but the decimal point is set to ','"),
        ("1.2x", "'1.2x' is not a number"),
    ],
)
def test_a_decimal_comma_file_is_told_of_a_dot_only_in_digits(text, reason):
    with pytest.raises(CellError) as caught:
        DecimalParser(decimal_point=",")("Wert", text)
    assert caught.value.reason == reason


def test_text_not_in_an_encoding_the_mapping_chose_says_what_to_do_instead(tmp_path):
    # A DOS (cp850) export read as cp1252: "ü" is the byte 81, and cp1252
    # has no character 81. (UTF-8 read as cp1252 is told that it looks like
    # UTF-8: see test_import_encodings_and_people.)
    path = tmp_path / "dos.csv"
    path.write_bytes("a,b\n1,2\n3,Müller\n".encode("cp850"))
    windows = CsvFile(path, encoding="cp1252")
    with pytest.raises(CsvFormatError) as caught, windows as source:
        list(source)
    message = str(caught.value)
    assert message.startswith("line 3: the file is not cp1252 text (")
    assert message.endswith(
        "the encoding its mapping sets; it was saved in another: remove the "
        "mapping's encoding if it is UTF-8 (Excel: 'CSV UTF-8'), else set "
        "encoding to the one it was saved in"
    )
    assert "set the mapping's encoding" not in message
