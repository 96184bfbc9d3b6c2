"""A lead no routing rule could place is still someone's obligation: its
response window runs from its arrival for the intake (the person who owns
the pipeline's intake stage, else the firm's admins), the sweep tells them
when it runs out, it is on an admin's Today, and an owner given it later
takes the window over with its due time."""

from __future__ import annotations

import logging

import pytest

from dealgate.clocks.models import Clock, Delivery, Notice
from dealgate.clocks.sweep import sweep
from dealgate.leads import assign
from dealgate.leads.models import Availability, Lead
from dealgate.leads.services import assign_lead, capture_lead, route_waiting_leads
from dealgate.pipelines.models import Stage
from tests.conftest import PASSWORD
from tests.web.helpers import text_of

from .conftest import berlin


@pytest.fixture
def alice_only(windows, alice, settings):
    """Leads go to alice alone, with no fallback; alice is away all month."""
    settings.WEBHOOK_URL = "http://127.0.0.1:8131/hook"
    assign.forget_cached()
    windows.settings = {"routing": [{"name": "alice", "to": "user:alice"}]}
    windows.save()
    Availability.objects.create(user=alice, away_until=berlin(30, 9))
    return windows


def capture(pipeline) -> Lead:
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    return capture_lead(data, source="api", pipeline=pipeline).lead


def window(lead) -> Clock:
    return Clock.objects.get(lead=lead, kind=Clock.Kind.RESPONSE)


