"""Winning is a forward move past the last open stage, at every door: the
shipped pipelines ask a deal won from an early stage for the exit criteria of
its stage and of each stage after it, as well as the won criteria."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.cli import main
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.deals.models import Deal, Organization, StageEvent
from dealgate.demo.loader import PIPELINE_FILE
from dealgate.pipelines.services import apply_pipeline, get_pipeline
from tests.conftest import PASSWORD, REPO_ROOT

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


def new_deal(pipeline, stage_key, owner, **fields):
    stage = pipeline.stages.get(key=stage_key)
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        owner=owner,
        title=fields.pop("title", "Service desk for Fabrikam"),
        created_at=T0,
        stage_entered_at=T0,
        **fields,
    )
    StageEvent.objects.create(deal=deal, to_stage=stage, to_status="open", at=T0)
    return deal


def history(deal):
    return list(
        StageEvent.objects.filter(deal=deal)
        .order_by("at", "id")
        .values_list("from_stage__key", "to_stage__key", "to_status")
    )


def applied(path):
    spec = load_pipeline_file(path)
    apply_pipeline(spec)
    return get_pipeline(spec.key)


@pytest.fixture
def demo_pipeline(demo_people):
    return applied(PIPELINE_FILE)


@pytest.fixture
def it_services(demo_people):
    return applied(IT_SERVICES)


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


def post_move(api, deal, **payload):
    return api.post(
        f"/api/v1/deals/{deal.pk}/move", payload, content_type="application/json"
    )


def test_a_rep_cannot_win_a_demo_deal_whose_first_stage_is_unmet_through_the_api(
    api, demo_pipeline, alice
):
    # The won criteria (a value) hold; prospecting's (an account) do not.
    deal = new_deal(demo_pipeline, "prospecting", alice, value=1200)

    response = post_move(api, deal, to="won", version=deal.version)

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "move_refused"
    assert body["unmet"] == [
        "1 exit criterion of 'Interest shown' is unmet: The account is named"
    ]
    deal.refresh_from_db()
    assert (deal.status, deal.version) == ("open", 1)
    assert history(deal) == [(None, "prospecting", "open")]


def test_a_demo_deal_that_meets_every_gate_is_won_through_the_api(
    api, demo_pipeline, alice
):
    organization = Organization.objects.create(name="Fabrikam")
    deal = new_deal(
        demo_pipeline, "prospecting", alice, value=1200, organization=organization
    )

    response = post_move(api, deal, to="won", version=deal.version)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "won"


def test_a_bulk_win_of_deals_short_of_their_stages_moves_none(
    api, demo_pipeline, alice
):
    organization = Organization.objects.create(name="Fabrikam")
    ready = new_deal(
        demo_pipeline, "prospecting", alice, value=1200, organization=organization
    )
    short = new_deal(demo_pipeline, "prospecting", alice, value=800, title="Short")
    body = {"deals": [{"id": d.pk, "version": 1} for d in (ready, short)], "to": "won"}

    response = api.post(
        "/api/v1/deals/bulk-move", body, content_type="application/json"
    )

    assert response.status_code == 422
    assert "The account is named" in response.json()["refusals"][str(short.pk)]
    assert set(Deal.objects.values_list("status", flat=True)) == {"open"}


def won_criteria_met(deal):
    Deal.objects.filter(pk=deal.pk).update(
        custom={"signed": True, "start_date": "2026-07-01"}
    )


def test_an_it_services_inquiry_is_not_won_on_the_won_criteria_alone_from_the_cli(
    it_services, alice, capsys
):
    deal = new_deal(it_services, "inquiry", alice)
    won_criteria_met(deal)

    assert main(["deal", "move", str(deal.pk), "won", "--as", "alice"]) == 2

    refusal = capsys.readouterr().err
    assert "exit criteria of 'Inquiry received' are unmet" in refusal
    assert "The call took place" in refusal  # Discovery call booked
    assert "The contract is with the buyer's signatory" in refusal  # Contract
    assert "won criteri" not in refusal
    deal.refresh_from_db()
    assert deal.status == "open"
    assert history(deal) == [(None, "inquiry", "open")]


def test_a_manager_wins_an_it_services_inquiry_with_a_reason_the_history_keeps(
    it_services, alice, max_manager, capsys
):
    deal = new_deal(it_services, "inquiry", alice)
    won_criteria_met(deal)
    reason = "Framework contract signed by the buyer's group"

    args = ["deal", "move", str(deal.pk), "won", "--as", "max", "--override", reason]
    assert main(args) == 0

    event = StageEvent.objects.filter(deal=deal).latest("id")
    assert (event.from_stage.key, event.to_status) == ("inquiry", "won")
    assert (event.override_reason, event.by) == (reason, max_manager)


def test_the_deal_page_refuses_a_win_from_an_early_stage_in_words(
    client, it_services, alice
):
    deal = new_deal(it_services, "contract", alice)
    won_criteria_met(deal)
    client.force_login(alice)

    response = client.post(
        reverse("deal-move", args=[deal.pk]), {"to": "won", "version": 1}
    )

    assert response.status_code == 422
    assert "The contract is with the buyer&#x27;s signatory" in response.text
    deal.refresh_from_db()
    assert deal.status == "open"


@pytest.mark.parametrize("stage", ["inquiry", "discovery", "review"])
def test_lost_stays_open_to_any_stage_whose_criteria_are_unmet(
    it_services, alice, stage
):
    deal = new_deal(it_services, stage, alice)

    args = ["deal", "move", str(deal.pk), "lost", "--as", "alice"]
    assert main([*args, "--reason", "price"]) == 0

    deal.refresh_from_db()
    assert (deal.status, deal.loss_reason) == ("lost", "price")


def test_the_refusal_docs_criteria_quotes_is_the_one_given(it_services, alice, capsys):
    deal = new_deal(it_services, "contract", alice, custom={"signed": True})

    assert main(["deal", "move", str(deal.pk), "won", "--as", "alice"]) == 2

    quoted = (
        "Refused: 1 exit criterion of 'Contract requested' is unmet: The contract "
        "is with the buyer's signatory; 1 won criterion of 'IT services: new "
        "business' is unmet: Start date agreed"
    )
    assert quoted in capsys.readouterr().err
    assert quoted in (REPO_ROOT / "docs" / "criteria.md").read_text()
