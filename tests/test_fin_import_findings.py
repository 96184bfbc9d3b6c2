"""Import faults found by trying Dealgate as a new firm (tester fin).

Each test pins down what a user should see and fails on the code as it
stands: see the report for the steps.
"""

import pytest

from dealgate.accounts.models import User
from dealgate.core.csvsource import CsvFile, CsvFormatError
from dealgate.deals.models import Deal, Organization
from dealgate.errors import ValidationError
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

UTF8_TEXT = "Ref,Client\nG1,Café Crème SARL\n"


def test_a_utf8_file_read_as_cp1252_is_refused_not_stored_as_mojibake(tmp_path):
    # "é" is the UTF-8 bytes C3 A9, which cp1252 reads without complaint as
    # "Ã©": the import stored "CafÃ© CrÃ¨me SARL" and said nothing.
    path = tmp_path / "deals.csv"
    path.write_bytes(UTF8_TEXT.encode("utf-8"))
    with (
        pytest.raises(CsvFormatError) as caught,
        CsvFile(path, encoding="cp1252") as source,
    ):
        list(source)
    assert "UTF-8" in str(caught.value)


def test_a_utf8_file_with_a_byte_order_mark_read_as_cp1252_says_it_is_utf8(
    tmp_path,
):
    # Excel's "CSV UTF-8" starts with a byte-order mark; under a cp1252
    # mapping the first column was reported as 'ï»¿Ref', not as UTF-8 text.
    path = tmp_path / "deals.csv"
    path.write_bytes(b"\xef\xbb\xbf" + UTF8_TEXT.encode("utf-8"))
    with (
        pytest.raises(CsvFormatError) as caught,
        CsvFile(path, encoding="cp1252") as source,
    ):
        list(source)
    assert "UTF-8" in str(caught.value)


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
    try:
        report = import_deals(path, mapping, pipeline=pipeline)
    except ValidationError:
        return  # refused naming the encoding: what a user should get
    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert not Organization.objects.filter(name__contains="Ã").exists()
    assert not Deal.objects.filter(title__contains="Ã").exists()


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


@pytest.mark.django_db
def test_a_people_side_file_refuses_an_email_that_is_not_one(tmp_path):
    pipeline = make_import_pipeline()
    write_mapping(tmp_path, PEOPLE_MAPPING)
    write_csv(
        tmp_path,
        "agent,manager,office,email\nOtto Side,Boris Boss,Leeds,not-an-email\n",
        name="people.csv",
    )
    path = write_csv(tmp_path, "Ref,Deal,Rep\nS1,One,Otto Side\n")
    report = import_deals(path, tmp_path / "mapping.toml", pipeline=pipeline)
    assert not report.committed
    assert any("people.csv line 2: email:" in str(bad) for bad in report.bad_rows), [
        str(bad) for bad in report.bad_rows
    ]
    assert not User.objects.filter(email="not-an-email").exists()


@pytest.mark.django_db
def test_a_people_side_file_finds_a_person_added_before_by_full_name(tmp_path):
    # The README's way in: `dealgate user add raj --name "Raj Patel"`, then
    # import. The side file made a second "Raj Patel" (raj.patel, no
    # password), and every row owned by "Raj Patel" was then refused as
    # matching several.
    pipeline = make_import_pipeline()
    User.objects.create_user("raj", first_name="Raj", last_name="Patel", role="rep")
    write_mapping(tmp_path, PEOPLE_MAPPING)
    write_csv(
        tmp_path,
        "agent,manager,office,email\nRaj Patel,,,\n",
        name="people.csv",
    )
    path = write_csv(tmp_path, "Ref,Deal,Rep\nS1,One,Raj Patel\n")
    report = import_deals(path, tmp_path / "mapping.toml", pipeline=pipeline)
    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert Deal.objects.get().owner.username == "raj"
    assert User.objects.filter(first_name="Raj", last_name="Patel").count() == 1
