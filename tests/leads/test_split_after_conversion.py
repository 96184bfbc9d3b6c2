"""A split undoes a decision wherever its note went: a lead converted after a
merge or a repeat inquiry carries the note onto its deal (a conversion copies
every activity), and the split removes that copy too, as docs/leads.md says."""

from __future__ import annotations

import logging

import pytest

from dealgate.deals.models import Activity, Deal
from dealgate.errors import PermissionDenied
from dealgate.leads.models import DedupDecision, Lead, LeadActivity
from dealgate.leads.services import (
    capture_lead,
    convert_lead,
    may_split,
    merge_lead,
    record_response,
    split_lead,
)

from .conftest import inquiry


@pytest.fixture
def to_alice(pipeline, alice, bob):
    """The suite's pipeline, routing every lead to alice."""
    pipeline.settings = {"routing": [{"name": "all", "to": "user:alice"}]}
    pipeline.save()
    return pipeline


def _capture(n: int, **fields) -> Lead:
    return capture_lead(inquiry(n, **fields), source="api").lead


def _subjects(deal: Deal) -> list[str]:
    return sorted(deal.activities.values_list("subject", flat=True))


@pytest.fixture
def merged_then_converted(to_alice, alice, now) -> tuple[DedupDecision, Lead, Deal]:
    """alice's lead 6 merged into her lead 5, which she then converted."""
    target, merged = _capture(5), _capture(6)
    record_response(target.pk, kind="call", by=alice, subject="Intro call")
    decision = merge_lead(merged.pk, by=alice, into_lead=target.pk)
    deal = convert_lead(target.pk, by=alice)
    assert _subjects(deal) == [
        "Intro call",
        f"Merged lead {merged.pk}: Person 6 · Company 6 GmbH",
    ]
    return decision, merged, deal


def test_a_split_after_conversion_removes_the_merge_note_from_the_deal(
    merged_then_converted, alice
):
    decision, merged, deal = merged_then_converted

    split_lead(decision.pk, by=alice)

    assert _subjects(deal) == ["Intro call"]
    assert not LeadActivity.objects.filter(subject__startswith="Merged").exists()
    merged.refresh_from_db()
    assert merged.is_open and merged.merged_into is None


def test_the_decisions_page_split_after_conversion_leaves_the_deal_without_the_note(
    client, merged_then_converted, alice
):
    decision, merged, deal = merged_then_converted
    client.force_login(alice)

    response = client.post(f"/leads/decisions/{decision.pk}/split/")

    assert response.status_code == 302
    assert not Activity.objects.filter(deal=deal, subject__startswith="Merged").exists()
    assert Lead.objects.get(pk=merged.pk).is_open


def test_a_split_after_conversion_says_in_the_log_which_deal_lost_the_note(
    merged_then_converted, alice, caplog
):
    decision, merged, deal = merged_then_converted

    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        split_lead(decision.pk, by=alice)

    assert (
        f"decision {decision.pk} split into lead {merged.pk} by alice; "
        f"its note removed from deal {deal.pk} too"
    ) in caplog.messages


def test_a_split_after_conversion_removes_the_repeat_inquiry_from_the_deal(
    to_alice, alice, now
):
    lead = _capture(1)
    repeat = capture_lead(inquiry(1, name="Second Person"), source="api")
    assert repeat.decision is not None and repeat.decision.lead_id == lead.pk
    deal = convert_lead(lead.pk, by=alice)
    assert _subjects(deal) == ["Repeat inquiry: Second Person · Company 1 GmbH"]

    split = split_lead(repeat.decision.pk, by=alice)

    assert _subjects(deal) == []
    assert split.pk != lead.pk and split.name == "Second Person"


def test_a_split_removes_only_the_copy_of_its_own_note(to_alice, alice, now):
    target, first, second = _capture(5), _capture(6), _capture(7)
    undone = merge_lead(first.pk, by=alice, into_lead=target.pk)
    merge_lead(second.pk, by=alice, into_lead=target.pk)
    deal = convert_lead(target.pk, by=alice)

    split_lead(undone.pk, by=alice)

    assert _subjects(deal) == [f"Merged lead {second.pk}: Person 7 · Company 7 GmbH"]


def test_a_split_after_conversion_needs_one_who_may_change_the_deal(
    merged_then_converted, alice, bob
):
    decision, merged, deal = merged_then_converted
    Deal.objects.filter(pk=deal.pk).update(owner=bob, responsible=bob)
    decision = DedupDecision.objects.select_related("lead", "deal", "source_lead").get(
        pk=decision.pk
    )

    assert not may_split(decision, alice)
    with pytest.raises(PermissionDenied) as refused:
        split_lead(decision.pk, by=alice)

    assert f"a split changes deal {deal.pk}" in refused.value.message
    assert Activity.objects.filter(deal=deal, subject__startswith="Merged").exists()
    assert Lead.objects.get(pk=merged.pk).status == Lead.Status.MERGED
