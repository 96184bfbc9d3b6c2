"""What `-v` logs about moves and edits: a line once the change is
committed, naming where a deal came from and only the fields that changed.

These tests commit for real (transactional database), since the point is
what is said at the commit and what a rollback leaves unsaid.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import transaction

from dealgate import timesource
from dealgate.deals.models import Deal
from dealgate.deals.services import (
    BulkMoveRefused,
    move_deal,
    move_deals,
    update_deal,
)

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=3)):
        yield


@pytest.fixture
def deals(pipeline, alice):
    stage = pipeline.stages.get(key="proposal")
    return [
        Deal.objects.create(
            pipeline=pipeline,
            stage=stage,
            title=f"Deal {n}",
            owner=alice,
            value=1000,
            created_at=T0,
            stage_entered_at=T0,
        )
        for n in range(3)
    ]


@pytest.fixture
def said(caplog):
    caplog.set_level(logging.INFO, logger="dealgate.deals")

    def lines() -> list[str]:
        found = [r.getMessage() for r in caplog.records if r.name == "dealgate.deals"]
        caplog.clear()
        return found

    return lines


def test_a_refused_bulk_move_logs_the_refusal_and_no_move(deals, alice, said):
    Deal.objects.filter(pk=deals[2].pk).update(version=9)
    versions = {deal.pk: deal.version for deal in deals}

    with pytest.raises(BulkMoveRefused):
        move_deals(versions, "lost", by=alice, loss_reason="price")

    assert said() == ["bulk move of 3 deals to lost refused for 1; none moved"]
    assert not Deal.objects.filter(status="lost").exists()


def test_a_committed_bulk_move_logs_each_deal_it_moved(deals, alice, said):
    versions = {deal.pk: deal.version for deal in deals}

    move_deals(versions, "lost", by=alice, loss_reason="price")

    assert said() == [
        f"deal {deal.pk} moved from proposal to lost by alice" for deal in deals
    ]


def test_a_move_undone_by_the_callers_transaction_is_not_logged(deals, alice, said):
    with transaction.atomic():
        move_deal(deals[0].pk, "contract", by=alice, expected_version=1)
        transaction.set_rollback(True)

    assert said() == []
    assert Deal.objects.get(pk=deals[0].pk).stage.key == "proposal"


def test_a_move_names_the_stage_or_outcome_it_left(deals, alice, said):
    deal = deals[0]

    move_deal(deal.pk, "won", by=alice, expected_version=1)
    move_deal(deal.pk, "discovery", by=alice, expected_version=2)
    move_deal(deal.pk, "lost", by=alice, expected_version=3, loss_reason="price")

    assert said() == [
        f"deal {deal.pk} moved from proposal to won by alice",
        f"deal {deal.pk} moved from won to discovery by alice",
        f"deal {deal.pk} moved from discovery to lost by alice",
    ]


def test_an_edit_names_only_the_fields_whose_value_changed(deals, alice, said):
    deal = Deal.objects.get(pk=deals[0].pk)
    # What the deal page's form sends back: every field, one of them changed.
    form = {
        "title": f"  {deal.title} ",
        "value": "1500",
        "currency": deal.currency,
        "expected_close_date": None,
        "custom": {},
        "checklist": {"budget": False},
    }

    update_deal(deal.pk, form, by=alice, expected_version=1)

    assert said() == [f"deal {deal.pk} edited by alice: value"]


def test_an_edit_that_changes_nothing_stores_and_logs_nothing(deals, alice, said):
    deal = deals[0]

    kept = update_deal(deal.pk, {"value": "1000.00"}, by=alice, expected_version=1)

    # The version stays, so another tab's copy of version 1 is still current.
    assert kept.version == 1
    assert update_deal(deal.pk, {"title": "Renamed"}, by=alice, expected_version=1)
    assert said() == [f"deal {deal.pk} edited by alice: title"]


def test_ticking_a_checklist_item_is_a_change(deals, alice, said):
    deal = deals[0]

    update_deal(deal.pk, {"checklist": {"budget": True}}, by=alice, expected_version=1)

    assert said() == [f"deal {deal.pk} edited by alice: checklist"]


def test_an_edit_undone_by_the_callers_transaction_is_not_logged(deals, alice, said):
    with transaction.atomic():
        update_deal(deals[0].pk, {"value": 5}, by=alice, expected_version=1)
        transaction.set_rollback(True)

    assert said() == []
