"""A deal made by hand: the one service the page and the API call."""

import datetime as dt
import logging

import pytest

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.deals.models import Deal, Organization, StageEvent
from dealgate.deals.services import MoveRefused, create_deal
from dealgate.errors import PermissionDenied, ValidationError
from dealgate.pipelines.models import Handoff, Stage

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
BUDGET = {"label": "Budget confirmed", "rule": "checklist.budget == true"}
COMPANY = {"label": "Buyer's company known", "rule": "deal.organization != null"}
DECISION_DATE = {
    "label": "Buyer named a decision date",
    "rule": "deal.expected_close_date != null",
}


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0):
        yield


def test_a_new_deal_enters_the_first_stage_owned_by_its_creator(pipeline, alice):
    deal = create_deal(pipeline, {"title": "Backup for Contoso"}, by=alice)

    deal.refresh_from_db()
    assert (deal.stage.key, deal.status, deal.owner, deal.responsible) == (
        "inquiry",
        "open",
        alice,
        alice,
    )
    assert (deal.created_at, deal.stage_entered_at, deal.source) == (T0, T0, "web")
    assert deal.currency == pipeline.currency
    event = StageEvent.objects.get(deal=deal)
    assert (event.from_stage, event.to_stage.key, event.by, event.at) == (
        None,
        "inquiry",
        alice,
        T0,
    )
    assert event.responsible == alice


def test_a_new_deal_runs_its_stage_age_clock_from_now(pipeline, alice):
    deal = create_deal(pipeline, {"title": "Backup for Contoso"}, by=alice)

    clock = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert (clock.state, clock.started_at, clock.responsible_id) == (
        Clock.State.RUNNING,
        T0,
        alice.pk,
    )


def test_the_organization_is_found_by_name_or_created(pipeline, alice):
    acme = Organization.objects.create(name="Acme GmbH")

    first = create_deal(pipeline, {"title": "A", "organization": "Acme GmbH"}, by=alice)
    second = create_deal(
        pipeline, {"title": "B", "organization": " Initech "}, by=alice
    )

    assert first.organization == acme
    assert second.organization.name == "Initech"
    assert Organization.objects.count() == 2


def test_a_rep_may_create_only_deals_they_own(pipeline, alice, bob):
    with pytest.raises(PermissionDenied) as refused:
        create_deal(pipeline, {"title": "For Bob", "owner": "bob"}, by=alice)
    assert refused.value.field == "owner"
    with pytest.raises(PermissionDenied):
        create_deal(pipeline, {"title": "Nobody's", "owner": None}, by=alice)
    assert not Deal.objects.exists()


def test_a_manager_may_create_a_deal_for_anyone_or_no_one(pipeline, max_manager, bob):
    for_bob = create_deal(
        pipeline, {"title": "For Bob", "owner": "bob"}, by=max_manager
    )
    unowned = create_deal(pipeline, {"title": "Open", "owner": ""}, by=max_manager)

    assert for_bob.owner == bob and for_bob.responsible == bob
    assert unowned.owner is None
    assert StageEvent.objects.get(deal=for_bob).by == max_manager


def test_an_owner_who_is_no_active_user_is_refused_naming_the_owner(
    pipeline, max_manager, bob
):
    bob.is_active = False
    bob.save()
    with pytest.raises(ValidationError) as refused:
        create_deal(pipeline, {"title": "X", "owner": "bob"}, by=max_manager)
    assert refused.value.field == "owner" and "bob" in refused.value.message


def test_the_first_stages_entry_criteria_are_checked_as_for_a_converted_lead(
    pipeline, alice
):
    first = pipeline.stages.get(key="inquiry")
    first.entry_criteria = [COMPANY]
    first.save()

    with pytest.raises(MoveRefused) as refused:
        create_deal(pipeline, {"title": "Who?"}, by=alice)
    assert refused.value.unmet == [
        "1 entry criterion of 'Inquiry received' is unmet: Buyer's company known"
    ]
    assert refused.value.field == "stage"
    assert not Deal.objects.exists() and not StageEvent.objects.exists()
    assert not Clock.objects.exists()

    deal = create_deal(pipeline, {"title": "Known", "organization": "Acme"}, by=alice)
    assert deal.stage == first


