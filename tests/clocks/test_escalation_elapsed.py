"""An escalation says how long the obligation has waited since its clock ran
out, counted to the sweep's own now: a sweep that runs late (its sweeper was
down) says the real business time, not the length of the second window."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Notice
from dealgate.clocks.sweep import _elapsed, sweep

from .conftest import berlin, place_deal

pytestmark = pytest.mark.django_db


def escalation_of(manager) -> Notice:
    (notice,) = Notice.objects.filter(user=manager, kind=Notice.Kind.ESCALATION)
    return notice


@pytest.fixture
def breached_deal(pipeline, alice, max_manager, clock):
    """In "inquiry" (2-day limit) since Monday 1 June 9:00: ran out Tuesday 2
    June 17:00, late from Wednesday's opening and breached by a sweep a
    minute after it; a second window of 15 business minutes ends Wednesday
    9:15."""
    pipeline.settings = {
        **pipeline.settings,
        "breach": {"on_breach": ["notify", "escalate"], "escalate_after": "15m"},
    }
    pipeline.save()
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(1, 9))
    clock.to(berlin(3, 9, 1))
    assert sweep().breached == 1
    return deal


def test_a_late_sweep_says_the_business_time_since_the_clock_ran_out(
    breached_deal, max_manager, clock
):
    # The sweeper was down until 10:34: 94 business minutes since Tuesday
    # 17:00 (the night is closed), not the 15 of the second window.
    sweep(now=berlin(3, 10, 34))

    body = escalation_of(max_manager).body
    assert "ran out at Tue 02 Jun 17:00 (Europe/Berlin), " in body
    assert body.endswith("1 business hour 34 minutes ago.")


def test_a_sweep_on_time_says_the_second_window(breached_deal, max_manager, clock):
    sweep(now=berlin(3, 9, 15))

    assert escalation_of(max_manager).body.endswith(", 15 business minutes ago.")


def test_the_elapsed_time_is_counted_to_the_sweeps_injected_now(
    breached_deal, max_manager, clock
):
    # The application's clock stays at Wednesday 9:01; the sweep is told
    # Thursday.
    sweep(now=berlin(4, 11))

    assert escalation_of(max_manager).body.endswith(", 1 business day ago.")


@pytest.mark.parametrize(
    ("minutes", "said"),
    [
        (15, "15 business minutes"),
        (60, "1 business hour"),
        (79, "1 business hour 19 minutes"),
        (121, "2 business hours 1 minute"),
        (480, "1 business day"),
        (1000, "2 business days"),
    ],
)
def test_elapsed_time_keeps_minutes_under_a_business_day(minutes, said):
    assert _elapsed(minutes, 480) == said
