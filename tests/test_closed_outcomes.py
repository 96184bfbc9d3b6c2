"""A won deal becomes lost only by being reopened first, at every door (the
service, the deal page, the board, the API, the command line), while a lost
deal won after all wins directly through the gates of the stage it was lost
from (docs/criteria.md, "Won and lost"). A closed deal's page says that what
is edited there is not checked against the criteria it passed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.cli import main
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import MoveRefused, move_deal
from tests.conftest import PASSWORD
from tests.web.helpers import make_deal, text_of

BUDGET = {"label": "Budget confirmed", "rule": "checklist.budget == true"}


@pytest.fixture
def won(pipeline, alice, now) -> Deal:
    deal = make_deal(pipeline, "contract", owner=alice)
    return move_deal(deal.pk, "won", by=alice, expected_version=1)


def _still_won(deal: Deal) -> None:
    deal.refresh_from_db()
    assert (deal.status, deal.loss_reason) == ("won", "")
    assert StageEvent.objects.filter(deal=deal).count() == 1


def test_a_won_deal_marked_lost_directly_is_refused_saying_to_reopen_it(won, alice):
    with pytest.raises(MoveRefused) as refused:
        move_deal(
            won.pk, "lost", by=alice, expected_version=won.version, loss_reason="price"
        )

    assert refused.value.message == (
        f"Refused: deal {won.pk} is won; reopen it first by moving it to a stage, "
        "then mark it lost"
    )
    assert refused.value.field == "to"
    _still_won(won)


def test_no_override_lets_a_won_deal_be_lost_directly(won, max_manager):
    with pytest.raises(MoveRefused):
        move_deal(
            won.pk,
            "lost",
            by=max_manager,
            expected_version=won.version,
            loss_reason="price",
            override_reason="The buyer withdrew",
        )

    _still_won(won)


def test_a_won_deal_reopened_first_may_then_be_lost(won, alice):
    reopened = move_deal(won.pk, "contract", by=alice, expected_version=won.version)
    lost = move_deal(
        won.pk, "lost", by=alice, expected_version=reopened.version, loss_reason="price"
    )

    assert (lost.status, lost.loss_reason) == ("lost", "price")
    statuses = StageEvent.objects.filter(deal=won).order_by("at", "pk")
    assert [e.to_status for e in statuses] == ["won", "open", "lost"]


def test_a_lost_deal_may_still_be_won_directly_through_its_stages_gates(
    pipeline, alice, now
):
    contract = pipeline.stages.get(key="contract")
    contract.exit_criteria = [BUDGET]
    contract.save()
    deal = make_deal(pipeline, "contract", owner=alice)
    lost = move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="price")

    with pytest.raises(MoveRefused, match="Budget confirmed"):
        move_deal(deal.pk, "won", by=alice, expected_version=lost.version)
    Deal.objects.filter(pk=deal.pk).update(checklist={"budget": True})

    assert move_deal(deal.pk, "won", by=alice, expected_version=lost.version).status
    assert Deal.objects.get(pk=deal.pk).status == "won"


def test_the_deal_page_of_a_won_deal_offers_stages_but_not_lost(client, won, alice):
    client.force_login(alice)

    page = client.get(reverse("deal", args=[won.pk])).content.decode()

    assert '<option value="contract"' in page
    assert '<option value="lost"' not in page and '<option value="won"' not in page


def test_the_deal_page_refuses_won_to_lost_saying_to_reopen_first(client, won, alice):
    client.force_login(alice)

    response = client.post(
        reverse("deal-move", args=[won.pk]),
        {"to": "lost", "version": won.version, "loss_reason": "price"},
    )

    assert response.status_code == 422
    assert "reopen it first by moving it to a stage" in text_of(response)
    _still_won(won)


def test_the_board_refuses_won_to_lost_in_words(client, won, alice):
    client.force_login(alice)

    response = client.post(
        reverse("deal-move", args=[won.pk]),
        {"to": "lost", "version": won.version, "loss_reason": "price"},
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 422
    assert "reopen it first" in response.json()["message"]
    _still_won(won)


def test_the_api_refuses_won_to_lost_naming_the_target(client, won):
    client.login(username="alice", password=PASSWORD)

    response = client.post(
        f"/api/v1/deals/{won.pk}/move",
        {"to": "lost", "version": won.version, "loss_reason": "price"},
        content_type="application/json",
    )

    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"]) == ("move_refused", "to")
    assert "reopen it first" in body["message"]
    _still_won(won)


def test_a_bulk_move_to_lost_refuses_a_won_deal_and_moves_none(client, won, alice):
    other = make_deal(won.pipeline, "inquiry", owner=alice)
    client.login(username="alice", password=PASSWORD)

    response = client.post(
        "/api/v1/deals/bulk-move",
        {
            "to": "lost",
            "deals": [
                {"id": won.pk, "version": won.version},
                {"id": other.pk, "version": other.version},
            ],
            "loss_reason": "price",
        },
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "reopen it first" in response.json()["refusals"][str(won.pk)]
    _still_won(won)
    assert Deal.objects.get(pk=other.pk).status == "open"


def test_the_cli_refuses_won_to_lost_saying_to_reopen_first(won, capsys):
    args = ["deal", "move", str(won.pk), "lost", "--as", "alice", "--reason", "price"]

    assert main(args) == 2

    assert "reopen it first by moving it to a stage" in capsys.readouterr().err
    _still_won(won)


def test_a_closed_deals_page_says_its_edits_are_not_checked_again(
    client, won, alice, pipeline
):
    open_deal = make_deal(pipeline, "inquiry", owner=alice)
    client.force_login(alice)

    closed_page = text_of(client.get(reverse("deal", args=[won.pk])))
    open_page = text_of(client.get(reverse("deal", args=[open_deal.pk])))

    notice = "the criteria it passed are not checked again"
    assert f"This deal is won: what you change here is kept, but {notice}" in (
        closed_page
    )
    assert notice not in open_page
