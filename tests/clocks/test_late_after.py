"""A clock is late only once business time has passed beyond its due time: a
limit or window that ends at closing is kept by an action first thing at the
next opening, is not breached, escalated or shown overdue in the closed hours
between, and is late from that opening on. Across a weekend, a holiday and a
daylight-saving change alike."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.apps import apps

from dealgate.clocks.models import Clock
from dealgate.clocks.queries import deadlines_for_deals, today_for
from dealgate.clocks.sweep import sweep
from dealgate.deals.services import move_deal
from dealgate.leads import assign
from dealgate.leads.report import lead_report
from dealgate.leads.services import capture_lead, record_response
from dealgate.leads.views import Window, window_of

from .conftest import berlin, place_deal

BERLIN = ZoneInfo("Europe/Berlin")


def age_clock(deal, stage: str = "inquiry") -> Clock:
    return Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, stage__key=stage)


def local(year: int, month: int, day: int, hour: int, minute: int = 0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def test_a_limit_due_at_closing_is_late_after_the_next_opening(pipeline, alice):
    # Tuesday 09:00 + 2 business days: due Wednesday at closing.
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))

    age = age_clock(deal)

    assert age.due_at == berlin(10, 17)
    assert age.late_after == berlin(11, 9)


def test_a_sweep_after_closing_does_not_breach_a_limit_due_at_closing(
    pipeline, alice, clock
):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))

    for evening in (berlin(10, 17, 1), berlin(10, 23), berlin(11, 8, 59)):
        clock.to(evening)
        assert sweep().breached == 0
    assert age_clock(deal).state == Clock.State.RUNNING

    clock.to(berlin(11, 9, 1))
    assert sweep().breached == 1
    assert age_clock(deal).state == Clock.State.BREACHED


def test_a_limit_due_at_closing_is_not_overdue_overnight(pipeline, alice, clock):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))
    clock.to(berlin(10, 18))

    (deadline,) = deadlines_for_deals([deal.pk], clock.now)[deal.pk]
    evening = today_for([alice], clock.now)
    clock.to(berlin(11, 9, 30))
    morning = today_for([alice], clock.now)

    assert not deadline.overdue and deadline.text.startswith("at the limit")
    assert evening.over_limit.count == 0
    assert morning.over_limit.count == 1


def test_a_lead_answered_first_thing_after_a_window_ending_at_closing_is_on_time(
    windows, alice, clock
):
    assign.forget_cached()
    windows.settings = {
        "routing": [{"name": "all", "to": "user:alice", "fallback": True}]
    }
    windows.save()
    clock.to(berlin(10, 16, 45))  # a 15-minute window: due at 17:00
    data = {
        "name": "Petra",
        "email": "petra@acme.example",
        "company": "Acme GmbH",
        "country": "DE",
    }
    lead = capture_lead(data, source="api", pipeline=windows).lead
    assert Clock.objects.get(lead=lead).due_at == berlin(10, 17)
    clock.to(berlin(10, 17, 30))
    assert sweep().breached == 0
    assert lead_report(windows).overdue_now == 0
    lead.refresh_from_db()
    assert window_of(lead, clock.now, 15) == Window("no time left: answer first thing")

    clock.to(berlin(11, 9))
    # At the opening itself the window is not yet late, as the sweep and an
    # answer at this instant hold (late strictly after late_after).
    assert lead_report(windows).overdue_now == 0
    record_response(lead.pk, kind="email", by=alice, subject="Hello")

    window = Clock.objects.get(lead=lead)
    assert (window.state, window.ended_at) == (Clock.State.MET, berlin(11, 9))


def test_a_move_first_thing_after_a_weekend_and_summer_time_keeps_the_limit(
    pipeline, alice, clock
):
    # Thursday 26 March 2026 09:00 CET + 2 business days: Friday 17:00 CET.
    # Summer time starts on Sunday 29 March; Monday opens at 09:00 CEST.
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=local(2026, 3, 26, 9))
    age = age_clock(deal)
    assert age.late_after == local(2026, 3, 30, 9)
    assert age.late_after == dt.datetime(2026, 3, 30, 7, tzinfo=dt.UTC)

    clock.to(local(2026, 3, 29, 12))
    assert sweep().breached == 0
    clock.to(local(2026, 3, 30, 9))
    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    assert age_clock(deal).state == Clock.State.MET


def test_a_limit_ending_before_a_holiday_is_late_only_after_it(pipeline, alice, clock):
    pipeline.calendar = {
        **pipeline.calendar,
        "closed_days": ["2026-06-11"],  # Thursday
    }
    pipeline.save()
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))

    assert age_clock(deal).late_after == berlin(12, 9)  # Friday's opening
    clock.to(berlin(11, 12))
    assert sweep().breached == 0
    assert today_for([alice], clock.now).over_limit.count == 0
    clock.to(berlin(12, 9))
    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    assert age_clock(deal).state == Clock.State.MET


def test_a_second_window_ending_at_closing_escalates_after_the_next_opening(
    pipeline, alice, max_manager, clock
):
    pipeline.settings = {
        **pipeline.settings,
        "breach": {"on_breach": ["notify", "escalate"], "escalate_after": "2h"},
    }
    pipeline.save()
    # Monday 15:00 + 2 business days: due Wednesday 15:00; its second window
    # of 2 business hours ends at Wednesday's closing.
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 15))
    clock.to(berlin(10, 15, 1))
    assert sweep().breached == 1
    assert age_clock(deal).escalate_at == berlin(11, 9)

    clock.to(berlin(10, 17, 1))
    assert sweep().escalated == 0
    clock.to(berlin(11, 9, 1))
    assert sweep().escalated == 1


def test_the_migration_gives_stored_clocks_their_late_after_by_their_calendar(
    pipeline, alice
):
    from importlib import import_module

    backfill = import_module("dealgate.clocks.migrations.0012_clock_late_after")
    closing = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 9))
    midday = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(9, 10))
    Clock.objects.update(late_after=berlin(1, 0))

    backfill.backfill(apps, None)

    assert age_clock(closing).late_after == berlin(11, 9)
    assert age_clock(midday).late_after == age_clock(midday).due_at == berlin(11, 10)


def test_a_new_calendar_gives_a_next_step_the_late_after_of_its_hours(
    pipeline, alice, clock
):
    from dealgate.clocks.services import calendar_changed
    from dealgate.deals.services import log_activity

    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(10, 9))
    task = log_activity(
        deal.pk, kind="task", subject="Send the offer", by=alice, due_at=berlin(10, 18)
    )
    step = Clock.objects.get(activity=task)
    assert step.late_after == berlin(11, 9)  # 18:00 is after closing

    pipeline.calendar = {
        **pipeline.calendar,
        "hours": {d: ["09:00-19:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    }
    pipeline.save()
    calendar_changed(pipeline, clock.now)

    step.refresh_from_db()
    assert (step.due_at, step.late_after) == (berlin(10, 18), berlin(10, 18))
