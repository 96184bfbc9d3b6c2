"""A checklist item a pipeline's rules name but a deal never saved is simply
not ticked, at every door that checks a rule; only a key no rule names is
missing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from dealgate.core.criteria import (
    CriteriaSet,
    Criterion,
    deal_context,
    describe,
    evaluate,
)
from dealgate.deals import services
from dealgate.deals.models import Deal

from .helpers import make_deal, text_of

NDA = {"label": "NDA signed", "rule": "checklist.nda_signed"}


@pytest.fixture
def gated(pipeline):
    proposal = pipeline.stages.get(key="proposal")
    proposal.exit_criteria = [NDA]
    proposal.save()
    return pipeline


@pytest.fixture
def deal(gated, alice, now):
    deal = make_deal(gated, "proposal", title="Helpdesk", value=5000, owner=alice)
    assert deal.checklist == {}  # never saved from the form
    return deal


def test_the_deal_page_shows_an_item_never_saved_as_not_ticked(client, alice, deal):
    client.force_login(alice)

    text = text_of(client.get(reverse("deal", args=[deal.pk])))

    assert "✗ NDA signed" in text
    assert "could not be checked" not in text


def test_the_exit_checklist_reads_an_unsaved_item_as_a_saved_false_one(deal, now):
    before = services.exit_checklist(deal, now)
    deal.checklist = {"nda_signed": False}
    deal.save(update_fields=["checklist"])

    assert before == services.exit_checklist(deal, now)
    assert [(line.text, line.met) for line in before] == [("✗ NDA signed", False)]


def test_a_move_refused_for_an_unsaved_item_names_it_unmet(deal, now):
    for to in ("review", services.WON):
        check = services.check_move(deal, to, now=now)

        assert check.unmet == [
            "1 exit criterion of 'Proposal requested' is unmet: NDA signed"
        ]
        assert not any(
            result.error
            for _, _, evaluation in check.evaluations
            for result in evaluation.results
        )


def test_the_board_and_the_api_refuse_the_move_for_the_unticked_item(
    client, alice, deal
):
    client.force_login(alice)
    refusal = "Refused: 1 exit criterion of 'Proposal requested' is unmet: NDA signed"

    board = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"to": "review", "version": deal.version},
        headers={"Accept": "application/json"},
    )
    api = client.post(
        f"/api/v1/deals/{deal.pk}/move",
        json.dumps({"to": "review", "version": deal.version}),
        content_type="application/json",
    )

    for response in (board, api):
        assert response.status_code == 422
        assert refusal in response.content.decode()
        assert "could not be checked" not in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).stage.key == "proposal"


def test_ticking_the_item_lets_the_deal_through(deal, now):
    deal.checklist = {"nda_signed": True}
    deal.save(update_fields=["checklist"])

    assert services.check_move(deal, "review", now=now).unmet == []


def test_a_key_no_rule_names_is_still_a_lookup_error(deal, now):
    # A rule that reaches a key through a value, not by its name: the
    # pipeline names no such item, so it cannot be ticked and is missing.
    proposal = deal.stage
    proposal.exit_criteria = [
        NDA,
        {"label": "Stage step done", "rule": "checklist[deal.stage]"},
    ]
    proposal.save()
    deal.refresh_from_db()

    lines = [line.text for line in services.exit_checklist(deal, now)]

    assert lines == [
        "✗ NDA signed",
        "✗ Stage step done (could not be checked: no field 'proposal')",
    ]


def test_the_rule_context_holds_the_named_items_false_unless_stored(now):
    rules = CriteriaSet(
        mode="all",
        items=[
            Criterion("NDA signed", "checklist.nda_signed"),
            Criterion("Pricing approved", 'checklist["pricing_approved"]'),
        ],
    )
    context = deal_context(
        title="Helpdesk",
        value=None,
        currency="EUR",
        status="open",
        stage="proposal",
        owner=None,
        organization=None,
        expected_close_date=None,
        created_at=None,
        stage_entered_at=None,
        now=now,
        checklist={"pricing_approved": True},
        checklist_items=["nda_signed", "pricing_approved"],
    )

    assert context["checklist"] == {"nda_signed": False, "pricing_approved": True}
    assert describe(evaluate(rules, context)) == [
        "✗ NDA signed",
        "✓ Pricing approved",
    ]
