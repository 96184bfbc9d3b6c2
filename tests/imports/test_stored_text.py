"""Text an import stores keeps to the limits and rules a person's edit has."""

import pytest

from dealgate.core.custom_fields import MAX_TEXT
from dealgate.core.text import CONTROL, CONTROL_OR_BREAK
from dealgate.deals.models import TEXT_LIMITS, Deal, Organization
from dealgate.imports import rows
from dealgate.imports.mappings import MappingError, mapping_from_dict
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

MAPPING = """
source = "crm"
loss_reason = "not-recorded"
[columns]
external_id = "Id"
title = "Deal"
organization = "Account"
stage = "Stage"
close_date = "Closed"
loss_reason = "Reason"
notes = "Notes"
[stages]
Open = "prospecting"
Lost = { stage = "engaging", status = "lost" }
[custom]
need = "Need"
"""
HEADER = "Id,Deal,Account,Stage,Closed,Reason,Notes,Need\n"
NOTES_LIMIT = TEXT_LIMITS["notes"]


@pytest.fixture
def sales(db):
    pipeline = make_import_pipeline(
        loss_reasons=[{"key": "price", "label": "Price", "needs_note": False}]
    )
    pipeline.custom_fields = [{"key": "need", "label": "Need", "type": "text"}]
    pipeline.save()
    return pipeline


def imported(tmp_path, sales, *rows: str):
    path = write_csv(tmp_path, HEADER + "".join(rows))
    mapping = write_mapping(tmp_path, MAPPING)
    return import_deals(path, mapping, pipeline=sales, all_or_nothing=False)


def bad_rows(report) -> list[str]:
    return [str(bad) for bad in report.bad_rows]


def test_notes_and_custom_text_at_their_limits_are_kept_whole(sales, tmp_path):
    notes = "n" * NOTES_LIMIT
    need = "x" * MAX_TEXT
    report = imported(tmp_path, sales, f"D1,Orbit,Acme,Open,,,{notes},{need}\n")
    assert report.committed and not report.bad_rows
    deal = Deal.objects.get()
    assert (len(deal.notes), len(deal.custom["need"])) == (NOTES_LIMIT, MAX_TEXT)


def test_notes_and_custom_text_past_their_limits_are_bad_rows_naming_the_limit(
    sales, tmp_path
):
    report = imported(
        tmp_path,
        sales,
        f"D1,Orbit,Acme,Open,,,{'n' * (NOTES_LIMIT + 1)},ok\n",
        f"D2,Helix,Acme,Open,,,ok,{'x' * (MAX_TEXT + 1)}\n",
        "D3,Quasar,Acme,Open,,,ok,ok\n",
    )
    assert bad_rows(report) == [
        "line 2: Notes: is 10,001 characters long; the limit is 10,000",
        "line 3: Need: is 2,001 characters long; the limit is 2,000",
    ]
    assert list(Deal.objects.values_list("external_id", flat=True)) == ["D3"]


def test_a_note_longer_than_a_csv_cell_usually_holds_names_its_column_and_limit(
    sales, tmp_path
):
    report = imported(
        tmp_path,
        sales,
        f"D1,Orbit,Acme,Open,,,{'n' * 200_000},ok\n",
        "D2,Helix,Acme,Open,,,ok,ok\n",
    )
    assert bad_rows(report) == [
        "line 2: Notes: is 200,000 characters long; the limit is 10,000"
    ]
    assert list(Deal.objects.values_list("external_id", flat=True)) == ["D2"]


def test_notes_and_custom_text_keep_line_breaks_tabs_and_any_language(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        '"D1",Orbit,Acme,Open,,,'
        '"Rückruf am Montag\r\n\tdann Angebot","Netz\nund WLAN"\n',
    )
    assert not report.bad_rows
    deal = Deal.objects.get()
    assert deal.notes == "Rückruf am Montag\n\tdann Angebot"
    assert deal.custom == {"need": "Netz\nund WLAN"}


def test_a_backslash_and_n_in_notes_is_kept_as_written_not_read_as_a_line_break(
    sales, tmp_path
):
    # docs/import-mapping.md: a line break is a real one in a quoted field;
    # "\\n" is what a path or a regular expression may hold.
    report = imported(
        tmp_path,
        sales,
        'D1,Orbit,Acme,Open,,,"line1\\nline2 in C:\\new",ok\n',
        'D2,Helix,Acme,Open,,,"old Mac\rline",ok\n',
    )

    assert not report.bad_rows
    assert list(
        Deal.objects.order_by("external_id").values_list("notes", flat=True)
    ) == [
        "line1\\nline2 in C:\\new",
        "old Mac\nline",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "ring \x1b[31mnow",  # a terminal escape
        "bell\x07",
        "Bo\u202enaes",  # right-to-left override: reads other than it is
        "C1 control \x85 here",
    ],
)
def test_control_characters_in_notes_or_custom_text_are_bad_rows(sales, tmp_path, text):
    report = imported(
        tmp_path,
        sales,
        f'D1,Orbit,Acme,Open,,,"{text}",ok\n',
        f'D2,Helix,Acme,Open,,,ok,"{text}"\n',
    )
    rule = "must not hold control characters other than line breaks and tabs"
    assert bad_rows(report) == [f"line 2: Notes: {rule}", f"line 3: Need: {rule}"]
    assert Deal.objects.count() == 0


