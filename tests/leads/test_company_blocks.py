"""Company names are found by blocks of their distinctive words.

A name misspelt early in every distinctive word shares no block with its
right spelling; it shares a typo block (`company_typo_match`), which never
joins (firms a vowel apart share one too): the lead's page shows what it
finds for a person to merge (tests/leads/test_possibly_same.py).

A fuzzy match (token-sort ratio of at least 90) can only join leads the
de-duplication reads as candidates. Candidates are read by each of up to
two blocks of a name's distinctive words, German letters transliterated,
so the spellings a user calls one company meet, and a capture among many
stored leads still reads only the few that share a block.
"""

from __future__ import annotations

import datetime as dt
import random
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection

from dealgate.leads import dedup
from dealgate.leads.edits import edit_lead
from dealgate.leads.intake import clean_lead
from dealgate.leads.models import Lead
from dealgate.leads.normalize import (
    COMPANY_MATCH_SCORE,
    company_block,
    company_blocks,
    company_key,
    company_match,
    company_match_other,
    company_matches,
    company_score,
    company_typo_match,
)
from dealgate.leads.services import capture_lead
from dealgate.leads.versions import lead_version

from .conftest import inquiry

SAME_COMPANY = [
    ("Schröder Consulting GmbH", "Schroeder Consulting"),
    ("Müller IT GmbH", "Mueller IT"),
    ("Muller IT", "Müller IT"),
    ("Straßenbau Weiß KG", "Strassenbau Weiss"),
    ("Consulting Schmidt", "Konsulting Schmidt"),
    ("Schmidt Consulting", "Consulting Schmidt"),
    ("Schmidt Consulting", "Konsulting Schmidt"),
    ("Kaloter Systems", "Kaloter Sytems"),
    ("Siemens Logistik", "Siemens Logstik"),
    ("Brandt & Söhne Metallbau", "Metallbau Brandt und Soehne"),
]


@pytest.mark.parametrize(("first", "second"), SAME_COMPANY)
def test_names_a_user_calls_one_company_share_a_block_and_score_as_one(first, second):
    a, b = company_key(first), company_key(second)

    assert company_score(a, b) >= COMPANY_MATCH_SCORE
    assert set(company_matches(a)) & set(company_matches(b))


def test_german_letters_are_transliterated_alike():
    assert company_key("Schröder Bäckerei Müßig") == "schroeder baeckerei muessig"
    assert company_key("Schroeder Baeckerei Muessig") == "schroeder baeckerei muessig"
    assert company_key("Firma UG (haftungsbeschränkt)") == "firma"


def test_a_name_of_generic_words_only_is_blocked_by_them():
    assert company_blocks(company_key("IT Consulting GmbH")) == ("cons", "it")
    assert company_blocks(company_key("The Globex Corporation")) == ("glob",)


def test_a_names_numbers_stay_in_every_match_key():
    key = company_key("Firm 12 Berlin GmbH")

    assert company_matches(key) == ("berl 12", "firm 12")
    assert (company_match(key), company_match_other(key)) == ("berl 12", "firm 12")
    assert company_match_other(company_key("Acme")) == ""
    assert company_block("") == "" and company_matches("") == ()


@pytest.mark.parametrize(
    ("first", "second"),
    [("Müller IT GmbH", "Mueller IT"), ("Schmidt Consulting", "Consulting Schmidt AG")],
)
def test_a_capture_joins_the_lead_another_spelling_of_its_company_made(
    routed, now, first, second
):
    original = capture_lead(
        inquiry(1, email="a@gmail.com", company=first), source="api"
    ).lead

    result = capture_lead(inquiry(2, email="b@web.de", company=second), source="form")

    assert not result.created
    assert result.decision.lead == original
    assert result.decision.matched_on == "company"


