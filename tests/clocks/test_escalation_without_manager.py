"""An escalation whose person has no manager goes to the firm's admins (never
to the person themselves); one with nobody at all to tell is noted, counted
apart and warned about, never counted as escalated."""

from __future__ import annotations

import logging

import pytest

from dealgate.accounts.models import Team
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.leads import assign
from dealgate.leads.services import capture_lead
from tests.conftest import PASSWORD

from .conftest import berlin, place_deal

ESCALATION = Notice.Kind.ESCALATION


def escalated_clock(deal) -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)


def overdue_twice(pipeline, owner, title: str = "Acme rollout"):
    """A deal so far past its limit (since Monday 1 June) that one sweep
    breaches it and escalates it."""
    return place_deal(
        pipeline, "inquiry", owner=owner, entered=berlin(1, 9), title=title
    )


@pytest.fixture
def admin2(django_user_model):
    return django_user_model.objects.create_user(
        username="ada", password=PASSWORD, role="admin", first_name="Ada"
    )


def test_a_manager_still_gets_the_escalation_and_the_admins_do_not(
    pipeline, alice, max_manager, olivia, clock
):
    deal = overdue_twice(pipeline, alice)

    result = sweep()

    assert escalated_clock(deal).note == "escalated to the manager"
    (notice,) = Notice.objects.filter(kind=ESCALATION)
    assert notice.user == max_manager
    assert "as an admin" not in notice.body
    assert (result.escalated, result.not_escalated) == (1, 0)


def test_without_a_manager_an_admin_gets_the_escalation_and_the_note_says_so(
    pipeline, alice, olivia, clock
):
    deal = overdue_twice(pipeline, alice)  # alice's team has no manager

    result = sweep()

    assert escalated_clock(deal).note == "escalated to an admin: no manager"
    (notice,) = Notice.objects.filter(kind=ESCALATION)
    assert notice.user == olivia
    assert notice.title == "Escalated: Acme rollout"
    assert notice.body.startswith("Alice Rep has not acted on Acme rollout")
    assert notice.body.endswith("You are told as an admin: Alice Rep has no manager.")
    assert (result.escalated, result.not_escalated) == (1, 0)
    assert "not escalated" not in result.summary()


def test_a_manager_who_leads_their_own_team_escalates_to_an_admin(
    pipeline, max_manager, olivia, clock
):
    deal = overdue_twice(pipeline, max_manager)

    sweep()

    assert escalated_clock(deal).note == "escalated to an admin: no manager"
    assert [n.user for n in Notice.objects.filter(kind=ESCALATION)] == [olivia]


def test_a_person_in_no_team_escalates_to_an_admin(
    pipeline, django_user_model, olivia, clock
):
    loner = django_user_model.objects.create_user(username="lone", password=PASSWORD)
    deal = overdue_twice(pipeline, loner)

    sweep()

    assert escalated_clock(deal).note == "escalated to an admin: no manager"
    assert [n.user for n in Notice.objects.filter(kind=ESCALATION)] == [olivia]


def test_a_manager_who_may_no_longer_sign_in_is_passed_over_for_an_admin(
    pipeline, alice, max_manager, olivia, clock
):
    max_manager.is_active = False
    max_manager.save()
    deal = overdue_twice(pipeline, alice)

    sweep()

    assert escalated_clock(deal).note == "escalated to an admin: manager inactive"
    (notice,) = Notice.objects.filter(kind=ESCALATION)
    assert notice.user == olivia
    assert notice.body.endswith("Alice Rep's manager may no longer sign in.")


def test_every_active_admin_is_told_and_an_inactive_one_is_not(
    pipeline, alice, olivia, admin2, clock
):
    admin2.is_active = False
    admin2.save()
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(1, 9))
    other = type(admin2).objects.create_user(
        username="amir", password=PASSWORD, role="admin"
    )

    sweep()

    told = Notice.objects.filter(kind=ESCALATION).values_list("user", flat=True)
    assert sorted(told) == sorted([olivia.pk, other.pk])


