"""A deal already lost (or won) that a redesign sends from a removed stage to
another reads, wherever its history is shown, as a move of a closed deal
between two stages by the redesign: never as a second loss on the day of the
apply (found by helper gil while trying the builder as a new owner)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.cli import main
from dealgate.deals.models import Deal, StageEvent
from tests.builder.conftest import post
from tests.web.helpers import make_deal, text_of


@pytest.fixture
def removed_with_a_lost_deal(admin_client, it_services, now) -> Deal:
    deal = make_deal(
        it_services, "review", title="Acme rollout", status=Deal.Status.LOST
    )
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")
    post(admin_client, "/pipelines/it-services/apply/", {"move-review": "proposal"})
    return deal


def test_a_lost_deal_moved_by_a_redesign_shows_where_it_went_not_a_second_loss(
    admin_client, removed_with_a_lost_deal
):
    deal = removed_with_a_lost_deal

    page = text_of(admin_client.get(reverse("deal", args=[deal.pk])))

    assert (
        "Proposal reviewed by the buyer Proposal requested (a lost deal moved by "
        "the pipeline's redesign, still lost)"
    ) in page
    assert "Proposal reviewed by the buyer Lost" not in page


def test_deal_show_names_both_stages_of_a_lost_deal_moved_by_a_redesign(
    removed_with_a_lost_deal, capsys
):
    assert main(["deal", "show", str(removed_with_a_lost_deal.pk)]) == 0

    (line,) = [one for one in capsys.readouterr().out.splitlines() if "->" in one]
    assert line.endswith(
        "review -> proposal (a lost deal moved by the pipeline's redesign, still "
        "lost)  override: " + StageEvent.objects.get().override_reason
    )


@pytest.mark.parametrize(
    ("before", "after", "moves_closed"),
    [
        ("lost", "lost", True),
        ("won", "won", True),
        ("open", "lost", False),
        ("open", "open", False),
        ("lost", "open", False),
        ("", "open", False),
    ],
)
def test_only_a_row_keeping_a_closed_status_is_a_closed_deal_moved(
    before, after, moves_closed
):
    event = StageEvent(from_status=before, to_status=after)

    assert event.moves_closed is moves_closed


def test_the_admins_history_list_shows_the_status_before_as_well_as_after(
    admin, removed_with_a_lost_deal
):
    text = text_of(admin.get("/admin/deals/stageevent/"))

    assert "From status To status" in text
    assert "lost lost" in text


def test_the_api_history_gives_the_status_before_so_a_moved_loss_reads_as_a_move(
    admin_client, removed_with_a_lost_deal
):
    deal = removed_with_a_lost_deal

    events = admin_client.get(f"/api/v1/deals/{deal.pk}/history").json()

    moved = events[-1]
    assert (moved["from_stage"], moved["to_stage"]) == ("review", "proposal")
    assert (moved["from_status"], moved["to_status"]) == ("lost", "lost")