def test_an_edited_company_name_is_found_by_its_new_blocks(routed, now):
    lead = capture_lead(inquiry(1, company="Acme Widgets"), source="api").lead
    edit_lead(
        lead.pk,
        {"company": "Consulting Schmidt"},
        by=lead.owner,
        version=lead_version(lead),
    )

    lead.refresh_from_db()
    assert (lead.company_match, lead.company_match_other) == ("schm", "")
    again = capture_lead(
        inquiry(2, email="x@web.de", company="Schmidt Consulting"), source="api"
    )
    assert again.decision.lead == lead


_SYLLABLES = ["ka", "lo", "mi", "ter", "sun", "vex", "dor", "pan", "rio", "zen", "qu"]
_KINDS = ["Consulting", "Systems", "IT", "Software", "Logistik", "Labs", "GmbH"]


def test_a_capture_among_thousands_of_open_leads_scores_only_those_sharing_a_block(
    routed, now
):
    rng = random.Random(7)
    names = [
        "".join(rng.choice(_SYLLABLES) for _ in range(3)).title()
        + f" {rng.choice(_KINDS)}"
        for _ in range(5_000)
    ]
    Lead.objects.bulk_create(
        _stored(routed, n, name, now) for n, name in enumerate(names)
    )
    lead = clean_lead(
        inquiry(1, email="new@else.example", company="Kaloter Systems"), region="DE"
    )

    sql, params = dedup.leads_query(lead)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        scored = [row[5] for row in cursor.fetchall()]

    assert sorted(scored) == _sharing(lead, names)
    # A block of the 1,331 words' first letters holds 11 of them: about 40
    # of the 5,000 leads, never the thousands that share "Systems".
    assert 0 < len(scored) <= 80


def _sharing(lead, names: list[str]) -> list[str]:
    """The keys of `names` sharing a block with `lead`."""
    mine = set(company_blocks(lead.company_key))
    return sorted(
        company_key(n) for n in names if mine & set(company_blocks(company_key(n)))
    )


def _stored(pipeline, n: int, company: str, now: dt.datetime) -> Lead:
    key = company_key(company)
    return Lead(
        pipeline=pipeline,
        status=Lead.Status.NEW,
        email=f"p{n}@c{n}.example",
        email_key=f"p{n}@c{n}.example",
        company=company,
        company_key=key,
        company_block=company_block(key),
        company_match=company_match(key),
        company_match_other=company_match_other(key),
        company_match_typo=company_typo_match(key),
        channel="api",
        created_at=now - dt.timedelta(minutes=n),
    )


def test_stored_leads_get_the_blocks_and_mailbox_keys_of_today(routed, now):
    lead = capture_lead(
        inquiry(1, email="Max.G+web@gmail.com", company="Konsulting Schmidt"),
        source="api",
    ).lead
    # As the rules before migration 0015 stored them.
    Lead.objects.filter(pk=lead.pk).update(
        email_key="max.g+web@gmail.com",
        company_key="konsulting schmidt",
        company_block="konsulting",
        company_match="konsulting",
        company_match_other="",
    )

    migration = import_module(
        "dealgate.leads.migrations.0015_company_blocks_and_mailbox_keys"
    )
    migration.refill(apps, connection.schema_editor())

    lead.refresh_from_db()
    assert (lead.email, lead.email_key) == ("Max.G+web@gmail.com", "maxg@gmail.com")
    assert (lead.company_block, lead.company_match, lead.company_match_other) == (
        "kons",
        "kons",
        "schm",
    )


def test_organizations_get_the_blocks_of_today_and_deals_meet_other_spellings(db):
    from dealgate.deals.models import Organization

    org = Organization.objects.create(name="Müller IT GmbH")
    Organization.objects.update(name_block="muller")  # the block before 0016

    import_module("dealgate.deals.migrations.0016_organization_blocks").refill(
        apps, connection.schema_editor()
    )

    org.refresh_from_db()
    assert org.name_block == "mull"
    lead = clean_lead(
        inquiry(1, email="x@y.example", company="Mueller IT"), region="DE"
    )
    sql, params = dedup.deals_query(lead)
    assert "mull" in params


