"""A stage still owned by someone who left gives its deals to their owner,
never back to the leaver; nobody inactive is told of a breach; and the
warning about such a stage follows the state (they own it and are or become
inactive), not the change from active to inactive."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from dealgate.accounts import services
from dealgate.accounts.models import User
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal, update_deal
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Stage
from tests.accounts.test_admin_people import change_url, form_of
from tests.conftest import NOW

STILL_OWNED = "stage 'Proposal reviewed by the buyer' of pipeline new-business"


@pytest.fixture
def review_owned_by_alice(pipeline, alice) -> Stage:
    pipeline.stages.filter(key="review").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=alice
    )
    return pipeline.stages.get(key="review")


def _deal(pipeline, owner: User, title: str) -> Deal:
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title=title,
        owner=owner,
        created_at=NOW,
        stage_entered_at=NOW,
    )


def _gone_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "may not sign in any more" in r.getMessage()
    ]


def test_a_second_hand_over_never_gives_the_deal_back_to_the_first_leaver(
    pipeline, review_owned_by_alice, alice, bob, max_manager, olivia, now, caplog
):
    deal = _deal(pipeline, alice, "Backup for Contoso")
    move_deal(deal.pk, "review", by=olivia, expected_version=1)
    services.change_user("alice", active=False, hand_to="bob", by=olivia)
    caplog.clear()

    services.change_user("bob", active=False, hand_to="max", by=olivia)

    deal.refresh_from_db()
    assert (deal.owner, deal.responsible) == (max_manager, max_manager)
    running = Clock.objects.filter(deal=deal, is_open=True)
    assert set(running.values_list("responsible__username", flat=True)) == {"max"}
    assert _gone_warnings(caplog) == [
        "stage review of pipeline new-business is owned by alice, who may not "
        "sign in any more: its deals go to their owner; give the stage another owner"
    ]


def test_a_move_into_a_stage_of_someone_inactive_makes_the_owner_responsible(
    pipeline, review_owned_by_alice, alice, bob, olivia, now, caplog
):
    services.change_user("alice", active=False, by=olivia)
    deal = _deal(pipeline, bob, "Laptops for Tailspin")
    caplog.clear()

    move_deal(deal.pk, "review", by=olivia, expected_version=1)

    deal.refresh_from_db()
    assert deal.responsible == bob
    assert len(_gone_warnings(caplog)) == 1


def test_a_sweep_tells_nobody_who_left_of_a_breach(pipeline, alice, bob, olivia, now):
    deal = _deal(pipeline, bob, "Laptops for Tailspin")
    # As a clock left naming alice by a version before hand-overs would be.
    Clock.objects.filter(deal=deal).update(responsible=alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)

    result = sweep(now=NOW + dt.timedelta(days=60))

    assert result.breached >= 1
    assert not Notice.objects.filter(user=alice).exists()


def test_handing_over_for_someone_already_inactive_warns_of_their_stage(
    pipeline, review_owned_by_alice, alice, bob, olivia, now, caplog
):
    services.change_user("alice", active=False, by=olivia)
    _deal(pipeline, alice, "Reopened for Contoso")  # as a reopened deal of hers
    caplog.clear()

    services.change_user("alice", hand_to="bob", by=olivia)

    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(line.startswith(STILL_OWNED) for line in warned)


def test_a_refused_deactivation_page_names_the_stage_still_theirs(
    admin, pipeline, review_owned_by_alice, alice, now
):
    _deal(pipeline, alice, "Backup for Contoso")

    answer = admin.post(change_url(alice), form_of(alice, is_active=False))

    page = answer.content.decode()
    assert "still holds 1 open deal" in page
    assert (
        "Stage &#x27;Proposal reviewed by the buyer&#x27; of pipeline new-business "
        "is still owned by alice"
    ) in page
    alice.refresh_from_db()
    assert alice.is_active


def test_reopening_a_closed_deal_of_someone_who_left_is_refused_until_it_has_an_owner(
    pipeline, alice, bob, olivia, now
):
    deal = _deal(pipeline, alice, "Firewall for Fabrikam")
    move_deal(deal.pk, "won", by=olivia, expected_version=1)
    services.change_user("alice", active=False, by=olivia)

    with pytest.raises(ValidationError) as refused:
        move_deal(deal.pk, "inquiry", by=olivia, expected_version=2)

    assert refused.value.message == (
        "owner: alice may not sign in any more; choose someone active"
    )
    deal.refresh_from_db()
    assert (deal.status, deal.version) == ("won", 2)
    # A closed deal's owner is corrected with a reason (docs/criteria.md).
    update_deal(
        deal.pk,
        {"owner_id": bob.pk},
        by=olivia,
        expected_version=2,
        reason="alice left; bob takes the account",
    )
    move_deal(deal.pk, "inquiry", by=olivia, expected_version=3)
    deal.refresh_from_db()
    assert (deal.status, deal.responsible) == ("open", bob)
