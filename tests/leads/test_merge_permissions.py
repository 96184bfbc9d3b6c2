"""A merge writes a note on its target and records the decision against it,
and a split removes that note (and reopens a merged lead): each may be done
only by one who may log on every lead and deal it writes on. A rep logs on a
deal they own, are responsible for or nobody owns, and on leads of their
own; a manager on any lead and on their teams' deals. Pages, API and CLI
share the service, so the service refuses."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Activity, Deal
from dealgate.errors import PermissionDenied
from dealgate.leads.models import DedupDecision, Lead, LeadActivity, LeadNotice
from dealgate.leads.services import capture_lead, may_split, merge_lead, split_lead
from tests.conftest import _user
from tests.web.helpers import make_deal, text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_lead(routed, alice, now) -> Lead:
    lead = capture_lead(inquiry(1), source="api").lead
    assert lead.owner == alice  # the first of the round robin
    return lead


@pytest.fixture
def bobs_lead(alices_lead, bob) -> Lead:
    lead = capture_lead(inquiry(2), source="api").lead
    assert lead.owner == bob
    return lead


@pytest.fixture
def bobs_deal(routed, bob) -> Deal:
    return make_deal(routed, "discovery", owner=bob)


def _nothing_written_on(deal: Deal, lead: Lead) -> None:
    assert not Activity.objects.filter(deal=deal).exists()
    assert not DedupDecision.objects.exists()
    assert not LeadNotice.objects.exists()
    lead.refresh_from_db()
    assert lead.is_open


def test_a_rep_may_not_merge_their_lead_into_another_reps_deal(
    alices_lead, bobs_deal, alice
):
    with pytest.raises(PermissionDenied) as refused:
        merge_lead(alices_lead.pk, by=alice, into_deal=bobs_deal.pk)

    assert f"deal {bobs_deal.pk} belongs to someone outside your deals" in (
        refused.value.message
    )
    _nothing_written_on(bobs_deal, alices_lead)


def test_the_merge_page_refuses_another_reps_deal_with_403(
    client, alices_lead, bobs_deal, alice
):
    client.force_login(alice)

    response = client.post(
        f"/leads/{alices_lead.pk}/merge/", {"into": f"deal {bobs_deal.pk}"}
    )

    assert response.status_code == 403
    assert "belongs to someone outside your deals" in text_of(response)
    assert "Lead merged into" not in text_of(response)
    _nothing_written_on(bobs_deal, alices_lead)


def test_a_rep_may_not_merge_their_lead_into_another_reps_lead(
    alices_lead, bobs_lead, alice
):
    with pytest.raises(PermissionDenied) as refused:
        merge_lead(alices_lead.pk, by=alice, into_lead=bobs_lead.pk)

    assert refused.value.message == (
        f"only lead {bobs_lead.pk}'s owner, a manager or an admin may merge into it"
    )
    assert not LeadActivity.objects.filter(subject__startswith="Merged").exists()
    alices_lead.refresh_from_db()
    assert alices_lead.is_open


@pytest.mark.parametrize("whose", ["own", "unowned", "responsible"])
def test_a_rep_may_merge_into_a_deal_they_may_log_on(
    alices_lead, routed, alice, bob, whose
):
    owner = {"own": alice, "unowned": None, "responsible": bob}[whose]
    deal = make_deal(routed, "discovery", owner=owner)
    if whose == "responsible":
        Deal.objects.filter(pk=deal.pk).update(responsible=alice)

    decision = merge_lead(alices_lead.pk, by=alice, into_deal=deal.pk)

    assert decision.deal_id == deal.pk
    assert Activity.objects.filter(deal=deal, subject__startswith="Merged").exists()


def test_a_manager_may_merge_into_their_teams_deal_but_not_another_teams(
    alices_lead, bobs_deal, max_manager, django_user_model, routed
):
    stranger = _user(django_user_model, "sam", "rep")
    elsewhere = make_deal(routed, "discovery", owner=stranger)

    with pytest.raises(PermissionDenied):
        merge_lead(alices_lead.pk, by=max_manager, into_deal=elsewhere.pk)
    merge_lead(alices_lead.pk, by=max_manager, into_deal=bobs_deal.pk)

    assert not Activity.objects.filter(deal=elsewhere).exists()
    assert Activity.objects.filter(deal=bobs_deal).exists()


@pytest.fixture
def merged_then_taken(alices_lead, routed, alice, bob) -> DedupDecision:
    """alice merged her lead into a deal nobody owned, which bob then took."""
    deal = make_deal(routed, "discovery", owner=None)
    decision = merge_lead(alices_lead.pk, by=alice, into_deal=deal.pk)
    Deal.objects.filter(pk=deal.pk).update(owner=bob, responsible=bob)
    return DedupDecision.objects.select_related("lead", "deal", "source_lead").get(
        pk=decision.pk
    )


def test_a_rep_may_not_split_a_note_off_another_reps_deal(merged_then_taken, alice):
    with pytest.raises(PermissionDenied) as refused:
        split_lead(merged_then_taken.pk, by=alice)

    assert f"a split changes deal {merged_then_taken.deal_id}" in (
        refused.value.message
    )
    assert Activity.objects.filter(deal=merged_then_taken.deal).exists()
    assert Lead.objects.get(pk=merged_then_taken.source_lead_id).status == "merged"


def test_a_rep_may_not_split_to_reopen_another_reps_merged_lead(merged_then_taken, bob):
    with pytest.raises(PermissionDenied) as refused:
        split_lead(merged_then_taken.pk, by=bob)

    lead_id = merged_then_taken.source_lead_id
    assert f"lead {lead_id} is not yours" in refused.value.message
    assert Lead.objects.get(pk=lead_id).status == "merged"


def test_split_is_offered_only_to_those_who_may_change_all_it_writes(
    merged_then_taken, alice, bob, max_manager
):
    offered = {
        user.username: may_split(merged_then_taken, user)
        for user in (alice, bob, max_manager)
    }

    assert offered == {"alice": False, "bob": False, "max": True}
    split_lead(merged_then_taken.pk, by=max_manager)
    assert Lead.objects.get(pk=merged_then_taken.source_lead_id).is_open
