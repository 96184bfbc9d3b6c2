"""The intake response window: started by assignment, ended by the owner's
first outbound call, email or meeting, counted in business time."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.errors import ValidationError
from dealgate.leads.models import Lead
from dealgate.leads.services import assign_lead, capture_lead, record_response
from dealgate.pipelines.models import Handoff

from .conftest import inquiry

BERLIN = dt.timezone(dt.timedelta(hours=2))  # summer time
FRIDAY_LATE = dt.datetime(2026, 6, 12, 16, 50, tzinfo=BERLIN)


def test_the_default_window_is_fifteen_business_minutes(routed, now):
    lead = capture_lead(inquiry(), source="api").lead

    assert lead.response_due_at == now + dt.timedelta(minutes=15)


def test_the_window_comes_from_the_handoff_from_a_lead_and_skips_the_weekend(
    routed,
):
    Handoff.objects.create(
        pipeline=routed,
        from_stage=None,
        to_stage=routed.stages.first(),
        response_window_minutes=60,
    )
    with timesource.frozen_at(FRIDAY_LATE):
        lead = capture_lead(inquiry(), source="api").lead

    # 10 minutes on Friday, 50 on Monday morning.
    assert lead.response_due_at == dt.datetime(2026, 6, 15, 9, 50, tzinfo=BERLIN)


def test_the_owners_first_outbound_call_answers_the_lead(routed, alice):
    with timesource.frozen_at(FRIDAY_LATE):
        lead = capture_lead(inquiry(), source="api").lead
    monday = dt.datetime(2026, 6, 15, 9, 5, tzinfo=BERLIN)
    with timesource.frozen_at(monday):
        record_response(lead.pk, kind="call", by=alice, subject="Called back")

    lead.refresh_from_db()
    assert lead.status == Lead.Status.ANSWERED
    assert lead.first_response_at == monday
    assert lead.response_business_minutes == pytest.approx(15)
    assert lead.response_wall_seconds == (monday - FRIDAY_LATE).total_seconds()


@pytest.mark.parametrize(
    ("kind", "outbound", "by_owner"),
    [("note", True, True), ("email", False, True), ("call", True, False)],
)
def test_notes_inbound_mail_and_other_people_do_not_answer(
    routed, alice, max_manager, now, kind, outbound, by_owner
):
    lead = capture_lead(inquiry(), source="api").lead
    # Another person who may log on the lead: a manager.
    record_response(
        lead.pk, kind=kind, by=alice if by_owner else max_manager, outbound=outbound
    )

    lead.refresh_from_db()
    assert lead.status == Lead.Status.ASSIGNED
    assert lead.first_response_at is None


def test_reassigning_keeps_the_due_time(routed, alice, bob, max_manager, now):
    lead = capture_lead(inquiry(), source="api").lead
    later = now + dt.timedelta(minutes=30)
    with timesource.frozen_at(later):
        lead = assign_lead(lead.pk, bob, by=max_manager, note="alice is ill")

    assert lead.owner == bob and lead.rule == "manual"
    assert lead.assigned_at == later
    # The inquirer has waited since it came in (dealgate.clocks).
    assert lead.response_due_at == now + dt.timedelta(minutes=15)
    assert "assigned by hand by Max Manager: alice is ill" in lead.routing_reason
    assert lead.assignments.count() == 2


def test_an_unknown_activity_kind_is_refused(routed, alice, now):
    lead = capture_lead(inquiry(), source="api").lead
    with pytest.raises(ValidationError) as refused:
        record_response(lead.pk, kind="fax", by=alice)
    assert refused.value.field == "kind"


def test_the_report_gives_response_figures_of_live_leads(routed, alice, bob, now):
    from dealgate.leads.report import lead_report

    first = capture_lead(inquiry(1), source="api").lead  # alice
    capture_lead(inquiry(2), source="api")  # bob, never answered
    with timesource.frozen_at(now + dt.timedelta(minutes=6)):
        record_response(first.pk, kind="email", by=alice)
    with timesource.frozen_at(now + dt.timedelta(hours=1)):
        report = lead_report(routed)

    assert (report.answered, report.answered_in_window) == (1, 1)
    assert report.response_business_median == pytest.approx(6)
    assert report.overdue_now == 1
    assert not any("response times cannot be measured" in x for x in report.limits)


def test_routing_again_skips_the_current_owner(routed, alice, bob, now):
    lead = capture_lead(inquiry(), source="api").lead  # alice's turn
    capture_lead(inquiry(2), source="api")  # bob's; alice is next in turn

    again = assign_lead(lead.pk, None, by=None, note="window ran out twice")

    assert again.owner == bob
    assert again.routing_reason.startswith("routed again (window ran out twice): ")
    assert "Alice Rep (had this lead before)" in again.routing_reason
