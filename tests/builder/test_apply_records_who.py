"""Deals an apply moves out of a removed stage record who applied it: the
person signed in to the builder, or the one `pipeline apply --as` names. They
go back to the stage before, where no gate asks for anything."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.cli import main
from dealgate.deals.models import StageEvent
from tests.builder.conftest import post
from tests.web.helpers import make_deal, text_of


@pytest.fixture
def deal_in_review(it_services, now):
    return make_deal(it_services, "review", title="Acme rollout")


def moved_event(deal) -> StageEvent:
    return StageEvent.objects.select_related("by").get(deal=deal, source="pipeline")


@pytest.mark.parametrize("client_name", ["admin_client", "manager_client"])
def test_a_builder_apply_records_who_applied_it_on_each_moved_deal(
    request, client_name, deal_in_review
):
    client = request.getfixturevalue(client_name)
    user = client.session["_auth_user_id"]
    post(client, "/pipelines/it-services/edit/stages/review/remove/")

    post(client, "/pipelines/it-services/apply/", {"move-review": "proposal"})

    event = moved_event(deal_in_review)
    assert (event.from_stage.key, event.to_stage.key) == ("review", "proposal")
    assert str(event.by_id) == user


def test_the_deal_page_names_the_admin_who_applied_the_move(
    admin_client, deal_in_review
):
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")
    post(admin_client, "/pipelines/it-services/apply/", {"move-review": "proposal"})

    page = text_of(admin_client.get(reverse("deal", args=[deal_in_review.pk])))

    row = page[page.index("Proposal reviewed by the buyer Proposal requested") :]
    # From, To, When, By, Source: the By cell names her, not "—".
    assert row.split(" pipeline ")[0].endswith(" Olivia Owner")


def test_pipeline_apply_as_records_the_person_named(
    deal_in_review, shrunk, olivia, capsys
):
    status = main(
        [
            "pipeline",
            "apply",
            str(shrunk),
            "--move",
            "review=proposal",
            "--as",
            "olivia",
        ]
    )

    assert status == 0
    assert moved_event(deal_in_review).by == olivia


def test_pipeline_apply_without_as_names_no_one(deal_in_review, shrunk, capsys):
    assert main(["pipeline", "apply", str(shrunk), "--move", "review=proposal"]) == 0

    assert moved_event(deal_in_review).by is None


def test_pipeline_apply_as_an_unknown_user_is_refused_before_applying(
    deal_in_review, shrunk, capsys
):
    status = main(
        [
            *("pipeline", "apply", str(shrunk)),
            *("--move", "review=proposal", "--as", "nobody"),
        ]
    )

    assert status == 2
    assert capsys.readouterr().err == "dealgate: --as: no user 'nobody'\n"
    deal_in_review.refresh_from_db()
    assert deal_in_review.stage.key == "review"
    assert not StageEvent.objects.filter(source="pipeline").exists()
