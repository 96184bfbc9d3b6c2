"""Imported custom cells keep the type the pipeline declares for their field."""

import datetime as dt
import json

import pytest

from dealgate.deals import services
from dealgate.deals.models import Deal
from dealgate.errors import ValidationError
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

# The kinds of field examples/pipelines/it-services.toml declares.
CUSTOM_FIELDS = [
    {"key": "open_questions", "label": "Open questions", "type": "number"},
    {"key": "budget", "label": "Budget range", "type": "number"},
    {"key": "decision_maker_seen", "label": "Decision maker seen", "type": "bool"},
    {"key": "call_date", "label": "Discovery call date", "type": "date"},
    {
        "key": "engagement",
        "label": "Kind of engagement",
        "type": "choice",
        "choices": ["Fixed-price project", "Time and materials", "Retainer"],
    },
    {"key": "need", "label": "Need", "type": "text"},
]
MAPPING = """
date_format = "DD/MM/YYYY"
[columns]
title = "Deal"
[custom]
open_questions = "OpenQ"
budget = "Budget"
decision_maker_seen = "DM seen"
call_date = "Call"
engagement = "Kind"
need = "Need"
"""
HEADER = "Deal,OpenQ,Budget,DM seen,Call,Kind,Need\n"


@pytest.fixture
def sales(db):
    pipeline = make_import_pipeline()
    pipeline.custom_fields = CUSTOM_FIELDS
    pipeline.save()
    return pipeline


@pytest.fixture
def mapping(tmp_path):
    return write_mapping(tmp_path, MAPPING)


def test_imported_custom_cells_are_stored_as_the_pipeline_types_them(
    sales, tmp_path, mapping
):
    path = write_csv(
        tmp_path,
        HEADER
        + "A,2,18500.50,Yes,31/07/2026,time and materials, Managed network \n"
        + "B,0,-3,false,,Retainer,\n"
        + "C,,,,,,\n",
    )

    report = import_deals(path, mapping, pipeline=sales)

    assert report.committed and not report.bad_rows
    assert [deal.custom for deal in Deal.objects.order_by("title")] == [
        {
            "open_questions": 2,
            "budget": 18500.5,
            "decision_maker_seen": True,
            "call_date": "2026-07-31",
            "engagement": "Time and materials",
            "need": "Managed network",
        },
        {
            "open_questions": 0,
            "budget": -3,
            "decision_maker_seen": False,
            "engagement": "Retainer",
        },
        {},
    ]


def test_an_imported_number_passes_a_criterion_that_compares_it_with_a_number(
    sales, tmp_path
):
    prospecting = sales.stages.get(key="prospecting")
    prospecting.exit_criteria = [
        {"label": "Questions answered", "rule": "deal.custom.open_questions == 0"}
    ]
    prospecting.save()
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\n[custom]\nopen_questions = "OpenQ"\n'
    )
    path = write_csv(tmp_path, "Deal,OpenQ\nA,0\nB,2\n")

    import_deals(path, mapping, pipeline=sales)

    answered, open_ = Deal.objects.order_by("title")
    assert services.check_move(answered, "engaging", now=NOW).unmet == []
    # Unmet because 2 is not 0, not because text cannot be compared with 0.
    assert services.check_move(open_, "engaging", now=NOW).unmet == [
        "1 exit criterion of 'Prospecting' is unmet: Questions answered"
    ]


def test_a_custom_cell_that_is_not_its_type_is_a_bad_row_by_line_and_column(
    sales, tmp_path, mapping
):
    path = write_csv(
        tmp_path,
        HEADER
        + "A,2,100,yes,31/07/2026,Retainer,ok\n"
        + "B,two,$5,maybe,2026-07-31,Bribery,ok\n"
        + "C,-x,1e400,no,,,ok\n",
    )

    report = import_deals(path, mapping, pipeline=sales)

    assert not report.committed
    assert Deal.objects.count() == 0
    assert [str(bad) for bad in report.bad_rows] == [
        "line 3: OpenQ: 'two' is not a number",
        "line 3: Budget: '$5' is not a plain amount: leave out the currency",
        "line 3: DM seen: 'maybe' is not yes or no",
        "line 3: Call: '2026-07-31' is not a date in DD/MM/YYYY",
        "line 3: Kind: 'Bribery' is not one of Fixed-price project, "
        "Time and materials, Retainer",
        "line 4: OpenQ: '-x' is not a number",
        "line 4: Budget: '1e400' is not a number: exponents are not read; write "
        "the digits",
    ]


