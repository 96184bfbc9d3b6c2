"""Leads left unanswered: the owner is told, and after a second window the
lead is routed again (reassign) or the manager is told."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.leads import assign
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead

from .conftest import berlin

ROUND_ROBIN = [
    {"name": "team", "to": ["user:alice", "user:bob"], "how": "round-robin"},
]


@pytest.fixture
def routed(windows, alice, bob, max_manager):
    assign.forget_cached()
    windows.settings = {"routing": ROUND_ROBIN}
    windows.save()
    return windows


def capture(pipeline) -> Lead:
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    return capture_lead(data, source="api", pipeline=pipeline).lead


def test_an_unanswered_lead_is_breached_and_its_owner_told(routed, clock):
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 16))

    sweep()

    (notice,) = Notice.objects.filter(user=lead.owner)
    assert notice.title == "New lead not answered: Petra · Firm AG"
    assert "15 business minutes" in notice.body
    assert notice.lead_id == lead.pk
    assert notice.url == f"/leads/{lead.pk}/"


def test_a_lead_answered_in_time_is_never_breached(routed, clock):
    from dealgate.leads.services import record_response

    clock.to(berlin(10, 10))
    lead = capture(routed)
    record_response(lead.pk, kind="call", by=lead.owner)
    clock.to(berlin(10, 12))

    assert sweep().due == 0
    assert Notice.objects.count() == 0


def test_after_a_second_window_the_lead_is_routed_to_someone_else(
    routed, alice, bob, clock
):
    routed.settings = {
        **routed.settings,
        "breach": {
            "handoffs": {"lead->inquiry": {"on_breach": ["notify", "reassign"]}}
        },
    }
    routed.save()
    clock.to(berlin(10, 10))
    lead = capture(routed)
    first = lead.owner
    clock.to(berlin(10, 10, 31))  # two windows of 15 minutes

    result = sweep()

    lead.refresh_from_db()
    assert lead.owner != first
    assert result.reassigned == 1
    # The same obligation, still breached and due when the inquirer was
    # promised an answer, now the new owner's with a window of their own.
    (window,) = Clock.objects.filter(lead=lead)
    assert (window.state, window.responsible) == (Clock.State.BREACHED, lead.owner)
    assert window.due_at == lead.response_due_at == berlin(10, 10, 15)
    assert window.escalate_at == berlin(10, 10, 46)
    assert Notice.objects.filter(user=lead.owner, kind="reassigned").count() == 1


def test_today_shows_the_owner_an_unanswered_lead(routed, client, clock):
    from tests.conftest import PASSWORD
    from tests.web.helpers import text_of

    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 20))
    sweep()
    client.login(username=lead.owner.username, password=PASSWORD)

    page = text_of(client.get("/today/"))

    assert "Petra · Firm AG" in page
    assert "no answer, 5 business minutes over the window" in page


def _reassign_on_second_breach(pipeline) -> None:
    pipeline.settings = {
        **pipeline.settings,
        "breach": {
            "handoffs": {"lead->inquiry": {"on_breach": ["notify", "reassign"]}}
        },
    }
    pipeline.save()


def test_a_lead_nobody_else_can_take_keeps_its_owner_and_the_manager_is_told(
    routed, alice, bob, max_manager, clock
):
    from dealgate.leads.models import Availability

    _reassign_on_second_breach(routed)
    clock.to(berlin(10, 10))
    lead = capture(routed)
    owner = lead.owner
    colleague = bob if owner == alice else alice
    Availability.objects.create(user=colleague, away_until=berlin(20, 9))
    clock.to(berlin(10, 10, 31))  # two windows of 15 minutes

    result = sweep()

    lead.refresh_from_db()
    assert lead.owner == owner
    assert lead.status == Lead.Status.ASSIGNED
    assert result.reassigned == 0
    breached = Clock.objects.get(lead=lead, state=Clock.State.BREACHED)
    assert breached.note == "nobody to reassign to and escalated to the manager"
    (told,) = Notice.objects.filter(user=max_manager, kind="escalation")
    assert told.lead_id == lead.pk
    assert not Notice.objects.filter(kind="reassigned").exists()


def test_a_lead_reassigned_by_the_sweeper_records_it_without_bothering_the_manager(
    routed, alice, bob, max_manager, clock
):
    _reassign_on_second_breach(routed)
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 31))

    sweep()

    lead.refresh_from_db()
    breached = Clock.objects.get(lead=lead, state=Clock.State.BREACHED)
    assert breached.note == f"reassigned to {lead.owner.username}"
    assert not Notice.objects.filter(user=max_manager, kind="escalation").exists()


def _task_on_breach(pipeline) -> None:
    pipeline.settings = {
        **pipeline.settings,
        "breach": {"handoffs": {"lead->inquiry": {"on_breach": ["notify", "task"]}}},
    }
    pipeline.save()


def test_a_task_on_breach_is_a_real_task_on_the_lead_for_its_owner(routed, clock):
    from dealgate.leads.models import LeadActivity

    _task_on_breach(routed)
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 16))

    result = sweep()

    (task,) = LeadActivity.objects.filter(lead=lead, kind="task")
    assert not task.done
    assert task.due_at > clock.now
    step = Clock.objects.get(lead_task=task)
    assert step.kind == Clock.Kind.NEXT_STEP
    assert step.state == Clock.State.RUNNING
    assert step.responsible == lead.owner
    assert step.due_at == task.due_at
    assert result.tasks == 1
    assert not Notice.objects.filter(kind="task").exists()


def test_a_lead_task_done_in_time_is_met_and_never_breached(routed, clock):
    from dealgate.leads.models import LeadActivity
    from dealgate.leads.services import complete_lead_task

    _task_on_breach(routed)
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 16))
    sweep()
    task = LeadActivity.objects.get(lead=lead, kind="task")

    complete_lead_task(task.pk, by=lead.owner)
    clock.to(berlin(12, 10))
    sweep()

    task.refresh_from_db()
    assert task.done
    step = Clock.objects.get(lead_task=task)
    assert (step.state, step.note) == (Clock.State.MET, "task done")


def test_a_lead_task_left_undone_runs_out_like_a_deals_next_step(routed, clock):
    from dealgate.leads.models import LeadActivity

    _task_on_breach(routed)
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 16))
    sweep()
    task = LeadActivity.objects.get(lead=lead, kind="task")
    clock.to(berlin(12, 10))

    sweep()

    step = Clock.objects.get(lead_task=task)
    assert step.state == Clock.State.BREACHED
    titles = set(Notice.objects.filter(user=lead.owner).values_list("title", flat=True))
    assert f"Next step overdue: {task.subject} (Petra · Firm AG)" in titles


def test_the_lead_page_shows_its_task_and_marks_it_done(routed, client, clock):
    from dealgate.leads.models import LeadActivity
    from tests.conftest import PASSWORD
    from tests.web.helpers import text_of

    _task_on_breach(routed)
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 16))
    sweep()
    task = LeadActivity.objects.get(lead=lead, kind="task")
    client.login(username=lead.owner.username, password=PASSWORD)

    assert task.subject in text_of(client.get(f"/leads/{lead.pk}/"))
    other = capture_lead(
        {"name": "Jonas", "email": "jonas@other.example", "company": "Other GmbH"},
        source="api",
        pipeline=routed,
    ).lead
    client.post(f"/leads/{other.pk}/tasks/{task.pk}/done/")  # not that lead's
    task.refresh_from_db()
    assert not task.done

    client.post(f"/leads/{lead.pk}/tasks/{task.pk}/done/")

    task.refresh_from_db()
    assert task.done
    # When and by whom, on the record and on the page (Berlin time).
    assert (task.done_at, task.done_by) == (clock.now, lead.owner)
    page = text_of(client.get(f"/leads/{lead.pk}/"))
    assert f"done 10 Jun 2026, 10:16 by {lead.owner.display_name}" in page


def test_a_lead_task_keeps_its_clock_when_the_lead_is_edited_and_follows_its_owner(
    routed, alice, bob, clock
):
    from dealgate.leads.models import LeadActivity

    _task_on_breach(routed)
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 16))
    sweep()
    task = LeadActivity.objects.get(lead=lead, kind="task")

    lead.refresh_from_db()
    lead.name = "Anna Schmidt-Weber"
    lead.save()  # a full save, as an edit makes
    step = Clock.objects.get(lead_task=task)
    assert (step.state, step.responsible) == (Clock.State.RUNNING, lead.owner)

    colleague = bob if lead.owner == alice else alice
    lead.owner = colleague
    lead.save()
    step.refresh_from_db()
    assert (step.state, step.responsible) == (Clock.State.RUNNING, colleague)
