"""Upgrading computes the keys de-duplication reads for what is stored:
people's email keys, leads' keys at googlemail.com, the typo blocks of
leads and organizations, the phone each old repeat-inquiry note offers, as
its page showed it, and leads' emails without a typed `mailto:`."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dealgate.deals.models import Organization, Person
from dealgate.leads.models import Lead, LeadActivity
from dealgate.leads.offers import pending_offers
from tests.conftest import NOW

BEFORE_KEYS = [("leads", "0018_lead_updated_at"), ("deals", "0018_deal_updated_at")]
BEFORE_PHONES = [("leads", "0019_googlemail_keys_and_typo_block")]
BEFORE_MAILTO = [("leads", "0021_lead_inquiry_digest")]


def _upgraded(before, make) -> None:
    """Migrate back to `before`, call `make` with its apps, and migrate to
    the latest again."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        make(executor.loader.project_state(before).apps)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)


def _lead(apps, pipeline, **fields):
    return apps.get_model("leads", "Lead").objects.create(
        pipeline_id=pipeline.pk, channel="form", created_at=NOW, **fields
    )


@pytest.mark.django_db(transaction=True)
def test_stored_people_leads_and_organizations_get_the_keys_of_the_new_rules(
    routed,
):
    def make(apps):
        apps.get_model("deals", "Person").objects.create(
            name="Anna", email="Anna+Web@Firm.com"
        )
        apps.get_model("deals", "Organization").objects.create(name="Simens AG")
        _lead(
            apps,
            routed,
            email="Max.G@GoogleMail.com",
            email_key="maxg@googlemail.com",
            company="Simens AG",
            company_key="simens",
        )
        _lead(apps, routed, email="ben@acme.de", email_key="ben@acme.de")

    _upgraded(BEFORE_KEYS, make)

    assert Person.objects.get().email_key == "anna@firm.com"
    assert Organization.objects.get().name_block_typo == "s:mn"
    keys = Lead.objects.order_by("pk").values_list("email_key", "company_match_typo")
    assert list(keys) == [("maxg@gmail.com", "s:mn"), ("ben@acme.de", "")]


@pytest.mark.django_db(transaction=True)
def test_an_old_note_keeps_the_phone_its_page_showed_whatever_country_follows(
    routed,
):
    def make(apps):
        note = apps.get_model("leads", "LeadActivity").objects
        for country in ("DE", "US"):
            lead = _lead(apps, routed, email=f"a@{country}.example", country=country)
            note.create(
                lead_id=lead.pk,
                kind="inquiry",
                subject="Repeat inquiry",
                data={"phone": "030 1234567", "country": "", "offered": ["phone"]},
                at=NOW,
            )

    _upgraded(BEFORE_PHONES, make)

    berlin, abroad = Lead.objects.order_by("pk")
    kept = LeadActivity.objects.get(lead=berlin).data
    assert (kept["offered"], kept["offered_phone"]) == (["phone"], "+49 30 1234567")
    # "030 1234567" is no number in the US: its page offered it not, nor
    # does the note now, so the lead is not said to have offers.
    assert "offered" not in LeadActivity.objects.get(lead=abroad).data
    Lead.objects.filter(pk=berlin.pk).update(country="AT")
    berlin.refresh_from_db()
    assert pending_offers(berlin)[0].values == {"phone": "+49 30 1234567"}


@pytest.mark.django_db(transaction=True)
def test_stored_lead_emails_lose_a_typed_mailto_and_get_the_captures_key(routed):
    def make(apps):
        _lead(apps, routed, email="mailto:Anna+Web@Example.com", email_key="")
        # Two leads of one address once the prefix is gone: both stay.
        _lead(apps, routed, email=" MAILTO: ben@acme.de", email_key="old")
        _lead(apps, routed, email="ben@acme.de", email_key="ben@acme.de")
        # Not an address even without it: the stored key is kept.
        _lead(apps, routed, email="mailto:ben at acme", email_key="ben@acme.de")
        _lead(
            apps, routed, email="info@mailto.example", email_key="info@mailto.example"
        )

    _upgraded(BEFORE_MAILTO, make)

    assert list(Lead.objects.order_by("pk").values_list("email", "email_key")) == [
        ("Anna+Web@Example.com", "anna@example.com"),
        ("ben@acme.de", "ben@acme.de"),
        ("ben@acme.de", "ben@acme.de"),
        ("ben at acme", "ben@acme.de"),
        ("info@mailto.example", "info@mailto.example"),
    ]