def test_a_custom_number_of_minus_zero_is_zero_and_one_in_brackets_is_bad(
    sales, tmp_path, mapping
):
    path = write_csv(
        tmp_path, HEADER + "A,-0,-0.00,,,,\n" + "B,(0),,,,,\n" + "C,--1,,,,,\n"
    )

    report = import_deals(path, mapping, pipeline=sales, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows] == [
        "line 3: OpenQ: '(0)' is not a number",
        "line 4: OpenQ: '--1' is not a number",
    ]
    (custom,) = Deal.objects.values_list("custom", flat=True)
    assert custom == {"open_questions": 0, "budget": 0}
    assert "-0" not in json.dumps(custom)


def test_a_long_custom_cell_is_quoted_by_its_first_60_characters(
    sales, tmp_path, mapping
):
    kind, seen = "Retainer" * 1_000, "maybe" * 1_000
    path = write_csv(tmp_path, HEADER + f"A,,,{seen},,{kind},\n")

    report = import_deals(path, mapping, pipeline=sales)

    assert [str(bad) for bad in report.bad_rows] == [
        f"line 2: DM seen: {seen[:59] + '…'!r} is not yes or no",
        f"line 2: Kind: {kind[:59] + '…'!r} is not one of Fixed-price project, "
        "Time and materials, Retainer",
    ]


def test_skip_bad_keeps_the_rows_whose_custom_cells_read(sales, tmp_path, mapping):
    path = write_csv(tmp_path, HEADER + "A,2,,,,,\n" + "B,lots,,,,,\n" + "C,1,,,,,\n")

    report = import_deals(path, mapping, pipeline=sales, all_or_nothing=False)

    assert report.committed
    assert [str(bad) for bad in report.bad_rows] == [
        "line 3: OpenQ: 'lots' is not a number"
    ]
    assert sorted(Deal.objects.values_list("title", "custom")) == [
        ("A", {"open_questions": 2}),
        ("C", {"open_questions": 1}),
    ]


def test_custom_numbers_are_read_with_the_files_decimal_point(sales, tmp_path):
    mapping = write_mapping(
        tmp_path,
        'decimal_point = ","\nthousands_separator = "."\n'
        '[columns]\ntitle = "Deal"\n[custom]\nbudget = "Budget"\n',
    )
    path = write_csv(tmp_path, 'Deal,Budget\nA,"1.200,5"\nB,"2,25"\n')

    import_deals(path, mapping, pipeline=sales)

    assert sorted(Deal.objects.values_list("title", "custom")) == [
        ("A", {"budget": 1200.5}),
        ("B", {"budget": 2.25}),
    ]


def test_a_custom_key_the_pipeline_does_not_declare_stops_the_import(sales, tmp_path):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\n[custom]\nindustry = "Industry"\n'
    )
    path = write_csv(tmp_path, "Deal,Industry\nA,Retail\n")

    with pytest.raises(ValidationError) as refused:
        import_deals(path, mapping, pipeline=sales)

    assert refused.value.field == "custom.industry"
    assert "pipeline sales has no custom field 'industry'" in refused.value.message
    assert "open_questions, budget" in refused.value.message
    assert Deal.objects.count() == 0


def test_an_undeclared_custom_key_stops_the_import_before_any_file_is_read(
    sales, tmp_path
):
    from dealgate.deals.models import Organization

    mapping = write_mapping(
        tmp_path,
        '[columns]\ntitle = "Deal"\norganization = "Firm"\n'
        '[custom]\nindustry = "Industry"\nregion = "Region"\nneed = "Need"\n'
        '[organizations]\nfile = "firms.csv"\ncolumns = { name = "Name" }\n',
    )
    write_csv(tmp_path, "Name\nOrbit GmbH\n", name="firms.csv")
    # Neither column is in the file: the keys are refused all the same.
    path = write_csv(tmp_path, "Deal,Firm\nA,Orbit GmbH\n")

    with pytest.raises(ValidationError) as refused:
        import_deals(path, mapping, pipeline=sales)

    assert refused.value.message == (
        "mapping mapping: custom.industry, custom.region: pipeline sales has no "
        "custom fields 'industry', 'region'; its custom fields are: "
        "open_questions, budget, decision_maker_seen, call_date, engagement, need"
    )
    assert not Organization.objects.exists()
