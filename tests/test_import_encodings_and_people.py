"""An import refuses a file in another encoding than its mapping reads it
in (UTF-8 read as cp1252 would be stored as mojibake), hints at a wrong
delimiter, and reads the people side file as every other door reads people:
it finds those present by username, full name or email, as the owner column
does, names the candidates of a name several share, and checks emails.

First found by trying Dealgate as a new firm (tester fin).
"""

import pytest

from dealgate.accounts.models import Team, User
from dealgate.core.csvsource import (
    _WATCH_CHUNK,
    CellError,
    CsvFile,
    CsvFormatError,
    DateParser,
    DateTimeParser,
    delimiter_hint,
)
from dealgate.deals.models import Deal, Organization
from dealgate.errors import ValidationError
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

UTF8_TEXT = "Ref,Client\nG1,Café Crème SARL\n"
FIX_UTF8 = "remove encoding from the mapping (UTF-8 is the default)"


def read_all(path, encoding: str) -> list[list[str]]:
    with CsvFile(path, encoding=encoding) as source:
        return [record.fields for record in source]


def refusal(path, encoding: str) -> str:
    with pytest.raises(CsvFormatError) as caught:
        read_all(path, encoding)
    return str(caught.value)


# -- encodings -------------------------------------------------------------


def test_a_utf8_file_read_as_cp1252_is_refused_not_stored_as_mojibake(tmp_path):
    # "é" is the UTF-8 bytes C3 A9, which cp1252 reads without complaint as
    # "Ã©": the import stored "CafÃ© CrÃ¨me SARL" and said nothing.
    path = tmp_path / "deals.csv"
    path.write_bytes(UTF8_TEXT.encode("utf-8"))
    assert refusal(path, "cp1252") == (
        "line 2: the file looks like UTF-8 text, not cp1252 as its mapping says: "
        "its accented letters are UTF-8's, so 'Café' would be stored as 'CafÃ©'; "
        + FIX_UTF8
        + "; or, if it is cp1252 text all the same, import it with --encoding cp1252"
    )


@pytest.mark.parametrize("encoding", ["latin-1", "iso-8859-15", "mac_roman"])
def test_utf8_is_refused_under_any_encoding_that_is_not_unicode(tmp_path, encoding):
    path = tmp_path / "deals.csv"
    path.write_bytes("Ref,Client\nG1,Plain\nG2,Zoë Ltd\n".encode())
    assert refusal(path, encoding).startswith(
        f"line 3: the file looks like UTF-8 text, not {encoding} as its mapping "
    )


def test_utf8_that_cp1252_cannot_decode_is_named_utf8_too(tmp_path):
    # "Ł" is C5 81 and cp1252 has no 81: this was told only that the file
    # is not cp1252, not what it is.
    path = tmp_path / "deals.csv"
    path.write_bytes("Ref,Client\nG1,Łódź Sp. z o.o.\n".encode())
    assert refusal(path, "cp1252").startswith(
        "line 2: the file looks like UTF-8 text, not cp1252 as its mapping says: "
        "its accented letters are UTF-8's, so 'Łódź' would be stored as 'Å\ufffdÃ³dÅº'"
    )


def test_a_utf8_file_with_a_byte_order_mark_read_as_cp1252_says_it_is_utf8(
    tmp_path,
):
    # Excel's "CSV UTF-8" starts with a byte-order mark; under a cp1252
    # mapping the first column was reported as 'ï»¿Ref', not as UTF-8 text.
    path = tmp_path / "deals.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"Ref,Client\nG1,Plain\n")
    assert refusal(path, "cp1252") == (
        "line 1: the file is UTF-8 text: it starts with UTF-8's byte-order mark, "
        "as Excel's 'CSV UTF-8' saves it, but it is read as cp1252; " + FIX_UTF8
    )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_a_utf16_file_is_named_so_under_another_encoding(tmp_path, encoding):
    path = tmp_path / "deals.csv"
    path.write_bytes(UTF8_TEXT.encode("utf-16"))
    assert refusal(path, encoding) == (
        "line 1: the file is UTF-16 text: it starts with UTF-16's byte-order "
        f"mark, as Excel's 'Unicode Text' saves it, but it is read as {encoding}; "
        'set encoding = "utf-16" in the mapping, or save the file as UTF-8 '
        "(Excel: 'CSV UTF-8') and remove encoding from the mapping"
    )
    assert read_all(path, "utf-16") == [["G1", "Café Crème SARL"]]


