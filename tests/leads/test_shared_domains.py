"""Domains that name no company: mailbox providers and page-hosting sites
(dealgate/leads/shared_domains.toml) never join two leads as one company."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from dealgate.leads.models import DedupDecision, Lead
from dealgate.leads.normalize import (
    SHARED,
    email_domain,
    is_mailbox_provider,
    read_shared_domains,
    website_domain,
)
from dealgate.leads.services import capture_lead

from .conftest import inquiry

# The providers a tester found joining strangers, and the same families
# under other countries' endings, in any case, with a trailing dot or as a
# subdomain.
PROVIDERS = [
    "hotmail.de",
    "outlook.de",
    "yahoo.de",
    "live.de",
    "aol.de",
    "freenet.de",
    "arcor.de",
    "posteo.de",
    "mail.de",
    "bluewin.ch",
    "hotmail.co.uk",
    "btinternet.com",
    "orange.fr",
    "free.fr",
    "libero.it",
    "163.com",
    "outlook.at",
    "gmx.ch",
    "yahoo.com.br",
    "live.nl",
    "Hotmail.DE",
    "yahoo.co.uk.",
    "mail.yahoo.co.uk",
]


@pytest.mark.parametrize("domain", PROVIDERS)
def test_a_mailbox_provider_is_known_by_its_family_market_or_parent(domain):
    assert is_mailbox_provider(domain)
    assert email_domain(f"ida@{domain.lower().rstrip('.')}") == ""


@pytest.mark.parametrize(
    "domain",
    [
        "acme.de",
        "microsoft.com",
        "telekom.de",
        "orange.com",
        "hotmail.acme.de",
        "live.example.co.uk",
        "mybluewin.ch",
    ],
)
def test_a_company_domain_is_not_taken_for_a_provider(domain):
    assert not is_mailbox_provider(domain)
    assert email_domain(f"ida@{domain}") == domain


@pytest.mark.parametrize("domain", ["hotmail.de", "bluewin.ch", "orange.fr"])
def test_two_people_at_one_mailbox_provider_are_two_leads(routed, now, domain):
    ida = capture_lead(inquiry(1, email=f"ida@{domain}", company=None), source="api")
    jan = capture_lead(inquiry(2, email=f"JAN@{domain.upper()}"), source="api")

    assert ida.created and jan.created
    assert Lead.objects.filter(domain="").count() == 2


def test_a_website_on_a_shared_site_gives_way_to_the_email_domain(routed, now):
    first = capture_lead(
        inquiry(1, email="anna@mueller-it.example", website="facebook.com/muellerit"),
        source="api",
    ).lead
    other = capture_lead(
        inquiry(2, email=None, phone="+49 30 1234567", website="de.linkedin.com/x"),
        source="api",
    )
    colleague = capture_lead(
        inquiry(3, email="bert@mueller-it.example", website="https://fb.com/m"),
        source="api",
    )

    assert first.domain == "mueller-it.example"
    assert other.created and other.lead.domain == ""
    assert colleague.decision.matched_on == "domain"
    assert website_domain("facebook.com") == ""
    assert email_domain("zoe@facebook.com") == "facebook.com"  # its staff


@pytest.mark.parametrize(
    "site", ["wa.me", "lnkd.in", "fb.me", "youtu.be", "tinyurl.com", "t.me"]
)
def test_two_companies_behind_short_links_or_chat_links_are_two_leads(
    routed, now, site
):
    first = capture_lead(
        inquiry(1, email="ida@gmail.com", website=f"https://{site}/491701234567"),
        source="api",
    )
    second = capture_lead(
        inquiry(2, email="jan@gmail.com", website=f"https://{site}/493012345678"),
        source="api",
    )

    assert first.created and second.created
    assert website_domain(site) == ""


def test_a_domain_stored_before_the_list_grew_joins_nobody_new(routed, now):
    ida = capture_lead(inquiry(1, email="ida@hotmail.de"), source="api").lead
    Lead.objects.filter(pk=ida.pk).update(domain="hotmail.de")  # as stored before

    jan = capture_lead(inquiry(2, email="jan@hotmail.de"), source="api")

    assert jan.created


def test_the_migration_recomputes_stored_domains_that_name_no_company(routed, now):
    ida = capture_lead(inquiry(1, email="ida@bluewin.ch"), source="api").lead
    anna = capture_lead(
        inquiry(2, email="anna@acme.example", website="facebook.com/acme"),
        source="api",
    ).lead
    zoe = capture_lead(inquiry(3, email="zoe@facebook.com"), source="api").lead
    repeat = capture_lead(
        inquiry(1, email="ida@bluewin.ch", message="again"), source="api"
    )
    Lead.objects.filter(pk=ida.pk).update(domain="bluewin.ch")
    Lead.objects.filter(pk=anna.pk).update(domain="facebook.com")
    DedupDecision.objects.filter(pk=repeat.decision.pk).update(
        data={**repeat.decision.data, "domain": "bluewin.ch"}
    )

    import_module(
        "dealgate.leads.migrations.0008_domains_of_mailbox_providers"
    ).recompute(apps, None)

    domains = dict(Lead.objects.values_list("pk", "domain"))
    assert domains == {ida.pk: "", anna.pk: "acme.example", zoe.pk: "facebook.com"}
    assert DedupDecision.objects.get().data["domain"] == ""


def test_the_list_refuses_an_entry_that_is_not_a_domain():
    with pytest.raises(ValueError, match=r"mailbox.germany: 'hotmail de' is not"):
        read_shared_domains('[mailbox]\ngermany = ["hotmail de"]\n')
    with pytest.raises(ValueError, match=r"families: 'hot mail' is not a name"):
        read_shared_domains('families = ["hot mail"]\n')


def test_the_list_takes_entries_without_case_or_trailing_dot():
    shared = read_shared_domains(
        'families = ["Hotmail"]\n[mailbox]\nswitzerland = ["Bluewin.CH."]\n'
    )

    assert shared.families == {"hotmail"} and shared.mailbox == {"bluewin.ch"}
    assert "gmail" in SHARED.families and "web.de" in SHARED.mailbox
