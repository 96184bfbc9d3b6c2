"""Converting a lead into a deal, and disqualifying one."""

from __future__ import annotations

import logging

import pytest

from dealgate.deals.models import Deal, Organization, StageEvent
from dealgate.errors import Conflict, PermissionDenied, ValidationError
from dealgate.leads.models import Lead
from dealgate.leads.services import (
    capture_lead,
    convert_lead,
    disqualify_lead,
    record_response,
)

from .conftest import inquiry


def test_a_converted_lead_enters_the_first_stage_with_history(routed, alice, now):
    lead = capture_lead(inquiry(value="12000", company="Initech AG"), source="api").lead
    record_response(lead.pk, kind="call", by=alice, subject="Intro call")

    deal = convert_lead(lead.pk, by=alice)

    assert (deal.stage.key, deal.status, deal.owner) == ("inquiry", "open", alice)
    assert deal.title == "Initech AG" and deal.organization.name == "Initech AG"
    assert deal.contact.email == "person1@company1.example"
    assert deal.value == 12000 and (deal.source, deal.external_id) == (
        "lead",
        str(lead.pk),
    )
    event = StageEvent.objects.get(deal=deal)
    assert (event.from_stage, event.to_stage.key, event.source) == (
        None,
        "inquiry",
        "lead",
    )
    assert deal.activities.filter(subject="Intro call").exists()
    lead.refresh_from_db()
    assert (lead.status, lead.deal, lead.closed_at) == ("converted", deal, now)


def test_a_lead_converts_once(routed, alice, now):
    lead = capture_lead(inquiry(), source="api").lead
    convert_lead(lead.pk, by=alice)

    with pytest.raises(Conflict):
        convert_lead(lead.pk, by=alice)
    assert Deal.objects.count() == 1


def test_only_the_owner_or_a_manager_converts(routed, bob, max_manager, now):
    lead = capture_lead(inquiry(), source="api").lead  # alice's
    with pytest.raises(PermissionDenied):
        convert_lead(lead.pk, by=bob)
    assert convert_lead(lead.pk, by=max_manager).owner.username == "alice"


def test_disqualifying_needs_a_reason(routed, alice, now):
    lead = capture_lead(inquiry(), source="api").lead
    with pytest.raises(ValidationError) as refused:
        disqualify_lead(lead.pk, "   ", by=alice)
    assert refused.value.field == "reason"

    disqualify_lead(lead.pk, "a student project", by=alice)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.DISQUALIFIED
    assert lead.disqualify_reason == "a student project"


def test_a_lead_that_fails_the_first_stages_entry_criteria_is_not_converted(
    client, routed, alice, now
):
    from dealgate.deals.services import MoveRefused

    first = routed.stages.get(key="inquiry")
    first.entry_criteria = {
        "mode": "all",
        "items": [
            {
                "label": "The buyer's company is known",
                "rule": "deal.organization != null",
            }
        ],
    }
    first.save()
    nameless = capture_lead(inquiry(1, company=None), source="api").lead

    with pytest.raises(MoveRefused, match="The buyer's company is known") as refused:
        convert_lead(nameless.pk, by=alice)

    assert refused.value.unmet and refused.value.field == "lead"
    nameless.refresh_from_db()
    assert nameless.status == Lead.Status.ASSIGNED and nameless.deal is None
    assert not Deal.objects.exists()
    # Through the API, the refusal lists what is unmet.
    client.force_login(alice)
    answer = client.post(f"/api/v1/leads/{nameless.pk}/convert")
    assert answer.status_code == 422
    assert answer.json()["code"] == "move_refused" and answer.json()["unmet"]

    named = capture_lead(inquiry(2, company="Initech AG"), source="api").lead
    assert convert_lead(named.pk, by=named.owner).organization.name == "Initech AG"


def test_a_converted_lead_finds_its_organization_by_any_spelling(routed, alice, now):
    acme = Organization.objects.create(name="Acme")
    lead = capture_lead(inquiry(company="ac\u200bME"), source="api").lead

    deal = convert_lead(lead.pk, by=alice)

    assert deal.organization == acme
    assert deal.contact.organization == acme
    assert Organization.objects.count() == 1


def test_a_lead_whose_company_shows_nothing_converts_without_an_organization(
    routed, alice, now
):
    # Taken in as typed, and a lead cannot be edited: refusing would leave
    # it unconvertible for good.
    lead = capture_lead(inquiry(company="\u200b"), source="api").lead

    deal = convert_lead(lead.pk, by=alice)

    assert deal.organization is None and deal.title == "Person 1"
    assert not Organization.objects.exists()


def test_a_conversion_makes_its_deal_as_a_deal_made_by_hand_is_made(
    routed, alice, now, caplog
):
    """Through deals.services.start_deal: the same row, history, clocks and
    log line as create_deal's, with the lead's source and external id."""
    from dealgate.clocks.models import Clock
    from dealgate.deals.services import create_deal

    lead = capture_lead(inquiry(company="Initech AG"), source="api").lead
    with caplog.at_level(logging.INFO, logger="dealgate"):
        converted = convert_lead(lead.pk, by=alice)
    by_hand = create_deal(
        routed, {"title": "Initech AG", "organization": "Initech AG"}, by=alice
    )

    def shape(deal):
        event = StageEvent.objects.get(deal=deal)
        clocks = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
        return (
            deal.stage_id,
            deal.organization_id,
            deal.owner_id,
            deal.responsible_id,
            deal.currency,
            (event.from_stage_id, event.to_stage_id, event.by_id, event.at),
            list(clocks.values_list("state", "started_at")),
        )

    assert shape(converted) == shape(by_hand)
    assert (converted.source, converted.external_id) == ("lead", str(lead.pk))
    assert f"lead {lead.pk} converted into deal {converted.pk} by alice" in caplog.text


def test_a_conversion_refused_by_the_first_stage_writes_no_organization_or_contact(
    routed, alice, now
):
    from dealgate.deals.models import Person
    from dealgate.deals.services import MoveRefused

    first = routed.stages.get(key="inquiry")
    first.entry_criteria = [{"label": "A value is known", "rule": "deal.value != null"}]
    first.save()
    lead = capture_lead(inquiry(company="Initech AG"), source="api").lead

    with pytest.raises(MoveRefused) as refused:
        convert_lead(lead.pk, by=alice)

    assert refused.value.field == "lead"
    assert str(refused.value).startswith(f"lead {lead.pk} cannot become a deal in")
    assert not Organization.objects.exists() and not Person.objects.exists()


def test_a_first_stage_asking_for_a_call_counts_the_calls_the_lead_had(
    routed, alice, now
):
    from dealgate.deals.services import MoveRefused

    first = routed.stages.get(key="inquiry")
    first.entry_criteria = [{"label": "We spoke", "rule": 'held("call")'}]
    first.save()
    silent = capture_lead(inquiry(1), source="api").lead
    called = capture_lead(inquiry(2), source="api").lead
    record_response(called.pk, kind="call", by=called.owner, subject="Intro call")

    with pytest.raises(MoveRefused, match="We spoke"):
        convert_lead(silent.pk, by=alice)
    assert convert_lead(called.pk, by=called.owner).activities.count() == 1


def test_the_lead_page_converts_into_the_stage_chosen(client, routed, alice, now):
    lead = capture_lead(inquiry(), source="api").lead
    client.force_login(alice)

    page = client.get(f"/leads/{lead.pk}/").content.decode()
    response = client.post(f"/leads/{lead.pk}/convert/", {"stage": "discovery"})

    assert '<option value="discovery">' in page
    assert response.status_code == 302
    assert Deal.objects.get().stage.key == "discovery"