def test_a_cp1252_file_reads_as_cp1252_with_letters_utf8_would_share(tmp_path):
    # "ß" then a closing quote is DF 94, a UTF-8 sequence on its own; the
    # other accented letters of the chunk are not, so the file is cp1252.
    path = tmp_path / "deals.csv"
    text = "Ref,Client\nG1,Müller GmbH\nG2,“Fuß”\n"
    path.write_bytes(text.encode("cp1252"))
    assert read_all(path, "cp1252") == [["G1", "Müller GmbH"], ["G2", "“Fuß”"]]


def test_utf8_first_met_past_the_first_chunk_names_its_line(tmp_path):
    path = tmp_path / "deals.csv"
    rows = "".join(f"G{n},Plain Ltd\n" for n in range(20_000))
    path.write_bytes(f"Ref,Client\n{rows}G,Zoë Ltd\n".encode())
    assert path.stat().st_size > 2 * _WATCH_CHUNK
    assert refusal(path, "cp1252").startswith(
        "line 20002: the file looks like UTF-8 text, not cp1252 as its mapping "
        "says: its accented letters are UTF-8's, so 'Zoë' would be stored as 'ZoÃ«'"
    )


def test_a_utf8_letter_split_between_two_chunks_is_still_seen(tmp_path):
    path = tmp_path / "deals.csv"
    head = b"Ref,Client\n"
    # "é" (C3 A9) straddles the end of the first chunk read.
    filler = b"x" * (_WATCH_CHUNK - len(head) - len(b"G1,Caf") - 1)
    path.write_bytes(head + b"G1,Caf" + filler + "é\n".encode())
    assert refusal(path, "cp1252").startswith(
        "line 2: the file looks like UTF-8 text, not cp1252"
    )


def test_an_ascii_file_reads_the_same_under_any_mapping_encoding(tmp_path):
    path = tmp_path / "deals.csv"
    path.write_bytes(b"Ref,Client\nG1,Plain\n")
    assert read_all(path, "cp1252") == read_all(path, "utf-8-sig") == [["G1", "Plain"]]


@pytest.mark.django_db
def test_a_cp1252_mapping_stores_no_mojibake_from_a_utf8_deals_file(tmp_path):
    pipeline = make_import_pipeline()
    mapping = write_mapping(
        tmp_path,
        'encoding = "cp1252"\ntitle = ["{organization}"]\n'
        '[columns]\nexternal_id = "Ref"\norganization = "Client"\n',
    )
    path = tmp_path / "deals.csv"
    path.write_bytes(UTF8_TEXT.encode("utf-8"))
    with pytest.raises(ValidationError) as refused:
        import_deals(path, mapping, pipeline=pipeline)
    assert refused.value.message.startswith(
        "deals.csv: line 2: the file looks like UTF-8 text, not cp1252"
    )
    assert not Organization.objects.exists()
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_a_utf8_side_file_under_a_cp1252_mapping_is_refused_naming_it(tmp_path):
    pipeline = make_import_pipeline()
    write_mapping(tmp_path, 'encoding = "cp1252"\n' + PEOPLE_MAPPING)
    write_csv(tmp_path, "agent,manager,office,email\nZoë Side,,,\n", "people.csv")
    path = write_csv(tmp_path, "Ref,Deal,Rep\nS1,One,Zoë Side\n")
    with pytest.raises(ValidationError) as refused:
        import_deals(path, tmp_path / "mapping.toml", pipeline=pipeline)
    assert refused.value.message.startswith(
        "people.csv: line 2: the file looks like UTF-8 text, not cp1252"
    )
    assert not User.objects.exists()


