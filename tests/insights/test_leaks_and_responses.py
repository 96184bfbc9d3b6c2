"""Stages missing their rules, and lead response times."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.insights import queries
from dealgate.insights.filters import facts_for
from dealgate.leads.models import Lead
from dealgate.pipelines.models import Handoff, Stage

from .conftest import START, filters_for

pytestmark = pytest.mark.django_db


def test_a_stage_without_owner_exit_criteria_window_or_limit_is_a_leak(pipeline):
    leaks = {
        leak.stage.key: leak.missing
        for leak in queries.design_leaks(facts_for(pipeline))
    }

    # The shared pipeline has owners and limits, but no criteria or windows.
    assert leaks["inquiry"] == ["exit criteria", "response window"]


def test_a_stage_with_every_rule_is_not_a_leak(pipeline, alice):
    stage = pipeline.stages.get(key="inquiry")
    stage.exit_criteria = {"mode": "all", "items": [{"label": "Named", "rule": "true"}]}
    stage.owner_kind, stage.owner_user = Stage.OwnerKind.PERSON, alice
    stage.save()
    Handoff.objects.create(
        pipeline=pipeline, to_stage=stage, response_window_minutes=60
    )

    leaks = {leak.stage.key for leak in queries.design_leaks(facts_for(pipeline))}

    assert "inquiry" not in leaks


def test_an_owner_kind_naming_nobody_is_no_owner(pipeline):
    pipeline.stages.filter(key="proposal").update(
        owner_kind="team", age_limit_days=None
    )

    leaks = {
        leak.stage.key: leak.missing
        for leak in queries.design_leaks(facts_for(pipeline))
    }

    assert leaks["proposal"][0] == "owner"
    assert leaks["proposal"][-1] == "age limit"


def lead(pipeline, owner, minutes: float | None, *, assigned=START, **fields) -> Lead:
    answered = minutes is not None
    return Lead.objects.create(
        pipeline=pipeline,
        channel="web",
        created_at=assigned,
        owner=owner,
        assigned_at=assigned,
        first_response_at=assigned + dt.timedelta(minutes=minutes)
        if answered
        else None,
        response_business_minutes=minutes,
        response_wall_seconds=minutes * 60 if answered else None,
        **fields,
    )


def test_lead_response_shares_count_unanswered_leads_as_not_answered(pipeline, alice):
    for minutes in (3, 30, 300, None):
        lead(pipeline, alice, minutes)

    found = queries.response_times(filters_for(pipeline))

    assert found.leads == 4
    assert found.share(found.within_5_minutes) == 0.25
    assert found.share(found.within_1_hour) == 0.5
    assert found.share(found.within_1_day) == 0.75
    assert found.business_minutes.median == 30


def test_historic_leads_have_no_response_window_and_are_left_out(pipeline, alice):
    lead(pipeline, alice, 2)
    lead(pipeline, alice, None, historic=True)

    assert queries.response_times(filters_for(pipeline)).leads == 1


def test_lead_response_follows_the_owner_and_source_filters(pipeline, alice, bob):
    lead(pipeline, alice, 2, source="partner")
    lead(pipeline, bob, 90)

    assert queries.response_times(filters_for(pipeline, owner="bob")).leads == 1
    assert queries.response_times(filters_for(pipeline, source="partner")).leads == 1


def clock(pipeline, deal, stage: str, kind: str, state: str, due: dt.datetime):
    from dealgate.clocks.models import Clock

    return Clock.objects.create(
        kind=kind,
        state=state,
        key=f"deal:{deal.pk}:{kind}:{Clock.objects.count()}",
        pipeline=pipeline,
        deal=deal,
        stage=pipeline.stages.get(key=stage),
        window_minutes=60,
        started_at=due - dt.timedelta(hours=1),
        due_at=due,
        late_after=due,
        ended_at=due,
        is_open=state in ("running", "breached"),
    )


def test_windows_and_limits_kept_and_missed_are_counted_by_stage(pipeline, alice, bob):
    from .conftest import open_deal

    deal = open_deal(pipeline, "inquiry", START, owner=alice)
    clock(pipeline, deal, "inquiry", "response", "met", START)
    clock(pipeline, deal, "inquiry", "response", "breached", START)
    clock(pipeline, deal, "inquiry", "response", "breached", START)
    clock(pipeline, deal, "proposal", "age", "met", START)
    clock(pipeline, deal, "proposal", "age", "running", START)

    found = [
        (one.stage.key, one.kind, one.kept, one.missed)
        for one in queries.clock_tallies(filters_for(pipeline))
    ]

    assert found == [("inquiry", "response", 1, 2), ("proposal", "age", 1, 0)]
    assert queries.clock_tallies(filters_for(pipeline, owner="bob")) == []


def test_the_clock_table_says_it_counts_clocks_and_leaves_out_deals_without_any(
    pipeline, alice
):
    from dealgate.clocks.models import Clock
    from dealgate.deals.models import Deal
    from dealgate.insights import reports
    from tests.conftest import NOW

    from .conftest import open_deal

    timed = open_deal(pipeline, "inquiry", START, owner=alice)
    clock(pipeline, timed, "inquiry", "age", "breached", START)
    imported = open_deal(pipeline, "inquiry", START, owner=alice)
    Deal.objects.filter(pk=imported.pk).update(status="won", closed_at=START)
    Clock.objects.filter(deal=imported).delete()  # as an import writes it

    filters = filters_for(pipeline)
    note = reports.bottlenecks(filters, NOW).table("clocks").note

    assert queries.closed_without_clocks(filters) == 1
    assert "a count of clocks, not of deals" in note
    assert "1 deal closed in the period without any clock" in note
    assert note.endswith("(imported already closed) counts in no column.")
