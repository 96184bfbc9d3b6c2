"""De-duplication against open deals: same matches as before, from indexes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from dealgate.deals.models import Deal, Organization, Person
from dealgate.leads import dedup
from dealgate.leads.intake import clean_lead
from dealgate.leads.normalize import company_blocks


@pytest.fixture
def deals(routed, bob, now) -> dict[str, Deal]:
    """Open and closed deals whose contacts and organizations are spelled in
    mixed case, a few sharing a company's first word."""
    stage = routed.stages.first()

    def deal(title, org=None, email=None, status="open") -> Deal:
        organization = Organization.objects.create(name=org) if org else None
        contact = Person.objects.create(name=title, email=email) if email else None
        return Deal.objects.create(
            pipeline=routed,
            stage=stage,
            title=title,
            status=status,
            closed_at=None if status == "open" else now,
            owner=bob,
            organization=organization,
            contact=contact,
            created_at=now,
        )

    return {
        "globex": deal("globex", "Globex Corporation", "Hank@Globex.com"),
        "globex-eu": deal("globex-eu", "GLOBEX Europe", "mira@globex.eu"),
        "globex-won": deal("globex-won", "Globex Won Ltd", "won@globex.com", "won"),
        "initech": deal("initech", "Initech", "Peter@Initech.example"),
        "no-contact": deal("no-contact", "Umbrella Labs"),
        "no-org": deal("no-org", email="solo@freelance.example"),
    }


def _before(lead) -> list[int]:
    """The candidates a single OR query finds: open deals by contact email
    key, or by either of the organization's blocks (never its typo block,
    which only proposes a merge)."""
    wanted = Q()
    if lead.email_key:
        wanted |= Q(contact__email_key=lead.email_key)
    if blocks := company_blocks(lead.company_key):
        wanted |= Q(organization__name_block__in=blocks)
        wanted |= Q(organization__name_block_other__in=blocks)
    found = Deal.objects.filter(wanted, status="open").order_by("-id")
    return list(found.values_list("id", flat=True))


def _candidates(lead) -> tuple[list[int], tuple[str, list[str]]]:
    """The candidate ids `deals_query` reads, and its SQL with parameters."""
    query = dedup.deals_query(lead)
    with connection.cursor() as cursor:
        cursor.execute(*query)
        seen = [row[0] for row in cursor.fetchall()]
    return seen, query


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "hank@globex.com", "company": "Someone Else"},
        {"email": "nobody@nowhere.example", "company": "globex"},
        {"email": "HANK@GLOBEX.COM", "company": "Globex"},
        {"email": "peter@initech.example"},
        {"phone": "+49 30 1234567", "company": "umbrella"},
        {"email": "solo@freelance.example", "company": "Initech"},
        {"email": "won@globex.com", "company": "Wonka"},
        {"email": "x_y%z@globex.com", "company": "glob%"},
    ],
)
def test_deal_candidates_are_the_same_as_the_single_query_found(deals, fields):
    lead = clean_lead(fields, region="DE")

    seen, _ = _candidates(lead)

    assert seen == _before(lead)


@pytest.mark.parametrize(
    ("organization", "company"),
    [
        ("Müller Systemhaus GmbH", "MÜLLER Systemhaus"),
        ("Müller Systemhaus GmbH", "Mueller Systemhaus"),
        ("Straße IT GmbH", "STRASSE IT"),
        ("Ærø Consulting", "ÆRØ consulting"),
    ],
)
def test_an_organization_with_accents_is_found_for_any_spelling_of_them(
    routed, bob, now, organization, company
):
    deal = Deal.objects.create(
        pipeline=routed,
        stage=routed.stages.first(),
        title="Rollout",
        owner=bob,
        organization=Organization.objects.create(name=organization),
        created_at=now,
    )
    lead = clean_lead(
        {"email": "info@elsewhere.example", "company": company}, region=None
    )

    found = dedup.find_match(lead)

    assert found is not None and found.deal == deal
    assert found.matched_on == "company"


