"""A move refuses what it would not use, naming the field, instead of
dropping it: a loss reason or note with a move to a stage or won, an
override reason with a loss or from a rep, and an override reason with a
move that meets its criteria (nothing is overridden). A bulk move records
a manager's override on the deals whose criteria were unmet."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
BUDGET = {"label": "Budget confirmed", "rule": "checklist.budget == true"}


def _deal(pipeline, owner, title="Cloud migration", **fields) -> Deal:
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="discovery"),
        title=title,
        owner=owner,
        created_at=T0,
        stage_entered_at=T0,
        **fields,
    )


@pytest.fixture
def gated(pipeline):
    proposal = pipeline.stages.get(key="proposal")
    proposal.entry_criteria = [BUDGET]
    proposal.save()
    return pipeline


def _signed_in(client, username):
    client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture(autouse=True)
def _a_day_later():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


def _move(client, deal, **payload):
    return client.post(
        f"/api/v1/deals/{deal.pk}/move", payload, content_type="application/json"
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "proposal", "loss_reason": "price"}, "loss_reason"),
        ({"to": "won", "loss_note": "too dear"}, "loss_note"),
        (
            {"to": "lost", "loss_reason": "price", "override_reason": "x"},
            "override_reason",
        ),
    ],
)
def test_a_field_the_move_does_not_use_is_refused_naming_it(
    client, pipeline, alice, max_manager, payload, field
):
    deal = _deal(pipeline, alice)

    response = _move(_signed_in(client, "max"), deal, version=1, **payload)

    assert (response.status_code, response.json()["field"]) == (422, field)
    assert Deal.objects.get(pk=deal.pk).version == 1
    assert not StageEvent.objects.exists()


def test_a_reps_override_reason_is_refused_even_where_the_gates_are_met(
    client, pipeline, alice
):
    deal = _deal(pipeline, alice)

    response = _move(
        _signed_in(client, "alice"),
        deal,
        to="proposal",
        version=1,
        override_reason="the buyer insists",
    )

    assert (response.status_code, response.json()["field"]) == (403, "override_reason")
    assert "only a manager or admin may override" in response.json()["message"]
    assert Deal.objects.get(pk=deal.pk).stage.key == "discovery"


def test_an_override_reason_for_a_move_that_meets_its_criteria_is_refused(
    client, gated, alice, max_manager
):
    deal = _deal(gated, alice, checklist={"budget": True})

    response = _move(
        _signed_in(client, "max"), deal, to="proposal", version=1, override_reason="x"
    )

    assert (response.status_code, response.json()["field"]) == (422, "override_reason")
    assert "nothing is overridden" in response.json()["message"]
    assert Deal.objects.get(pk=deal.pk).stage.key == "discovery"


def test_a_managers_override_of_unmet_criteria_is_recorded(
    client, gated, alice, max_manager
):
    deal = _deal(gated, alice)

    response = _move(
        _signed_in(client, "max"),
        deal,
        to="proposal",
        version=1,
        override_reason="budget agreed by phone",
    )

    assert response.status_code == 200
    history = client.get(f"/api/v1/deals/{deal.pk}/history").json()
    assert history[-1]["override_reason"] == "budget agreed by phone"


def test_a_bulk_move_records_the_override_on_the_deals_that_needed_it(
    client, gated, alice, max_manager
):
    met = _deal(gated, alice, "Met", checklist={"budget": True})
    unmet = _deal(gated, alice, "Unmet")
    _signed_in(client, "max")

    response = client.post(
        "/api/v1/deals/bulk-move",
        {
            "deals": [{"id": met.pk, "version": 1}, {"id": unmet.pk, "version": 1}],
            "to": "proposal",
            "override_reason": "quarter end",
        },
        content_type="application/json",
    )

    assert response.status_code == 200
    reasons = dict(StageEvent.objects.values_list("deal_id", "override_reason"))
    assert reasons == {met.pk: "", unmet.pk: "quarter end"}


def test_a_bulk_move_to_a_stage_refuses_a_loss_reason(
    client, pipeline, alice, max_manager
):
    deal = _deal(pipeline, alice)
    _signed_in(client, "max")

    response = client.post(
        "/api/v1/deals/bulk-move",
        {"deals": [{"id": deal.pk, "version": 1}], "to": "review", "loss_note": "n"},
        content_type="application/json",
    )

    assert (response.status_code, response.json()["field"]) == (422, "loss_note")
    assert not StageEvent.objects.exists()
