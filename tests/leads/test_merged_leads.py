"""A lead merged by hand still leads to where it went.

A merge says the merged lead's buyer is the buyer of the lead or deal it
went into. Their next inquiry from the merged lead's email or phone joins
that lead (found by hap: it was a stranger's new lead, routed afresh), or
the deal it was merged into or became, and the merged lead stays merged. A
company domain or name is no person: a colleague of the merged lead's is
compared with open records only.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from dealgate.deals.models import Activity
from dealgate.leads import dedup
from dealgate.leads.intake import clean_lead
from dealgate.leads.models import DedupDecision, Lead
from dealgate.leads.services import (
    capture_lead,
    convert_lead,
    disqualify_lead,
    merge_lead,
    split_lead,
)
from tests.locking import until

from .conftest import inquiry

PRIVATE = dict(company=None, email="sam.smith@gmx.de", name="Sam Smith")


def _two_leads_of_sam() -> tuple[Lead, Lead]:
    """Sam's lead from a private address, and a second one from work that
    nothing ties to it (no shared phone, company domain or name)."""
    first = capture_lead(inquiry(1, **PRIVATE), source="form").lead
    second = capture_lead(inquiry(2, name="Sam Smith"), source="form").lead
    assert first.pk != second.pk
    return first, second


def test_an_inquiry_from_a_merged_leads_address_joins_the_lead_it_was_merged_into(
    routed, olivia, now
):
    first, second = _two_leads_of_sam()
    merge_lead(first.pk, by=olivia, into_lead=second.pk)

    again = capture_lead(inquiry(3, **PRIVATE), source="form")

    assert not again.created, again.reason
    assert again.decision.lead_id == second.pk
    assert again.decision.matched_on == "email"
    assert again.decision.reason == (
        f"same email address as lead {first.pk}, merged into this lead"
    )
    assert Lead.objects.filter(status__in=Lead.OPEN).count() == 1
    first.refresh_from_db()
    assert (first.status, first.merged_into_id) == ("merged", second.pk)


def test_a_merged_leads_phone_leads_to_the_lead_it_was_merged_into(routed, olivia, now):
    phoned = dict(PRIVATE, email=None, phone="030 1234567")
    first = capture_lead(inquiry(1, **phoned), source="form").lead
    second = capture_lead(inquiry(2), source="form").lead
    merge_lead(first.pk, by=olivia, into_lead=second.pk)

    again = capture_lead(
        inquiry(3, **dict(phoned, phone="+49 30 1234567")), source="form"
    )

    assert again.decision.lead_id == second.pk
    assert again.decision.matched_on == "phone"


def test_an_inquiry_from_a_lead_merged_into_a_deal_is_a_note_on_the_deal(
    routed, olivia, now
):
    first, second = _two_leads_of_sam()
    deal = convert_lead(second.pk, by=olivia)
    merge_lead(first.pk, by=olivia, into_deal=deal.pk)

    again = capture_lead(inquiry(3, **PRIVATE), source="form")

    assert not again.created
    assert (again.decision.lead_id, again.decision.deal_id) == (None, deal.pk)
    assert again.decision.reason == (
        f"same email address as lead {first.pk}, merged into this deal"
    )
    assert Activity.objects.filter(deal=deal, subject__startswith="Repeat").exists()


def test_a_merged_lead_leads_to_the_deal_its_target_became(routed, olivia, now):
    first, second = _two_leads_of_sam()
    merge_lead(first.pk, by=olivia, into_lead=second.pk)
    deal = convert_lead(second.pk, by=olivia)

    again = capture_lead(inquiry(3, **PRIVATE), source="form")

    assert again.decision.deal_id == deal.pk
    assert again.decision.reason == (
        f"same email address as lead {first.pk}, merged into lead {second.pk}, "
        "converted into this deal"
    )


def test_merges_are_followed_from_lead_to_lead(routed, olivia, now):
    first, second = _two_leads_of_sam()
    third = capture_lead(inquiry(3, name="Sam Smith"), source="form").lead
    merge_lead(first.pk, by=olivia, into_lead=second.pk)
    merge_lead(second.pk, by=olivia, into_lead=third.pk)

    again = capture_lead(inquiry(4, **PRIVATE), source="form")

    assert again.decision.lead_id == third.pk


def test_a_merge_ending_at_a_closed_lead_leaves_the_inquiry_a_new_lead(
    routed, olivia, now
):
    first, second = _two_leads_of_sam()
    merge_lead(first.pk, by=olivia, into_lead=second.pk)
    disqualify_lead(second.pk, "student project", by=olivia)

    again = capture_lead(inquiry(3, **PRIVATE), source="form")

    assert again.created
    assert again.lead.response_due_at is not None
    first.refresh_from_db()
    assert first.status == Lead.Status.MERGED


def test_a_colleague_of_a_merged_lead_is_no_repeat_of_its_target(routed, olivia, now):
    """The merge tied a person to the target, not their firm: another
    person at the merged lead's company domain makes a lead of their own."""
    work = dict(email="sam@smith-digital.example", company="Smith Digital")
    first = capture_lead(inquiry(1, **work), source="form").lead
    second = capture_lead(inquiry(2), source="form").lead
    merge_lead(first.pk, by=olivia, into_lead=second.pk)

    colleague = capture_lead(
        inquiry(3, **dict(work, email="kim@smith-digital.example")), source="form"
    )

    assert colleague.created


def test_after_the_merge_is_split_the_address_joins_the_reopened_lead(
    routed, olivia, now
):
    first, second = _two_leads_of_sam()
    decision = merge_lead(first.pk, by=olivia, into_lead=second.pk)
    split_lead(decision.pk, by=olivia)

    again = capture_lead(inquiry(3, **PRIVATE), source="form")

    assert again.decision.lead_id == first.pk
    assert again.decision.reason == "same email address"


def _plan(sql: str, params: list) -> str:
    word = "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Tables this small are cheaper to scan: ask for the index path.
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"{word} {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_merged_leads_are_read_from_the_email_and_phone_indexes(routed, olivia, now):
    first, second = _two_leads_of_sam()
    merge_lead(first.pk, by=olivia, into_lead=second.pk)
    lead = clean_lead({**PRIVATE, "phone": "030 1234567"}, region="DE")

    plan = _plan(*dedup.merged_query(lead))

    assert "Seq Scan" not in plan and "SCAN leads_lead" not in plan, plan
    assert "lead_dedup_email" in plan and "lead_dedup_phone" in plan, plan


def test_a_capture_without_an_email_or_phone_reads_no_merged_lead():
    lead = clean_lead({"company": "Acme"}, region=None, require_contact=False)

    assert dedup.merged_query(lead) is None


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises "
    "writers, and its test database is private to one thread",
)
@pytest.mark.django_db(transaction=True)
def test_a_capture_during_a_merge_waits_for_it_and_joins_the_target(
    routed, olivia, other, now
):
    """The merge takes the capture locks of the merged lead's email and
    phone: a capture of the same buyer meanwhile waits for its commit and
    then follows the lead to its target, never joining the lead the merge
    is closing (which, read before the merge committed, it would)."""
    first, second = _two_leads_of_sam()
    outcome: list[DedupDecision] = []

    def capture() -> None:
        try:
            outcome.append(capture_lead(inquiry(3, **PRIVATE), source="form").decision)
        finally:
            connections.close_all()

    thread = threading.Thread(target=capture)
    with transaction.atomic():
        merge_lead(first.pk, by=olivia, into_lead=second.pk)
        thread.start()
        until(lambda: other.waiting_for_locks() == 1)
    thread.join(10)

    assert outcome and outcome[0].lead_id == second.pk
