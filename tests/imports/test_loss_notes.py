"""A lost deal's note: read from the file, and asked for where the pipeline's
loss reason needs one, as a move to lost asks for it."""

import pytest

from dealgate.deals.models import TEXT_LIMITS, Deal
from dealgate.deals.services import check_move
from dealgate.imports.services import import_deals
from tests.conftest import NOW
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

MAPPING = """
source = "crm"
loss_reason = "other"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
close_date = "Closed"
loss_reason = "Reason"
loss_note = "Why"
[stages]
Open = "prospecting"
Lost = { stage = "engaging", status = "lost" }
"""
HEADER = "Id,Deal,Stage,Closed,Reason,Why\n"
RULE = "loss reason 'other' needs a note (needs_note in pipeline sales)"


@pytest.fixture
def sales(db):
    return make_import_pipeline(
        loss_reasons=[
            {"key": "price", "label": "Price too high", "needs_note": False},
            {"key": "other", "label": "Other", "needs_note": True},
        ]
    )


def imported(tmp_path, sales, *rows: str, mapping: str = MAPPING):
    path = write_csv(tmp_path, HEADER + "".join(rows))
    mapping_path = write_mapping(tmp_path, mapping)
    return import_deals(path, mapping_path, pipeline=sales, all_or_nothing=False)


def bad_rows(report) -> list[str]:
    return [str(bad) for bad in report.bad_rows]


def test_a_reason_that_needs_a_note_and_has_none_is_a_bad_row_naming_the_rule(
    sales, tmp_path
):
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Lost,2026-04-01,Other,\n",
        "D2,Helix,Lost,2026-04-01,,  \n",  # the mapping's default, 'other'
        "D3,Quasar,Lost,2026-04-01,Price too high,\n",
    )
    assert bad_rows(report) == [
        f"line 2: Why: is empty, but {RULE}",
        f"line 3: Why: is empty, but {RULE}",
    ]
    assert list(Deal.objects.values_list("external_id", "loss_reason")) == [
        ("D3", "price")
    ]


def test_without_a_loss_note_column_the_bad_row_says_the_mapping_has_none(
    sales, tmp_path
):
    mapping = MAPPING.replace('loss_note = "Why"\n', "")
    report = imported(
        tmp_path, sales, "D1,Orbit,Lost,2026-04-01,other,ignored\n", mapping=mapping
    )
    assert bad_rows(report) == [
        f"line 2: loss_note: the mapping has no loss_note column, but {RULE}"
    ]


def test_a_lost_deal_keeps_its_note_and_passes_what_a_move_to_lost_asks(
    sales, tmp_path
):
    report = imported(
        tmp_path,
        sales,
        '"D1",Orbit,Lost,2026-04-01,Other,"Budget moved to\r\nnext year"\n',
        "D2,Helix,Lost,2026-04-01,price,\n",
    )
    assert report.committed and not report.bad_rows
    orbit, helix = Deal.objects.order_by("external_id")
    assert (orbit.loss_reason, orbit.loss_note) == (
        "other",
        "Budget moved to\nnext year",
    )
    assert (helix.loss_reason, helix.loss_note) == ("price", "")
    for deal in (orbit, helix):
        deal.status = Deal.Status.OPEN  # as if the move were yet to be made
        check = check_move(
            deal,
            "lost",
            now=NOW,
            loss_reason=deal.loss_reason,
            loss_note=deal.loss_note,
        )
        assert check.problems == []


def test_a_note_on_a_deal_that_is_not_lost_is_ignored_and_reported(sales, tmp_path):
    report = imported(tmp_path, sales, "D1,Orbit,Open,,,Not lost at all\n")
    assert Deal.objects.get().loss_note == ""
    assert report.warnings["Why on a deal that is not lost, ignored"] == 1


def test_a_reason_the_pipeline_does_not_list_asks_for_no_note(sales, tmp_path):
    report = imported(tmp_path, sales, "D1,Orbit,Lost,2026-04-01,Timing,\n")
    assert not report.bad_rows
    assert Deal.objects.get().loss_reason == "Timing"


def test_a_loss_note_keeps_to_the_limit_and_rules_of_a_person_s(sales, tmp_path):
    limit = TEXT_LIMITS["loss_note"]
    report = imported(
        tmp_path,
        sales,
        f"D1,Orbit,Lost,2026-04-01,Other,{'w' * limit}\n",
        f"D2,Helix,Lost,2026-04-01,Other,{'w' * (limit + 1)}\n",
        "D3,Vega,Lost,2026-04-01,Other,bell\x07\n",
    )
    assert bad_rows(report) == [
        "line 3: Why: is 2,001 characters long; the limit is 2,000",
        "line 4: Why: must not hold control characters other than line breaks and tabs",
    ]
    assert len(Deal.objects.get().loss_note) == limit
