"""One rule at the very instant `late_after`: a stop then is on time, so a
sweep then finds nothing late yet, and the pages do not call it late; both
breach only once that instant has passed. Whichever comes first at that
instant, the sweep or the stop, the clock is met."""

from __future__ import annotations

import datetime as dt

from dealgate.clocks.models import Clock
from dealgate.clocks.queries import deadlines_for_deals, today_for
from dealgate.clocks.sweep import sweep
from dealgate.deals.services import log_activity, move_deal

from .conftest import berlin, place_deal

TICK = dt.timedelta(microseconds=1)


def window(deal) -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)


def age(deal) -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, stage__key="inquiry")


def test_a_sweep_at_late_after_in_working_hours_breaches_nothing_yet(
    windows, alice, clock
):
    # A 15-minute window from 10:00: due, and late after, 10:15 sharp.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 10))
    assert window(deal).late_after == berlin(10, 10, 15)

    assert sweep(now=berlin(10, 10, 15)).breached == 0
    assert window(deal).state == Clock.State.RUNNING

    assert sweep(now=berlin(10, 10, 15) + TICK).breached == 1
    assert window(deal).state == Clock.State.BREACHED


def test_a_sweep_at_the_opening_after_a_limit_due_at_closing_breaches_nothing_yet(
    pipeline, alice, clock
):
    # Tuesday 09:00 + 2 business days: due Wednesday 17:00, late after 09:00.
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))
    assert age(deal).late_after == berlin(11, 9)

    assert sweep(now=berlin(11, 9)).breached == 0
    assert sweep(now=berlin(11, 9) + TICK).breached == 1


def test_an_answer_at_late_after_is_on_time_after_a_sweep_at_that_instant(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 10))
    clock.to(berlin(10, 10, 15))
    sweep()

    log_activity(deal.pk, kind="call", subject="Called back", by=alice)

    assert window(deal).state == Clock.State.MET


def test_an_answer_at_late_after_is_on_time_before_a_sweep_at_that_instant(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 10))
    clock.to(berlin(10, 10, 15))

    log_activity(deal.pk, kind="call", subject="Called back", by=alice)
    result = sweep()

    assert result.breached == 0
    assert window(deal).state == Clock.State.MET


def test_a_move_at_the_opening_after_a_limit_due_at_closing_is_on_time(
    pipeline, alice, clock
):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))
    clock.to(berlin(11, 9))
    sweep()

    move_deal(deal.pk, "discovery", by=alice, expected_version=deal.version)

    assert age(deal).state == Clock.State.MET


def test_pages_call_a_clock_late_only_after_its_late_after_instant(
    pipeline, alice, clock
):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))
    at, after = berlin(11, 9), berlin(11, 9) + TICK

    (then,) = deadlines_for_deals([deal.pk], at)[deal.pk]
    (later,) = deadlines_for_deals([deal.pk], after)[deal.pk]

    assert not then.overdue and later.overdue
    assert today_for([alice], at).over_limit.count == 0
    assert today_for([alice], after).over_limit.count == 1
