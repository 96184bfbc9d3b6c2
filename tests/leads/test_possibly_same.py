"""Names only alike are shown for a merge, never joined.

A company name joins another only when its key is the same (case,
punctuation, legal forms, transliteration and word order aside). Names a
letter or a vowel apart score as one whether they are one firm misspelt or
two firms: "Mertens" and "Martens Consulting" (met only by the typo block),
"Kaiser Bau" and "Keiser Bau" (block `bau`), "Schmidt" and "Schmitt
Consulting" (block `schm`). A false join attaches the second firm's first
inquiry to the first firm's lead as a repeat, never routed: a lost buyer. A
missed join costs a duplicate lead a person can merge. So such a capture
makes a lead of its own, and both leads' pages list the other under
"Possibly the same as" with a button to merge. The same email, phone or
company domain still joins, misspelt name or not.
"""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal, Organization
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.similar import possibly_same
from dealgate.leads.versions import lead_version
from tests.leads.conftest import inquiry
from tests.web.helpers import make_deal, text_of

pytestmark = pytest.mark.django_db

VOWEL_APART = [
    ("Mertens Consulting", "Martens Consulting"),
    ("Wolters Consulting", "Walters Consulting"),
    ("Becker", "Bäcker"),
]


@pytest.mark.parametrize(("first", "second"), VOWEL_APART)
def test_a_firm_whose_name_differs_by_a_vowel_makes_its_own_lead(
    routed, now, first, second
):
    made = capture_lead(
        inquiry(1, email="anna.k.1970@gmail.com", company=first), source="form"
    )
    assert made.created

    other = capture_lead(
        inquiry(2, email="olaf.p.1981@gmail.com", company=second), source="form"
    )

    assert other.created, other.reason
    assert other.lead.owner is not None
    (shown,) = possibly_same(other.lead)
    assert (shown.into, shown.company) == (f"lead {made.lead.pk}", first)
    assert [p.into for p in possibly_same(made.lead)] == [f"lead {other.lead.pk}"]


def test_a_firm_a_vowel_apart_from_an_open_deals_organization_makes_its_own_lead(
    routed, alice, now
):
    deal = make_deal(routed, "proposal", owner=alice, organization="Mertens Consulting")

    other = capture_lead(
        inquiry(2, email="olaf.p.1981@gmail.com", company="Martens Consulting"),
        source="form",
    )

    assert other.created, other.reason
    (shown,) = possibly_same(other.lead)
    assert (shown.kind, shown.pk, shown.company) == (
        "deal",
        deal.pk,
        "Mertens Consulting",
    )


def test_a_misspelt_name_with_the_same_company_domain_joins(routed, now):
    first = capture_lead(
        inquiry(1, email="anna@siemens-scan.example", company="Siemens AG"),
        source="form",
    )

    again = capture_lead(
        inquiry(2, email="olaf@siemens-scan.example", company="Simens"),
        source="form",
    )

    assert not again.created
    assert again.decision.lead_id == first.lead.pk
    assert again.decision.matched_on == "domain"


def test_a_misspelt_name_alone_is_offered_for_a_merge_that_joins_them(
    client, routed, olivia, now
):
    first = capture_lead(
        inquiry(1, email="anna@gmail.com", company="Siemens AG"), source="form"
    ).lead
    second = capture_lead(
        inquiry(2, email="olaf@web.de", company="Simens"), source="form"
    ).lead
    # An admin: a rep merges only into a lead of their own.
    client.force_login(olivia)

    page = client.get(f"/leads/{second.pk}/")

    shown = text_of(page).split("Possibly the same as")[1].split("Act")[0]
    assert f"lead {first.pk}: Person 1 · Siemens AG (Siemens AG, 92/100)" in shown
    assert f"Merge into lead {first.pk}" in shown
    merged = client.post(
        f"/leads/{second.pk}/merge/",
        {"into": f"lead {first.pk}", "version": lead_version(second)},
    )
    assert merged.status_code == 302
    second.refresh_from_db()
    assert (second.status, second.merged_into_id) == (Lead.Status.MERGED, first.pk)
    assert "Possibly the same as" not in text_of(client.get(f"/leads/{second.pk}/"))


def test_names_that_do_not_score_as_one_are_not_offered(routed, now):
    # "Mircosoft" shares the typo block of "Microsoft", but two letters
    # swapped in nine score 89, under the 90 a join by name needs.
    capture_lead(inquiry(1, email="a@gmail.com", company="Microsoft"), source="api")

    lead = capture_lead(
        inquiry(2, email="b@web.de", company="Mircosoft"), source="form"
    ).lead

    assert possibly_same(lead) == []


