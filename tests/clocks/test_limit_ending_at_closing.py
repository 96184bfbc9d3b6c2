"""A stay exactly as long as its age limit gets one verdict, whatever the
hour the limit ends at: two business days entered on Wednesday at 09:00 end
at Thursday's closing, and a move on Friday at 09:00, before any business
minute has passed since, is the same two business days as a stay entered at
10:00 and moved at 10:00 two days later (insights' time in stage measures
both as 2.0)."""

from __future__ import annotations

from dealgate.clocks.models import Clock
from dealgate.deals.models import StageEvent
from dealgate.deals.services import move_deal

from .conftest import berlin, place_deal


def _verdict_and_stay(deal) -> tuple[str, float]:
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, stage__key="inquiry")
    event = StageEvent.objects.filter(deal=deal, from_stage__key="inquiry").get()
    return age.state, event.from_business_minutes


def test_a_stay_of_exactly_the_limit_gets_the_same_verdict_at_any_hour(
    windows, alice, clock
):
    at_ten = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 10))
    at_nine = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 9))
    clock.to(berlin(12, 9))  # Friday, opening: Thursday closed at 17:00
    move_deal(at_nine.pk, "discovery", by=alice, expected_version=1)
    clock.to(berlin(12, 10))
    move_deal(at_ten.pk, "discovery", by=alice, expected_version=1)

    nine, ten = _verdict_and_stay(at_nine), _verdict_and_stay(at_ten)

    assert nine[1] == ten[1] == 2 * 480  # both stayed two business days
    assert nine[0] == ten[0]