# -- delimiters ------------------------------------------------------------


@pytest.mark.django_db
def test_a_header_split_by_another_delimiter_names_the_delimiter_found(tmp_path):
    pipeline = make_import_pipeline()
    mapping = write_mapping(
        tmp_path, 'delimiter = ";"\n[columns]\nexternal_id = "Ref"\ntitle = "Deal"\n'
    )
    path = write_csv(tmp_path, "Ref,Deal\nS1,One\n")
    with pytest.raises(ValidationError) as refused:
        import_deals(path, mapping, pipeline=pipeline)
    assert refused.value.message.endswith(
        "its columns are 'Ref,Deal'; the header is delimited by ',', not by ';' "
        "as the file is read: remove delimiter from the mapping (',' is the "
        "default)"
    )


@pytest.mark.django_db
def test_a_side_file_split_by_another_delimiter_names_the_delimiter_found(
    tmp_path,
):
    pipeline = make_import_pipeline()
    write_mapping(tmp_path, PEOPLE_MAPPING)
    write_csv(tmp_path, "agent;manager;office;email\nOtto;;;\n", "people.csv")
    path = write_csv(tmp_path, "Ref,Deal,Rep\nS1,One,Otto\n")
    with pytest.raises(ValidationError) as refused:
        import_deals(path, tmp_path / "mapping.toml", pipeline=pipeline)
    assert refused.value.message.endswith(
        "the header is delimited by ';', not by ',' as the file is read: "
        'set delimiter = ";" in the mapping'
    )


@pytest.mark.parametrize(
    ("columns", "delimiter", "hint"),
    [
        (
            ["Ref\tDeal"],
            ",",
            "delimited by a tab, not by ',' as the file is read: "
            'set delimiter = "\\t"',
        ),
        (["Ref|Deal"], ";", "delimited by '|', not by ';'"),
        (["Ref", "Deal"], ",", ""),  # the columns are simply not there
        (["Reference;Title"], ",", ""),  # split, it still lacks them
    ],
)
def test_a_delimiter_is_hinted_only_when_it_would_find_a_missing_column(
    columns, delimiter, hint
):
    found = delimiter_hint(columns, ["Ref", "Stage"], delimiter)
    assert (hint in found) if hint else found == ""


# -- dates in other scripts' digits --------------------------------------


@pytest.mark.parametrize(
    "text", ["01/02/٢٠٢٦", "٠١/٠٢/٢٠٢٦", "01/02/２０２６", "０１/０２/2026"]
)
def test_a_date_in_any_scripts_digits_reads_as_in_ascii_ones(text):
    assert DateParser("DD/MM/YYYY")("Closed", text).isoformat() == "2026-02-01"


@pytest.mark.parametrize("text", ["٢٠٢٦-02-01", "２０２６-０２-０１"])
def test_an_iso_date_or_instant_in_other_digits_reads_too(text):
    assert DateParser()("Closed", text).isoformat() == "2026-02-01"
    instant = DateTimeParser("ISO 8601")("Closed", text + "T10:00")
    assert instant.isoformat() == "2026-02-01T10:00:00+00:00"


def test_a_date_that_does_not_read_quotes_the_cell_as_written():
    with pytest.raises(CellError) as caught:
        DateParser("DD/MM/YYYY")("Closed", "٣٢/٠٢/٢٠٢٦")
    assert str(caught.value) == "Closed: '٣٢/٠٢/٢٠٢٦' is not a date in DD/MM/YYYY"


# -- the people side file --------------------------------------------------

