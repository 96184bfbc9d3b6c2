"""Two company domains say two firms: a company name never joins them.

Found by hap: Schmitt Consulting (schmitt-consulting.de) sent its first
inquiry and, its name scoring 94 against Schmidt Consulting's
(schmidt-consulting.de), was attached to Schmidt's lead as a repeat: never
routed, no response window, nobody chased. Neither domain being a mailbox
provider's, the two are two firms.

A name whose key is the same across two firms' domains ("Müller GmbH" and
"Müller AG" both key as "mueller") makes a lead of its own too: a firm that
writes from two domains is seen twice and merged by hand, while one joined
by mistake is lost. One domain name under two endings (acme.de, acme.com)
is one firm. Open deals are judged by their contact's domain, and a website
gives an inquiry's company domain as its email does.
"""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal, Organization, Person
from dealgate.leads import dedup
from dealgate.leads.intake import clean_lead
from dealgate.leads.normalize import domain_name, other_firms
from dealgate.leads.services import capture_lead, convert_lead

from .conftest import inquiry

SCHMIDT = dict(email="anna@schmidt-consulting.de", company="Schmidt Consulting GmbH")
SCHMITT = dict(email="olaf@schmitt-consulting.de", company="Schmitt Consulting GmbH")


def test_a_lookalike_name_from_another_company_domain_makes_its_own_lead(routed, now):
    first = capture_lead(inquiry(1, **SCHMIDT), source="form")
    assert first.created

    other = capture_lead(inquiry(2, **SCHMITT), source="form")

    assert other.created, other.reason
    assert other.lead.response_due_at is not None


def test_one_name_key_from_two_firms_domains_makes_two_leads(routed, now):
    capture_lead(
        inquiry(1, email="jan@mueller-bau.example", company="Müller GmbH"),
        source="form",
    )

    other = capture_lead(
        inquiry(2, email="eva@mueller-it.example", company="Müller AG"),
        source="form",
    )

    assert other.created


@pytest.mark.parametrize(
    ("first", "second"),
    [("anna@acme.de", "ben@acme.com"), ("anna@acme.co.uk", "ben@shop.acme.de")],
)
def test_one_domain_name_under_two_endings_is_one_firm(routed, now, first, second):
    lead = capture_lead(
        inquiry(1, email=first, company="Acme GmbH"), source="form"
    ).lead

    again = capture_lead(inquiry(2, email=second, company="ACME"), source="form")

    assert again.decision.lead_id == lead.pk
    assert again.decision.matched_on == "company"


def test_the_same_name_at_a_mailbox_provider_still_joins_by_the_name(routed, now):
    """A mailbox provider's address names no firm, so only the name decides."""
    lead = capture_lead(inquiry(1, **SCHMIDT), source="form").lead

    again = capture_lead(
        inquiry(2, email="olaf@gmx.de", company="SCHMIDT CONSULTING"), source="form"
    )

    assert again.decision.lead_id == lead.pk
    assert again.decision.reason.startswith("same company")


def test_a_website_gives_the_inquiry_its_company_domain(routed, now):
    capture_lead(inquiry(1, **SCHMIDT), source="form")

    other = capture_lead(
        inquiry(
            2,
            **dict(SCHMITT, email="olaf@gmx.de"),
            website="https://www.schmitt-consulting.de/kontakt",
        ),
        source="form",
    )

    assert other.created


def test_a_lead_is_one_firm_at_its_websites_and_its_emails_domain(routed, now):
    lead = capture_lead(
        inquiry(1, email="anna@acme-group.example", company="Acme", website="acme.com"),
        source="form",
    ).lead
    assert lead.domain == "acme.com"

    again = capture_lead(
        inquiry(2, email="ben@acme-group.example", company="Acme GmbH"),
        source="form",
    )

    assert again.decision.lead_id == lead.pk


def test_a_lookalike_from_another_domain_makes_its_own_lead_beside_a_converted_one(
    routed, olivia, now
):
    lead = capture_lead(inquiry(1, **SCHMIDT), source="form").lead
    convert_lead(lead.pk, by=olivia)

    other = capture_lead(inquiry(2, **SCHMITT), source="form")

    assert other.created


def _deal(pipeline, owner, now, email: str) -> Deal:
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.first(),
        title="Schmidt",
        owner=owner,
        organization=Organization.objects.create(name="Schmidt Consulting GmbH"),
        contact=Person.objects.create(name="Anna", email=email),
        created_at=now,
    )


@pytest.mark.parametrize("company", ["Schmitt Consulting", "Schmidt Consulting AG"])
def test_a_name_from_another_domain_than_a_deals_contacts_does_not_find_it(
    routed, bob, now, company
):
    _deal(routed, bob, now, "anna@schmidt-consulting.de")
    lead = clean_lead(dict(SCHMITT, company=company), region=None)

    assert dedup.find_match(lead) is None


def test_a_deal_whose_contact_writes_from_a_mailbox_provider_is_found_by_name(
    routed, bob, now
):
    deal = _deal(routed, bob, now, "anna.schmidt@web.de")
    lead = clean_lead(dict(SCHMIDT, company="Schmidt Consulting"), region=None)

    found = dedup.find_match(lead)

    assert found is not None and found.deal == deal


@pytest.mark.parametrize(
    ("domain", "name"),
    [
        ("acme.de", "acme"),
        ("acme.com", "acme"),
        ("acme.co.uk", "acme"),
        ("acme.com.br", "acme"),
        ("shop.acme.de", "acme"),
        ("co.uk", "co"),
        ("localhost", "localhost"),
    ],
)
def test_a_domain_name_is_the_domain_without_its_ending_and_subdomains(domain, name):
    assert domain_name(domain) == name


@pytest.mark.parametrize(
    ("ours", "theirs", "two"),
    [
        (["schmidt-consulting.de"], ["schmitt-consulting.de"], True),
        (["acme.de"], ["acme.com"], False),
        (["acme.com", "acme-group.example"], ["acme-group.example"], False),
        ([], ["schmitt-consulting.de"], False),
        (["schmidt-consulting.de", ""], [""], False),
    ],
)
def test_records_are_two_firms_when_each_has_a_domain_and_no_name_in_common(
    ours, theirs, two
):
    assert other_firms(ours, theirs) is two
