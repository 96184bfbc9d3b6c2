"""Who may act on a lead (README, Who may do what): its owner or a manager
logs activities, converts, disqualifies and merges it; a decision of the
de-duplication is split by one who may log on every lead and deal it
changes (test_merge_permissions). Pages offer
only what the person may do, and the services refuse the rest (403)."""

from __future__ import annotations

import pytest

from dealgate.errors import PermissionDenied
from dealgate.leads.models import DedupDecision, Lead, LeadActivity
from dealgate.leads.services import capture_lead, record_response
from dealgate.leads.tokens import create_token
from tests.web.helpers import text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_lead(routed, alice, now) -> Lead:
    lead = capture_lead(inquiry(1), source="api").lead
    assert lead.owner == alice  # the first of the round robin
    return lead


def _logged(lead: Lead) -> int:
    return LeadActivity.objects.filter(lead=lead, kind="call").count()


def test_a_rep_may_not_log_an_activity_on_another_reps_lead(alices_lead, bob):
    with pytest.raises(PermissionDenied) as refused:
        record_response(alices_lead.pk, kind="call", by=bob, subject="Hi")

    assert refused.value.message == (
        "only the lead's owner, a manager or an admin may log activities on it"
    )
    assert _logged(alices_lead) == 0


def test_a_rep_may_not_log_on_a_lead_nobody_owns(routed, bob, now):
    routed.settings = {}
    routed.save()
    lead = capture_lead(inquiry(1), source="api").lead
    assert lead.owner is None

    with pytest.raises(PermissionDenied):
        record_response(lead.pk, kind="note", by=bob)


def test_the_owner_and_a_manager_may_log(alices_lead, alice, max_manager):
    record_response(alices_lead.pk, kind="note", by=alice)
    record_response(alices_lead.pk, kind="call", by=max_manager)

    assert (
        LeadActivity.objects.filter(lead=alices_lead).exclude(kind="inquiry").count()
        == 2
    )


def test_the_page_refuses_another_reps_activity_with_403_and_says_why(
    client, alices_lead, bob
):
    client.force_login(bob)

    response = client.post(
        f"/leads/{alices_lead.pk}/activity/", {"kind": "call", "outbound": "on"}
    )

    assert response.status_code == 403
    assert "only the lead's owner, a manager or an admin may log activities on it" in (
        text_of(response)
    )
    assert _logged(alices_lead) == 0


def test_the_api_refuses_another_reps_activity_with_403(client, alices_lead, bob):
    _, secret = create_token(bob, "phone system")

    response = client.post(
        f"/api/v1/leads/{alices_lead.pk}/activities",
        {"kind": "call"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert _logged(alices_lead) == 0


def test_another_rep_sees_no_actions_on_the_lead_page(client, alices_lead, bob):
    client.force_login(bob)

    page = client.get(f"/leads/{alices_lead.pk}/").content.decode()

    for action in ("edit", "activity", "convert", "disqualify", "merge", "assign"):
        assert f"/leads/{alices_lead.pk}/{action}/" not in page
    said = (
        "Only the lead's owner, a manager or an admin edits, logs, converts or "
        "disqualifies it."
    )
    assert said in page.replace("&#x27;", "'")


def test_the_owner_sees_the_log_form(client, alices_lead, alice):
    client.force_login(alice)

    page = client.get(f"/leads/{alices_lead.pk}/").content.decode()

    assert f"/leads/{alices_lead.pk}/activity/" in page


@pytest.fixture
def repeat(alices_lead) -> DedupDecision:
    """A repeat inquiry attached to alice's lead."""
    result = capture_lead(inquiry(1, message="Again"), source="form")
    assert result.decision.lead == alices_lead
    return result.decision


def _split_button(decision: DedupDecision) -> str:
    return f"/leads/decisions/{decision.pk}/split/"


@pytest.mark.parametrize(
    ("who", "offered"), [("bob", False), ("alice", True), ("max_manager", True)]
)
def test_split_is_offered_only_to_those_who_may_split(
    client, repeat, request, who, offered
):
    client.force_login(request.getfixturevalue(who))

    listing = client.get("/leads/decisions/").content.decode()
    lead_page = client.get(f"/leads/{repeat.lead_id}/").content.decode()

    assert (_split_button(repeat) in listing) is offered
    assert (_split_button(repeat) in lead_page) is offered


def test_a_split_by_a_rep_not_involved_is_refused_with_403(client, repeat, bob):
    client.force_login(bob)

    response = client.post(_split_button(repeat), {"back": "/leads/decisions/"})

    assert response.status_code == 403
    assert (
        "only the owners of the leads and deals a split changes, or a manager, "
        f"may split this: lead {repeat.lead_id} is not yours"
    ) in text_of(response)
    repeat.refresh_from_db()
    assert repeat.undone_at is None