def test_an_unplaced_lead_runs_its_window_from_arrival_and_is_warned_about(
    alice_only, olivia, clock, caplog, django_capture_on_commit_callbacks
):
    clock.to(berlin(10, 10))

    with (
        caplog.at_level(logging.WARNING, logger="dealgate.clocks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        lead = capture(alice_only)

    assert (lead.status, lead.owner) == (Lead.Status.NEW, None)
    clock_row = window(lead)
    assert (clock_row.state, clock_row.responsible) == (Clock.State.RUNNING, None)
    assert (clock_row.started_at, clock_row.due_at) == (
        berlin(10, 10),
        berlin(10, 10, 15),
    )
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    said = warning.getMessage()
    assert f"lead {lead.pk} could not be placed" in said
    assert "Alice Rep is off (away until 2026-06-30 09:00 Europe/Berlin)" in said
    assert "due 2026-06-10T08:15:00+00:00, falls to the admins until" in said


def test_the_admins_are_told_when_an_unplaced_leads_window_runs_out(
    alice_only, olivia, max_manager, clock
):
    clock.to(berlin(10, 10))
    lead = capture(alice_only)
    clock.to(berlin(10, 10, 16))

    result = sweep()

    (notice,) = Notice.objects.all()
    assert (notice.user, notice.kind) == (olivia, Notice.Kind.BREACH)
    assert notice.title == "New lead waiting for an owner: Petra · Firm AG"
    assert "No routing rule could place the lead" in notice.body
    assert Delivery.objects.filter(notice=notice).count() == 1
    assert (result.breached, result.unaddressed) == (1, 0)

    # After one more window nobody gave it an owner: the admins again, as
    # for an escalation of a lead without an owner; then nothing more.
    for tick in (berlin(10, 10, 31), berlin(10, 12), berlin(11, 10)):
        clock.to(tick)
        sweep()
    kinds = list(Notice.objects.order_by("id").values_list("user__username", "kind"))
    assert kinds == [("olivia", "breach"), ("olivia", "escalation")]
    assert window(lead).note == "escalated to an admin: no owner"


def test_an_unplaced_lead_is_on_the_admins_today_and_not_a_reps(
    alice_only, olivia, bob, client, clock
):
    clock.to(berlin(10, 10))
    capture(alice_only)
    clock.to(berlin(10, 10, 20))
    sweep()

    client.login(username="olivia", password=PASSWORD)
    assert "Petra · Firm AG" in text_of(client.get("/today/"))
    client.login(username="bob", password=PASSWORD)
    assert "Petra · Firm AG" not in text_of(client.get("/today/"))


def test_the_owner_of_the_intake_stage_holds_an_unplaced_lead(
    alice_only, bob, olivia, clock
):
    Stage.objects.filter(pipeline=alice_only, key="inquiry").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=bob
    )
    clock.to(berlin(10, 10))
    lead = capture(alice_only)
    assert window(lead).responsible == bob
    clock.to(berlin(10, 10, 16))

    sweep()

    (notice,) = Notice.objects.all()
    assert (notice.user, notice.title) == (
        bob,
        "New lead waiting for an owner: Petra · Firm AG",
    )


def test_an_owner_given_the_lead_later_takes_its_window_with_its_due_time(
    alice_only, bob, olivia, max_manager, clock
):
    clock.to(berlin(10, 10))
    lead = capture(alice_only)
    clock.to(berlin(10, 10, 20))
    sweep()  # ran out: the admins were told

    lead = assign_lead(lead.pk, bob, by=max_manager)

    row = window(lead)
    assert (row.state, row.responsible) == (Clock.State.BREACHED, bob)
    assert row.due_at == lead.response_due_at == berlin(10, 10, 15)
    lead.refresh_from_db()
    assert lead.response_due_at == berlin(10, 10, 15)


def test_an_owner_given_the_lead_in_time_has_what_is_left_of_its_window(
    alice_only, bob, olivia, max_manager, clock
):
    clock.to(berlin(10, 10))
    lead = capture(alice_only)
    clock.to(berlin(10, 10, 5))

    lead = assign_lead(lead.pk, bob, by=max_manager)
    clock.to(berlin(10, 10, 16))
    sweep()

    row = window(lead)
    assert (row.state, row.responsible, row.due_at) == (
        Clock.State.BREACHED,
        bob,
        berlin(10, 10, 15),
    )
    assert list(Notice.objects.values_list("user__username", flat=True)) == ["bob"]


def test_the_warning_names_the_intake_owner_and_an_edit_does_not_repeat_it(
    alice_only, bob, clock, caplog, django_capture_on_commit_callbacks
):
    Stage.objects.filter(pipeline=alice_only, key="inquiry").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=bob
    )
    clock.to(berlin(10, 10))
    with (
        caplog.at_level(logging.WARNING, logger="dealgate.clocks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        lead = capture(alice_only)
        lead.message = "Any news?"
        lead.save()

    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "falls to bob until it has an owner" in warning.getMessage()
    assert len(Clock.objects.filter(lead=lead)) == 1


def kinds() -> list[tuple[str, str]]:
    return list(Notice.objects.order_by("id").values_list("user__username", "kind"))


def test_a_lead_placed_after_its_window_ran_out_tells_its_new_owner_once(
    alice_only, alice, olivia, max_manager, clock
):
    clock.to(berlin(10, 10))
    lead = capture(alice_only)
    clock.to(berlin(10, 10, 16))
    sweep()  # ran out with nobody to own it: the admins are told
    Availability.objects.filter(user=alice).delete()  # alice is back

    # Each tick of the sweeper routes the waiting leads, then sweeps.
    for tick in (berlin(10, 10, 21), berlin(10, 10, 30), berlin(10, 10, 37)):
        clock.to(tick)
        route_waiting_leads()
        sweep()
    clock.to(berlin(11, 10))
    sweep()

    lead.refresh_from_db()
    assert lead.owner == alice
    # alice is told of the breach when the lead becomes hers, her manager
    # after one more window of her own (10:21 + 15 min), each once.
    assert kinds() == [
        ("olivia", "breach"),
        ("alice", "breach"),
        ("max", "escalation"),
    ]
    told = Notice.objects.get(user=alice)
    assert told.title == "New lead not answered: Petra · Firm AG"
    row = window(lead)
    assert (row.state, row.responsible, row.due_at) == (
        Clock.State.BREACHED,
        alice,
        berlin(10, 10, 15),
    )
    assert row.escalated_at == berlin(10, 10, 37)


def test_a_lead_given_by_hand_after_the_admins_escalation_tells_its_owner_once(
    alice_only, bob, olivia, max_manager, clock
):
    clock.to(berlin(10, 10))
    lead = capture(alice_only)
    for tick in (berlin(10, 10, 16), berlin(10, 10, 31)):
        clock.to(tick)
        sweep()  # the admins: the breach, then the escalation
    clock.to(berlin(10, 11))

    lead = assign_lead(lead.pk, bob, by=max_manager)
    for tick in (berlin(10, 11, 1), berlin(10, 11, 5), berlin(10, 11, 20)):
        clock.to(tick)
        sweep()

    assert kinds() == [
        ("olivia", "breach"),
        ("olivia", "escalation"),
        ("bob", "breach"),
        ("max", "escalation"),
    ]
    escalation = Notice.objects.filter(user=max_manager).get()
    assert "Bob Rep" in escalation.body
