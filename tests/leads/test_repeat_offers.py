"""A repeat inquiry never writes into the open lead it joins: an inquiry is
anonymous (the form needs no token, a capture token sits in a public page),
so a forged one cannot be told from a real one. What it brings for the
lead's empty fields is offered on the lead's page and in the API, and a
person who may edit the lead takes it as their own edit."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from dealgate.clocks.models import Notice
from dealgate.errors import Conflict, NotFound, PermissionDenied
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import ApiToken, Lead, LeadActivity
from dealgate.leads.offers import apply_offer, may_have_offers, pending_offers
from dealgate.leads.services import capture_lead, convert_lead, split_lead
from dealgate.leads.tokens import create_token
from dealgate.leads.versions import lead_version
from tests.web.helpers import text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db

# The fields a repeat could have changed, with their keys.
HELD = (
    *("name", "email", "email_key", "phone", "phone_e164", "company"),
    *("company_key", "company_match", "website", "domain", "country", "segment"),
    *("company_size", "value", "currency"),
)


def _held(lead: Lead) -> dict:
    lead.refresh_from_db()
    return {name: getattr(lead, name) for name in HELD}


@pytest.fixture
def bare(routed, now) -> Lead:
    """A lead from the form with an email, no company, phone or website."""
    lead = capture_lead(inquiry(1, company=None), source="form").lead
    assert lead.owner is not None
    return lead


def _offering(n: int = 1, **fields):
    again = inquiry(
        n,
        company="Initech GmbH",
        phone="030 1234567",
        website="www.initech.example",
        value="5000",
        currency="EUR",
        company_size="40",
    )
    return capture_lead({**again, **fields}, source="form").decision


def _note(decision) -> LeadActivity:
    return LeadActivity.objects.get(pk=decision.activity_id)


def test_a_repeat_changes_nothing_of_the_lead_and_offers_what_it_lacks(bare):
    before = _held(bare)

    decision = _offering()

    assert decision.lead_id == bare.pk
    assert _held(bare) == before
    note = _note(decision)
    assert note.data["offered"] == [
        "phone",
        "company",
        "website",
        "company_size",
        "value",
        "currency",
    ]
    assert "Offers values for the lead's empty fields: phone, company" in note.body
    (offer,) = pending_offers(bare)
    assert (offer.inquiry, offer.channel) == (note.pk, "form")
    assert offer.values == {
        "phone": "+49 30 1234567",
        "company": "Initech GmbH",
        "website": "https://www.initech.example",
        "company_size": 40,
        "value": Decimal("5000.00"),
        "currency": "EUR",
    }


def test_an_anonymous_form_post_changes_nothing_of_the_lead(client, bare):
    before, version = _held(bare), lead_version(bare)

    response = client.post(
        "/leads/form/new-business/",
        {
            "email": bare.email,
            "name": "Someone",
            "website": "evil2.example",
            "company": "Evil Form Co",
            "phone": "+1 202 555 0100",
            "message": "call this number instead",
        },
    )

    assert response.status_code in (200, 302)
    assert _held(bare) == before
    assert lead_version(bare) == version
    assert LeadActivity.objects.filter(lead=bare, kind="inquiry").count() == 1


def test_a_capture_token_repeat_changes_nothing_of_the_lead(client, bare, olivia):
    secret = create_token(olivia, "website", scope=ApiToken.Scope.CAPTURE)[1]
    before = _held(bare)

    response = client.post(
        "/api/v1/leads",
        json.dumps(
            {
                "email": bare.email.upper(),
                "phone": "+12025550100",
                "website": "https://evil.example/login",
                "company": "Evil Co",
                "name": "Bob",
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 202
    assert _held(bare) == before
    (offer,) = pending_offers(bare)
    assert offer.channel == "api"


def test_what_the_lead_holds_is_never_offered(routed, now):
    lead = capture_lead(
        inquiry(1, company="Initech GmbH", name="Anna", segment="SMB"), source="form"
    ).lead

    decision = capture_lead(
        inquiry(1, company="Initrode AG", name="Someone else", segment="Enterprise"),
        source="form",
    ).decision

    assert "offered" not in _note(decision).data
    assert pending_offers(lead) == []


def test_a_colleague_found_by_the_company_offers_no_personal_fields(routed, now):
    lead = capture_lead(
        {"email": "anna@initech.example", "country": "DE"}, source="form"
    ).lead

    capture_lead(
        {
            "email": "bert@initech.example",
            "name": "Bert",
            "phone": "030 1234567",
            "company": "Initech GmbH",
            "country": "DE",
        },
        source="form",
    )

    (offer,) = pending_offers(lead)
    assert offer.values == {"company": "Initech GmbH"}


def test_a_value_in_another_currency_than_the_leads_is_not_offered(routed, now):
    lead = capture_lead(inquiry(1, currency="USD"), source="form").lead

    capture_lead(inquiry(1, value="5000", currency="EUR"), source="form")

    assert pending_offers(lead) == []


def test_the_page_shows_the_offer_with_when_and_through_which_channel(
    client, bare, alice
):
    _offering()
    client.force_login(alice)

    page = text_of(client.get(f"/leads/{bare.pk}/"))

    assert "Offered by repeat inquiries" in page
    assert "The repeat inquiry of 10 Jun 2026, 14:00 via form offers" in page
    assert "+49 30 1234567" in page and "Use these" in page


def test_use_these_takes_the_offer_as_the_reps_own_edit(
    client, bare, alice, caplog, django_capture_on_commit_callbacks
):
    note = _note(_offering())
    client.force_login(alice)

    with (
        caplog.at_level(logging.INFO, logger="dealgate.leads"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            f"/leads/{bare.pk}/offers/{note.pk}/", {"version": lead_version(bare)}
        )

    assert response.status_code == 302
    bare.refresh_from_db()
    assert (bare.phone, bare.phone_e164) == ("+49 30 1234567", "+49301234567")
    assert (bare.company, bare.company_key) == ("Initech GmbH", "initech")
    assert (bare.website, bare.domain) == (
        "https://www.initech.example",
        "initech.example",
    )
    assert (bare.value, bare.currency, bare.company_size) == (
        Decimal("5000.00"),
        "EUR",
        40,
    )
    said = [r.getMessage() for r in caplog.records if r.name == "dealgate.leads"]
    assert (
        f"lead {bare.pk} edited by alice: phone, company, website, company_size, "
        f"value, currency (taken from repeat inquiry {note.pk})"
    ) in said
    assert "1234567" not in caplog.text
    assert pending_offers(bare) == []
    assert "Offered by repeat inquiries" not in text_of(
        client.get(f"/leads/{bare.pk}/")
    )


def test_one_field_taken_leaves_the_others_offered(bare, alice):
    note = _note(_offering())

    apply_offer(
        bare.pk, note.pk, by=alice, version=lead_version(bare), fields=["website"]
    )

    bare.refresh_from_db()
    assert (bare.website, bare.company, bare.phone) == (
        "https://www.initech.example",
        "",
        "",
    )
    (offer,) = pending_offers(bare)
    assert "website" not in offer.values and "company" in offer.values


def test_a_value_is_taken_with_the_currency_it_was_offered_in(bare, alice):
    note = _note(_offering())

    apply_offer(
        bare.pk, note.pk, by=alice, version=lead_version(bare), fields=["value"]
    )

    bare.refresh_from_db()
    assert (bare.value, bare.currency) == (Decimal("5000.00"), "EUR")


def test_an_offer_from_a_page_read_before_an_edit_is_refused(bare, alice):
    note = _note(_offering())
    seen = lead_version(bare)
    edit_lead(bare.pk, {"segment": "SMB"}, by=alice, version=seen)

    with pytest.raises(Conflict, match="segment changed meanwhile"):
        apply_offer(bare.pk, note.pk, by=alice, version=seen)

    bare.refresh_from_db()
    assert bare.company == ""


def test_an_edited_field_ends_its_offer_even_when_emptied_again(bare, alice):
    note = _note(_offering())
    edit_lead(bare.pk, {"company": "Initrode"}, by=alice, version=lead_version(bare))
    bare.refresh_from_db()
    edit_lead(bare.pk, {"company": ""}, by=alice, version=lead_version(bare))
    bare.refresh_from_db()

    (offer,) = pending_offers(bare)
    assert "company" not in offer.values
    with pytest.raises(Conflict, match="offers lead .* nothing"):
        apply_offer(
            bare.pk, note.pk, by=alice, version=lead_version(bare), fields=["company"]
        )


def test_a_field_the_inquiry_does_not_offer_is_refused_naming_what_it_offers(
    bare, alice
):
    note = _note(_offering())
    (offer,) = pending_offers(bare)
    assert "segment" not in offer.values

    with pytest.raises(Conflict) as refused:
        apply_offer(
            bare.pk, note.pk, by=alice, version=lead_version(bare), fields=["segment"]
        )

    said = str(refused.value)
    assert "nothing of segment: it never offered that" in said
    assert f"it offers {', '.join(offer.values)}" in said
    bare.refresh_from_db()
    assert bare.segment == ""


def test_a_rep_who_may_not_edit_the_lead_cannot_take_its_offer(client, bare, bob):
    note = _note(_offering())
    client.force_login(bob)

    page = text_of(client.get(f"/leads/{bare.pk}/"))
    response = client.post(
        f"/leads/{bare.pk}/offers/{note.pk}/", {"version": lead_version(bare)}
    )

    assert "Offered by repeat inquiries" in page and "Use these" not in page
    assert response.status_code == 403
    assert "only the lead's owner, a manager or an admin may edit it" in text_of(
        response
    )
    with pytest.raises(PermissionDenied):
        apply_offer(bare.pk, note.pk, by=bob, version="")
    bare.refresh_from_db()
    assert bare.company == ""


@pytest.mark.parametrize(
    ("lead_country", "inquiry_country", "region", "read"),
    [
        ("NL", "FR", "DE", "+33301234567"),
        ("", "FR", "DE", "+33301234567"),
        ("NL", "", "DE", "+49301234567"),
        ("", "", "NL", "+31301234567"),
    ],
)
def test_an_offered_phone_is_read_as_its_capture_read_it_whatever_the_leads_country(
    routed, now, lead_country, inquiry_country, region, read
):
    # The capture reads a number in the inquiry's country, else the
    # pipeline's region; the lead's country says nothing of the inquiry's.
    routed.calendar = {**routed.calendar, "holidays": {"country": region}}
    routed.save()
    lead = capture_lead(
        inquiry(1, country=lead_country or None, company=None), source="form"
    ).lead
    note = _note(
        capture_lead(
            inquiry(1, country=inquiry_country or None, phone="030 1234567"),
            source="form",
        ).decision
    )

    apply_offer(
        lead.pk, note.pk, by=lead.owner, version=lead_version(lead), fields=["phone"]
    )

    lead.refresh_from_db()
    assert lead.phone_e164 == read == note.data["phone_e164"]
    assert lead.phone.startswith(read[:3] + " ")
    assert lead.country == lead_country


def test_a_phone_that_does_not_read_in_the_leads_country_is_offered_as_captured(
    routed, now
):
    lead = capture_lead(inquiry(1, country="US", company=None), source="form").lead

    capture_lead(inquiry(1, country="DE", phone="030 1234567"), source="form")

    (offer,) = pending_offers(lead)
    assert offer.values["phone"] == "+49 30 1234567"


def test_the_note_the_page_the_api_and_the_notice_offer_the_number_as_captured(
    client, routed, olivia, now
):
    # A lead from Germany; the buyer writes again from Austria with their
    # Austrian mobile, which the capture reads as +43 664 1234567. Read in
    # the lead's country it would be +49 6641 234567, a landline in Hesse.
    lead = capture_lead(inquiry(1, country="DE", company=None), source="form").lead
    owner = lead.owner

    note = _note(
        capture_lead(
            inquiry(1, country="AT", phone="0664 1234567", company="Initech GmbH"),
            source="form",
        ).decision
    )

    captured = "+43 664 1234567"
    assert note.data["phone_e164"] == "+436641234567"
    assert note.data["offered"] == ["phone", "company"]
    assert note.data["offered_phone"] == captured
    assert pending_offers(lead)[0].values["phone"] == captured
    (told,) = Notice.objects.filter(lead=lead)
    assert "Offers values for the lead's empty fields: phone, company" in told.body
    assert told.data["inquiry"]["offered"]["phone"] == captured
    client.force_login(owner)
    page = text_of(client.get(f"/leads/{lead.pk}/"))
    offered = page.split("Offered by repeat inquiries")[1].split("Act")[0]
    assert captured in offered and "+49 6641" not in offered
    headers = {
        "Authorization": "Bearer "
        + create_token(olivia, "crm", scope=ApiToken.Scope.LEADS)[1]
    }
    read = client.get(f"/api/v1/leads/{lead.pk}", headers=headers).json()
    assert read["offers"][0]["values"]["phone"] == captured
    apply_offer(lead.pk, note.pk, by=owner, version=lead_version(lead))
    lead.refresh_from_db()
    assert (lead.phone_e164, lead.country) == ("+436641234567", "DE")


def test_a_leads_token_reads_the_offers_and_takes_them_with_a_patch(
    client, bare, olivia
):
    note = _note(_offering())
    headers = {
        "Authorization": "Bearer "
        + create_token(olivia, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    }

    read = client.get(f"/api/v1/leads/{bare.pk}", headers=headers).json()
    (offer,) = read["offers"]
    response = client.patch(
        f"/api/v1/leads/{bare.pk}",
        json.dumps({"version": read["version"], **offer["values"]}),
        content_type="application/json",
        headers=headers,
    )

    assert (offer["inquiry"], offer["channel"]) == (note.pk, "form")
    assert offer["values"]["phone"] == "+49 30 1234567"
    assert offer["values"]["value"] == "5000.00"
    assert response.status_code == 200
    assert response.json()["offers"] == []
    assert (response.json()["company"], response.json()["phone_e164"]) == (
        "Initech GmbH",
        "+49301234567",
    )


def test_a_later_repeat_finds_the_lead_by_the_phone_taken_from_an_offer(bare, alice):
    note = _note(
        capture_lead(inquiry(1, phone="+49 30 1234567"), source="form").decision
    )
    apply_offer(bare.pk, note.pk, by=alice, version=lead_version(bare))

    by_phone = capture_lead(
        {"phone": "+49 30 1234567", "name": "Anna", "country": "DE"}, source="api"
    )

    assert by_phone.decision.lead_id == bare.pk
    assert by_phone.decision.matched_on == "phone"


def test_a_converted_lead_offers_nothing(bare, alice):
    _offering()

    convert_lead(bare.pk, by=alice)

    bare.refresh_from_db()
    assert pending_offers(bare) == []


def test_a_split_removes_the_offer_with_its_note_and_changes_no_field(bare, olivia):
    decision = _offering()
    before = _held(bare)

    split_lead(decision.pk, by=olivia)

    assert pending_offers(bare) == []
    assert _held(bare) == before


# --- notes the earlier automatic fill wrote ------------------------------------


def _filled_the_old_way(bare: Lead, **fields) -> int:
    """A repeat attached as the fill before offers left it: the lead holding
    `fields` (with their keys) and its note listing them as `filled`."""
    decision = capture_lead(inquiry(1, **fields), source="form").decision
    note = _note(decision)
    data = {k: v for k, v in note.data.items() if k not in ("offered", "channel")}
    note.data = {**data, "filled": list(fields)}
    note.save()
    bare.refresh_from_db()
    edit_lead(bare.pk, fields, by=None, version=lead_version(bare))
    return decision.pk


def test_a_split_still_empties_what_an_old_repeat_filled(bare, olivia):
    decision = _filled_the_old_way(
        bare, company="Initech GmbH", website="www.initech.example"
    )

    split_lead(decision, by=olivia)

    bare.refresh_from_db()
    assert (bare.company, bare.company_key, bare.website) == ("", "", "")
    assert bare.domain == "company1.example"


def test_a_split_keeps_an_old_filled_field_edited_since(bare, alice, olivia):
    decision = _filled_the_old_way(bare, company="Initech GmbH", segment="SMB")
    bare.refresh_from_db()
    edit_lead(bare.pk, {"company": "Initech AG"}, by=alice, version=lead_version(bare))

    split_lead(decision, by=olivia)

    bare.refresh_from_db()
    assert (bare.company, bare.segment) == ("Initech AG", "")


def test_a_field_no_inquiry_offers_is_refused_naming_it(client, bare, alice):
    note = _note(_offering())
    client.force_login(alice)

    response = client.post(
        f"/leads/{bare.pk}/offers/{note.pk}/",
        {"version": lead_version(bare), "field": "message"},
    )

    assert response.status_code == 422
    assert "field: 'message' is not a field an inquiry offers" in text_of(response)
    bare.refresh_from_db()
    assert bare.company == ""


def test_another_leads_inquiry_is_not_found(routed, bare, alice):
    other = capture_lead(inquiry(2, company=None), source="form").lead
    note = _note(_offering(2))

    with pytest.raises(NotFound, match=f"lead {bare.pk} has no repeat inquiry"):
        apply_offer(bare.pk, note.pk, by=alice, version=lead_version(bare))

    assert pending_offers(other)[0].inquiry == note.pk


@pytest.mark.parametrize("country", ["AT", "US"])
def test_an_offered_phone_stays_the_number_read_when_the_inquiry_joined(
    routed, now, country
):
    lead = capture_lead(inquiry(1, country=None, company=None), source="form").lead
    note = _note(
        capture_lead(
            inquiry(1, country=None, company=None, phone="030 1234567"),
            source="form",
        ).decision
    )
    assert note.data["offered_phone"] == "+49 30 1234567"

    # Read again in Austria it would be another number, in the US none.
    edit_lead(lead.pk, {"country": country}, by=lead.owner, version=lead_version(lead))
    lead.refresh_from_db()

    (offer,) = pending_offers(lead)
    assert offer.values == {"phone": "+49 30 1234567"}
    apply_offer(lead.pk, note.pk, by=lead.owner, version=lead_version(lead))
    lead.refresh_from_db()
    assert (lead.phone_e164, lead.country) == ("+49301234567", country)


def _said_to_have_offers(lead: Lead) -> bool:
    return Lead.objects.annotate(has=may_have_offers()).get(pk=lead.pk).has


@pytest.mark.parametrize(
    ("edit", "still_offered"),
    [
        ({"country": "US"}, {"phone": "+49 30 1234567", "value": Decimal("5000")}),
        ({"currency": "USD"}, {"phone": "+49 30 1234567"}),
        ({"phone": "+49 89 1234567"}, {"value": Decimal("5000")}),
        ({"value": "10"}, {"phone": "+49 30 1234567"}),
    ],
)
def test_a_lead_is_said_to_have_offers_exactly_when_it_shows_some(
    routed, now, edit, still_offered
):
    lead = capture_lead(
        inquiry(1, country=None, company=None, currency="EUR"), source="form"
    ).lead
    capture_lead(
        inquiry(
            1,
            country=None,
            company=None,
            phone="030 1234567",
            value="5000",
            currency="EUR",
        ),
        source="form",
    )
    assert _said_to_have_offers(lead)

    edit_lead(lead.pk, edit, by=lead.owner, version=lead_version(lead))
    lead.refresh_from_db()

    shown = [offer.values for offer in pending_offers(lead)]
    assert shown == [still_offered]
    assert _said_to_have_offers(lead)
    edit_lead(
        lead.pk,
        {"phone": "+49 89 7654321", "value": "20"},
        by=lead.owner,
        version=lead_version(lead),
    )
    lead.refresh_from_db()
    assert pending_offers(lead) == []
    assert not _said_to_have_offers(lead)


def test_a_value_offered_in_the_leads_currency_lapses_when_the_currency_is_edited(
    routed, now
):
    lead = capture_lead(inquiry(1, company=None, currency="EUR"), source="form").lead
    capture_lead(inquiry(1, company=None, value="5000", currency="EUR"), source="form")
    assert [offer.values for offer in pending_offers(lead)] == [
        {"value": Decimal("5000")}
    ]

    edit_lead(lead.pk, {"currency": "USD"}, by=lead.owner, version=lead_version(lead))
    lead.refresh_from_db()

    assert pending_offers(lead) == []
    assert not _said_to_have_offers(lead)
