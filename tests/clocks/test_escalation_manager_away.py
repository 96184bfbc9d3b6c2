"""An escalation whose manager is away (`dealgate leads away`) goes where one
without a manager goes, the firm's admins, and says why; a manager back, or
not yet away, gets it as usual."""

from __future__ import annotations

from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.leads.models import Availability

from .conftest import berlin, place_deal

ESCALATION = Notice.Kind.ESCALATION


def overdue_twice(pipeline, owner):
    """A deal so far past its limit that one sweep breaches and escalates it."""
    return place_deal(pipeline, "inquiry", owner=owner, entered=berlin(1, 9))


def test_a_manager_away_is_passed_over_for_the_admins_who_are_told_why(
    pipeline, alice, max_manager, olivia, clock
):
    Availability.objects.create(user=max_manager, away_until=berlin(20, 9))
    deal = overdue_twice(pipeline, alice)

    result = sweep()

    (notice,) = Notice.objects.filter(kind=ESCALATION)
    assert notice.user == olivia
    assert (
        "You are told as an admin: Alice Rep's manager max is away until "
        "Sat 20 Jun 09:00 (Europe/Berlin)." in notice.body
    )
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert age.note == (
        "escalated to an admin: max is away until Sat 20 Jun 09:00 (Europe/Berlin)"
    )
    assert (result.escalated, result.not_escalated) == (1, 0)


def test_a_manager_away_who_is_the_only_admin_is_not_told_either(
    pipeline, alice, max_manager, clock
):
    max_manager.role = "admin"
    max_manager.save()
    Availability.objects.create(user=max_manager, away_until=berlin(20, 9))
    overdue_twice(pipeline, alice)

    result = sweep()

    assert not Notice.objects.filter(kind=ESCALATION).exists()
    assert (result.escalated, result.not_escalated) == (0, 1)


def test_a_manager_whose_leave_is_over_or_not_begun_gets_the_escalation(
    pipeline, alice, bob, max_manager, olivia, clock
):
    away = Availability.objects.create(user=max_manager, away_until=berlin(9, 9))
    overdue_twice(pipeline, alice)
    sweep()
    away.away_from, away.away_until = berlin(15, 9), berlin(20, 9)
    away.save()
    overdue_twice(pipeline, bob)
    clock.forward(minutes=1)
    sweep()

    assert list(
        Notice.objects.filter(kind=ESCALATION).values_list("user__username", flat=True)
    ) == ["max", "max"]
