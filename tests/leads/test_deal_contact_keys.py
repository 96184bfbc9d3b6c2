"""An inquiry finds the open deal of its sender by the email key leads use.

A deal's contact (`deals.Person`) keeps its email's key (`email_key`),
computed by the one rule leads are keyed by (`normalize.email_key`), so a
tagged, capitalised or googlemail.com spelling of the contact's mailbox
joins the deal. Every door that writes a person keeps the key right; the
deals import writes no people (its contacts are left empty).
"""

from __future__ import annotations

import pytest
from django.db.models.functions import Upper

from dealgate.deals.models import Deal, Person
from dealgate.imports.services import import_deals
from dealgate.leads.models import ApiToken
from dealgate.leads.services import capture_lead, convert_lead
from dealgate.leads.tokens import create_token
from tests.importing import DATA, make_import_pipeline

from .conftest import inquiry

pytestmark = pytest.mark.django_db


def _open_deal(pipeline, owner, email: str) -> Deal:
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.first(),
        title="Backup for Firm",
        owner=owner,
        contact=Person.objects.create(name="Anna", email=email),
    )


@pytest.mark.parametrize(
    ("contact", "sender"),
    [
        ("anna@firm.com", "anna+web@firm.com"),
        ("anna@firm.com", "Anna@Firm.com"),
        ("Anna+CRM@Firm.com", "anna@firm.com"),
        ("max.g@gmail.com", "MaxG+web@googlemail.com"),
    ],
)
def test_an_inquiry_joins_the_open_deal_of_its_senders_mailbox(
    routed, bob, now, contact, sender
):
    deal = _open_deal(routed, bob, contact)

    result = capture_lead(inquiry(1, email=sender, company=None), source="form")

    assert not result.created
    assert (result.decision.deal, result.decision.matched_on) == (deal, "email")


def test_another_mailbox_at_the_same_domain_is_not_the_contacts(routed, bob, now):
    _open_deal(routed, bob, "anna@firm.com")

    result = capture_lead(
        inquiry(1, email="anna.b@firm.com", company=None), source="form"
    )

    assert result.created


def test_a_person_saved_keeps_the_key_of_the_email_as_it_is_now(db):
    person = Person.objects.create(name="Anna", email="Anna+Web@Firm.com")
    assert person.email_key == "anna@firm.com"

    person.email = "a.n.n.a@googlemail.com"
    person.save()

    assert Person.objects.get(pk=person.pk).email_key == "anna@gmail.com"


def test_people_created_in_bulk_get_their_keys(db):
    Person.objects.bulk_create(
        [Person(name="A", email="A+x@Firm.com"), Person(name="B", email="")]
    )

    keys = dict(Person.objects.values_list("name", "email_key"))

    assert keys == {"A": "a@firm.com", "B": ""}


def test_an_update_of_people_writes_their_keys_with_the_email(db):
    person = Person.objects.create(name="Anna", email="anna@firm.com")

    Person.objects.filter(pk=person.pk).update(email="Max+1@Acme.de")
    assert Person.objects.get(pk=person.pk).email_key == "max@acme.de"

    person.refresh_from_db()
    person.email = "Z@Acme.de"
    Person.objects.bulk_update([person], ["email"])
    assert Person.objects.get(pk=person.pk).email_key == "z@acme.de"


def test_an_update_of_people_to_an_expression_is_refused_naming_the_field(db):
    Person.objects.create(name="Anna", email="anna@firm.com")

    with pytest.raises(TypeError, match="email: update people's email with text"):
        Person.objects.update(email=Upper("email"))

    assert Person.objects.get().email == "anna@firm.com"


def test_an_address_the_key_refuses_gives_no_key(db):
    # The admin's email check lets this through; the key's rule does not.
    person = Person.objects.create(name="Anna", email="anna@localhost")

    assert person.email_key == ""


def test_a_person_added_or_changed_in_the_admin_keeps_the_key(admin):
    form = {"name": "Anna", "email": "Anna+Web@Firm.com", "phone": ""}
    answer = admin.post("/admin/deals/person/add/", form)
    assert answer.status_code == 302, answer.content.decode()
    person = Person.objects.get()
    assert person.email_key == "anna@firm.com"

    form["email"] = "Ben@Firm.com"
    answer = admin.post(f"/admin/deals/person/{person.pk}/change/", form)

    assert answer.status_code == 302
    assert Person.objects.get().email_key == "ben@firm.com"


def test_the_contact_of_a_converted_lead_has_the_leads_key(routed, now):
    lead = capture_lead(inquiry(1, email="Max.G+Web@GoogleMail.com"), source="api").lead

    deal = convert_lead(lead.pk, by=lead.owner)

    assert deal.contact.email_key == lead.email_key == "maxg@gmail.com"


def test_the_contact_of_a_lead_converted_through_the_api_has_the_key(
    client, routed, olivia, now
):
    lead = capture_lead(
        inquiry(1, email="Anna+Web@Firm.com", country="US"), source="api"
    ).lead
    assert lead.owner == olivia
    secret = create_token(olivia, "crm", scope=ApiToken.Scope.LEADS)[1]

    answer = client.post(
        f"/api/v1/leads/{lead.pk}/convert",
        "{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert answer.status_code == 200, answer.content.decode()
    lead.refresh_from_db()
    assert lead.deal.contact.email_key == "anna@firm.com"


def test_the_deals_import_writes_no_people(db):
    # Its bulk writer leaves every deal's contact empty: were it to write
    # people, they would need their email keys (deals.models.EmailKeyField).
    sales = make_import_pipeline()

    report = import_deals(
        DATA / "bom_excel.csv", DATA / "bom_excel.toml", pipeline=sales
    )

    assert report.deals_created == 2
    assert not Person.objects.exists()
    assert not Deal.objects.filter(contact__isnull=False).exists()
