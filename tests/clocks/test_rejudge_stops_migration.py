"""The migration `clocks 0017` re-judges stops written by the rule before
`clocks 0012` (late as soon as after the due time) by the stored
`late_after`: a stop first thing at the opening after a due time at closing
was on time, and ends met or cancelled as the same stop does now. Stops
that were late by either rule, and breaches by the sweeper, stay."""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django.db.models import F

from dealgate.clocks.models import Clock
from dealgate.clocks.sweep import sweep
from dealgate.deals.services import log_activity, move_deal

from .conftest import berlin, place_deal

MIGRATION = import_module("dealgate.clocks.migrations.0017_rejudge_stops_by_late_after")


def written_the_old_way(clock: Clock) -> None:
    """Give a clock stopped in time the verdict the rule before 0012 gave a
    stop after its due time: breached, put right at the stop."""
    assert clock.state in (Clock.State.MET, Clock.State.CANCELLED)
    Clock.objects.filter(pk=clock.pk).update(
        state=Clock.State.BREACHED, resolved_at=F("ended_at")
    )


def rejudged(clock: Clock) -> Clock:
    MIGRATION.rejudge(apps, None)
    clock.refresh_from_db()
    return clock


def age(deal, stage: str) -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, stage__key=stage)


def test_a_move_forward_first_thing_after_a_limit_due_at_closing_is_met_again(
    pipeline, alice, clock
):
    # Tuesday 09:00 + 2 business days: due Wednesday 17:00.
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))
    clock.to(berlin(11, 9))
    move_deal(deal.pk, "discovery", by=alice, expected_version=deal.version)
    written_the_old_way(age(deal, "inquiry"))

    limit = rejudged(age(deal, "inquiry"))

    assert (limit.state, limit.note) == (Clock.State.MET, "left the stage")
    assert (limit.ended_at, limit.resolved_at) == (berlin(11, 9), None)
    assert not limit.at_risk and not limit.is_open


def test_a_move_back_first_thing_after_a_limit_due_at_closing_is_cancelled_again(
    pipeline, alice, clock
):
    # Thursday 4 June 09:00 + 5 business days: due Wednesday 10 at 17:00.
    deal = place_deal(pipeline, "discovery", owner=alice, entered=berlin(4, 9))
    clock.to(berlin(11, 9))
    move_deal(deal.pk, "inquiry", by=alice, expected_version=deal.version)
    written_the_old_way(age(deal, "discovery"))

    limit = rejudged(age(deal, "discovery"))

    assert (limit.state, limit.resolved_at) == (Clock.State.CANCELLED, None)


def test_an_answer_first_thing_after_a_window_ending_at_closing_is_met_again(
    windows, alice, clock
):
    # A 15-minute window from 16:45: due at 17:00, answered at 09:00.
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 16, 45))
    clock.to(berlin(11, 9))
    log_activity(deal.pk, kind="call", subject="Called back", by=alice)
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    written_the_old_way(window)

    window = rejudged(window)

    assert window.state == Clock.State.MET
    assert window.note.startswith("answered by call ")


def test_a_stop_late_by_the_stored_rule_and_a_sweeps_breach_keep_their_breach(
    windows, alice, bob, clock
):
    late = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 16, 45))
    swept = place_deal(
        windows, "inquiry", owner=bob, entered=berlin(10, 16, 45), title="Swept"
    )
    clock.to(berlin(11, 9, 1))
    sweep()  # breaches the window of `swept`, told to bob
    clock.to(berlin(11, 9, 2))
    log_activity(late.pk, kind="call", subject="Called back", by=alice)
    log_activity(swept.pk, kind="call", subject="Called back", by=bob)
    before = {
        clock.pk: (clock.state, clock.resolved_at)
        for clock in Clock.objects.filter(kind=Clock.Kind.RESPONSE)
    }
    assert {state for state, _ in before.values()} == {Clock.State.BREACHED}

    MIGRATION.rejudge(apps, None)

    after = {
        clock.pk: (clock.state, clock.resolved_at)
        for clock in Clock.objects.filter(kind=Clock.Kind.RESPONSE)
    }
    assert after == before


def test_re_judging_again_changes_nothing(pipeline, alice, clock):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))
    clock.to(berlin(11, 9))
    move_deal(
        deal.pk, "lost", by=alice, expected_version=deal.version, loss_reason="price"
    )
    written_the_old_way(age(deal, "inquiry"))
    once = rejudged(age(deal, "inquiry"))

    twice = rejudged(age(deal, "inquiry"))

    assert once.state == twice.state == Clock.State.CANCELLED
    assert (once.ended_at, once.note) == (twice.ended_at, twice.note)