def test_an_admin_is_never_told_of_their_own_escalation(
    pipeline, olivia, admin2, clock
):
    deal = overdue_twice(pipeline, olivia)

    sweep()

    assert escalated_clock(deal).note == "escalated to an admin: no manager"
    assert [n.user for n in Notice.objects.filter(kind=ESCALATION)] == [admin2]


def test_a_deal_with_no_owner_escalates_to_an_admin(pipeline, olivia, clock):
    deal = overdue_twice(pipeline, None)

    result = sweep()

    assert escalated_clock(deal).note == "escalated to an admin: no owner"
    (notice,) = Notice.objects.filter(kind=ESCALATION)
    assert notice.user == olivia
    assert notice.body.startswith("Nobody has acted on Acme rollout")
    assert notice.body.endswith("You are told as an admin: it has no owner.")
    # Its breach went to the admin too, as a follow-up on it would, saying
    # why (its intake stage is owned by the deal's owner: nobody).
    (breach,) = Notice.objects.filter(kind=Notice.Kind.BREACH)
    assert breach.user == olivia
    assert breach.body.endswith(
        "You are told as an admin: nobody who may sign in is responsible for "
        "it, and its pipeline's intake stage has no owner."
    )
    assert result.unaddressed == 0


def test_with_nobody_to_tell_the_summary_counts_it_apart_not_as_escalated(
    pipeline, alice, clock, caplog
):
    deal = overdue_twice(pipeline, alice)  # no manager and no admin

    with caplog.at_level(logging.WARNING, logger="dealgate.clocks"):
        result = sweep()

    breached = escalated_clock(deal)
    assert (breached.escalated_at, breached.note) == (
        clock.now,
        "not escalated: nobody to tell",
    )
    assert (result.escalated, result.not_escalated) == (0, 1)
    assert (
        "; actions: 0 escalations (1 not escalated: nobody to tell), "
        in result.summary()
    )
    assert "1 clocks not escalated: nobody to tell" in caplog.text
    assert not Notice.objects.filter(kind=ESCALATION).exists()
    assert sweep().due == 0  # noted once, not tried again


def test_the_only_admin_without_a_manager_has_nobody_to_tell(pipeline, olivia, clock):
    deal = overdue_twice(pipeline, olivia)

    result = sweep()

    assert escalated_clock(deal).note == "not escalated: nobody to tell"
    assert (result.escalated, result.not_escalated) == (0, 1)


def test_a_breach_with_nobody_to_notify_is_noted_on_its_clock(pipeline, clock):
    deal = place_deal(pipeline, "inquiry", owner=None, entered=berlin(8, 9))

    result = sweep()

    breached = escalated_clock(deal)
    assert (breached.state, breached.note) == (
        Clock.State.BREACHED,
        "not notified: nobody to tell",
    )
    assert result.summary().startswith(
        "1 due clock: 1 breached (1 with nobody to notify), 0 met"
    )


def test_a_lead_nobody_else_can_take_and_without_a_manager_goes_to_an_admin(
    windows, alice, olivia, clock
):
    assign.forget_cached()
    windows.settings = {
        "routing": [{"name": "only", "to": ["user:alice"], "how": "round-robin"}],
        "breach": {
            "handoffs": {"lead->inquiry": {"on_breach": ["notify", "reassign"]}}
        },
    }
    windows.save()
    Team.objects.filter(pk=alice.team_id).update(manager=None)
    clock.to(berlin(10, 10))
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    lead = capture_lead(data, source="api", pipeline=windows).lead
    clock.to(berlin(10, 10, 31))  # two windows of 15 minutes

    sweep()

    breached = Clock.objects.get(lead=lead, state=Clock.State.BREACHED)
    assert breached.note == (
        "nobody to reassign to and escalated to an admin: no manager"
    )
    (told,) = Notice.objects.filter(kind=ESCALATION)
    assert (told.user, told.lead_id) == (olivia, lead.pk)


def test_manager_of_names_no_manager_who_may_no_longer_sign_in(alice, max_manager):
    from dealgate.clocks.services import manager_of

    assert manager_of(alice) == max_manager
    assert manager_of(max_manager) is None
    max_manager.is_active = False
    max_manager.save()
    alice.refresh_from_db()
    assert manager_of(alice) is None
