"""Assigning, disqualifying, converting and merging a lead, and marking its
task done, from what a page or an API call read: a lead changed since
(another owner, another status, a field filled) or a task someone else
marked done is a 409 naming what changed, and nothing is done; an API call
that sends no version acts on the lead as it is."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal
from dealgate.errors import Conflict, ValidationError
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import ApiToken, Lead, LeadActivity
from dealgate.leads.services import (
    assign_lead,
    capture_lead,
    complete_lead_task,
    convert_lead,
    disqualify_lead,
    merge_lead,
    record_response,
)
from dealgate.leads.tokens import create_token
from dealgate.leads.versions import lead_version
from tests.web.helpers import text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(routed, alice, now) -> Lead:
    lead = capture_lead(inquiry(1, company="Initech AG"), source="form").lead
    assert lead.owner == alice
    return lead


@pytest.fixture
def task(lead, now) -> LeadActivity:
    return LeadActivity.objects.create(
        lead=lead,
        kind=LeadActivity.Kind.TASK,
        subject="Call them back",
        due_at=now,
        at=now,
    )


@pytest.fixture
def other(routed, now) -> Lead:
    return capture_lead(inquiry(2, company="Globex SE"), source="form").lead


def test_an_assignment_from_before_another_one_is_refused_naming_the_owner(
    lead, bob, olivia, max_manager
):
    seen = lead_version(lead)
    assign_lead(lead.pk, bob, by=max_manager)

    with pytest.raises(Conflict) as refused:
        assign_lead(lead.pk, olivia, by=max_manager, version=seen)

    assert refused.value.message == (
        f"lead {lead.pk} changed since you read it: owner (now bob) changed "
        "meanwhile; nothing was done. Look at it again and assign it if you "
        "still mean to"
    )
    lead.refresh_from_db()
    assert lead.owner == bob


def test_a_disqualification_from_before_an_answer_names_the_status(lead, alice):
    seen = lead_version(lead)
    record_response(lead.pk, kind="call", by=alice, subject="Intro call")

    with pytest.raises(Conflict, match=r"status \(now answered\) changed meanwhile"):
        disqualify_lead(lead.pk, "a student project", by=alice, version=seen)

    lead.refresh_from_db()
    assert lead.status == Lead.Status.ANSWERED


def test_a_conversion_from_before_an_edit_names_the_field_and_makes_no_deal(
    lead, alice, max_manager
):
    seen = lead_version(lead)
    edit_lead(lead.pk, {"company": "Initrode"}, by=max_manager, version=seen)

    with pytest.raises(Conflict, match="company changed meanwhile"):
        convert_lead(lead.pk, by=alice, version=seen)

    assert not Deal.objects.exists()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.ASSIGNED


def test_actions_on_the_version_read_are_done(lead, alice, bob, max_manager):
    assign_lead(lead.pk, bob, by=max_manager, version=lead_version(lead))
    lead.refresh_from_db()

    deal = convert_lead(lead.pk, by=bob, version=lead_version(lead))

    assert deal.owner == bob


def test_an_action_without_a_version_takes_the_lead_as_it_is(lead, alice):
    Lead.objects.filter(pk=lead.pk).update(company="Initrode")

    disqualify_lead(lead.pk, "a student project", by=alice)

    lead.refresh_from_db()
    assert lead.status == Lead.Status.DISQUALIFIED


@pytest.mark.parametrize("version", ["", "old", "a" * 80])
def test_a_version_that_is_not_one_is_refused_naming_it(lead, alice, version):
    with pytest.raises(ValidationError) as refused:
        disqualify_lead(lead.pk, "a student project", by=alice, version=version)

    assert refused.value.field == "version"


# --- the lead's page --------------------------------------------------------


def test_every_action_form_of_the_page_sends_the_version_it_shows(
    client, lead, task, max_manager
):
    client.force_login(max_manager)

    page = client.get(f"/leads/{lead.pk}/").content.decode()

    # Convert, disqualify, merge, assign, the edit form and the open task's
    # Done.
    assert page.count(f'name="version" value="{lead_version(lead)}"') == 6


def test_a_stale_page_assigning_is_409_naming_the_owner_and_keeps_the_note(
    client, lead, bob, olivia, max_manager
):
    client.force_login(max_manager)
    seen = lead_version(lead)
    assign_lead(lead.pk, bob, by=max_manager)

    response = client.post(
        f"/leads/{lead.pk}/assign/",
        {"owner": "olivia", "note": "speaks Portuguese", "version": seen},
    )

    assert response.status_code == 409
    assert "owner (now bob) changed meanwhile" in text_of(response)
    page = response.content.decode()
    assert 'value="speaks Portuguese"' in page
    assert '<option value="olivia" selected>' in page
    lead.refresh_from_db()
    assert lead.owner == bob
    # The page shows the lead as it is now: sent again, it is done.
    assert f'name="version" value="{lead_version(lead)}"' in page


def test_a_stale_page_disqualifying_is_409_and_keeps_the_reason(
    client, lead, alice, max_manager
):
    client.force_login(alice)
    seen = lead_version(lead)
    edit_lead(lead.pk, {"segment": "SMB"}, by=max_manager, version=seen)

    response = client.post(
        f"/leads/{lead.pk}/disqualify/",
        {"reason": "a student project", "version": seen},
    )

    assert response.status_code == 409
    assert "segment changed meanwhile" in text_of(response)
    assert 'value="a student project"' in response.content.decode()
    lead.refresh_from_db()
    assert lead.is_open


def test_a_stale_page_converting_is_409_and_makes_no_deal(
    client, lead, alice, bob, max_manager
):
    client.force_login(max_manager)
    seen = lead_version(lead)
    assign_lead(lead.pk, bob, by=max_manager)

    response = client.post(
        f"/leads/{lead.pk}/convert/", {"stage": "inquiry", "version": seen}
    )

    assert response.status_code == 409
    assert not Deal.objects.exists()


# --- the API ------------------------------------------------------------------


def _post(client, lead: Lead, action: str, body: dict, secret: str, **headers):
    return client.post(
        f"/api/v1/leads/{lead.pk}/{action}",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}", **headers},
    )


@pytest.fixture
def secret(alice) -> str:
    return create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]


def test_the_api_refuses_a_stale_version_in_the_body_with_409(
    client, lead, max_manager, secret
):
    seen = lead_version(lead)
    edit_lead(lead.pk, {"segment": "SMB"}, by=max_manager, version=seen)

    response = _post(
        client, lead, "disqualify", {"reason": "spam", "version": seen}, secret
    )

    assert response.status_code == 409
    assert "segment changed meanwhile" in response.json()["message"]


def test_the_api_reads_the_version_from_if_match_too(client, lead, max_manager, secret):
    seen = lead_version(lead)
    edit_lead(lead.pk, {"segment": "SMB"}, by=max_manager, version=seen)

    stale = _post(client, lead, "convert", {}, secret, **{"If-Match": f'"{seen}"'})
    lead.refresh_from_db()
    done = _post(
        client, lead, "convert", {}, secret, **{"If-Match": lead_version(lead)}
    )

    assert stale.status_code == 409
    assert done.status_code == 200 and done.json()["status"] == "converted"


def test_the_api_without_a_version_acts_as_it_always_did(
    client, lead, max_manager, secret
):
    edit_lead(lead.pk, {"segment": "SMB"}, by=max_manager, version=lead_version(lead))

    response = _post(client, lead, "disqualify", {"reason": "spam"}, secret)

    assert response.status_code == 200
    assert response.json()["status"] == "disqualified"


def test_the_api_refuses_a_body_version_and_if_match_that_differ(client, lead, secret):
    seen = lead_version(lead)

    response = _post(
        client,
        lead,
        "disqualify",
        {"reason": "spam", "version": seen},
        secret,
        **{"If-Match": seen[::-1]},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "version"
    lead.refresh_from_db()
    assert lead.is_open


# --- merging and a task done ---------------------------------------------------


def test_a_merge_from_before_a_reassignment_is_refused_naming_the_owner(
    lead, other, bob, max_manager
):
    seen = lead_version(lead)
    assign_lead(lead.pk, bob, by=max_manager)

    with pytest.raises(Conflict) as refused:
        merge_lead(lead.pk, by=max_manager, into_lead=other.pk, version=seen)

    assert refused.value.message == (
        f"lead {lead.pk} changed since you read it: owner (now bob) changed "
        "meanwhile; nothing was done. Look at it again and merge it if you "
        "still mean to"
    )
    lead.refresh_from_db()
    assert lead.is_open and lead.merged_into is None


def test_a_merge_on_the_version_read_is_done(lead, other, max_manager):
    merge_lead(lead.pk, by=max_manager, into_lead=other.pk, version=lead_version(lead))

    lead.refresh_from_db()
    assert lead.status == Lead.Status.MERGED


def test_a_task_done_from_before_a_reassignment_is_refused_and_stays_open(
    lead, task, bob, max_manager
):
    seen = lead_version(lead)
    assign_lead(lead.pk, bob, by=max_manager)

    with pytest.raises(Conflict, match=r"owner \(now bob\) changed meanwhile"):
        complete_lead_task(task.pk, by=max_manager, lead_id=lead.pk, version=seen)

    task.refresh_from_db()
    assert not task.done


def test_a_task_done_from_before_a_disqualification_names_the_status(lead, task, alice):
    seen = lead_version(lead)
    disqualify_lead(lead.pk, "a student project", by=alice)

    with pytest.raises(Conflict, match=r"status \(now disqualified\)"):
        complete_lead_task(task.pk, by=alice, lead_id=lead.pk, version=seen)


def test_a_task_someone_else_did_meanwhile_is_refused_saying_who(
    lead, task, alice, max_manager
):
    seen = lead_version(lead)
    complete_lead_task(task.pk, by=max_manager, lead_id=lead.pk, version=seen)

    with pytest.raises(Conflict) as refused:
        complete_lead_task(task.pk, by=alice, lead_id=lead.pk, version=seen)

    assert refused.value.message == (
        f"task {task.pk} on lead {lead.pk} was marked done meanwhile by "
        f"{max_manager.username}; nothing was done"
    )
    task.refresh_from_db()
    assert task.done_by == max_manager


def test_a_second_click_on_ones_own_done_task_changes_nothing(lead, task, alice):
    seen = lead_version(lead)
    first = complete_lead_task(task.pk, by=alice, lead_id=lead.pk, version=seen)

    again = complete_lead_task(task.pk, by=alice, lead_id=lead.pk, version=seen)

    assert again.done_at == first.done_at and again.done_by == alice


def test_a_task_done_without_a_version_takes_it_as_it_is(
    lead, task, alice, max_manager
):
    complete_lead_task(task.pk, by=max_manager)

    again = complete_lead_task(task.pk, by=alice)

    assert again.done_by == max_manager


def test_a_stale_page_merging_is_409_naming_what_changed_and_keeps_the_target(
    client, lead, other, bob, max_manager
):
    client.force_login(max_manager)
    seen = lead_version(lead)
    assign_lead(lead.pk, bob, by=max_manager)

    response = client.post(
        f"/leads/{lead.pk}/merge/", {"into": f"lead {other.pk}", "version": seen}
    )

    assert response.status_code == 409
    assert "owner (now bob) changed meanwhile" in text_of(response)
    page = response.content.decode()
    assert f'value="lead {other.pk}"' in page
    lead.refresh_from_db()
    assert lead.is_open
    # The page shows the lead as it is now: sent again, it is merged.
    assert f'name="version" value="{lead_version(lead)}"' in page
    again = client.post(
        f"/leads/{lead.pk}/merge/",
        {"into": f"lead {other.pk}", "version": lead_version(lead)},
    )
    assert again.status_code == 302


def test_a_stale_page_marking_a_task_done_is_409_saying_who_did_it(
    client, lead, task, alice, max_manager
):
    client.force_login(alice)
    seen = lead_version(lead)
    complete_lead_task(task.pk, by=max_manager)

    response = client.post(f"/leads/{lead.pk}/tasks/{task.pk}/done/", {"version": seen})

    assert response.status_code == 409
    assert (
        f"task {task.pk} on lead {lead.pk} was marked done meanwhile by "
        f"{max_manager.username}" in text_of(response)
    )
