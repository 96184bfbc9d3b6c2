"""A successor who takes over work that already ran out is told once, in one
notice listing it: the breach notices went to the person who left, and the
next word would otherwise be the manager's escalation."""

from __future__ import annotations

from dealgate.accounts import services
from dealgate.clocks.models import Clock, Delivery, Notice
from dealgate.clocks.sweep import sweep

from .conftest import berlin, place_deal


def test_the_successor_is_told_once_of_what_they_took_over_overdue(
    windows, alice, bob, olivia, clock, settings
):
    settings.WEBHOOK_URL = "http://127.0.0.1:8132/hook"
    late = place_deal(
        windows, "inquiry", owner=alice, entered=berlin(1, 9), title="Late"
    )
    fresh = place_deal(
        windows, "inquiry", owner=alice, entered=berlin(10, 9), title="Fresh"
    )
    clock.to(berlin(10, 9, 30))
    sweep()  # Late: over its limit and window; Fresh: over its window only
    told = Notice.objects.count()

    services.change_user("alice", active=False, hand_to="bob", by=olivia)

    (notice,) = Notice.objects.filter(user=bob)
    assert notice.kind == Notice.Kind.BREACH
    assert notice.title == "Taken over from Alice Rep: 2 deals already overdue"
    assert [item["title"] for item in notice.items] == [
        "Late: response window ran out",
        "Late: over the stage's age limit",
        "Fresh: response window ran out",
    ]
    assert {item["deal"] for item in notice.items} == {late.pk, fresh.pk}
    assert Delivery.objects.filter(notice=notice).count() == 1
    assert Notice.objects.count() == told + 1
    # Fresh's age limit still runs: not overdue, not listed, yet bob's.
    assert Clock.objects.get(deal=fresh, kind="age").responsible == bob


def test_a_successor_taking_over_nothing_overdue_is_not_told(
    windows, alice, bob, olivia, clock
):
    place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    clock.to(berlin(10, 9, 10))

    services.change_user("alice", active=False, hand_to="bob", by=olivia)

    assert not Notice.objects.exists()
