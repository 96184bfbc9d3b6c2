"""An unowned deal's clocks run and breach (the sweep escalates them to the
admins), so the admin's Today, which lists everyone's, must list them too."""

from __future__ import annotations

from dealgate.clocks.queries import people_seen_by, today_for
from dealgate.clocks.sweep import sweep

from .conftest import berlin, place_deal


def test_admins_today_lists_an_unowned_deal_past_its_age_limit(
    windows, olivia, alice, clock
):
    place_deal(windows, "inquiry", owner=None, entered=berlin(1, 9), title="Nobody's")
    place_deal(windows, "inquiry", owner=alice, entered=berlin(1, 9), title="Alice's")
    sweep()

    today = today_for(people_seen_by(olivia), clock.now)

    titles = [row.clock.deal.title for row in today.over_limit.deadlines]
    assert "Alice's" in titles
    assert "Nobody's" in titles
