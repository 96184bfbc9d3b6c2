"""De-duplication: a repeat joins the open lead or deal, can be split or forced."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Activity, Deal, Organization, Person
from dealgate.errors import Conflict
from dealgate.leads.models import DedupDecision, Lead, LeadActivity, LeadNotice
from dealgate.leads.normalize import company_key, company_score
from dealgate.leads.services import (
    capture_lead,
    convert_lead,
    disqualify_lead,
    merge_lead,
    split_lead,
)

from .conftest import inquiry


@pytest.mark.parametrize(
    ("first", "second", "matched_on"),
    [
        ({"email": "Anna@Acme.de"}, {"email": " anna@acme.de "}, "email"),
        (
            {"email": None, "phone": "+49 30 1234567"},
            {"email": None, "phone": "030/123 45 67"},
            "phone",
        ),
        (
            {"email": "anna@acme.de"},
            {"email": "bert@gmail.com", "website": "https://www.acme.de/x"},
            "domain",
        ),
        (
            {"email": "a@gmail.com", "company": "Müller GmbH & Co. KG"},
            {"email": "b@yahoo.com", "company": "MUELLER"},
            "company",
        ),
        (
            {"email": "a@gmail.com", "company": "Northwind Traders Ltd"},
            {"email": "b@yahoo.com", "company": "Traders, Northwind"},
            "company",
        ),
    ],
)
def test_a_repeat_of_an_open_lead_is_attached_not_created(
    routed, alice, now, first, second, matched_on
):
    first = {"company": "Shared", **first}
    second = {"company": "Other Corp", **second}
    original = capture_lead(inquiry(1, **first), source="api").lead

    result = capture_lead(inquiry(2, **second), source="form")

    assert not result.created
    assert Lead.objects.count() == 1
    assert result.decision.matched_on == matched_on
    assert result.decision.lead == original
    inquiry_note = LeadActivity.objects.get(lead=original, kind="inquiry")
    assert inquiry_note.subject.startswith("Repeat inquiry: ")
    assert LeadNotice.objects.get(user=alice).lead == original


def test_a_repeat_inquiry_shows_who_asked_its_new_phone_as_unchecked_and_the_message(
    client, routed, alice, now
):
    from tests.web.helpers import text_of

    original = capture_lead(inquiry(1, phone="030 1234567"), source="api").lead
    capture_lead(
        inquiry(
            1,
            phone="+49 171 1234567",
            message="URGENT: please call me back on my mobile",
        ),
        source="api",
    )
    client.force_login(alice)

    page = text_of(client.get(f"/leads/{original.pk}/"))

    assert (
        "Person 1 · person1@company1.example · Company 1 GmbH (DE) Given by the "
        "inquiry, unchecked: phone +49 171 1234567. An inquiry is anonymous: "
        "anyone can send one with the buyer's email or phone."
    ) in page
    assert (
        "reach the buyer at the details you already hold. URGENT: please call me "
        "back on my mobile"
    ) in page


@pytest.mark.parametrize(
    "name",
    [
        "Müller OHG",
        "Müller GbR",
        "Müller e.K.",
        "Müller e.V.",
        "Müller eG",
        "Müller GmbH & Co. KGaA",
        "Müller UG (haftungsbeschränkt)",
        "Müller PartG mbB",
    ],
)
def test_german_legal_forms_are_dropped_from_company_names(name):
    assert company_key(name) == "mueller"


def test_a_stored_lead_gets_the_key_a_new_legal_form_gives(routed, now):
    from importlib import import_module

    from django.apps import apps

    lead = capture_lead(inquiry(1, company="Müller OHG"), source="api").lead
    Lead.objects.filter(pk=lead.pk).update(company_key="muller ohg")

    import_module("dealgate.leads.migrations.0006_company_keys_german_forms").recompute(
        apps, None
    )

    lead.refresh_from_db()
    # Recomputed with the rule of today: "ü" is written "ue" (migration 0015).
    assert (lead.company_key, lead.company_block) == ("mueller", "mull")


def test_stored_leads_get_the_company_match_key_candidates_are_read_by(routed, now):
    from importlib import import_module

    from django.apps import apps

    lead = capture_lead(inquiry(1, company="Firm 12 Berlin GmbH"), source="api").lead
    Lead.objects.filter(pk=lead.pk).update(company_match="")

    import_module("dealgate.leads.migrations.0009_company_match").fill(apps, None)

    lead.refresh_from_db()
    # Recomputed with the rule of today: its first block of two (0015).
    assert lead.company_match == "berl 12"
    # At a mailbox provider: no company domain says the two are two firms.
    again = capture_lead(
        inquiry(2, company="Firm 12 Berlin", email="p2@web.de"), source="api"
    )
    assert again.decision is not None and again.decision.lead == lead


def test_an_email_at_an_accented_domain_is_accepted_and_matches_its_website(
    routed, now
):
    first = capture_lead(
        inquiry(1, email="Zoe@Exämple.de", company=None), source="api"
    ).lead
    again = capture_lead(
        inquiry(
            2,
            email="info@other.example",
            website="https://www.exämple.de/",
            company=None,
        ),
        source="api",
    )

    assert first.email == "Zoe@Exämple.de"
    assert first.email_key == "zoe@xn--exmple-cua.de"
    assert not again.created and again.decision.matched_on == "domain"


def test_different_numbers_in_a_company_name_are_different_companies():
    assert company_score(company_key("Studio 1"), company_key("Studio 10")) == 0
    assert company_key("ACME G.m.b.H.") == company_key("Acme") == "acme"


def test_a_free_mail_domain_never_joins_two_people(routed, now):
    capture_lead(inquiry(1, email="anna@gmail.com"), source="api")
    result = capture_lead(inquiry(2, email="bert@gmail.com"), source="api")

    assert result.created


def test_a_closed_lead_does_not_catch_a_new_inquiry(routed, alice, now):
    first = capture_lead(inquiry(1), source="api").lead
    disqualify_lead(first.pk, "student project", by=alice)

    assert capture_lead(inquiry(1), source="api").created


def test_a_repeat_of_an_open_deal_becomes_a_note_on_the_deal(routed, bob, now):
    organization = Organization.objects.create(name="Globex Corporation")
    contact = Person.objects.create(name="Hank", email="Hank@Globex.com")
    deal = Deal.objects.create(
        pipeline=routed,
        stage=routed.stages.first(),
        title="Globex renewal",
        owner=bob,
        organization=organization,
        contact=contact,
        created_at=now,
    )

    result = capture_lead(inquiry(email="hank@globex.com"), source="api")

    assert not result.created and result.deal == deal
    note = Activity.objects.get(deal=deal, kind="note")
    # Who asked and how to reach them: the owner answers from this line.
    assert (note.kind, note.subject) == (
        "note",
        "Repeat inquiry: Person 1 · hank@globex.com · Company 1 GmbH (DE)",
    )
    assert LeadNotice.objects.get(user=bob).deal == deal


def test_a_repeat_of_a_converted_lead_joins_its_open_deal(routed, alice, now):
    lead = capture_lead(inquiry(1), source="api").lead
    deal = convert_lead(lead.pk, by=alice)

    result = capture_lead(inquiry(1), source="api")

    assert result.deal == deal
    assert Activity.objects.filter(deal=deal, subject__startswith="Repeat").exists()
    assert result.decision.reason == (
        f"same email address as lead {lead.pk}, converted into this deal"
    )


def test_split_makes_the_inquiry_a_routed_lead_of_its_own(routed, alice, bob, now):
    original = capture_lead(inquiry(1), source="api").lead
    decision = capture_lead(inquiry(1, name="Someone else"), source="api").decision

    split = split_lead(decision.pk, by=alice)

    assert split.name == "Someone else" and split.owner == bob
    assert split.channel == "api"
    assert not LeadActivity.objects.filter(lead=original, kind="inquiry").exists()
    decision.refresh_from_db()
    assert decision.undone_at == now and decision.source_lead == split
    with pytest.raises(Conflict):
        split_lead(decision.pk, by=alice)


def test_merge_closes_the_lead_and_split_reopens_it(
    routed, alice, bob, max_manager, now
):
    kept = capture_lead(inquiry(1), source="api").lead
    other = capture_lead(inquiry(2), source="api").lead

    # A manager's: bob may not write on alice's lead.
    decision = merge_lead(other.pk, by=max_manager, into_lead=kept.pk)

    other.refresh_from_db()
    assert other.status == Lead.Status.MERGED and other.merged_into == kept
    assert LeadNotice.objects.filter(user=alice, lead=kept).exists()
    assert decision.action == DedupDecision.Action.MERGED

    reopened = split_lead(decision.pk, by=max_manager)
    assert reopened == other
    other.refresh_from_db()
    assert other.status == Lead.Status.ASSIGNED and other.merged_into is None
    assert not LeadActivity.objects.filter(
        lead=kept, subject__startswith="Merged"
    ).exists()
