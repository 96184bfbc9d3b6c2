"""Who may change which deal: the same rule through every door."""

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.accounts.models import Team
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal, update_deal
from dealgate.errors import PermissionDenied, ValidationError

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


@pytest.fixture
def west_rep(django_user_model):
    west = Team.objects.create(name="West")
    return django_user_model.objects.create_user(
        username="wendy", role="rep", team=west
    )


def deal_of(pipeline, owner):
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title=f"{owner.username}'s deal",
        owner=owner,
        created_at=T0,
        stage_entered_at=T0,
    )


def test_a_rep_cannot_change_a_colleagues_deal(pipeline, alice, bob):
    deal = deal_of(pipeline, alice)
    with pytest.raises(PermissionDenied):
        move_deal(deal.pk, "lost", by=bob, expected_version=1, loss_reason="price")
    with pytest.raises(PermissionDenied):
        update_deal(deal.pk, {"title": "Bob's"}, by=bob, expected_version=1)
    deal.refresh_from_db()
    assert (deal.status, deal.title, deal.version) == ("open", "alice's deal", 1)


def test_a_manager_changes_their_teams_deals_but_not_another_teams(
    pipeline, max_manager, alice, west_rep
):
    ours = deal_of(pipeline, alice)
    theirs = deal_of(pipeline, west_rep)
    assert move_deal(ours.pk, "discovery", by=max_manager, expected_version=1)
    with pytest.raises(PermissionDenied):
        move_deal(
            theirs.pk,
            "won",
            by=max_manager,
            expected_version=1,
            override_reason="trust me",
        )


def test_the_owner_of_the_firm_changes_any_deal(pipeline, olivia, west_rep):
    deal = deal_of(pipeline, west_rep)
    assert update_deal(deal.pk, {"title": "Renamed"}, by=olivia, expected_version=1)


def test_a_negative_value_is_refused_naming_the_field(pipeline, alice):
    deal = deal_of(pipeline, alice)
    with pytest.raises(ValidationError) as refused:
        update_deal(deal.pk, {"value": -100}, by=alice, expected_version=1)
    assert refused.value.field == "value"
