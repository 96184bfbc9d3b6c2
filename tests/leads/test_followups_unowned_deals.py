"""A follow-up on a deal nobody owns tells the people a follow-up on a lead
nobody owns tells: the active owner of the intake stage, else the admins,
through the same channels (the inbox, a notice with its mail and webhook),
saying why they are told. The answer it owes is started once, however many
are told; an import still tells the inbox only."""

from __future__ import annotations

import logging

import pytest

from dealgate.accounts.models import User
from dealgate.clocks.models import Delivery, Notice
from dealgate.deals.models import Activity, Deal
from dealgate.leads.models import LeadNotice
from dealgate.leads.services import capture_lead, convert_lead
from dealgate.pipelines.models import Stage

from .conftest import inquiry

pytestmark = pytest.mark.django_db

CHASER = "Still waiting for the quote"


def _unowned_deal(by: User) -> Deal:
    """A deal converted from an inquiry, its owner since removed."""
    lead = capture_lead(inquiry(1), source="form").lead
    deal = convert_lead(lead.pk, by=by)
    Deal.objects.filter(pk=deal.pk).update(owner=None)
    return deal


def _follow_up(source: str = "form"):
    return capture_lead(inquiry(1, message=CHASER), source=source).decision


def test_a_follow_up_on_a_deal_nobody_owns_tells_the_admins(
    routed, olivia, alice, now, settings, caplog, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_URL = "http://127.0.0.1:8109/hook"
    deal = _unowned_deal(alice)

    with (
        caplog.at_level(logging.WARNING, logger="dealgate.leads"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        decision = _follow_up()

    assert decision.deal_id == deal.pk
    (told,) = Notice.objects.filter(deal=deal)
    assert told.user == olivia
    assert CHASER in told.body
    assert (
        "Nobody owns the deal and its pipeline's intake stage has no owner. "
        "Give it an owner."
    ) in told.body
    assert Delivery.objects.filter(notice=told, channel="webhook").exists()
    (inbox,) = LeadNotice.objects.filter(deal=deal)
    assert inbox.user == olivia
    assert "nobody owns the deal" in inbox.text
    assert (
        f"deal {deal.pk} has no owner: the inquiry attached to it (decision "
        f"{decision.pk}) was told to olivia"
    ) in caplog.text


def test_a_follow_up_on_a_deal_nobody_owns_tells_the_intake_stages_owner(
    routed, olivia, alice, bob, now
):
    Stage.objects.filter(pipeline=routed, key="inquiry").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=bob
    )
    deal = _unowned_deal(alice)

    _follow_up()

    (told,) = Notice.objects.filter(deal=deal)
    assert told.user == bob
    assert "you own its pipeline's intake stage" in told.body
    assert LeadNotice.objects.get(deal=deal).user == bob


def test_every_admin_told_is_owed_the_same_one_answer(
    routed, olivia, alice, now, django_user_model
):
    django_user_model.objects.create_user(username="oscar", role="admin")
    deal = _unowned_deal(alice)

    _follow_up()

    tasks = Activity.objects.filter(deal=deal, kind=Activity.Kind.TASK)
    assert tasks.count() == 1
    told = Notice.objects.filter(deal=deal).order_by("user__username")
    assert [notice.user.username for notice in told] == ["olivia", "oscar"]
    first, second = (notice.body.split("\n\n")[-1] for notice in told)
    assert first == second
    assert first.startswith("A task to answer it is due ")


def test_an_imported_follow_up_on_a_deal_nobody_owns_is_in_the_inbox_only(
    routed, olivia, alice, now
):
    deal = _unowned_deal(alice)

    _follow_up(source="import")

    assert LeadNotice.objects.get(deal=deal).user == olivia
    assert not Notice.objects.filter(deal=deal).exists()