def test_a_later_stage_asks_what_a_forward_move_into_it_would(pipeline, alice):
    stages = {s.key: s for s in pipeline.stages.all()}
    stages["inquiry"].exit_criteria = [DECISION_DATE]
    stages["proposal"].entry_criteria = [BUDGET]
    for stage in stages.values():
        stage.save()

    with pytest.raises(MoveRefused) as refused:
        create_deal(pipeline, {"title": "Late"}, by=alice, stage="proposal")

    assert len(refused.value.unmet) == 2
    assert "Buyer named a decision date" in refused.value.unmet[0]
    assert "Budget confirmed" in refused.value.unmet[1]
    assert not Deal.objects.exists()
    deal = create_deal(
        pipeline,
        {"title": "Dated", "expected_close_date": dt.date(2026, 9, 30)},
        by=alice,
        stage="discovery",
    )
    assert deal.stage.key == "discovery"


def test_an_unknown_or_retired_stage_is_refused_naming_the_stage(pipeline, alice):
    retired = pipeline.stages.get(key="contract")
    retired.retired_at = T0
    retired.save()
    for key in ("negotiation", "contract"):
        with pytest.raises(ValidationError) as refused:
            create_deal(pipeline, {"title": "X"}, by=alice, stage=key)
        assert refused.value.field == "stage" and key in refused.value.message


def test_a_team_owned_stage_routes_the_new_deal_as_a_move_would(
    pipeline, team, alice, bob
):
    first = pipeline.stages.get(key="inquiry")
    first.owner_kind = Stage.OwnerKind.TEAM
    first.owner_team = team
    first.save()

    one = create_deal(pipeline, {"title": "One"}, by=bob)
    two = create_deal(pipeline, {"title": "Two"}, by=bob)

    # The least loaded active member, ties to the lowest id: alice, then bob.
    assert (one.responsible, two.responsible) == (alice, bob)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "X", "currency": "XYZ"}, "currency"),
        (
            {"title": "X", "expected_close_date": dt.date(1850, 1, 1)},
            "expected_close_date",
        ),
        ({"title": "X", "value": -1}, "value"),
        ({"title": "X", "organization": "Acme\nInc"}, "organization"),
        ({"title": "X", "custom": {"seats": "many"}}, "custom.seats"),
        ({"title": "X", "stage": "proposal"}, "stage"),
    ],
)
def test_a_field_a_deal_cannot_hold_is_refused_naming_it(
    pipeline, alice, fields, field
):
    pipeline.custom_fields = [{"key": "seats", "label": "Seats", "type": "number"}]
    pipeline.save()
    with pytest.raises(ValidationError) as refused:
        create_deal(pipeline, fields, by=alice)
    assert refused.value.field == field
    assert not Deal.objects.exists() and not Organization.objects.exists()


def test_currency_and_custom_values_are_kept_as_the_pipeline_reads_them(
    pipeline, alice
):
    pipeline.custom_fields = [{"key": "seats", "label": "Seats", "type": "number"}]
    pipeline.save()

    deal = create_deal(
        pipeline, {"title": "X", "currency": "eur", "custom": {"seats": 12}}, by=alice
    )

    deal.refresh_from_db()
    assert (deal.currency, deal.custom) == ("EUR", {"seats": 12})


def test_a_creation_is_logged_with_who_made_it_once_committed(
    pipeline, alice, caplog, django_capture_on_commit_callbacks
):
    with (
        caplog.at_level(logging.INFO, logger="dealgate.deals"),
        django_capture_on_commit_callbacks() as committed,
    ):
        deal = create_deal(pipeline, {"title": "X"}, by=alice)
        assert "created" not in caplog.text
    for callback in committed:
        callback()
    assert f"deal {deal.pk} created in inquiry by alice" in caplog.text


def test_a_new_deal_runs_the_new_lead_handoff_window_a_conversion_skips(
    pipeline, alice
):
    Handoff.objects.create(
        pipeline=pipeline,
        from_stage=None,
        to_stage=pipeline.stages.get(key="inquiry"),
        response_window_minutes=120,
    )

    deal = create_deal(pipeline, {"title": "Backup for Contoso"}, by=alice)

    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert (window.started_at, window.window_minutes) == (T0, 120)
