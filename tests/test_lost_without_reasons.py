"""A pipeline that lists no loss reason still loses deals: the loss note says
why, at every door, and no reason key is stored."""

import datetime as dt

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import MoveRefused, move_deal
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


@pytest.fixture
def deal(pipeline, alice):
    pipeline.loss_reasons = []
    pipeline.save()
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title="Backup for Contoso",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )


def test_a_deal_is_lost_with_a_note_and_no_reason_key(deal, alice):
    move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_note="Chose a rival")

    deal.refresh_from_db()
    event = StageEvent.objects.filter(deal=deal).latest("id")
    assert (deal.status, deal.loss_reason, deal.loss_note) == (
        "lost",
        "",
        "Chose a rival",
    )
    assert (event.to_status, event.loss_reason) == ("lost", "")


@pytest.mark.parametrize("note", ["", "   ", "\u200b"])
def test_without_a_note_the_loss_is_refused_naming_the_note(deal, alice, note):
    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_note=note)

    assert refused.value.field == "loss_note"
    assert str(refused.value) == (
        "Refused: this pipeline lists no loss reasons, so a lost deal needs a "
        "loss note saying why it was lost"
    )
    deal.refresh_from_db()
    assert deal.status == "open"


def test_a_reason_given_to_a_pipeline_without_any_is_refused_saying_what_to_do(
    deal, alice
):
    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="price")

    assert refused.value.field == "loss_reason"
    assert str(refused.value) == (
        "Refused: loss reason 'price': this pipeline lists no loss reasons; leave "
        "the reason empty and say why the deal was lost in the loss note"
    )
    assert not str(refused.value).endswith("none")


def test_a_manager_loses_a_deal_with_a_note_like_anyone(deal, max_manager):
    move_deal(
        deal.pk,
        "lost",
        by=max_manager,
        expected_version=1,
        loss_note="Budget cut",
        override_reason="Buyer gone",
    )

    deal.refresh_from_db()
    assert deal.status == "lost"


def test_the_api_loses_a_deal_with_a_note_and_names_the_note_when_missing(
    client, alice, deal
):
    client.login(username="alice", password=PASSWORD)
    url = f"/api/v1/deals/{deal.pk}/move"

    refused = client.post(
        url, {"to": "lost", "version": 1}, content_type="application/json"
    )
    moved = client.post(
        url,
        {"to": "lost", "version": 1, "loss_note": "Went quiet"},
        content_type="application/json",
    )

    assert refused.status_code == 422
    assert refused.json()["field"] == "loss_note"
    assert moved.status_code == 200
    assert moved.json()["loss_reason"] == ""


def test_the_deal_page_loses_a_deal_with_a_note_and_shows_it(client, alice, deal):
    client.force_login(alice)
    url = reverse("deal-move", args=[deal.pk])

    refused = client.post(url, {"to": "lost", "version": 1})
    moved = client.post(url, {"to": "lost", "version": 1, "loss_note": "No budget"})

    assert refused.status_code == 422
    assert "so a lost deal needs a loss note" in refused.content.decode()
    assert moved.status_code == 302
    page = client.get(reverse("deal", args=[deal.pk])).content.decode()
    assert "No budget" in page