def test_organizations_keep_their_blocks_however_they_are_written(db):
    one = Organization.objects.create(name="Müller GmbH & Co. KG")
    Organization.objects.bulk_create(
        [Organization(name="Ærø Consulting"), Organization(name="Weber & Krause")]
    )
    one.name = "The Globex Corporation"
    one.save()

    rows = Organization.objects.values_list("name", "name_block", "name_block_other")
    # A block is a distinctive word's first letters: not "the", nor "consulting".
    assert {name: blocks for name, *blocks in rows} == {
        "The Globex Corporation": ["glob", ""],
        "Ærø Consulting": ["ærø", ""],
        "Weber & Krause": ["krau", "webe"],
    }


def test_an_organization_sharing_its_second_block_is_read_but_not_joined(
    routed, bob, now
):
    # "Konsulting" is no generic word, "Consulting" is: the inquiry's one
    # block ("schm") is the organization's second, after "kons". The names
    # score 94 with different keys: a candidate compared, never joined.
    deal = Deal.objects.create(
        pipeline=routed,
        stage=routed.stages.first(),
        title="Rollout",
        owner=bob,
        organization=Organization.objects.create(name="Konsulting Schmidt"),
        created_at=now,
    )
    lead = clean_lead(
        {"email": "info@elsewhere.example", "company": "Consulting Schmidt"},
        region=None,
    )

    seen, _ = _candidates(lead)

    assert deal.pk in seen
    assert dedup.find_match(lead) is None


def test_a_repeat_matching_a_deal_on_email_and_company_finds_it_once(deals):
    lead = clean_lead({"email": "Hank@globex.com", "company": "Globex"}, region=None)

    seen, _ = _candidates(lead)
    found = dedup.find_match(lead)

    assert seen.count(deals["globex"].pk) == 1
    assert (found.deal, found.matched_on) == (deals["globex"], "email")


def test_a_closed_deal_does_not_catch_a_repeat(deals):
    lead = clean_lead({"email": "won@globex.com"}, region=None)

    assert dedup.find_match(lead) is None


def _plan(query) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Tables this small are cheaper to scan: ask for the index path.
            cursor.execute("SET LOCAL enable_seqscan = off")
        if isinstance(query, tuple):
            sql, params = query
            word = (
                "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
            )
            cursor.execute(f"{word} {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
    return query.explain()


def test_people_and_organizations_are_looked_up_in_their_indexes(deals):
    people = Person.objects.filter(email_key="hank@globex.com").values("pk")
    names = Organization.objects.filter(name_block="globex").values("pk")
    typos = Organization.objects.filter(name_block_typo="g:bls").values("pk")

    assert "person_email_key" in _plan(people)
    assert "organization_name_block" in _plan(names)
    assert "organization_name_block_typo" in _plan(typos)


def test_deal_candidates_are_read_without_scanning_a_table(deals):
    lead = clean_lead({"email": "hank@globex.com", "company": "Globex"}, region=None)
    _, query = _candidates(lead)

    plan = _plan(query)

    assert "Seq Scan" not in plan and "SCAN " not in plan, plan


def test_lead_and_deal_candidates_are_read_in_one_statement_from_indexes(deals):
    lead = clean_lead(
        {"email": "hank@globex.com", "phone": "+49 30 1234567", "company": "Globex"},
        region="DE",
    )

    with CaptureQueriesContext(connection) as seen:
        found = dedup.find_match(lead)
    plan = _plan(dedup.candidates_query(lead))

    assert found.deal == deals["globex"]
    # The candidates, then the deal found with its owner.
    assert len(seen.captured_queries) == 2
    # Subqueries of SQLite's UNION ALL are read as SCAN of the subquery's
    # result, never of a table.
    tables = ("leads_lead", "deals_deal", "deals_person", "deals_organization")
    assert not any(f"SCAN {table}" in plan for table in tables), plan
    assert "Seq Scan" not in plan, plan
