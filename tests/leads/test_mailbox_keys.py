"""One mailbox written two ways is one buyer.

A "+tag" in an address's local part reaches the same mailbox at every
provider that knows tags, and at Gmail the dots in it do not count either;
gmail.com and googlemail.com are one mailbox domain.
The email key drops them for matching; the lead keeps the address typed.
"""

from __future__ import annotations

import pytest

from dealgate.leads.models import Lead
from dealgate.leads.normalize import email_address, email_key
from dealgate.leads.services import capture_lead, convert_lead

from .conftest import inquiry


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Max.G+web@gmail.com", "maxg@gmail.com"),
        # googlemail.com delivers to the gmail.com mailbox of that name.
        ("max.g@googlemail.com", "maxg@gmail.com"),
        ("Max.G+web@GoogleMail.com", "maxg@gmail.com"),
        # Only that domain: a subdomain or a lookalike is another mailbox.
        ("max@mail.googlemail.com", "max@mail.googlemail.com"),
        ("max.g@googlemail.de", "max.g@googlemail.de"),
        ("anna+crm@acme.de", "anna@acme.de"),
        ("anna.b+x+y@acme.de", "anna.b@acme.de"),
        # Dots count at any other provider, as a whole "+..." local part does.
        ("anna.b@web.de", "anna.b@web.de"),
        ("+web@acme.de", "+web@acme.de"),
        ("jörg+news@ümlaut.de", "jörg@xn--mlaut-jva.de"),
    ],
)
def test_the_email_key_drops_a_tag_and_gmails_dots(typed, key):
    assert email_key(typed) == key


def test_the_address_keeps_its_tag_and_dots():
    assert email_address(" Max.G+web@Gmail.com ") == "max.g+web@gmail.com"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("max.g@gmail.com", "Max.G+web@gmail.com"),
        ("maxg@googlemail.com", "m.a.x.g+crm@googlemail.com"),
        ("max.g@gmail.com", "MaxG@googlemail.com"),
        ("max.g+x@googlemail.com", "maxg@gmail.com"),
        ("anna+newsletter@acme.de", "Anna@acme.de"),
    ],
)
def test_a_tagged_address_joins_the_lead_of_its_mailbox(routed, now, first, second):
    original = capture_lead(inquiry(1, email=first), source="api").lead

    result = capture_lead(inquiry(2, email=second), source="form")

    assert not result.created
    assert result.decision.lead == original
    assert result.decision.matched_on == "email"


def test_a_lead_keeps_the_address_as_typed_and_its_deal_contact_too(routed, now, alice):
    lead = capture_lead(inquiry(1, email="Max.G+web@gmail.com"), source="api").lead

    assert (lead.email, lead.email_key) == ("Max.G+web@gmail.com", "maxg@gmail.com")
    deal = convert_lead(lead.pk, by=lead.owner)
    assert deal.contact.email == "max.g+web@gmail.com"
    assert Lead.objects.get(pk=lead.pk).email == "Max.G+web@gmail.com"