# Names that share a prefix block (the first or last of their distinctive
# words' first four letters) and score 90 or more with different keys.
CLOSE_BY_BLOCK = [
    ("Kaiser Bau", "Keiser Bau"),
    ("Schmidt Consulting", "Schmitt Consulting"),
    ("Northwind Traders Ltd", "Northwind Trader"),
]


@pytest.mark.parametrize(("first", "second"), CLOSE_BY_BLOCK)
def test_a_name_sharing_a_block_but_not_the_key_makes_its_own_lead_offered_to_merge(
    routed, now, first, second
):
    made = capture_lead(
        inquiry(1, email="anna.k.1970@gmail.com", company=first), source="api"
    )

    other = capture_lead(
        inquiry(2, email="olaf.p.1981@web.de", company=second), source="form"
    )

    assert other.created, other.reason
    assert other.lead.owner is not None
    assert other.lead.response_due_at is not None
    (shown,) = possibly_same(other.lead)
    assert (shown.into, shown.company) == (f"lead {made.lead.pk}", first)
    assert shown.score >= 90
    assert [p.into for p in possibly_same(made.lead)] == [f"lead {other.lead.pk}"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ACME Robotics GmbH", "Acme Robotics"),
        ("Schmidt Consulting GmbH", "Consulting Schmidt"),
        ("Müller IT GmbH", "Mueller IT"),
    ],
)
def test_a_name_of_the_same_key_joins_and_is_not_offered(routed, now, first, second):
    lead = capture_lead(
        inquiry(1, email="anna.k.1970@gmail.com", company=first), source="api"
    ).lead

    again = capture_lead(
        inquiry(2, email="olaf.p.1981@web.de", company=second), source="form"
    )

    assert not again.created
    assert (again.decision.lead_id, again.decision.matched_on) == (lead.pk, "company")
    assert again.decision.reason.startswith("same company")
    assert possibly_same(lead) == []


def test_an_open_deal_of_a_name_sharing_a_block_is_offered_not_joined(
    routed, alice, now
):
    deal = make_deal(routed, "proposal", owner=alice, organization="Kaiser Bau GmbH")

    other = capture_lead(
        inquiry(2, email="olaf.p.1981@gmail.com", company="Keiser Bau"),
        source="form",
    )

    assert other.created, other.reason
    (shown,) = possibly_same(other.lead)
    assert (shown.kind, shown.pk, shown.company) == ("deal", deal.pk, "Kaiser Bau GmbH")


def test_an_open_deal_of_the_same_key_is_joined(routed, alice, now):
    deal = make_deal(routed, "proposal", owner=alice, organization="ACME Robotics GmbH")

    again = capture_lead(
        inquiry(2, email="olaf.p.1981@gmail.com", company="Acme Robotics"),
        source="form",
    )

    assert not again.created
    assert (again.decision.deal_id, again.decision.matched_on) == (deal.pk, "company")


def test_a_lead_page_offers_a_name_sharing_a_block(client, routed, olivia, now):
    first = capture_lead(
        inquiry(1, email="anna@gmail.com", company="Kaiser Bau"), source="form"
    ).lead
    second = capture_lead(
        inquiry(2, email="olaf@web.de", company="Keiser Bau"), source="form"
    ).lead
    client.force_login(olivia)

    page = client.get(f"/leads/{first.pk}/")

    shown = text_of(page).split("Possibly the same as")[1].split("Act")[0]
    assert f"lead {second.pk}: Person 2 · Keiser Bau (Keiser Bau, 90/100)" in shown
    assert f"Merge into lead {second.pk}" in shown


def test_closed_deals_and_leads_are_not_offered(routed, alice, now):
    closed = Deal.objects.create(
        pipeline=routed,
        stage=routed.stages.first(),
        title="Old scanners",
        owner=alice,
        status=Deal.Status.LOST,
        closed_at=now,
        organization=Organization.objects.create(name="Siemens AG"),
    )
    assert closed.pk
    lead = capture_lead(
        inquiry(2, email="b@web.de", company="Simens"), source="form"
    ).lead

    assert possibly_same(lead) == []


def test_the_possible_leads_and_deals_are_read_in_two_queries(
    routed, alice, now, django_assert_num_queries
):
    make_deal(routed, "proposal", owner=alice, organization="Kaiser Bau GmbH")
    for n, company in enumerate(["Keisser Bau", "Simens Bau", "Mertens Bau"]):
        capture_lead(inquiry(n, email=f"p{n}@gmail.com", company=company), source="api")
    lead = capture_lead(
        inquiry(4, email="jan@web.de", company="Keiser Bau"), source="form"
    ).lead
    lead.refresh_from_db()

    with django_assert_num_queries(2):
        shown = possibly_same(lead)

    assert [p.company for p in shown] == ["Keisser Bau", "Kaiser Bau GmbH"]
