"""Which of several equally matching leads a buyer's next message joins, and
who hears of one that joins a lead nobody owns.

A split says an inquiry was not its lead's: the lead it became is never
where the buyer's next message goes while the lead or deal it was split
from matches as well. Of leads alike otherwise, one with an owner comes before
one waiting for an owner, then the newest. A follow-up on a lead nobody
owns tells whoever holds its window meanwhile: the owner of the intake
stage, else the admins."""

from __future__ import annotations

import logging

import pytest

from dealgate.clocks.models import Notice
from dealgate.deals.models import Deal, Person
from dealgate.leads import assign
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import Lead, LeadNotice
from dealgate.leads.services import capture_lead, convert_lead, split_lead
from dealgate.leads.versions import lead_version
from dealgate.pipelines.models import Stage

from .conftest import CENTRAL_RULES, inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def dach_only(routed):
    """Leads from Germany, Austria or Switzerland go to alice and bob; any
    other waits for an owner (no fallback)."""
    routed.settings = {"routing": CENTRAL_RULES[:1]}
    routed.save()
    assign.forget_cached()
    return routed


def _forged_then_split(by) -> tuple[Lead, Lead]:
    """Alice's lead, and the lead a forged inquiry with its email became
    when it was split off."""
    lead = capture_lead(inquiry(1), source="form").lead
    forged = capture_lead(
        inquiry(1, phone="+1 202 555 0100", country="US", message="call me here"),
        source="form",
    ).decision
    assert forged.lead_id == lead.pk
    return lead, split_lead(forged.pk, by=by)


def test_after_a_split_the_buyers_next_message_joins_the_lead_it_was_split_from(
    routed, alice, olivia, now
):
    lead, split_off = _forged_then_split(olivia)
    assert split_off.owner == olivia  # the fallback: it has an owner too

    again = capture_lead(inquiry(1, message="Any news?"), source="form").decision

    assert again.lead_id == lead.pk
    assert not LeadNotice.objects.filter(lead=split_off).exists()


def test_a_split_off_lead_waiting_for_an_owner_gets_no_follow_up(
    dach_only, alice, olivia, now
):
    lead, split_off = _forged_then_split(olivia)
    assert split_off.owner is None

    again = capture_lead(inquiry(1, message="Any news?"), source="form").decision

    assert again.lead_id == lead.pk
    assert Notice.objects.filter(lead=lead, user=alice).count() == 2
    assert not Notice.objects.filter(lead=split_off).exists()


def test_the_split_off_lead_still_gets_the_forgers_stronger_match(
    routed, alice, olivia, now
):
    lead, split_off = _forged_then_split(olivia)

    by_phone = capture_lead(
        {"phone": "+1 202 555 0100", "name": "Someone"}, source="form"
    ).decision

    assert (by_phone.lead_id, by_phone.matched_on) == (split_off.pk, "phone")


def test_after_a_split_off_a_converted_leads_deal_the_next_message_joins_the_deal(
    routed, alice, olivia, now
):
    lead = capture_lead(inquiry(1), source="form").lead
    deal = convert_lead(lead.pk, by=alice)
    forged = capture_lead(
        inquiry(1, phone="+1 202 555 0100", country="US"), source="form"
    ).decision
    assert forged.deal_id == deal.pk
    split_lead(forged.pk, by=alice)

    again = capture_lead(inquiry(1, message="Any news?"), source="form").decision

    assert (again.deal_id, again.lead_id) == (deal.pk, None)


def test_after_a_split_off_a_deal_the_next_message_joins_the_deal(
    routed, bob, olivia, now
):
    deal = Deal.objects.create(
        pipeline=routed,
        stage=routed.stages.first(),
        title="Initech rollout",
        owner=bob,
        contact=Person.objects.create(name="Peter", email="peter@initech.example"),
        created_at=now,
    )
    buyer = {"email": "peter@initech.example", "name": "Peter", "country": "DE"}
    forged = capture_lead({**buyer, "phone": "+1 202 555 0100"}, source="form")
    assert forged.decision.deal_id == deal.pk
    split_off = split_lead(forged.decision.pk, by=olivia)

    again = capture_lead({**buyer, "message": "Any news?"}, source="form").decision

    assert (again.deal_id, again.lead_id) == (deal.pk, None)
    assert not Notice.objects.filter(lead=split_off).exists()


def test_of_leads_matching_alike_one_with_an_owner_comes_before_a_waiting_one(
    dach_only, alice, now
):
    owned = capture_lead(inquiry(1), source="form").lead
    waiting = capture_lead(inquiry(2, country="US"), source="form").lead
    assert (owned.owner, waiting.owner) == (alice, None)
    # Someone corrects the waiting lead's email to the owned lead's.
    edit_lead(
        waiting.pk, {"email": owned.email}, by=None, version=lead_version(waiting)
    )

    again = capture_lead(inquiry(1, message="Any news?"), source="form").decision

    assert again.lead_id == owned.pk


def test_a_follow_up_on_a_lead_nobody_owns_tells_the_admins(
    dach_only, olivia, alice, now, caplog, django_capture_on_commit_callbacks
):
    lead = capture_lead(inquiry(1, country="US"), source="form").lead
    assert lead.owner is None

    with (
        caplog.at_level(logging.WARNING, logger="dealgate.leads"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        decision = capture_lead(
            inquiry(1, country="US", message="Still waiting"), source="form"
        ).decision

    assert decision.lead_id == lead.pk
    (told,) = Notice.objects.filter(lead=lead)
    assert told.user == olivia
    assert "Still waiting" in told.body
    assert (
        "Nobody owns the lead yet and its intake stage has no owner. Route it or "
        "take it."
    ) in told.body
    assert "Not answered yet; its window runs from the first inquiry, due " in (
        told.body
    )
    (inbox,) = LeadNotice.objects.filter(lead=lead)
    assert inbox.user == olivia
    assert (
        f"lead {lead.pk} has no owner: the inquiry attached to it (decision "
        f"{decision.pk}) was told to olivia"
    ) in caplog.text


def test_a_follow_up_on_a_lead_nobody_owns_tells_the_intake_stages_owner(
    dach_only, olivia, bob, now
):
    Stage.objects.filter(pipeline=dach_only, key="inquiry").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=bob
    )
    lead = capture_lead(inquiry(1, country="US"), source="form").lead

    capture_lead(inquiry(1, country="US", message="Still waiting"), source="form")

    (told,) = Notice.objects.filter(lead=lead)
    assert told.user == bob
    assert "you own its intake stage" in told.body
    assert LeadNotice.objects.get(lead=lead).user == bob


def test_an_imported_follow_up_on_a_lead_nobody_owns_is_in_the_inbox_only(
    dach_only, olivia, now
):
    lead = capture_lead(inquiry(1, country="US"), source="form").lead

    capture_lead(inquiry(1, country="US"), source="import")

    assert LeadNotice.objects.get(lead=lead).user == olivia
    assert not Notice.objects.exists()