def test_a_nul_in_notes_or_custom_text_is_a_bad_row(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Acme,Open,,,a\x00b,ok\n",
        "D2,Helix,Acme,Open,,,ok,a\x00b\n",
    )
    assert bad_rows(report) == [
        "line 2: column 'Notes' contains a NUL character (the file may be damaged)",
        "line 3: column 'Need' contains a NUL character (the file may be damaged)",
    ]


def test_one_line_texts_refuse_control_characters_and_name_their_limit(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        f"{'9' * 101},Orbit,Acme,Open,,,,\n",
        "D2\x1b,Helix,Acme,Open,,,,\n",
        f"D3,{'t' * 301},Acme,Open,,,,\n",
        "D4,Quasar,Acme,Lost,2026-04-01,Price\u2028war,,\n",
        "D5,Vega,Acme\x7f,Open,,,,\n",
    )
    one_line = "must be one line, without line breaks or control characters"
    assert bad_rows(report) == [
        "line 2: Id: is 101 characters long; the limit is 100",
        f"line 3: Id: {one_line}",
        "line 4: Deal: is 301 characters long; the limit is 300",
        f"line 5: Reason: {one_line}",
        f"line 6: Account: {one_line}",
    ]
    assert Deal.objects.count() == 0
    assert Organization.objects.count() == 0


def test_every_bad_text_of_a_row_is_named_at_once(sales, tmp_path):
    report = imported(
        tmp_path,
        sales,
        f"D1,Orbit\x1b,Acme,Open,,,{'n' * (NOTES_LIMIT + 1)},bell\x07\n",
    )
    assert [(bad.line, bad.column) for bad in report.bad_rows] == [
        (2, "Deal"),
        (2, "Notes"),
        (2, "Need"),
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("source", "crm\nexport", "source: must be one line"),
        ("source", "c" * 51, "source: is 51 characters long; the limit is 50"),
        ("loss_reason", "lost\ttrack", "loss_reason: must be one line"),
        ("loss_reason", "r" * 101, "loss_reason: is 101 characters long"),
    ],
)
def test_a_mappings_text_stored_on_each_deal_keeps_to_the_same_rules(
    key, value, message
):
    data = {"columns": {"title": "Deal"}, key: value}
    with pytest.raises(MappingError, match=f"mapping m: {message}"):
        mapping_from_dict(data, name="m")


def test_a_mappings_currency_is_an_iso_code_in_any_case():
    data = {"columns": {"title": "Deal"}, "currency": "eur"}
    assert mapping_from_dict(data, name="m").currency == "EUR"
    with pytest.raises(MappingError, match="currency: must be an ISO 4217 currency"):
        mapping_from_dict({**data, "currency": "XYZ"}, name="m")


def test_the_quick_look_at_a_good_rows_text_misses_nothing_check_text_refuses():
    # Rows are judged by rows._holds_control and _holds_control_or_break
    # first, and put to check_text only when they find something: they must
    # find exactly what core.text's patterns find, in every plane.
    samples = [*range(0x3000), *range(0x3000, 0x110000, 61), 0xFEFF, 0xE0001]
    for code in samples:
        if 0xD800 <= code <= 0xDFFF:
            continue  # no decoded file holds a lone surrogate
        for text in (chr(code), f"plain {chr(code)} text"):
            assert rows._holds_control(text) == bool(CONTROL.search(text)), code
            assert rows._holds_control_or_break(text) == bool(
                CONTROL_OR_BREAK.search(text)
            ), code


def test_a_mappings_date_format_that_cannot_read_dates_is_refused_before_any_row():
    data = {"columns": {"title": "Deal"}, "date_format": "%d.%m.%Q"}
    with pytest.raises(
        MappingError,
        match="mapping m: date_format: '%d.%m.%Q' is not a usable strptime pattern",
    ):
        mapping_from_dict(data, name="m")
    with pytest.raises(MappingError, match="'%d.%m' does not hold a whole date"):
        mapping_from_dict({**data, "date_format": "%d.%m"}, name="m")
