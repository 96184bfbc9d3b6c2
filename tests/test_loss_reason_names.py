"""Every door that takes a loss reason takes its key or its label, whatever
the case and spacing, stores the key, and refuses an unknown one naming the
pipeline's reasons: the rule an import follows (`pipelines.loss_reasons`)."""

import datetime as dt

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.cli import main
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import move_deal, move_deals
from dealgate.pipelines.loss_reasons import LossReasons
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

REASONS = [
    {"key": "price", "label": "Price too high"},
    {"key": "timing", "label": "Bad timing"},
    {"key": "other", "label": "Other", "needs_note": True},
]


@pytest.fixture
def reasons(pipeline):
    pipeline.loss_reasons = REASONS
    pipeline.save()
    return pipeline


@pytest.fixture
def deals(reasons, alice):
    stage = reasons.stages.get(key="inquiry")
    return [
        Deal.objects.create(
            pipeline=reasons,
            stage=stage,
            title=f"Deal {n}",
            owner=alice,
            created_at=T0,
            stage_entered_at=T0,
        )
        for n in range(3)
    ]


@pytest.fixture
def deal(deals):
    return deals[0]


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


def lost_reason(deal):
    deal.refresh_from_db()
    event = StageEvent.objects.filter(deal=deal).latest("id")
    return deal.status, deal.loss_reason, event.loss_reason


# -- the one rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "price",
        "PRICE",
        " price ",
        "Price too high",
        "price  TOO high",
        "\tprice too high",
    ],
)
def test_a_reason_is_found_by_key_or_label_whatever_case_and_spacing(written):
    assert LossReasons.of(REASONS).key_for(written) == "price"


@pytest.mark.parametrize("written", ["", "   ", "pricetoohigh", "cost", "\u200b"])
def test_text_naming_no_reason_finds_none(written):
    assert LossReasons.of(REASONS).key_for(written) is None


def test_a_key_wins_over_another_reasons_label_spelled_the_same():
    reasons = LossReasons.of(
        [{"key": "budget", "label": "Other"}, {"key": "other", "label": "Something"}]
    )
    assert reasons.key_for("other") == "other"
    assert reasons.key_for("OTHER") == "other"


def test_of_two_reasons_with_one_label_the_first_listed_is_found():
    reasons = LossReasons.of(
        [{"key": "a", "label": "Lost it"}, {"key": "b", "label": "lost  it"}]
    )
    assert reasons.key_for("Lost it") == "a"


def test_the_listed_reasons_name_each_key_with_its_label():
    assert LossReasons.of(REASONS).listed() == (
        'price ("Price too high"), timing ("Bad timing"), other ("Other")'
    )
    assert LossReasons.of([]).listed() == "this pipeline lists none"


# -- the service, under every door ------------------------------------------------


def test_a_move_to_lost_by_label_stores_the_key(deal, alice):
    move_deal(
        deal.pk, "lost", by=alice, expected_version=1, loss_reason="price TOO high"
    )
    assert lost_reason(deal) == ("lost", "price", "price")


def test_a_label_whose_reason_needs_a_note_still_needs_one(deal, alice):
    with pytest.raises(Exception, match="loss reason 'other' needs a note"):
        move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="OTHER")
    move_deal(
        deal.pk,
        "lost",
        by=alice,
        expected_version=1,
        loss_reason="Other",
        loss_note="Went quiet",
    )
    assert lost_reason(deal) == ("lost", "other", "other")


def test_an_unknown_reason_is_refused_naming_the_known_ones(deal, alice):
    with pytest.raises(Exception) as refused:
        move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="Cost")
    message = str(refused.value)
    assert "loss reason 'Cost' is not in this pipeline's list" in message
    assert 'price ("Price too high"), timing ("Bad timing")' in message
    assert getattr(refused.value, "field", None) == "loss_reason"
    deal.refresh_from_db()
    assert deal.status == "open"


def test_a_bulk_move_by_label_stores_the_key_on_every_deal(deals, alice):
    move_deals(
        {d.pk: d.version for d in deals}, "lost", by=alice, loss_reason="bad timing"
    )
    assert {lost_reason(d) for d in deals} == {("lost", "timing", "timing")}


# -- the doors ----------------------------------------------------------------------


def test_the_cli_moves_to_lost_by_label(deal, capsys):
    args = ["deal", "move", str(deal.pk), "lost", "--as", "alice"]
    assert main([*args, "--reason", "Price too high"]) == 0
    assert "now lost" in capsys.readouterr().out
    assert lost_reason(deal) == ("lost", "price", "price")


def test_the_cli_refuses_an_unknown_reason_naming_the_known_ones(deal, capsys):
    args = ["deal", "move", str(deal.pk), "lost", "--as", "alice", "--reason", "Cost"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "'Cost' is not in this pipeline's list" in error
    assert 'price ("Price too high")' in error


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


def test_the_api_moves_to_lost_by_label(api, deal):
    response = api.post(
        f"/api/v1/deals/{deal.pk}/move",
        {"to": "lost", "version": 1, "loss_reason": " bad TIMING "},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["loss_reason"] == "timing"


def test_the_api_refuses_an_unknown_reason_naming_field_and_reasons(api, deal):
    response = api.post(
        f"/api/v1/deals/{deal.pk}/move",
        {"to": "lost", "version": 1, "loss_reason": "Cost"},
        content_type="application/json",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "loss_reason"
    assert 'timing ("Bad timing")' in body["message"]


def test_the_api_bulk_move_takes_a_label(api, deals):
    body = {
        "deals": [{"id": d.pk, "version": d.version} for d in deals],
        "to": "lost",
        "loss_reason": "Price too high",
    }
    response = api.post(
        "/api/v1/deals/bulk-move", body, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert {lost_reason(d) for d in deals} == {("lost", "price", "price")}


@pytest.mark.parametrize("board", [False, True])
def test_the_web_move_takes_a_label(client, alice, deal, board):
    client.force_login(alice)
    response = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"to": "lost", "version": 1, "loss_reason": "price too high"},
        headers={"Accept": "application/json"} if board else None,
    )
    assert response.status_code == (200 if board else 302)
    assert lost_reason(deal) == ("lost", "price", "price")


def test_a_refused_lost_move_by_label_keeps_its_reason_chosen_on_the_page(
    client, alice, deal
):
    client.force_login(alice)
    response = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"to": "lost", "version": 1, "loss_reason": "OTHER"},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "loss reason &#x27;other&#x27; needs a note" in page
    assert '<option value="other" selected>' in page
