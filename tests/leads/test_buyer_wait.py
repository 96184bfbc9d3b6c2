"""A lead's response time is how long the buyer waited: from the inquiry's
arrival to its first answer, in business time, however long it sat without
an owner or however often it changed hands. The owner's own window still
runs from each assignment (its clock); the figures that say how fast buyers
are answered do not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dealgate import timesource
from dealgate.leads.models import Lead
from dealgate.leads.report import lead_report
from dealgate.leads.services import (
    assign_lead,
    capture_lead,
    merge_lead,
    record_response,
    split_lead,
)
from tests.conftest import NOW

from .conftest import CENTRAL_RULES, inquiry

DAY = dt.timedelta(days=1)


def test_a_lead_that_waited_for_an_owner_counts_the_wait(
    routed, alice, max_manager, now
):
    # Only the DACH rule: a lead from the US waits for someone to take it.
    routed.settings = {"routing": CENTRAL_RULES[:1]}
    routed.save()
    lead = capture_lead(inquiry(country="US"), source="api").lead
    assert lead.owner is None
    # Seven business days later (Wed 14:00 to the next Fri 14:00, Berlin).
    assigned = NOW + 9 * DAY
    with timesource.frozen_at(assigned):
        assign_lead(lead.pk, alice, by=max_manager, note="back from leave")
    with timesource.frozen_at(assigned + dt.timedelta(minutes=10)):
        record_response(lead.pk, kind="call", by=alice)
        report = lead_report(routed)

    lead.refresh_from_db()
    assert lead.response_business_minutes == pytest.approx(7 * 480 + 10)
    assert lead.response_wall_seconds == (9 * DAY).total_seconds() + 600
    assert (report.answered, report.answered_in_window) == (1, 0)
    assert report.response_business_median == pytest.approx(3370)
    assert "answered: 1, 0 within 15 business min of arriving" in "\n".join(
        report.lines()
    )


def test_a_lead_passed_around_counts_from_its_arrival(
    routed, alice, bob, max_manager, now
):
    lead = capture_lead(inquiry(), source="api").lead  # alice, Wed 14:00
    # Passed on Thursday, Friday and Monday at 14:00, answered five minutes
    # after the last: three business days and five minutes since it came.
    for days, person in ((1, bob), (2, alice), (5, bob)):
        with timesource.frozen_at(NOW + days * DAY):
            assign_lead(lead.pk, person, by=max_manager, note="passed on")
    with timesource.frozen_at(NOW + 5 * DAY + dt.timedelta(minutes=5)):
        record_response(lead.pk, kind="email", by=bob)

    lead.refresh_from_db()
    assert lead.response_business_minutes == pytest.approx(3 * 480 + 5)


def test_an_answer_within_the_window_of_arrival_counts_within_it(routed, alice, now):
    lead = capture_lead(inquiry(), source="api").lead
    with timesource.frozen_at(NOW + dt.timedelta(minutes=12)):
        record_response(lead.pk, kind="call", by=alice)
        report = lead_report(routed)

    assert (report.answered, report.answered_in_window) == (1, 1)
    assert report.window_minutes == 15


LATE_BADGE = '<span class="badge risk">answered in'


@pytest.mark.parametrize(("minutes", "late"), [(12, False), (16, True)])
def test_the_lead_page_marks_an_answer_late_as_the_report_counts_it(
    client, routed, alice, now, minutes, late
):
    lead = capture_lead(inquiry(), source="api").lead
    client.force_login(alice)
    with timesource.frozen_at(NOW + dt.timedelta(minutes=minutes)):
        record_response(lead.pk, kind="call", by=alice)
        report = lead_report(routed)
        page = client.get(f"/leads/{lead.pk}/").content.decode()

    assert report.answered_in_window == (0 if late else 1)
    assert (LATE_BADGE in page) is late
    assert f"{minutes} business minutes after it arrived" in page


def test_an_answer_in_a_reopened_window_is_late_if_the_buyer_waited_longer(
    client, routed, olivia, now
):
    kept = capture_lead(inquiry(1), source="api").lead
    lead = capture_lead(inquiry(2), source="api").lead
    decision = merge_lead(lead.pk, by=olivia, into_lead=kept.pk)
    # Split the next day: the lead gets a whole window from then, but its
    # buyer has waited a business day already.
    with timesource.frozen_at(NOW + DAY):
        split_lead(decision.pk, by=olivia)
    answered = NOW + DAY + dt.timedelta(minutes=5)
    owner = Lead.objects.select_related("owner").get(pk=lead.pk).owner
    client.force_login(owner)
    with timesource.frozen_at(answered):
        record_response(lead.pk, kind="call", by=owner)
        report = lead_report(routed)
        inbox = client.get("/leads/").content.decode()
        page = client.get(f"/leads/{lead.pk}/").content.decode()

    lead.refresh_from_db()
    assert lead.first_response_at < lead.response_due_at
    assert lead.response_business_minutes == pytest.approx(480 + 5)
    assert report.answered_in_window == 0
    assert LATE_BADGE in page
    assert LATE_BADGE in inbox


BEFORE = [("leads", "0013_api_token_capture_scope")]


@pytest.mark.django_db(transaction=True)
def test_upgrading_recounts_stored_response_times_from_arrival(routed, alice):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        OldLead = old.get_model("leads", "Lead")
        answered = NOW + 2 * DAY + dt.timedelta(minutes=10)
        OldLead.objects.create(
            pipeline_id=routed.pk,
            status="answered",
            email="late@buyer.example",
            channel="api",
            created_at=NOW,
            owner_id=alice.pk,
            assigned_at=NOW + 2 * DAY,
            first_response_at=answered,
            # As stored before: ten minutes from the last assignment.
            response_wall_seconds=600.0,
            response_business_minutes=10.0,
        )
        OldLead.objects.create(
            pipeline_id=routed.pk,
            status="assigned",
            email="open@buyer.example",
            channel="api",
            created_at=NOW,
            owner_id=alice.pk,
            assigned_at=NOW,
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    late = Lead.objects.get(email="late@buyer.example")
    assert late.response_business_minutes == pytest.approx(2 * 480 + 10)
    assert late.response_wall_seconds == (answered - NOW).total_seconds()
    still_open = Lead.objects.get(email="open@buyer.example")
    assert still_open.response_business_minutes is None
