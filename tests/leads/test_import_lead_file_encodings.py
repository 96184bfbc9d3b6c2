"""A leads file is read as a deals file is (core.csvsource): a UTF-8 file
under a mapping that sets cp1252 is refused rather than captured as
mojibake, and a header split by another delimiter than the mapping's is
told which one it is."""

from __future__ import annotations

import pytest

from dealgate.errors import ValidationError
from dealgate.leads.imports import import_leads
from dealgate.leads.models import Lead

MAPPING = """
name = "backlog"
{settings}
[columns]
external_id = "Id"
name = "Name"
email = "Mail"
"""


def imported(tmp_path, pipeline, content: bytes, settings: str):
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    toml = tmp_path / "backlog.toml"
    toml.write_text(MAPPING.format(settings=settings), encoding="utf-8")
    return import_leads(path, str(toml), pipeline=pipeline)


def test_a_utf8_leads_file_under_a_cp1252_mapping_is_refused(routed, now, tmp_path):
    rows = "Id,Name,Mail\nL1,Zoë Brandt,zoe@example.com\n".encode()
    with pytest.raises(ValidationError) as refused:
        imported(tmp_path, routed, rows, 'encoding = "cp1252"')
    assert refused.value.message.startswith(
        "leads.csv: line 2: the file looks like UTF-8 text, not cp1252 as its "
        "mapping says: its accented letters are UTF-8's, so 'Zoë' would be "
        "stored as 'ZoÃ«'"
    )
    assert not Lead.objects.exists()


def test_a_cp1252_leads_file_is_captured_under_its_mapping(routed, now, tmp_path):
    rows = "Id,Name,Mail\nL1,Zoë Brandt,zoe@example.com\n".encode("cp1252")
    report = imported(tmp_path, routed, rows, 'encoding = "cp1252"')
    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert Lead.objects.get().name == "Zoë Brandt"


def test_a_header_split_by_another_delimiter_names_it(routed, now, tmp_path):
    rows = b"Id;Name;Mail\nL1;Zo\xc3\xab;zoe@example.com\n"
    with pytest.raises(ValidationError) as refused:
        imported(tmp_path, routed, rows, "")
    assert refused.value.message.endswith(
        "its columns are 'Id;Name;Mail'; the header is delimited by ';', not by "
        "',' as the file is read: set delimiter = \";\" in the mapping"
    )


# cp1252 bytes whose only non-ASCII pair, "Å™" (C5 99), is whole UTF-8 too.
CP1252_LOOKING_UTF8 = "Id,Name,Mail\nL1,NORDÅ™ Lind,lind@example.com\n".encode("cp1252")


def test_a_cp1252_file_that_looks_like_utf8_is_captured_with_encoding_named(
    routed, now, tmp_path
):
    with pytest.raises(ValidationError) as refused:
        imported(tmp_path, routed, CP1252_LOOKING_UTF8, 'encoding = "cp1252"')
    assert refused.value.message.endswith(
        "or, if it is cp1252 text all the same, import it with --encoding cp1252"
    )

    report = import_leads(
        tmp_path / "leads.csv",
        str(tmp_path / "backlog.toml"),
        pipeline=routed,
        encoding="cp1252",
    )

    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert Lead.objects.get().name == "NORDÅ™ Lind"


def test_an_unknown_encoding_named_for_leads_is_refused_naming_the_option(
    routed, now, tmp_path
):
    path = tmp_path / "leads.csv"
    path.write_bytes(CP1252_LOOKING_UTF8)
    with pytest.raises(ValidationError) as refused:
        import_leads(path, "olist", pipeline=routed, encoding="klingon")
    assert refused.value.message == (
        "--encoding: 'klingon' is not a known text encoding"
    )
    assert not Lead.objects.exists()
