"""`--encoding NAME` on `dealgate import deals|leads`: the file's encoding as
the person importing names it, taken as their word.

A mapping's encoding is written once for many files, so a file that looks
like UTF-8 under a cp1252 mapping is refused (it would be stored as
mojibake). But a genuine cp1252 file may look like UTF-8 by chance: every
accented letter of its first such 64 KiB block followed by just the symbols
UTF-8 would continue it with ("NORDÅ™" is C5 99, UTF-8's "ř"). Such a file
was refused with no way out; the refusal now names the option, and the
option reads it. The files are written as real bytes.
"""

import pytest

from dealgate.accounts.models import User
from dealgate.cli import main
from dealgate.core.csvsource import CsvFile, CsvFormatError
from dealgate.deals.models import Deal, Organization
from dealgate.errors import ValidationError
from dealgate.imports.mappings import mapping_from_dict
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_mapping

pytestmark = pytest.mark.django_db

# cp1252 bytes whose only non-ASCII pair, "Å™" (C5 99), is also whole UTF-8.
CP1252_ROWS = "Ref,Client,Rep\nN1,NORDÅ™ AB,Asa Lind\n".encode("cp1252")
CP1252_PEOPLE = "agent,office\nAsa Lind,NORDÅ™ Sales\n".encode("cp1252")

MAPPING = """
encoding = "{encoding}"
title = ["{{organization}}"]
[columns]
external_id = "Ref"
organization = "Client"
owner = "Rep"
[people]
file = "people.csv"
columns = {{ name = "agent", team = "office" }}
"""


def files(tmp_path, encoding: str = "cp1252"):
    """The deals file, its people side file and a mapping in `encoding`."""
    (tmp_path / "people.csv").write_bytes(CP1252_PEOPLE)
    path = tmp_path / "deals.csv"
    path.write_bytes(CP1252_ROWS)
    return path, write_mapping(tmp_path, MAPPING.format(encoding=encoding))


def test_the_file_looks_like_utf8_to_the_watch_though_it_is_cp1252(tmp_path):
    path, _ = files(tmp_path)
    for text in (CP1252_ROWS, CP1252_PEOPLE):
        assert text.decode("utf-8") != text.decode("cp1252")
    with pytest.raises(CsvFormatError) as refused, CsvFile(path, encoding="cp1252"):
        pass
    assert str(refused.value) == (
        "line 2: the file looks like UTF-8 text, not cp1252 as its mapping says: "
        "its accented letters are UTF-8's, so 'NORDř' would be stored as "
        "'NORDÅ™'; remove encoding from the mapping (UTF-8 is the default); or, "
        "if it is cp1252 text all the same, import it with --encoding cp1252"
    )


def test_a_cp1252_file_that_looks_like_utf8_is_imported_with_encoding_named(
    tmp_path,
):
    path, mapping = files(tmp_path)
    pipeline = make_import_pipeline()

    report = import_deals(path, mapping, pipeline=pipeline, encoding="cp1252")

    assert report.committed, [str(bad) for bad in report.bad_rows]
    deal = Deal.objects.get()
    assert deal.organization.name == "NORDÅ™ AB"
    # The side file, as tricky, is read in the encoding named too.
    assert deal.owner.team.name == "NORDÅ™ Sales"


def test_the_option_replaces_the_mappings_encoding(tmp_path):
    # Under its UTF-8 mapping (the default) the file reads, as "NORDř AB".
    path, mapping = files(tmp_path, encoding="utf-8-sig")

    report = import_deals(
        path, mapping, pipeline=make_import_pipeline(), encoding="cp1252"
    )

    assert report.committed
    assert Organization.objects.get().name == "NORDÅ™ AB"


def test_a_file_that_does_not_decode_in_the_named_encoding_names_the_option(
    tmp_path,
):
    path, mapping = files(tmp_path)
    with pytest.raises(ValidationError) as refused:
        import_deals(path, mapping, pipeline=make_import_pipeline(), encoding="ascii")
    assert refused.value.message.startswith(
        "people.csv: line 2: the file is not ascii text (ordinal not in range(128)), "
        "the encoding --encoding names; name the one it was saved in"
    )
    assert not User.objects.exists()


def test_a_byte_order_mark_is_still_refused_naming_the_option(tmp_path):
    # A byte-order mark is no guess: a cp1252 file does not start with "ï»¿".
    path = tmp_path / "deals.csv"
    path.write_bytes("\ufeffRef,Client\nN1,Zoë AB\n".encode())
    with (
        pytest.raises(CsvFormatError) as refused,
        CsvFile(path, encoding="cp1252", named=True),
    ):
        pass
    assert str(refused.value) == (
        "line 1: the file is UTF-8 text: it starts with UTF-8's byte-order mark, "
        "as Excel's 'CSV UTF-8' saves it, but it is read as cp1252 (--encoding); "
        "import it with --encoding utf-8"
    )


@pytest.mark.parametrize("name", ["klingon", "base64"])
def test_an_encoding_that_reads_no_text_is_refused_naming_the_option(tmp_path, name):
    # base64 is a codec Python knows, but it turns bytes into bytes.
    path, mapping = files(tmp_path)
    with pytest.raises(ValidationError) as refused:
        import_deals(path, mapping, pipeline=make_import_pipeline(), encoding=name)
    assert refused.value.message == (
        f"--encoding: {name!r} is not a known text encoding"
    )
    assert refused.value.field == "encoding"


def test_a_mapping_whose_encoding_reads_no_text_is_refused_naming_the_key():
    with pytest.raises(ValidationError) as refused:
        mapping_from_dict({"encoding": "rot13", "columns": {"title": "Deal"}}, name="m")
    assert "encoding: 'rot13' is not a known text encoding" in refused.value.message


def test_the_command_takes_the_option_and_refuses_an_unknown_one(tmp_path, capsys):
    path, mapping = files(tmp_path)
    make_import_pipeline()
    command = ["import", "deals", str(path), "--mapping", str(mapping), "--dry-run"]

    assert main([*command, "--encoding", "utf-9"]) == 2
    assert capsys.readouterr().err == (
        "dealgate: --encoding: 'utf-9' is not a known text encoding\n"
    )
    assert main(command) == 2
    assert "import it with --encoding cp1252" in capsys.readouterr().err
    assert main([*command, "--encoding", "cp1252"]) == 0
    assert "  deals: 1 would be created" in capsys.readouterr().out
    assert not Deal.objects.exists()