PEOPLE_MAPPING = """
source = "side"
file = "deals.csv"
[columns]
external_id = "Ref"
title = "Deal"
owner = "Rep"
[people]
file = "people.csv"
columns = { name = "agent", manager = "manager", team = "office", email = "email" }
"""


def import_with_people(tmp_path, people: str, deals: str):
    write_mapping(tmp_path, PEOPLE_MAPPING)
    write_csv(tmp_path, "agent,manager,office,email\n" + people, name="people.csv")
    path = write_csv(tmp_path, "Ref,Deal,Rep\n" + deals)
    pipeline = make_import_pipeline()
    return import_deals(path, tmp_path / "mapping.toml", pipeline=pipeline)


@pytest.mark.django_db
def test_a_people_side_file_refuses_an_email_that_is_not_one(tmp_path):
    report = import_with_people(
        tmp_path, "Otto Side,Boris Boss,Leeds,not-an-email\n", "S1,One,Otto Side\n"
    )
    assert not report.committed
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Rep: 'Otto Side' matches no owner in people.csv",
        "people.csv line 2: email: 'not-an-email' is not an email address",
    ]
    assert not User.objects.filter(email="not-an-email").exists()


@pytest.mark.django_db
def test_a_people_side_file_finds_a_person_added_before_by_full_name(tmp_path):
    # The README's way in: `dealgate user add raj --name "Raj Patel"`, then
    # import. The side file made a second "Raj Patel" (raj.patel, no
    # password), and every row owned by "Raj Patel" was then refused as
    # matching several.
    raj = User.objects.create_user(
        "raj", first_name="Raj", last_name="Patel", role="rep"
    )
    report = import_with_people(tmp_path, "Raj Patel,,,\n", "S1,One,Raj Patel\n")
    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert Deal.objects.get().owner == raj
    assert User.objects.filter(first_name="Raj", last_name="Patel").count() == 1
    assert (report.created["users"], report.reused["users"]) == (0, 1)


@pytest.mark.django_db
def test_a_people_side_file_finds_people_by_username_or_email_too(tmp_path):
    raj = User.objects.create_user("raj", email="raj@example.com", role="rep")
    boris = User.objects.create_user("boris", first_name="Boris", last_name="Boss")
    report = import_with_people(
        tmp_path, "raj@example.com,boris,Leeds,\n", "S1,One,raj\n"
    )
    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert User.objects.count() == 2
    # The team is new and gets the manager found; people present keep theirs.
    team = Team.objects.get()
    assert (team.name, team.manager) == ("Leeds (boris)", boris)
    raj.refresh_from_db()
    assert raj.team is None


@pytest.mark.django_db
def test_a_manager_named_in_full_is_found_among_the_people_present(tmp_path):
    boris = User.objects.create_user("boris", first_name="Boris", last_name="Boss")
    report = import_with_people(
        tmp_path, "Otto Side,Boris Boss,Leeds,otto@example.com\n", "S1,One,Otto Side\n"
    )
    assert report.committed, [str(bad) for bad in report.bad_rows]
    otto = User.objects.get(username="otto.side")
    assert (otto.email, otto.team.manager) == ("otto@example.com", boris)
    assert User.objects.count() == 2


@pytest.mark.django_db
def test_a_name_two_people_share_is_refused_naming_both_in_either_file(tmp_path):
    User.objects.create_user(
        "raj", first_name="Raj", last_name="Patel", email="raj@example.com"
    )
    User.objects.create_user("rpatel", first_name="Raj", last_name="Patel")
    report = import_with_people(tmp_path, "Raj Patel,,,\n", "S1,One,Raj Patel\n")
    both = (
        "'Raj Patel' matches 2 people: raj (raj@example.com), rpatel (no email); "
        "write the username or email of the one meant"
    )
    assert [str(bad) for bad in report.bad_rows] == [
        f"line 2: Rep: {both}",
        f"people.csv line 2: agent: {both}",
    ]
    assert User.objects.count() == 2
