"""Logging what happened with the buyer on a deal: the page's form, the API,
and what criteria and clocks make of it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.deals.models import Activity, Deal
from dealgate.pipelines.models import Handoff

from .helpers import make_deal, text_of


@pytest.fixture
def gated(pipeline):
    """Leaving discovery needs a held discovery meeting; entering discovery
    from inquiry opens a two-hour response window."""
    discovery = pipeline.stages.get(key="discovery")
    discovery.exit_criteria = {
        "mode": "all",
        "items": [{"label": "Met", "rule": "held('meeting', 'discovery')"}],
    }
    discovery.save()
    Handoff.objects.create(
        pipeline=pipeline,
        from_stage=pipeline.stages.get(key="inquiry"),
        to_stage=discovery,
        response_window_minutes=120,
    )
    return pipeline


@pytest.fixture
def deal(gated, alice, now) -> Deal:
    return make_deal(gated, "discovery", title="Helpdesk", owner=alice)


def log(client, deal, **fields):
    return client.post(reverse("deal-activity", args=[deal.pk]), fields)


def test_a_logged_meeting_with_its_tag_passes_the_stage_exit_criterion(
    client, alice, deal, now
):
    client.force_login(alice)

    response = log(
        client, deal, kind="meeting", subject="Discovery call", tag="discovery"
    )

    assert response.status_code == 302
    (meeting,) = Activity.objects.filter(deal=deal)
    assert (meeting.kind, meeting.tag, meeting.done, meeting.at, meeting.by) == (
        "meeting",
        "discovery",
        True,
        now,
        alice,
    )
    page = client.get(reverse("deal", args=[deal.pk])).content.decode()
    assert "Discovery call" in page
    # The tag the criteria ask for is offered.
    assert '<option value="discovery">' in page
    moved = client.post(
        reverse("deal-move", args=[deal.pk]), {"to": "proposal", "version": 1}
    )
    assert moved.status_code == 302
    assert Deal.objects.get(pk=deal.pk).stage.key == "proposal"


def test_a_logged_call_meets_the_deals_response_window(client, alice, gated, now):
    deal = make_deal(gated, "inquiry", title="Helpdesk", owner=alice)
    client.force_login(alice)
    client.post(reverse("deal-move", args=[deal.pk]), {"to": "discovery", "version": 1})
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert window.state == "running"

    log(client, deal, kind="call", subject="Called back")

    window.refresh_from_db()
    assert window.state == "met"


def test_a_task_needs_a_due_date_said_at_that_input_and_then_runs_a_clock(
    client, alice, deal
):
    client.force_login(alice)

    refused = log(client, deal, kind="task", subject="Send the proposal")

    assert refused.status_code == 422
    assert "Due: a task needs a due date, a day like 2026-07-31" in text_of(refused)
    assert not Activity.objects.exists()

    log(client, deal, kind="task", subject="Send the proposal", due="2026-06-12")

    task = Activity.objects.get(kind="task")
    assert not task.done
    assert task.due_at == dt.datetime(2026, 6, 12, 15, 0, tzinfo=dt.UTC)  # 17:00
    assert Clock.objects.filter(activity=task, state="running").exists()

    deal.refresh_from_db()
    done = client.post(
        reverse("deal-task-done", args=[deal.pk, task.pk]), {"version": deal.version}
    )

    assert done.status_code == 302
    task.refresh_from_db()
    assert task.done
    assert Clock.objects.get(activity=task).state == "met"
    again = client.post(f"/api/v1/deals/{deal.pk}/tasks/{task.pk}/done")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"kind": "task", "subject": "x", "due": "2300-01-01"}, "not in 2300"),
        ({"kind": "task", "subject": "x", "due": "20260612"}, "a day like"),
        ({"kind": "lunch", "subject": "x"}, "What: must be one of"),
        ({"kind": "call", "subject": "  "}, "In a few words: say in a few words"),
        ({"kind": "call", "subject": "x", "tag": "two words"}, "Tag: must be one word"),
        ({"kind": "call", "subject": "x", "due": "2026-06-12"}, "only a task"),
    ],
)
def test_what_cannot_be_logged_is_said_at_its_input_and_nothing_is_kept(
    client, alice, deal, fields, says
):
    client.force_login(alice)

    response = log(client, deal, **fields)

    assert response.status_code == 422
    assert says in response.content.decode()
    assert not Activity.objects.exists()


def test_a_rep_cannot_log_on_another_reps_deal(client, bob, deal):
    client.force_login(bob)

    response = log(client, deal, kind="call", subject="Sneaky")

    assert response.status_code == 403
    assert not Activity.objects.exists()


def test_the_api_logs_an_activity_and_names_a_bad_field(client, alice, deal):
    client.force_login(alice)
    url = f"/api/v1/deals/{deal.pk}/activities"

    made = client.post(
        url,
        json.dumps({"kind": "email", "subject": "Proposal sent", "tag": "proposal"}),
        content_type="application/json",
    )
    bad = client.post(
        url,
        json.dumps({"kind": "task", "subject": "x", "due_at": "2026-06-12T17:00:00"}),
        content_type="application/json",
    )

    assert made.status_code == 201
    assert made.json()["kind"] == "email" and made.json()["done"] is True
    assert bad.status_code == 422
    assert bad.json()["field"] == "due_at"
    assert "time zone offset" in bad.json()["message"]


def test_a_reopened_deal_runs_its_open_tasks_again_and_a_closed_one_takes_none(
    client, alice, deal, now
):
    client.force_login(alice)
    log(client, deal, kind="task", subject="Send the proposal", due="2026-06-12")
    task = Activity.objects.get(kind="task")
    Deal.objects.filter(pk=deal.pk).update(custom={})
    move = reverse("deal-move", args=[deal.pk])
    client.post(move, {"to": "lost", "loss_reason": "price", "version": 1})
    assert Clock.objects.get(activity=task).state == "cancelled"

    refused = log(client, deal, kind="task", subject="Later", due="2026-06-15")
    assert "reopen it to plan a next step" in refused.content.decode()

    client.post(move, {"to": "discovery", "version": 2})

    running = Clock.objects.filter(activity=task, state="running")
    assert running.count() == 1


def test_a_task_done_records_when_and_by_whom_and_the_page_and_api_say_so(
    client, alice, deal, now
):
    from dealgate import timesource
    from tests.web.helpers import text_of

    client.force_login(alice)
    log(client, deal, kind="task", subject="Send the proposal", due="2026-06-12")
    task = Activity.objects.get(kind="task")
    later = now + dt.timedelta(hours=2)

    with timesource.frozen_at(later):
        done = client.post(f"/api/v1/deals/{deal.pk}/tasks/{task.pk}/done")

    assert done.status_code == 200
    assert done.json()["done_by"] == "alice"
    assert dt.datetime.fromisoformat(done.json()["done_at"]) == later
    task.refresh_from_db()
    assert (task.done_at, task.done_by) == (later, alice)
    assert Clock.objects.get(activity=task).ended_at == later
    # 14:00 UTC is 16:00 in Berlin, the pipeline's zone.
    page = text_of(client.get(reverse("deal", args=[deal.pk])))
    assert "Task (done 10 Jun 2026, 16:00 by Alice Rep)" in page


def test_a_call_logged_as_it_happened_is_done_then_by_who_logged_it(
    client, alice, deal, now
):
    client.force_login(alice)

    log(client, deal, kind="call", subject="Asked about the budget")

    call = Activity.objects.get(kind="call")
    assert (call.done, call.done_at, call.done_by) == (True, now, alice)


@pytest.mark.parametrize(
    ("due", "at"),
    [
        # A Friday that closes at 16:00 in Berlin: due when work ends.
        ("2026-06-12", dt.datetime(2026, 6, 12, 14, 0, tzinfo=dt.UTC)),
        # A Saturday, with no hours: 17:00 there.
        ("2026-06-13", dt.datetime(2026, 6, 13, 15, 0, tzinfo=dt.UTC)),
    ],
)
def test_a_task_is_due_when_that_days_work_ends_in_the_pipelines_calendar(
    client, alice, deal, now, due, at
):
    deal.pipeline.calendar = {
        "timezone": "Europe/Berlin",
        "hours": {"mon": ["09:00-17:00"], "fri": ["09:00-12:00", "13:00-16:00"]},
    }
    deal.pipeline.save()
    client.force_login(alice)

    log(client, deal, kind="task", subject="Send the proposal", due=due)

    assert Activity.objects.get(kind="task").due_at == at


# NOW is 2026-06-10 14:00 in Berlin, the pipeline's calendar.
@pytest.mark.parametrize(
    ("due", "taken"),
    [("2026-06-09", False), ("2020-01-01", False), ("2026-06-10", True)],
)
def test_a_new_task_due_before_today_is_refused_at_the_due_input(
    client, alice, deal, due, taken
):
    client.force_login(alice)

    response = log(client, deal, kind="task", subject="Send the proposal", due=due)

    if taken:
        assert response.status_code == 302
        assert Activity.objects.get(kind="task").due_at.date() == dt.date(2026, 6, 10)
        return
    assert response.status_code == 422
    assert (
        f"Due: {due} is before today (2026-06-10); a new task is due today or later"
    ) in text_of(response)
    assert not Activity.objects.exists()


def test_the_api_refuses_a_new_task_due_before_today_in_the_pipelines_zone(
    client, alice, deal
):
    client.force_login(alice)
    url = f"/api/v1/deals/{deal.pk}/activities"

    def task(due_at):
        body = {"kind": "task", "subject": "Call back", "due_at": due_at}
        return client.post(url, json.dumps(body), content_type="application/json")

    # 23:30 UTC on the 9th is already the 10th in Berlin: today, taken.
    late_yesterday_utc = task("2026-06-09T23:30:00+00:00")
    yesterday = task("2026-06-09T17:00:00+02:00")

    assert late_yesterday_utc.status_code == 201, late_yesterday_utc.content
    assert yesterday.status_code == 422
    assert (yesterday.json()["field"], yesterday.json()["message"]) == (
        "due_at",
        "due_at 2026-06-09 is before today (2026-06-10); "
        "a new task is due today or later",
    )
    assert Activity.objects.count() == 1


def test_a_task_that_falls_overdue_stays_as_it_is(client, alice, deal):
    client.force_login(alice)
    log(client, deal, kind="task", subject="Send the proposal", due="2026-06-10")
    task = Activity.objects.get(kind="task")

    with timesource.frozen_at(dt.datetime(2026, 6, 20, 12, 0, tzinfo=dt.UTC)):
        page = client.get(reverse("deal", args=[deal.pk]))
        done = client.post(
            reverse("deal-task-done", args=[deal.pk, task.pk]),
            {"version": Deal.objects.get(pk=deal.pk).version},
        )

    assert page.status_code == 200
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.done and task.due_at.date() == dt.date(2026, 6, 10)