def test_organizations_saved_before_get_their_second_block(db):
    from dealgate.deals.models import Organization

    Organization.objects.create(name="Konsulting Schmidt GmbH")
    Organization.objects.create(name="Initech")
    Organization.objects.update(name_block_other="")  # as 0017 finds them

    import_module("dealgate.deals.migrations.0017_organization_second_block").refill(
        apps, connection.schema_editor()
    )

    blocks = Organization.objects.values_list("name", "name_block", "name_block_other")
    assert sorted(blocks) == [
        ("Initech", "init", ""),
        ("Konsulting Schmidt GmbH", "kons", "schm"),
    ]


# Every distinctive word misspelt in its first four letters.
MISSPELT_EARLY = [
    ("Simens AG", "Siemens AG"),
    ("Acenture", "Accenture GmbH"),
    ("Simens Helathineers", "Siemens Healthineers"),
    ("Farunhofer Insitut", "Fraunhofer Institut"),
]


@pytest.mark.parametrize(("first", "second"), MISSPELT_EARLY)
def test_names_misspelt_early_in_every_word_share_only_a_typo_block(first, second):
    a, b = company_key(first), company_key(second)

    assert not set(company_matches(a)) & set(company_matches(b))
    assert company_typo_match(a) == company_typo_match(b) != ""
    assert company_score(a, b) >= COMPANY_MATCH_SCORE


@pytest.mark.parametrize(("first", "second"), MISSPELT_EARLY)
def test_a_name_misspelt_early_in_every_word_is_not_joined_by_its_name_alone(
    routed, now, first, second
):
    capture_lead(inquiry(1, email="a@gmail.com", company=first), source="api")
    lead = clean_lead(inquiry(2, email="b@web.de", company=second), region="DE")

    assert dedup.leads_query(lead) is not None
    sql, params = dedup.leads_query(lead)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.fetchall() == []
    assert capture_lead(
        inquiry(2, email="b@web.de", company=second), source="form"
    ).created


def test_an_open_deal_is_not_read_by_its_organizations_typo_block(routed, bob, now):
    from dealgate.deals.models import Deal, Organization

    Deal.objects.create(
        pipeline=routed,
        stage=routed.stages.first(),
        title="Scanners",
        owner=bob,
        organization=Organization.objects.create(name="Siemens AG"),
    )
    lead = clean_lead(inquiry(1, company="Simens"), region="DE")

    sql, params = dedup.deals_query(lead)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.fetchall() == []
    assert "s:mn" not in params


def test_a_short_word_gives_no_typo_block_and_numbers_stay_in_it():
    assert company_typo_match(company_key("SAP SE")) == ""
    assert company_typo_match(company_key("IBM")) == ""
    assert company_typo_match(company_key("Simens 2 GmbH")) == "s:mn 2"


def test_an_edited_company_name_gets_its_typo_block(routed, now):
    lead = capture_lead(inquiry(1, company="Acme Widgets"), source="api").lead

    edit_lead(lead.pk, {"company": "Simens"}, by=lead.owner, version=lead_version(lead))

    lead.refresh_from_db()
    assert lead.company_match_typo == "s:mn"


def test_typo_blocks_hold_few_of_thousands_of_open_leads(routed, now):
    rng = random.Random(7)
    names = [
        "".join(rng.choice(_SYLLABLES) for _ in range(3)).title()
        + f" {rng.choice(_KINDS)}"
        for _ in range(5_000)
    ]
    Lead.objects.bulk_create(
        _stored(routed, n, name, now) for n, name in enumerate(names)
    )
    lead = clean_lead(
        inquiry(1, email="new@else.example", company="Klaoter Systems"), region="DE"
    )

    sql, params = dedup.leads_query(lead)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        scored = [row[5] for row in cursor.fetchall()]
    typo = Lead.objects.filter(company_match_typo=lead.company_match_typo)

    assert sorted(scored) == _sharing(lead, names)
    # What the lead's page compares for "Possibly the same as": a few.
    assert "kaloter systems" in typo.values_list("company_key", flat=True)
    assert typo.count() <= 80
